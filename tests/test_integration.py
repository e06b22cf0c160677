"""The real model on the seed corpus: the canonical question and date-constrained questions."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa import QA, load_settings
from qa.read import READ_LIMIT

ROOT = Path(__file__).resolve().parent.parent
SEED_2020 = "000_82534ed971b450c4.txt"
SEED_2023 = "004_41d1fe96b242cae0.txt"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seed_qa(tmp_path_factory):
    qa = QA(load_settings(corpus_dir=ROOT / "corpus", index_dir=tmp_path_factory.mktemp("idx")))
    qa.warm_up()
    return qa


def test_canonical_question(seed_qa):
    answer = seed_qa.ask("who led the 2023 delegation?")
    top = answer.passages[0]
    assert top.source == SEED_2023
    assert top.date == "2023-10-20"
    assert "Luong Tam Quang" in top.text
    assert answer.date_filter == "2023"
    assert not answer.abstained


@pytest.mark.parametrize("question, source, needle", [
    ("Who led the delegation in 2020?", SEED_2020, "Iswaran"),
    ("Which delegation leader met To Lam in 2020?", SEED_2020, "Iswaran"),
    ("Who headed the Vietnamese delegation in 2023?", SEED_2023, "Luong Tam Quang"),
    ("What did the two countries sign in 2023?", SEED_2023, "signed documents"),
    ("What concerns about cyber security were raised in 2020?", SEED_2020, "COVID-19"),
    ("Who was the Minister of Communications and Information in 2023?", SEED_2023, "Josephine Teo"),
    ("Who was the Minister of Communications and Information in 2020?", SEED_2020, "Iswaran"),
    ("What did the October 2023 conference discuss?", SEED_2023, ""),
])
def test_year_in_question_picks_that_years_article(seed_qa, question, source, needle):
    answer = seed_qa.ask(question)
    assert answer.passages[0].source == source
    assert needle in " ".join(h.text for h in answer.passages[:2])


def test_year_without_articles_falls_back_to_all(seed_qa):
    answer = seed_qa.ask("What agreement was renewed in 2018?")
    assert answer.date_filter is None
    assert "no articles published in 2018" in (answer.reason or "")
    assert any("renewed in 2018" in h.text for h in answer.passages[:3])


def test_year_nobody_wrote_about_abstains_rather_than_answer_from_another_year(seed_qa):
    answer = seed_qa.ask("Who led the Vietnamese delegation to Singapore in 2021?")
    assert answer.answer is None and answer.abstained
    assert "2021" in answer.reason and answer.passages  # the closest passages are still offered


def test_year_mentioned_in_a_later_article_still_answers(seed_qa):
    answer = seed_qa.ask("What agreement was renewed in 2018?")
    assert answer.passages[0].source == SEED_2023 and "2018" in answer.passages[0].text
    assert "no articles published in 2018" not in (answer.reason or "") or answer.answer is not None


def test_off_topic_question_abstains(seed_qa):
    answer = seed_qa.ask("What is a good recipe for banana bread?")
    assert answer.abstained and answer.answer is None


def test_cli_json_and_new_article_picked_up(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    env_args = ["--corpus", str(corpus), "--index", str(tmp_path / "idx")]
    cmd = [sys.executable, "-m", "qa", "ask", "who led the 2023 delegation?", "--json", *env_args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["passages"][0]["source"] == SEED_2023 and data["passages"][0]["date"] == "2023-10-20"
    assert "Luong Tam Quang" in data["passages"][0]["text"]
    (corpus / "lunar.txt").write_text(
        "Lunar rover finds water ice\n\n2024-02-03\n\nThe Kestrel rover, operated by the Andean Space Agency, "
        "found water ice in a crater near the lunar south pole on Friday, mission controllers said.\n")
    cmd = [sys.executable, "-m", "qa", "ask", "Which rover found water ice on the Moon?", "--json", *env_args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["passages"][0]["source"] == "lunar.txt"


def test_canonical_answer_span(seed_qa):
    answer = seed_qa.ask("who led the 2023 delegation?")
    top = answer.passages[0]
    assert "Luong Tam Quang" in answer.answer
    assert top.text[top.answer_start:top.answer_end] == answer.answer
    assert top.highlight_start <= top.answer_start < top.answer_end <= top.highlight_end
    assert 0 < answer.confidence <= 1


@pytest.mark.parametrize("question", ["What is the capital of Australia?",
                                      "How do you make pho bo at home?",
                                      "What was the final score of the 2022 World Cup final?"])
def test_unanswerable_questions_abstain(seed_qa, question):
    answer = seed_qa.ask(question)
    assert answer.abstained and answer.answer is None
    assert answer.passages and all(h.answer_start is None for h in answer.passages)


def test_followup_uses_the_previous_answer(seed_qa, monkeypatch):
    """"he" is the previous answer, so the follow-up reads the 2023 article's list of meetings. The spaCy feature
    reader answers it; the neural reader (the default) does not tie "from Russia" to "the Russian Ministry of
    Foreign Affairs" in that list (README, "Neural reader": a known miss of the follow-up benchmark)."""
    first = seed_qa.ask("Who led the Vietnamese delegation to Singapore in 2023?")
    assert first.answer == "Luong Tam Quang"
    history = [("Who led the Vietnamese delegation to Singapore in 2023?", first.answer)]
    second = seed_qa.ask("Who did he meet from Russia?", history=history)
    assert second.passages[0].source == SEED_2023
    assert any("Artur Lyukmanov" in h.text for h in second.passages[:READ_LIMIT])  # among the passages read
    monkeypatch.setenv("QA_READER", "features")
    third = seed_qa.ask("Who did he meet from Russia?", history=history)
    assert third.answer and "Artur Lyukmanov" in third.answer
