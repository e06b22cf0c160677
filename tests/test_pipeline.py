"""qa.pipeline: the ask() contract, argument validation, corpus refresh, lazy heavy imports."""
from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
import subprocess
import sys
from pathlib import Path

import pytest

from qa import QA, Answer, QuestionError
from qa.config import Settings
from qa.types import Search
from qa import pipeline
from qa.pipeline import clamp_k

from conftest import write_article

REPO = Path(__file__).resolve().parent.parent


def check_contract(answer: Answer, question: str) -> None:
    """The DESIGN.md contract of ask()'s result."""
    assert isinstance(answer, Answer)
    assert answer.question == question
    assert answer.answer is None or isinstance(answer.answer, str)
    assert 0.0 <= answer.confidence <= 1.0
    assert answer.passages
    scores = [h.score for h in answer.passages]
    assert scores == sorted(scores, reverse=True)
    for h in answer.passages:
        assert h.text and h.title and h.source.endswith(".txt")
        assert h.date is None or (len(h.date) == 10 and h.date[4] == h.date[7] == "-")
        assert isinstance(h.score, float)
        for s, e in ((h.highlight_start, h.highlight_end), (h.answer_start, h.answer_end)):
            assert (s is None) == (e is None)
            if s is not None:
                assert 0 <= s < e <= len(h.text)
    assert answer.passages[0].highlight_start is not None
    data = answer.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert [p["text"] for p in data["passages"]] == [h.text for h in answer.passages]


@pytest.mark.parametrize("question", [
    "Who resigned as transport minister of Singapore?",
    "How many people died in the Ha Giang floods?",
    "Which city opened a dragon bridge?",
    "zzz qqq",  # nothing matches: still a well-formed answer
])
@pytest.mark.parametrize("min_relevance", [-1.0, 2.0], ids=["answers", "abstains"])
def test_ask_contract(settings, question, min_relevance):
    qa = QA(settings, min_relevance=min_relevance, answer_threshold=0.0)  # 0: the floor alone decides
    answer = qa.ask(question)
    check_contract(answer, question)
    if min_relevance > 1:
        assert answer.abstained and answer.answer is None and answer.confidence == 0.0 and answer.reason
    else:
        top = answer.passages[0]
        assert not answer.abstained
        if answer.answer is not None:
            assert answer.answer == top.text[top.answer_start:top.answer_end]


@pytest.mark.parametrize("question, source", [
    ("Who resigned as transport minister of Singapore?", "iswaran.txt"),
    ("How many people died in the Ha Giang floods?", "floods.txt"),
    ("Which city opened a dragon bridge over the Han river?", "bridge.txt"),
    ("How many children were vaccinated against measles?", "vaccine.txt"),
])
def test_ask_finds_the_right_article(hash_qa, question, source):
    answer = hash_qa.ask(question)
    assert answer.passages[0].source == source


def test_date_filter_and_fallback_are_reported(hash_qa):
    limited = hash_qa.ask("What happened in 2020?", as_of="2020-12-31")
    assert limited.date_filter == "2020"
    assert {h.date[:4] for h in limited.passages} == {"2020"}
    # asked later, the year's articles come first and later ones (which may be about it) after them
    later = hash_qa.ask("What happened in 2020?")
    assert later.passages[0].date[:4] == "2020" and {h.date[:4] for h in later.passages} > {"2020"}
    assert later.date_filter == "2020"  # what is shown first is from 2020; a later first passage gets a note
    fallback = hash_qa.ask("What happened in 1999?")
    assert fallback.date_filter is None
    assert "1999" in (fallback.reason or "") or fallback.abstained


def test_a_later_article_shown_first_for_a_named_year_says_so(hash_qa):
    answer = hash_qa.ask("When did the dragon bridge over the Han river open, as reported in 2020?")
    first = answer.passages[0]
    assert first.date[:4] > "2020"  # only a later article is about the bridge
    assert answer.date_filter is None
    assert answer.abstained or "articles from 2020 first, then later ones" in answer.reason


def test_history_is_used(hash_qa):
    answer = hash_qa.ask("Why did he resign?", history=[{"role": "user", "content": "Who is Iswaran?"},
                                                         {"role": "assistant", "content": "A minister."}])
    assert answer.passages[0].source == "iswaran.txt"


@pytest.mark.parametrize("k, expected", [(None, 5), (0, 1), (-1, 1), (1, 1), (3, 3), ("3", 3), (" 7 ", 7),
                                         (2.0, 2), (50, 50), (10**9, 50), ("1e9", 50)])
def test_clamp_k(k, expected):
    assert clamp_k(k, Settings(k=5, max_k=50)) == expected


@pytest.mark.parametrize("k", ["x", "", "three", [3], {}, True, float("nan"), float("inf")])
def test_bad_k_raises(k):
    with pytest.raises(QuestionError, match="k must be a whole number"):
        clamp_k(k, Settings())


@pytest.mark.parametrize("k, n", [(0, 1), (-1, 1), ("2", 2), (None, 5), (10**9, None)])
def test_ask_clamps_k(hash_qa, k, n):
    total = len(hash_qa.index())
    answer = hash_qa.ask("Who resigned?", k=k)
    assert len(answer.passages) == min(n or hash_qa.settings.max_k, total)


def test_ask_rejects_bad_k(hash_qa):
    with pytest.raises(QuestionError, match="'x'"):
        hash_qa.ask("Who resigned?", k="x")


@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
def test_empty_question_raises(hash_qa, question):
    with pytest.raises(QuestionError, match="empty"):
        hash_qa.ask(question)


@pytest.mark.parametrize("question", [None, 42, b"bytes"])
def test_non_text_question_raises(hash_qa, question):
    with pytest.raises(QuestionError, match="text"):
        hash_qa.ask(question)


def test_overlong_question_names_the_limit(settings):
    qa = QA(settings, max_question_chars=50)
    qa.ask("x" * 50)  # at the limit is fine
    with pytest.raises(QuestionError, match=r"\b50\b") as err:
        qa.ask("x" * 51)
    assert "\n" not in str(err.value)


def test_search_returns_a_frozen_search(hash_qa):
    found = hash_qa.search("Who resigned as transport minister of Singapore?", k=3)
    assert isinstance(found, Search) and len(found.hits) == len(found.retrieval.rows) == 3
    assert found.hits[0].source == "iswaran.txt"
    assert found.query.question == "Who resigned as transport minister of Singapore?"
    assert found.vector.shape == (hash_qa.encoder.dim,) and set(found.timings) == {"index", "encode", "retrieve"}
    with pytest.raises(FrozenInstanceError):
        found.hits = ()


@pytest.mark.parametrize("call", ["ask", "search"])
def test_question_and_k_are_checked_once(hash_qa, monkeypatch, call):
    seen = []
    for name in ("clamp_k", "clean_question"):
        check = getattr(pipeline, name)
        monkeypatch.setattr(pipeline, name, lambda *a, _check=check, _name=name: seen.append(_name) or _check(*a))
    getattr(hash_qa, call)("Who resigned?", k=3)
    assert sorted(seen) == ["clamp_k", "clean_question"]


@pytest.mark.parametrize("k, question, problem", [("x", "Who?", "k"), (3, "  ", "empty"), (3, None, "not_text"),
                                                  (3, "x" * 2001, "too_long")])
def test_question_errors_name_the_problem_and_the_value(hash_qa, k, question, problem):
    with pytest.raises(QuestionError) as err:
        hash_qa.ask(question, k=k)
    assert err.value.problem == problem and err.value.value == (k if problem == "k" else question)


def test_question_white_space_is_normalised(hash_qa):
    assert hash_qa.ask("  Who   resigned?\n").question == "Who resigned?"


def test_new_article_is_found_on_next_ask(hash_qa, settings):
    first = hash_qa.ask("How many tigers did rangers count?")
    assert first.passages[0].source != "tigers.txt"
    write_article(settings.corpus_dir, "tigers.txt", "Tigers return to the forest", "2024-01-05",
                  "Rangers counted nine tigers in the national park.")
    second = hash_qa.ask("How many tigers did rangers count?")
    assert second.passages[0].source == "tigers.txt"
    assert second.passages[0].date == "2024-01-05"


def test_deleted_article_disappears(hash_qa, settings):
    assert "bridge.txt" in {h.source for h in hash_qa.ask("dragon bridge", k=50).passages}
    (settings.corpus_dir / "bridge.txt").unlink()
    assert "bridge.txt" not in {h.source for h in hash_qa.ask("dragon bridge", k=50).passages}


def test_index_is_not_rechecked_within_refresh_interval(settings):
    qa = QA(settings, refresh_interval_s=3600)
    qa.ask("Who resigned?")
    write_article(settings.corpus_dir, "tigers.txt", "Tigers", "2024-01-05", "Rangers counted nine tigers.")
    assert "tigers.txt" not in {h.source for h in qa.ask("tigers", k=50).passages}
    assert "tigers.txt" in {h.source for h in qa.index(force=True).passages}


def test_module_level_ask_uses_the_environment(corpus, tmp_path, monkeypatch):
    import qa
    from qa import pipeline

    monkeypatch.setenv("QA_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "env-idx"))
    monkeypatch.setenv("QA_MODEL", "hash")
    monkeypatch.setattr(pipeline, "_default", None)
    answer = qa.ask("How many people died in the Ha Giang floods?", k=2)
    check_contract(answer, "How many people died in the Ha Giang floods?")
    assert len(answer.passages) == 2 and answer.passages[0].source == "floods.txt"
    assert (tmp_path / "env-idx" / "CURRENT").is_file()


def test_import_does_not_load_heavy_modules():
    code = ("import qa, sys; print(sorted(m for m in ('torch', 'sentence_transformers', 'gradio', "
            "'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_refused_earlier_question_in_history_is_no_error(hash_qa):
    """An earlier turn the bot refused (too long, empty) has no answer to resolve a follow-up with."""
    answer = hash_qa.ask("Who resigned?", history=["why " * 600, "   "])
    assert answer.question == "Who resigned?"
