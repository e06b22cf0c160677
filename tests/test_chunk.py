"""qa.chunk: sentence splitting and packing sentences into passages with offsets."""
from __future__ import annotations

import re

import pytest

from qa.chunk import chunk_article, chunk_articles, split_sentences
from qa.types import Article


def _article(text: str, id: str = "a1") -> Article:
    return Article(id=id, title="T", published=None, byline=None, text=text, source=f"{id}.txt")


def _words(text: str) -> int:
    return len(text.split())


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


LONG = " ".join(f"word{i}" for i in range(25)) + "."
TEXTS = {
    "prose": ("Mr. S. Iswaran resigned on Friday. The U.S. embassy declined to comment. "
              "He was charged with corruption! Was it a surprise? Nobody said so.\n\n"
              "A new paragraph starts here. It has two sentences."),
    "short sentences": " ".join(f"Sentence number {i} is here." for i in range(20)),
    "long sentence": f"Short one. {LONG} Another short one.",
    "uneven": "One two three four. Five six seven eight nine. Ten eleven twelve thirteen fourteen fifteen.",
    "single": "Just one sentence without a full stop",
}


@pytest.mark.parametrize("text, expected", [
    ("Mr. S. Iswaran resigned. He left.", ["Mr. S. Iswaran resigned.", "He left."]),
    ("The U.S. embassy declined. It was late.", ["The U.S. embassy declined.", "It was late."]),
    ("Dr. Lan met Gen. Giap. They talked.", ["Dr. Lan met Gen. Giap.", "They talked."]),
    ("It cost approx. five dollars. Cheap!", ["It cost approx. five dollars.", "Cheap!"]),
    ('He said "Go." Then he left?  Yes.', ['He said "Go."', "Then he left?", "Yes."]),
    ("First paragraph without stop\n\nSecond paragraph", ["First paragraph without stop", "Second paragraph"]),
    ("", []),
    ("   \n\n  ", []),
])
def test_split_sentences(text, expected):
    assert _sentences(text) == expected


def test_split_sentences_offset_shifts_spans():
    text = "One. Two."
    assert split_sentences(text, offset=10) == [(s + 10, e + 10) for s, e in split_sentences(text)]


@pytest.mark.parametrize("name", TEXTS)
@pytest.mark.parametrize("max_words", [1, 5, 12, 90])
def test_passage_offsets_point_into_article_text(name, max_words):
    article = _article(TEXTS[name])
    passages = chunk_article(article, max_words=max_words, overlap=1)
    assert passages
    for p in passages:
        assert p.text == article.text[p.start:p.end]
        assert p.text == p.text.strip()
        assert (p.article_id, p.source, p.title, p.published) == (article.id, article.source, article.title,
                                                                  article.published)
    # every word of the article is in some passage
    covered = set()
    for p in passages:
        covered.update(m.start() for m in re.finditer(r"\S+", article.text) if p.start <= m.start() < p.end)
    assert covered == {m.start() for m in re.finditer(r"\S+", article.text)}


@pytest.mark.parametrize("name", TEXTS)
@pytest.mark.parametrize("max_words", [3, 8, 20])
def test_max_words_respected(name, max_words):
    for p in chunk_article(_article(TEXTS[name]), max_words=max_words, overlap=1):
        assert _words(p.text) <= max_words, p.text


def test_single_long_sentence_is_split_at_word_boundaries():
    article = _article(LONG)
    passages = chunk_article(article, max_words=10, overlap=0)
    assert [_words(p.text) for p in passages] == [10, 10, 5]
    assert " ".join(p.text for p in passages) == LONG


def test_sentences_are_not_cut_when_they_fit():
    article = _article(TEXTS["short sentences"])
    sentences = set(split_sentences(article.text))
    for p in chunk_article(article, max_words=12, overlap=1):
        assert any(s == p.start for s, _ in sentences) and any(e == p.end for _, e in sentences)


def test_overlap_of_one_sentence():
    article = _article(TEXTS["short sentences"])  # 20 sentences of 5 words
    passages = chunk_article(article, max_words=15, overlap=1)
    spans = split_sentences(article.text)
    assert len(passages) > 2
    for prev, nxt in zip(passages, passages[1:]):
        last_of_prev = [s for s, e in spans if e == prev.end][0]
        assert nxt.start == last_of_prev
    assert passages[-1].end == spans[-1][1]


def test_no_overlap():
    article = _article(TEXTS["short sentences"])
    passages = chunk_article(article, max_words=15, overlap=0)
    for prev, nxt in zip(passages, passages[1:]):
        assert nxt.start > prev.end



def test_every_passage_adds_new_text():
    article = _article(TEXTS["uneven"])  # sentences of 4, 5 and 6 words
    passages = chunk_article(article, max_words=10, overlap=1)
    for prev, nxt in zip(passages, passages[1:]):
        assert nxt.end > prev.end, (prev.text, nxt.text)


def test_ids_are_stable_and_distinct():
    article = _article(TEXTS["short sentences"])
    first = chunk_article(article, max_words=12)
    again = chunk_article(_article(TEXTS["short sentences"]), max_words=12)
    assert [p.id for p in first] == [p.id for p in again]
    assert len({p.id for p in first}) == len(first)
    other = chunk_article(_article(TEXTS["short sentences"], id="a2"), max_words=12)
    assert not {p.id for p in first} & {p.id for p in other}


def test_empty_article_text_gives_no_passages():
    assert chunk_article(_article("")) == []
    assert chunk_article(_article(" \n\n ")) == []


@pytest.mark.parametrize("max_words, overlap", [(0, 1), (-5, 1), (10, -1)])
def test_bad_settings_raise(max_words, overlap):
    with pytest.raises(ValueError, match=str(max_words if max_words < 1 else overlap)):
        chunk_article(_article("A sentence."), max_words=max_words, overlap=overlap)


def test_chunk_articles_keeps_order():
    articles = [_article("One. Two.", id="x"), _article("", id="y"), _article("Three.", id="z")]
    assert [p.article_id for p in chunk_articles(articles, max_words=1, overlap=0)] == ["x", "x", "z"]
