"""qa.read: answer spans of the asked type, never the question's own words, offsets, re-ranking, confidence."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa.evaluation.metrics import normalize_answer
from qa.read.nlp import parse
from qa.history import turns
from qa.query import understand
from qa.read import WEIGHTS_FILE, Reading, analyse, best_span, read, read_passages, rerank
from qa.read.expected import KIND_LABELS, Expected
from qa.read.features import FEATURES, SpanFeatures, to_array
from qa.types import Hit

REPO = Path(__file__).resolve().parent.parent
DELEGATION = ("A Vietnamese delegation led by Deputy Minister of Public Security Luong Tam Quang attended the "
              "cyber security week in Singapore from October 16-19. Deputy Minister Quang had a courtesy "
              "meeting with Director of the Department of International Information Security under the Russian "
              "Ministry of Foreign Affairs Artur Lyukmanov.")
FLOODS = ("Heavy monsoon rain caused floods and landslides in Ha Giang province in October 2020. Twelve people "
          "died and about 3,000 homes were damaged. Rescue teams used boats to reach villages.")
BRIDGE = ("The city of Da Nang opened a new steel bridge shaped like a dragon over the Han river on March 29, "
          "2013. Engineers from Japan designed the lighting.")
INTERNET = ("Quang said that in Vietnam about 77 million people, an equivalent of 79% of the population, use the "
            "internet. Vietnam and Singapore signed documents amending the cooperation agreement.")
OFF_TOPIC = "Mix flour, sugar and ripe bananas, then bake the loaf for an hour at 180 degrees."


def hit(text: str, score: float = 0.5, pid: str = "p", dense: float = 0.5) -> Hit:
    return Hit(passage_id=pid, text=text, title="t", date=None, source=f"{pid}.txt", score=score,
               dense_score=dense, bm25_score=5.0)


def answer_of(question: str, text: str) -> str:
    span = best_span(question, text, reader="features")
    assert span is not None
    return text[span[0]:span[1]]


@pytest.mark.parametrize("question, text, expected", [
    ("Who led the delegation?", DELEGATION, "Luong Tam Quang"),
    ("Who is the director of the Department of International Information Security?", DELEGATION,
     "Artur Lyukmanov"),
    ("When did the bridge open?", BRIDGE, "March 29, 2013"),
    ("Where did the floods happen?", FLOODS, "Ha Giang"),
    ("How many homes were damaged?", FLOODS, "3,000"),
    ("How many people died?", FLOODS, "Twelve"),
    ("What percentage of the population uses the internet?", INTERNET, "79%"),
    ("Which city opened a dragon bridge?", BRIDGE, "Da Nang"),
    ("Engineers from which country designed the lighting?", BRIDGE, "Japan"),
    ("What did Vietnam and Singapore sign?", INTERNET, "documents"),
])
def test_answer_is_a_phrase_of_the_asked_type(question, text, expected):
    answer = answer_of(question, text)  # a name may come with its title, as SQuAD's answers often do
    assert expected in answer and len(answer.split()) <= len(expected.split()) + 5


@pytest.mark.parametrize("question, text", [
    ("Who led the delegation?", DELEGATION),
    ("Which city opened a dragon bridge over the Han river?", BRIDGE),
    ("Where did the floods in Ha Giang happen?", FLOODS),
    ("What did the Vietnamese delegation attend?", DELEGATION),
    ("Who did Luong Tam Quang meet?", DELEGATION),
])
def test_answer_never_repeats_the_question(question, text):
    words = set(normalize_answer(question).split())
    answer = set(normalize_answer(answer_of(question, text)).split())
    assert answer and not answer <= words


def test_offsets_point_at_the_answer_inside_its_sentence():
    hits = [hit(DELEGATION, 0.6, "b"), hit(FLOODS, 0.5, "a")]
    reading = read(hits, understand("Who led the delegation to Singapore?"), reader="features")
    top = reading.hits[0]
    assert top.passage_id == "b" and "Luong Tam Quang" in reading.answer
    assert top.text[top.answer_start:top.answer_end] == reading.answer
    assert top.highlight_start <= top.answer_start < top.answer_end <= top.highlight_end
    assert top.text[top.highlight_start:top.highlight_end].startswith("A Vietnamese delegation")
    assert all(h.highlight_start is not None for h in reading.hits)


def test_rerank_moves_the_answering_passage_first_and_keeps_scores_sorted():
    query = understand("Who led the delegation to Singapore?")
    passages = read_passages([hit(FLOODS, 0.6, "a"), hit(BRIDGE, 0.58, "c"), hit(DELEGATION, 0.55, "b")], query,
                             reader="features")
    assert [p.hit.passage_id for p in rerank(passages, 0.0)] == ["a", "c", "b"]
    moved = rerank(passages, 1.0)
    assert moved[0].hit.passage_id == "b"
    scores = [p.hit.score for p in moved]
    assert scores == sorted(scores, reverse=True)


def test_a_quoted_theme_longer_than_a_phrase_is_a_candidate():
    text = ("At the conference, the deputy minister shared his views, contributing to the conference's theme "
            "\"Regional efforts in fighting existing and emerging threats in cyberspace and technology\".")
    assert answer_of("What was the theme of the conference?", text) == (
        "Regional efforts in fighting existing and emerging threats in cyberspace and technology")


def test_the_sentence_before_counts_for_an_answer_that_refers_back():
    """"It was founded by ..." answers for the village the sentence before names, not for any village."""
    right = ("The pepper cooperative of Tormikaville opened its doors on Monday. It was founded by Vaslovas "
             "Grigriqua, a local nurse, with savings from forty families.")
    other = ("The pepper cooperative of Bellokaville opened its doors on Monday. It was founded by Quadintu "
             "Torgridin, a local pharmacist, with savings from forty families.")
    query = understand("Who founded the pepper cooperative in Tormikaville?")
    read = {p.hit.passage_id: p for p in read_passages([hit(right, 0.6, "a"), hit(other, 0.58, "b")], query,
                                                                reader="features")}
    assert read["a"].answer == "Vaslovas Grigriqua"
    assert read["a"].hit.text[read["a"].hit.answer_start:read["a"].hit.answer_end] == "Vaslovas Grigriqua"
    assert read["a"].features.window_cover == pytest.approx(1.0)  # every question word, one sentence back
    assert read["b"].features.window_cover < 0.8
    assert read["a"].features.cover == read["b"].features.cover


def test_features_are_named_in_the_order_weights_json_was_fitted_for():
    assert FEATURES == tuple(json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))["features"])
    row = SpanFeatures(*map(float, range(len(FEATURES))))
    assert to_array([row]).tolist() == [list(map(float, range(len(FEATURES))))]
    assert SpanFeatures.of(to_array([row])[0]) == row
    assert to_array([]).shape == (0, len(FEATURES))


def test_followup_words_steer_the_reader_but_are_never_the_answer():
    history = [("Who led the 2023 delegation?", "Luong Tam Quang")]
    reading = read([hit(DELEGATION)], understand("Who did he meet from Russia?", turns(history)), reader="features")
    assert "Artur Lyukmanov" in reading.answer and "Quang" not in reading.answer


def test_the_reader_classifies_the_question_and_an_ellipsis_inherits_the_kind():
    assert analyse("And in 2020?", inherited_kind="who").exp == Expected("who", KIND_LABELS["who"])
    assert analyse("And in 2020?").exp == Expected("what")
    assert analyse("When did the bridge open?", inherited_kind="who").exp.kind == "when"  # its own wh-word wins


def test_no_hits_and_unphrased_passages():
    assert read([], understand("Who led?")) == Reading(())
    reading = read([hit("...")], understand("Who led?"))
    assert reading.answer is None and reading.hits[0].highlight_start == 0


def test_reading_from_many_threads_gives_the_same_answers():
    from concurrent.futures import ThreadPoolExecutor

    from qa.read.nlp import clear_cache

    cases = [("Who led the delegation?", DELEGATION), ("How many homes were damaged?", FLOODS),
             ("Which city opened a dragon bridge?", BRIDGE), ("What did Vietnam and Singapore sign?", INTERNET)]
    expected = [answer_of(q, t) for q, t in cases]
    clear_cache()
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda c: answer_of(*c), cases * 3))
    assert got == expected * 3


def test_parses_are_cached():
    text = "The cache keeps this sentence parsed."
    assert parse([text])[0] is parse([text])[0]


def test_spacy_loads_without_importing_torch():
    code = ("import sys; from qa.read.nlp import parse; d = parse(['Luong Tam Quang visited Singapore.'])[0]; "
            "print('torch' in sys.modules, [e.label_ for e in d.ents]); import torch; print(torch.__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["False ['PERSON', 'GPE']", "torch"]  # and torch still imports after


def test_a_stored_parse_is_read_without_importing_torch():
    code = ("import sys; from qa.read import nlp; rec = nlp.records(['Luong Tam Quang visited Singapore.'])[0]; "
            "d = nlp.from_bytes(rec); print('torch' in sys.modules, [e.label_ for e in d.ents])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False ['PERSON', 'GPE']"


def test_import_does_not_load_spacy():
    code = "import qa, sys; print('spacy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
