"""What an acronym stands for is read off the passage that defines it, beside it in brackets."""
from __future__ import annotations

import pytest

from qa.read import acronyms


@pytest.mark.parametrize("question, short", [
    ("What does SICW stand for?", "SICW"),
    ("what does the acronym AMMTC mean?", "AMMTC"),
    ("What is MCI short for?", "MCI"),
    ("What is the full name of the MPS?", "MPS"),
    ("NATO stands for what?", "NATO"),
    ("What does it mean?", None),  # not an acronym
    ("What does AI mean for jobs?", None),  # what it implies, not what it stands for
    ("What does NFT mean?", "NFT"),
    ("What does Vietnam stand for in the talks?", None),  # a name, not capitals
    ("Who led the delegation?", None),
])
def test_the_acronym_a_question_asks_about(question, short):
    assert acronyms.asked(question) == short


@pytest.mark.parametrize("text, short, want", [
    ("He attended the Singapore International Cyber Security Week 2023 (SICW 2023) and more.", "SICW",
     "Singapore International Cyber Security Week"),
    ("in the framework of the AMMTC (ASEAN Ministerial Meeting on Transnational Crime) mechanism", "AMMTC",
     "ASEAN Ministerial Meeting on Transnational Crime"),
    ("the Ministry of Public Security (MPS) of Vietnam", "MPS", "Ministry of Public Security"),
    ("officials of the World Health Organization (WHO) said", "WHO", "World Health Organization"),
    ("The MPS said nothing about it (again).", "MPS", None),  # brackets that do not spell it
    ("No acronym is defined here.", "MPS", None),
])
def test_the_long_form_a_text_gives_an_acronym(text, short, want):
    found = acronyms.expansion(text, short)
    assert (text[found[0]:found[1]] if found else None) == want


def test_the_first_passage_that_defines_it_answers(make_corpus, tmp_path):
    from qa.config import Settings
    from qa.pipeline import QA

    folder = make_corpus({"talks.txt": ("Ministers meet on crime", "2020-10-01",
                                        ["Ministers agreed to cooperate within the AMMTC (ASEAN Ministerial Meeting "
                                         "on Transnational Crime) mechanism on cybercrime and fraud."])}, name="acr")
    qa = QA(Settings(corpus_dir=folder, index_dir=tmp_path / "acr-idx", model="hash", chunk_words=30))
    got = qa.ask("What does AMMTC stand for in the cooperation on cybercrime?")
    assert got.answer == "ASEAN Ministerial Meeting on Transnational Crime" and not got.abstained
    h = got.passages[0]
    assert h.text[h.answer_start:h.answer_end] == got.answer  # highlighted where the passage defines it
    assert h.highlight_start <= h.answer_start < h.answer_end <= h.highlight_end
    assert got.confidence == acronyms.CONFIDENCE
