"""Questions about an article itself (who wrote it, when it was published) are answered from its metadata."""
from __future__ import annotations

import datetime as dt

import pytest

from qa import byline
from qa.pipeline import QA
from qa.types import Hit


@pytest.mark.parametrize("question, kind", [
    ("Who wrote the PSNews report on the cyber security meeting?", "author"),
    ("Which reporter filed the story on the online ministerial talks?", "author"),
    ("who wrote the article about the bridge?", "author"),
    ("Who is the author of the piece on floods in Ha Giang?", "author"),
    ("Whose byline is on the vaccination story?", "author"),
    ("When was the article about the dragon bridge published?", "date"),
    ("On what date was the story on the floods posted?", "date"),
    # about the story, not the article: the reader answers these
    ("Who wrote the UN report on cyber crime?", None),
    ("Who reported the outbreak to the health ministry?", None),
    ("When was the bridge opened?", None),
    ("Who designed the bridge?", None),
    ("At what time of day was the story posted?", None),  # the time is not kept, only the day
])
def test_what_a_question_asks_of_the_article(question, kind):
    assert byline.asked(question) == kind


def test_the_answer_is_the_byline_or_the_date_written_out():
    hit = Hit("p", "text", "title", "2020-10-01", "a.txt", 1.0, author="Thien Minh")
    assert byline.answer("author", hit) == "Thien Minh"
    assert byline.answer("date", hit) == "1 October 2020"
    bare = Hit("p", "text", "title", None, "a.txt", 1.0)
    assert byline.answer("author", bare) is None and byline.answer("date", bare) is None
    assert byline.answer(None, hit) is None and byline.answer("author", None) is None


def test_ask_answers_from_the_article_found_first_and_abstains_without_a_byline(make_corpus, tmp_path):
    from qa.config import Settings

    folder = make_corpus({
        "bridge.txt": ("Da Nang opens dragon bridge", "2021-03-15",
                       ["By Jane Roe", "The city of Da Nang opened a new steel bridge shaped like a dragon over the "
                        "Han river. The bridge breathes fire on weekend nights."]),
        "floods.txt": ("Floods kill twelve in Ha Giang", "2020-10-01",
                       ["Heavy monsoon rain caused floods and landslides in Ha Giang province. Twelve people died."]),
    })
    qa = QA(Settings(corpus_dir=folder, index_dir=tmp_path / "idx", model="hash", chunk_words=30))
    got = qa.ask("Who wrote the article about the dragon bridge over the Han river?")
    assert got.answer == "Jane Roe" and not got.abstained and got.passages[0].source == "bridge.txt"
    assert got.reason == "the byline of the first article" and 0 < got.confidence <= 1
    assert all(h.answer_start is None for h in got.passages)  # the byline is not a span of the text
    when = qa.ask("When was the article about the dragon bridge over the Han river published?")
    assert when.answer == "15 March 2021"
    none = qa.ask("Who wrote the story about floods and landslides in Ha Giang province?")
    assert none.abstained and none.answer is None and "no byline" in none.reason
    assert none.passages[0].source == "floods.txt"  # the closest passages are still shown
