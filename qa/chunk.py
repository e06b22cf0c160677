"""Article -> Passages: sentence-aware chunks with character offsets into the article text."""
from __future__ import annotations

import hashlib
import re
from typing import Iterable, Iterator

from qa.types import Article, Passage

# Words that end in a period without ending a sentence ("Mr. Quang", "S. Iswaran", "U.S. officials").
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "maj", "capt", "sgt", "sen", "rep", "gov",
    "st", "jr", "sr", "vs", "etc", "inc", "corp", "co", "ltd", "dept", "est", "approx", "fig",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "e.g", "i.e",
    "u.s", "u.k", "u.n", "a.m", "p.m", "ph.d", "mt", "ft", "al",
}
# ... and these only before a number ("No. 5", "Vol. 2"), since "said no." ends a sentence.
_NUMBER_ABBREVIATIONS = {"no", "nos", "vol", "pp", "fig", "art", "p"}
# A sentence may end at . ! ? (optionally followed by closing quotes/brackets) before white space.
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+)|\n\s*\n")
_WORD = re.compile(r"\S+")


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in `text`, shifted by `offset`; never splits after abbreviations."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end()
        if text[m.start()] == ".":
            before = text[max(0, m.start() - 12):m.start()].split()
            token = before[-1].lower().lstrip("(\"'\u201c") if before else ""
            # an initial ("S.") or a known abbreviation does not end a sentence
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                continue
            nxt = text[m.end():].lstrip()[:1]
            if token in _NUMBER_ABBREVIATIONS and nxt.isdigit():
                continue
            if nxt and nxt.islower():  # "approx. five" or "No. 5 is" style continuations
                continue
        _append_span(text, start, end, spans)
        start = end
    _append_span(text, start, len(text), spans)
    return [(s + offset, e + offset) for s, e in spans]


def _append_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    """Append the span trimmed of surrounding white space, if anything is left."""
    chunk = text[start:end]
    stripped = chunk.strip()
    if stripped:
        s = start + (len(chunk) - len(chunk.lstrip()))
        spans.append((s, s + len(stripped)))


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _split_long(text: str, start: int, end: int, max_words: int) -> Iterator[tuple[int, int]]:
    """Split one over-long sentence at word boundaries into pieces of at most max_words words."""
    words = list(_WORD.finditer(text, start, end))
    for i in range(0, len(words), max_words):
        piece = words[i:i + max_words]
        yield piece[0].start(), piece[-1].end()


def passage_id(article_id: str, start: int, text: str) -> str:
    """Stable content id of a passage."""
    return hashlib.sha1(f"{article_id}:{start}:{text}".encode()).hexdigest()[:16]


def chunk_article(article: Article, max_words: int = 90, overlap: int = 1) -> list[Passage]:
    """Pack whole sentences into passages of at most `max_words` words, overlapping by `overlap` sentences."""
    if max_words < 1 or overlap < 0:
        raise ValueError(f"bad chunking settings: max_words={max_words}, overlap={overlap}")
    text = article.text
    units: list[tuple[int, int]] = []
    for s, e in split_sentences(text):
        if _word_count(text[s:e]) > max_words:
            units.extend(_split_long(text, s, e, max_words))
        else:
            units.append((s, e))
    passages: list[Passage] = []
    # a title derived from the first sentence repeats the body; prefixing it to every passage adds noise
    derived = text.startswith(article.title.rstrip("\u2026").rstrip())
    headline = "" if derived else article.title
    i = 0
    while i < len(units):
        j, words = i, 0
        while j < len(units):
            n = _word_count(text[units[j][0]:units[j][1]])
            if j > i and words + n > max_words:
                break
            words += n
            j += 1
        start, end = units[i][0], units[j - 1][1]
        body = text[start:end]
        passages.append(Passage(
            id=passage_id(article.id, start, body), article_id=article.id, source=article.source,
            title=article.title, published=article.published, text=body, start=start, end=end,
            headline=headline, url=article.url, author=article.byline, site=getattr(article, "site", None),
        ))
        if j >= len(units):
            break
        # step back `overlap` sentences, unless they and the next sentence would not fit together
        nxt = max(j - overlap, i + 1)
        words_back = sum(_word_count(text[a:b]) for a, b in units[nxt:j + 1])
        i = nxt if words_back <= max_words else j
    return passages


def chunk_articles(articles: Iterable[Article], max_words: int = 90, overlap: int = 1) -> list[Passage]:
    """Chunk every article, in order."""
    return [p for a in articles for p in chunk_article(a, max_words, overlap)]
