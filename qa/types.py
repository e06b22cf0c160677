"""Frozen dataclasses passed between stages. No qa imports here."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: importing qa.types never imports numpy
    import numpy as np


@dataclass(frozen=True)
class Article:
    """One parsed corpus document."""

    id: str  # stable id: hash of the source file name and record index
    title: str
    published: dt.date | None
    byline: str | None
    text: str  # body text; passage offsets point into this
    source: str  # corpus file name (relative to the corpus folder)
    url: str | None = None
    site: str | None = None  # the publication (a web page's site name, a feed's title)


@dataclass(frozen=True)
class Passage:
    """A chunk of an article's text with character offsets into `Article.text`."""

    id: str  # content hash (article id + text), stable across rebuilds
    article_id: str
    source: str
    title: str
    published: dt.date | None
    text: str
    start: int  # offset of text in the article body
    end: int
    headline: str = ""  # the title when it is a real headline, not one derived from the body
    url: str | None = None  # the article's (a JSONL, feed or WARC record's own, not the file's)
    author: str | None = None
    site: str | None = None

    def embed_text(self, with_title: bool) -> str:
        """Text given to the encoder (and BM25): optionally prefixed with the headline."""
        return f"{self.headline}. {self.text}" if with_title and self.headline else self.text


@dataclass(frozen=True)
class DateRange:
    """Inclusive range of publication dates a question asks about."""

    start: dt.date
    end: dt.date
    label: str  # the words in the question that set it, e.g. "2023" or "October 2023"

    def contains(self, day: dt.date | None) -> bool:
        """True if `day` lies in the range (unknown dates never do)."""
        return day is not None and self.start <= day <= self.end


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a chat as plain text: the question asked and the answer given (None: none)."""

    question: str
    answer: str | None = None


@dataclass(frozen=True)
class Query:
    """A question after understanding: the text to search with and its constraints."""

    question: str  # as asked
    search_text: str  # the text the encoder reads: question and carried words, or the pronoun resolved
    dates: DateRange | None = None
    # A question without a wh-word ("And in 2020?") asks what the earlier turn asked: that turn's answer kind
    # (who | when | where | number | which | what | why | how). The reader classifies every other question.
    inherited_kind: str | None = None
    carried: tuple[str, ...] = ()  # words carried over from history (searched, and weighted by the reader)
    as_of: dt.date | None = None  # the day the question is asked: "this week", "latest" are relative to it
    recency: bool = False  # prefer recent articles (no date named, or a range ending on as_of)

    @property
    def bm25_text(self) -> str:
        """The text BM25 searches with: the question and the carried words."""
        return " ".join((self.question, *self.carried))


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with scores and the highlighted span's offsets within `text`."""

    passage_id: str
    text: str
    title: str
    date: str | None  # ISO YYYY-MM-DD
    source: str
    score: float  # fused score, higher is better
    dense_score: float | None = None  # cosine similarity, if retrieved densely
    bm25_score: float | None = None
    start: int = 0  # offset of text within the article body
    highlight_start: int | None = None  # sentence that answers, offsets within text
    highlight_end: int | None = None
    answer_start: int | None = None  # answer span, offsets within text
    answer_end: int | None = None
    article_id: str = ""  # the article the passage comes from (a JSONL, feed or WARC record is its own article)
    url: str | None = None
    author: str | None = None
    site: str | None = None
    also: tuple[str, ...] = ()  # the story's other versions, "site or file, date, url" each (one card per story)

    @property
    def day(self) -> dt.date | None:
        """The publication date as a date (None when unknown)."""
        return dt.date.fromisoformat(self.date) if self.date else None

    def to_dict(self) -> dict:
        """Plain-JSON view."""
        return {**asdict(self), "also": list(self.also)}


@dataclass(frozen=True)
class Retrieval:
    """Ranked passage rows with their scores, and how the date constraint was applied."""

    rows: tuple[int, ...]
    scores: tuple[float, ...]
    dense: tuple[float, ...]
    bm25: tuple[float, ...]
    date_applied: bool  # False when the question named dates but no article matched them
    date_preferred: bool = False  # a past year named: its articles first, later ones (maybe about it) after
    # (row, dense cosine, BM25) of the opening passage of the first row's article when that is another passage (the
    # reader weighs it too: news states a story's key facts first), else None
    lead: tuple[int, float, float] | None = None


@dataclass(frozen=True)
class Search:
    """What QA.search returns: the understood question, its vector, the ranking and its hits."""

    query: Query
    vector: np.ndarray  # query.search_text as the encoder encoded it (the reader reuses it)
    retrieval: Retrieval
    hits: tuple[Hit, ...]  # the retrieved passages, best first
    timings: dict  # milliseconds per step: index, encode, retrieve
    # {passage text: a function giving its spaCy parse as the index stored it} for the passages the reader may read
    parses: dict = field(default_factory=dict)
    lead: Hit | None = None  # the first hit's article's opening passage, when another passage (Retrieval.lead)


@dataclass(frozen=True)
class Answer:
    """What ask() returns: the answer span (or None when abstaining) and its passages."""

    question: str
    answer: str | None
    confidence: float
    passages: tuple[Hit, ...] = ()
    abstained: bool = False
    reason: str | None = None  # why it abstained, or a note on the date filter
    date_filter: str | None = None  # label of the date constraint applied, if any
    timings_ms: dict = field(default_factory=dict)
    index_note: str | None = None  # set when the answer comes from an index being refreshed (or not refreshable)

    def to_dict(self) -> dict:
        """Plain-JSON view (ISO dates, lists, no dataclasses)."""
        out = asdict(self)
        out["passages"] = [h.to_dict() for h in self.passages]
        return out
