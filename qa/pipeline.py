"""The QA object: lazily loads the encoder and index once, keeps them fresh, and answers questions."""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import replace
from typing import Sequence

import numpy as np

from qa import index as index_mod
from qa.config import Settings, load_settings
from qa.embed import Encoder, get_encoder
from qa.index.live import LiveIndex
from qa.ingest import CorpusSource, FolderSource
from qa.query import understand
from qa.decide import confidence as answer_confidence
from qa.decide import features as confidence_features
from qa.decide import threshold as calibrated_threshold
from qa.read.nlp import parse
from qa.read import READ_LIMIT, judged, options
from qa.retrieve import Retrieval, retrieve, to_hits
from qa.types import Answer, Hit, Query

logger = logging.getLogger(__name__)


class QuestionError(ValueError):
    """A question or argument that cannot be answered as given; the message is one line for the user."""


# Control characters, zero-width spaces and lone surrogates (undecodable bytes from a terminal) carry no
# words, and echoed back they could drive a terminal or break UTF-8 output: they count as spaces.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b\u2060\ufeff\ud800-\udfff]")


def clamp_k(k, settings: Settings) -> int:
    """k as an int clamped to 1..max_k; QuestionError if it is not a whole number."""
    if k is None:
        return settings.k
    if isinstance(k, bool) or not isinstance(k, (int, float, str)):
        raise QuestionError(f"k must be a whole number, not {k!r}")
    try:
        value = int(float(k)) if not isinstance(k, int) else k
    except (TypeError, ValueError, OverflowError):
        raise QuestionError(f"k must be a whole number, not {k!r}") from None
    return max(1, min(value, settings.max_k))


def clean_question(question, settings: Settings) -> str:
    """The question stripped; QuestionError if it is not text, empty, or too long."""
    if not isinstance(question, str):
        raise QuestionError(f"question must be text, not {type(question).__name__}")
    text = " ".join(_INVISIBLE.sub(" ", question).split())
    if not text:
        raise QuestionError("question is empty")
    if len(text) > settings.max_question_chars:
        raise QuestionError(f"question is too long ({len(text)} characters; the limit is "
                            f"{settings.max_question_chars})")
    return text


class QA:
    """Question answering over one corpus and index folder; safe to share between threads."""

    def __init__(self, settings: Settings | None = None, encoder: Encoder | None = None,
                 source: CorpusSource | None = None, **overrides):
        """`source` replaces the settings' corpus folder (articles in memory: qa.ingest.ArticlesSource)."""
        self.settings = (settings or load_settings()).with_overrides(**overrides)
        self._encoder = encoder
        self.source = source if source is not None else FolderSource.from_settings(self.settings)
        self._primed: dict[str, np.ndarray] = {}  # query vectors encoded ahead by prime()
        self._live = LiveIndex(self.settings, lambda: self.encoder, self.source)
        self._asked = threading.local()  # what the index note was for this thread's current question

    @property
    def encoder(self) -> Encoder:
        """The encoder, created on first use."""
        if self._encoder is None:
            self._encoder = get_encoder(self.settings.model)
        return self._encoder

    def index(self, progress: bool = False, force: bool = False) -> index_mod.Index:
        """The loaded index, rebuilt or refreshed first if the corpus or settings changed (waits for that).

        `force` rebuilds from nothing. Questions do not wait like this: see current().
        """
        return self._live.rebuild(progress) if force else self._live.get(None, progress)[0]

    def current(self) -> index_mod.Index:
        """The index to answer a question from now, never held up by a refresh for long.

        A refresh the corpus needs runs in the background while this returns the index as it was (waiting
        at most settings.refresh_wait_s for the refresh); index_note() then says so for this thread.
        """
        index, self._asked.note = self._live.get(self.settings.refresh_wait_s)
        return index

    @property
    def refreshing(self) -> bool:
        """True while the index is being refreshed in the background."""
        return self._live.refreshing

    def index_note(self) -> str | None:
        """For the question this thread is answering: why its index may not match the corpus, or None."""
        return getattr(self._asked, "note", None)

    def prime(self, questions: Sequence[tuple[str, Sequence | None]], batch_size: int = 64) -> None:
        """Encode many (question, history) pairs in batches ahead of time, as evaluation runs do."""
        texts = list(dict.fromkeys(understand(clean_question(q, self.settings), h).search_text
                                   for q, h in questions))
        todo = [t for t in texts if t not in self._primed]
        if todo:
            self._primed.update(zip(todo, self.encoder.encode(todo, batch_size=batch_size)))

    def warm_up(self, progress: bool = False) -> None:
        """Load the model and the index now rather than on the first question."""
        # as the first question would: waits for the index unless another process holds its build lock
        self._live.get(self.settings.refresh_wait_s, progress=progress)
        self.encoder.encode(["warm up"])
        parse(["Warm up the reader."], cache=False)  # loads spaCy (about 2 s) before the first question

    def search(self, question: str, k: int | None = None, history: Sequence | None = None,
               mode: str = "hybrid") -> tuple[Query, np.ndarray, Retrieval, list[Hit], dict]:
        """Retrieve without reading: the understood query, its vector, the ranking and its hits."""
        s = self.settings
        text = clean_question(question, s)
        k = clamp_k(k, s)
        t0 = time.perf_counter()
        index = self.current()
        t1 = time.perf_counter()
        query = understand(text, history)
        qvec = self._primed.get(query.search_text)
        if qvec is None:
            qvec = self.encoder.encode([query.search_text])[0]
        t2 = time.perf_counter()
        found = retrieve(index, qvec, query.bm25_text, k, query.dates, mode, s.candidates,
                         s.dense_weight, s.fusion, s.rrf_k)
        hits = to_hits(index, found)
        t3 = time.perf_counter()
        timings = {"index": (t1 - t0) * 1e3, "encode": (t2 - t1) * 1e3, "retrieve": (t3 - t2) * 1e3}
        return query, qvec, found, hits, timings

    def ask(self, question: str, k: int | None = None, history: Sequence | None = None,
            mode: str = "hybrid") -> Answer:
        """Answer a question from the corpus: the answer span in the best passages, or abstain."""
        s = self.settings
        k = clamp_k(k, s)
        # the reader weighs READ_LIMIT passages whatever k is: how many are shown must not change the answer
        query, qvec, found, hits, timings = self.search(question, max(k, READ_LIMIT), history, mode)
        t3 = time.perf_counter()
        rate = lambda r: answer_confidence(confidence_features(r, hits))  # noqa: E731
        reading, rating = judged(options(hits, query, encoder=self.encoder, question_vector=qvec),
                                 rate if s.choose_by_confidence else None)
        conf = round(rating if rating is not None else rate(reading), 3) if reading.answer else 0.0
        best = max((h.dense_score or 0.0 for h in hits), default=0.0)
        hits = list(reading.hits)[:k]
        timings["read"] = (time.perf_counter() - t3) * 1e3
        timings = {key: round(v, 1) for key, v in timings.items()}
        date_label = query.dates.label if query.dates and found.date_applied else None
        note = (f"no articles published in {query.dates.label}; searched all dates"
                if query.dates and not found.date_applied else None)
        threshold = s.answer_threshold if s.answer_threshold is not None else calibrated_threshold()
        if not hits or best < s.min_relevance:
            conf, why = 0.0, "no passage in the articles is close enough to the question"
        elif reading.answer is None or conf < threshold:
            why = f"no answer in the articles is likely enough to be right ({conf:.2f} < {threshold:.2f})"
        elif query.dates and not found.date_applied and not _mentions_years(hits[0].text, query.dates):
            why = (f"no article was published in {query.dates.label}, and the closest passage, from another "
                   f"date, does not mention {query.dates.label}")
        else:
            why = None
        if why:  # abstain: keep the closest passages and their sentences, drop the rejected span
            hits = [replace(h, answer_start=None, answer_end=None) for h in hits]
            return Answer(question=query.question, answer=None, confidence=conf, passages=tuple(hits),
                          abstained=True, reason=why, date_filter=date_label, timings_ms=timings,
                          index_note=self.index_note())
        return Answer(question=query.question, answer=reading.answer, confidence=conf, passages=tuple(hits),
                      reason=note, date_filter=date_label, timings_ms=timings, index_note=self.index_note())


def _mentions_years(text: str, dates) -> bool:
    """True when the text names a year of the date range (an article about that time, published later)."""
    return any(str(y) in text for y in range(dates.start.year, dates.end.year + 1))


_default: QA | None = None
_default_lock = threading.Lock()


def default_qa() -> QA:
    """The process-wide QA built from the environment's settings."""
    global _default
    with _default_lock:
        if _default is None:
            _default = QA()
        return _default


def ask(question: str, k: int = 5, history: Sequence | None = None) -> Answer:
    """Answer a question with the default corpus and index (see QA.ask)."""
    return default_qa().ask(question, k=k, history=history)


def warm_up(progress: bool = False) -> None:
    """Load the default model and index now (building the index if needed)."""
    default_qa().warm_up(progress=progress)
