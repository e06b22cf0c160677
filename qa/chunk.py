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
# A sentence may end at . ! ? (optionally followed by closing quotes/brackets) before white space, or at
# the full-width 。！？ of Chinese and Japanese, which need no space after them.
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+)|[\u3002\uff01\uff1f]+[\u300d\u300f\u201d\u2019\uff09)]*"
                       r"|\n\s*\n")
# Scripts written without spaces between words: each character counts as a word (BERT-style tokenizers,
# MiniLM's among them, make each such character a token of its own).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
_WORD = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
MAX_CHARS = 1200  # the default bound on a passage's length in characters (see Settings.chunk_chars)


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


def _split_long(text: str, start: int, end: int, max_words: int, max_chars: int) -> Iterator[tuple[int, int]]:
    """Split one over-long sentence at word boundaries into pieces of at most max_words words and max_chars
    characters; a single word longer than max_chars (a run of letters without spaces) is cut every max_chars."""
    first = last = None
    count = 0
    for w in _WORD.finditer(text, start, end):
        a, b = w.span()
        if first is not None and (count == max_words or b - first > max_chars):
            yield first, last
            first, count = None, 0
        if b - a > max_chars:
            yield from ((k, min(k + max_chars, b)) for k in range(a, b, max_chars))
            continue
        if first is None:
            first = a
        last, count = b, count + 1
    if first is not None:
        yield first, last


def passage_id(article_id: str, start: int, text: str) -> str:
    """Stable content id of a passage."""
    return hashlib.sha1(f"{article_id}:{start}:{text}".encode()).hexdigest()[:16]


def chunk_article(article: Article, max_words: int = 90, overlap: int = 1,
                  max_chars: int = MAX_CHARS) -> list[Passage]:
    """Pack whole sentences into passages of at most `max_words` words and `max_chars` characters,
    overlapping by `overlap` sentences."""
    if max_words < 1 or overlap < 0 or max_chars < 1:
        raise ValueError(f"bad chunking settings: max_words={max_words}, overlap={overlap}, max_chars={max_chars}")
    text = article.text
    units: list[tuple[int, int]] = []
    for s, e in split_sentences(text):
        if e - s > max_chars or _word_count(text[s:e]) > max_words:
            units.extend(_split_long(text, s, e, max_words, max_chars))
        else:
            units.append((s, e))
    counts = [_word_count(text[s:e]) for s, e in units]
    passages: list[Passage] = []
    # a title derived from the first sentence repeats the body; prefixing it to every passage adds noise
    derived = text.startswith(article.title.rstrip("\u2026").rstrip())
    headline = "" if derived else article.title
    i = 0
    while i < len(units):
        j, words = i, 0
        while j < len(units):
            if j > i and (words + counts[j] > max_words or units[j][1] - units[i][0] > max_chars):
                break
            words += counts[j]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        body = text[start:end]
        passages.append(Passage(
            id=passage_id(article.id, start, body), article_id=article.id, source=article.source,
            title=article.title, published=article.published, text=body, start=start, end=end,
            headline=headline, url=article.url, author=article.byline, site=article.site,
        ))
        if j >= len(units):
            break
        # step back `overlap` sentences, unless they and the next sentence would not fit together
        nxt = max(j - overlap, i + 1)
        fits = sum(counts[nxt:j + 1]) <= max_words and units[j][1] - units[nxt][0] <= max_chars
        i = nxt if fits else j
    return passages


def chunk_articles(articles: Iterable[Article], max_words: int = 90, overlap: int = 1,
                   max_chars: int = MAX_CHARS) -> list[Passage]:
    """Chunk every article, in order."""
    return [p for a in articles for p in chunk_article(a, max_words, overlap, max_chars)]
