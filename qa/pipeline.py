"""The QA object: lazily loads the encoder and index once, keeps them fresh, and answers questions."""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from dataclasses import replace
from typing import Sequence


from qa import byline
from qa import index as index_mod
from qa.config import Settings, load_settings
from qa.embed import Encoder, get_encoder
from qa.dates import as_of_day
from qa.history import answered, turns
from qa.index.live import LiveIndex
from qa.ingest import CorpusSource, FolderSource
from qa.query import understand
from qa.decide import EVIDENCE_HITS, Decision, best_dense, decide, evidence
from qa.read import acronyms, nlp
from qa.read.lru import LRU
from qa.read.neural import sentence_around
from qa.read import READ_LIMIT, SPAN_READERS, neural, options, reader_name
from qa.read import warm_up as warm_reader
from qa.retrieve import Ranking, lead_hit, retrieve, to_hits
from qa.types import Answer, Hit, Search, Turn

logger = logging.getLogger(__name__)


class QuestionError(ValueError):
    """A question or argument that cannot be answered as given; the message is one line for the user.

    `problem` says what is wrong ("not_text", "empty", "too_long" or "k") for a door that words it its own
    way (the chat); `value` is the argument as given.
    """

    def __init__(self, message: str, problem: str = "", value=None):
        super().__init__(message)
        self.problem, self.value = problem, value


# Control characters, zero-width spaces and lone surrogates (undecodable bytes from a terminal) carry no
# words, and echoed back they could drive a terminal or break UTF-8 output: they count as spaces.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b\u2060\ufeff\ud800-\udfff]")


def clamp_k(k, settings: Settings) -> int:
    """k as an int clamped to 1..max_k; QuestionError if it is not a whole number."""
    if k is None:
        return settings.k
    if isinstance(k, bool) or not isinstance(k, (int, float, str)):
        raise QuestionError(f"k must be a whole number, not {k!r}", "k", k)
    try:
        value = int(float(k)) if not isinstance(k, int) else k
    except (TypeError, ValueError, OverflowError):
        raise QuestionError(f"k must be a whole number, not {k!r}", "k", k) from None
    return max(1, min(value, settings.max_k))


def clean_question(question, settings: Settings) -> str:
    """The question stripped; QuestionError if it is not text, empty, or too long."""
    if not isinstance(question, str):
        raise QuestionError(f"question must be text, not {type(question).__name__}", "not_text", question)
    text = " ".join(_INVISIBLE.sub(" ", question).split())
    if not text:
        raise QuestionError("question is empty", "empty", question)
    if len(text) > settings.max_question_chars:
        raise QuestionError(f"question is too long ({len(text)} characters; the limit is "
                            f"{settings.max_question_chars})", "too_long", question)
    return text


def check_as_of(value) -> dt.date:
    """The day the question is asked (None: today); QuestionError if it is not a date."""
    try:
        return as_of_day(value)
    except ValueError as exc:
        raise QuestionError(str(exc), "as_of", value) from None


class QA:
    """Question answering over one corpus and index folder; safe to share between threads."""

    def __init__(self, settings: Settings | None = None, encoder: Encoder | None = None,
                 source: CorpusSource | None = None, ranking: Ranking | None = None, **overrides):
        """`source` replaces the settings' corpus folder (articles in memory: qa.ingest.ArticlesSource);
        `ranking` the fitted article ranking (plain baselines turn it off)."""
        self.settings = (settings or load_settings()).with_overrides(**overrides)
        self.ranking = ranking or Ranking()
        self._encoder = encoder
        self.source = source if source is not None else FolderSource.from_settings(self.settings)
        self._live = LiveIndex(self.settings, lambda: self.encoder, self.source)
        self._asked = threading.local()  # what the index note was for this thread's current question
        self._earlier = LRU(256)  # answers to earlier questions a history gave without them

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

    def warm_up(self, progress: bool = False) -> None:
        """Load the model and the index now rather than on the first question."""
        # as the first question would: waits for the index unless another process holds its build lock
        self._live.get(self.settings.refresh_wait_s, progress=progress)
        self.encoder.encode(["warm up"])
        warm_reader()  # loads the span reader (or spaCy for the feature reader) before the first question

    def search(self, question: str, k: int | None = None, history: Sequence | None = None,
               mode: str = "hybrid", as_of=None) -> Search:
        """Retrieve without reading: the understood query, its vector, the ranking and its hits."""
        s = self.settings
        text = clean_question(question, s)
        return self._search(text, clamp_k(k, s), turns(history), mode, check_as_of(as_of))

    def _search(self, text: str, k: int, history: tuple[Turn, ...], mode: str, as_of: dt.date) -> Search:
        """search() for arguments already checked."""
        t0 = time.perf_counter()
        index = self.current()
        t1 = time.perf_counter()
        query = understand(text, history, as_of)
        qvec = self.encoder.encode([query.search_text])[0]
        t2 = time.perf_counter()
        found = retrieve(index, qvec, query.bm25_text, k, query.dates, mode, self.settings, as_of=query.as_of,
                         recency=query.recency, ranking=self.ranking)
        hits = tuple(to_hits(index, found))
        lead = lead_hit(index, found)
        t3 = time.perf_counter()
        timings = {"index": (t1 - t0) * 1e3, "encode": (t2 - t1) * 1e3, "retrieve": (t3 - t2) * 1e3}
        return Search(query, qvec, found, hits, timings, _stored_parses(index, found, hits, lead), lead)

    def ask(self, question: str, k: int | None = None, history: Sequence | None = None,
            mode: str = "hybrid", as_of=None) -> Answer:
        """Answer a question from the corpus as asked on `as_of` (default today): the answer span, or abstain."""
        s = self.settings
        k = clamp_k(k, s)
        text = clean_question(question, s)
        day = check_as_of(as_of)
        # the reader weighs READ_LIMIT passages and the confidence EVIDENCE_HITS whatever k is: how many are shown
        # must not change the answer
        earlier = answered(turns(history), lambda q, before: self._earlier_answer(q, before, mode, day))
        found = self._search(text, max(k, READ_LIMIT, EVIDENCE_HITS), earlier, mode, day)
        t0 = time.perf_counter()
        decision = self._read(found)
        timings = {**found.timings, "read": (time.perf_counter() - t0) * 1e3}
        hits = shown(decision, found)[:k]
        if decision.abstained:  # keep the closest passages and their sentences, drop the rejected span
            hits = _unmarked(hits)
        dates, reason = found.query.dates, decision.reason
        # a past year named is preferred, not a filter (qa.retrieve.Ranking.named_year_bonus): say so when the
        # passage shown first is a later one
        preferred = bool(dates) and found.retrieval.date_preferred and bool(hits) and not dates.contains(hits[0].day)
        if preferred and not decision.abstained and reason is None:
            reason = f"articles from {dates.label} first, then later ones, which may be about {dates.label}"
        answer, confidence, abstained = decision.answer, decision.confidence, decision.abstained
        direct = _direct(text, found.hits, k, s)
        if direct:
            answer, confidence, abstained, hits, reason = direct
        return Answer(question=found.query.question, answer=answer, confidence=confidence,
                      passages=hits, abstained=abstained, reason=reason,
                      date_filter=dates.label if dates and found.retrieval.date_applied and not preferred else None,
                      timings_ms={key: round(v, 1) for key, v in timings.items()},
                      index_note=self.index_note())

    def _read(self, found: Search) -> Decision:
        """Read the retrieved passages and decide. The span reader reads the first `read_first` first (one window a
        core) and the rest of READ_LIMIT only when the answer they give is rated below `read_rest_below`; the
        passages read first are not read again, and the rest are read ahead, on the core the first ones' parse leaves
        free, when the reader's raw scores say the answer will likely be unsure (`read_ahead_below`,
        qa.read.neural.one_question)."""
        s = self.settings
        hits, limit = to_read(found)
        staged = reader_name() in SPAN_READERS and s.read_first < READ_LIMIT  # else all at once
        first = max(1, s.read_first) if staged else limit
        with neural.one_question([h.text for h in hits[first:limit]], s.read_ahead_below), \
                nlp.stored(found.parses):
            if first < limit and len(hits) > first:
                decision = decide(options(hits, found.query, limit=first, encoder=self.encoder,
                                          question_vector=found.vector), found, s)
                if decision.confidence >= s.read_rest_below or best_dense(evidence(found)) < s.min_relevance:
                    return decision  # sure enough, or abstaining whatever the rest say
            readings = options(hits, found.query, limit=limit, encoder=self.encoder, question_vector=found.vector)
            return decide(readings, found, s)

    def _earlier_answer(self, question: str, before: tuple[Turn, ...], mode: str, day: dt.date) -> str | None:
        """The answer ask() gives an earlier question of a history (cached per index generation and reader)."""

        key = (question, before, mode, day, id(self.current()), reader_name(), neural.artifact_dir())

        def compute(_keys):
            try:
                a = self.ask(question, k=READ_LIMIT, history=list(before), mode=mode, as_of=day)
            except QuestionError:  # an earlier turn the bot refused (empty, too long): it answered nothing
                return [None]
            return [a.answer]

        return self._earlier.get_many([key], compute)[key]


def _stored_parses(index, found, hits: Sequence[Hit], lead: Hit | None = None) -> dict:
    """{passage text: its stored parse's loader} for the passages the reader may read (qa.index.parses)."""
    if index.parses is None:
        return {}
    pairs = list(zip(hits[:READ_LIMIT], found.rows[:READ_LIMIT]))
    if lead is not None:
        pairs.append((lead, found.lead[0]))
    return {h.text: index.parses.loader(int(row)) for h, row in pairs if index.parses.has(int(row))}


def to_read(found: Search) -> tuple[tuple[Hit, ...], int]:
    """(the hits the reader weighs, in order, and how many of them it reads): the first READ_LIMIT retrieved, with
    the first hit's article's opening passage (found.lead) read second when it is not among them. News states a
    story's key facts first; a question's words often match a later passage that only mentions them. On RealTimeQA
    dev (648 questions, date given, read all at once, 2-fold news model; README, "Twenty-seventh session") the answer
    chosen is right for 0.650 of the questions reading the 3 hits and 0.707 with the opening passage read second
    (0.696 read fourth)."""
    hits, lead = found.hits, found.lead
    if not _lead_extra(found):
        return hits, READ_LIMIT
    rest = tuple(h for h in hits[1:] if h.passage_id != lead.passage_id)
    return (hits[0], lead, *rest), READ_LIMIT + 1


def _lead_extra(found: Search) -> bool:
    """True when the opening passage is read beside the retrieved ones: there is one, and it is not among the first
    READ_LIMIT retrieved."""
    lead = found.lead
    return lead is not None and bool(found.hits) and all(h.passage_id != lead.passage_id
                                                        for h in found.hits[:READ_LIMIT])


def shown(decision: Decision, found: Search) -> tuple[Hit, ...]:
    """The passages to show, best first: the decision's, without the opening passage the reader weighed unless it
    gives the answer shown (the retrieved passages are the evidence otherwise)."""
    hits, lead = decision.reading.hits, found.lead
    # none read, or read as one of the first retrieved passages (shown as read), or its span is the answer shown
    if not _lead_extra(found) or (not decision.abstained and hits[0].passage_id == lead.passage_id):
        return hits
    out = [h for h in hits if h.passage_id != lead.passage_id]
    retrieved = next((h for h in found.hits if h.passage_id == lead.passage_id), None)
    if retrieved is not None:  # also retrieved further down: back in its place, with its own score
        at = next((i for i, h in enumerate(out) if h.score < retrieved.score), len(out))
        out.insert(at, retrieved)
    return tuple(out)


_default: QA | None = None
_default_lock = threading.Lock()


def default_qa() -> QA:
    """The process-wide QA built from the environment's settings."""
    global _default
    with _default_lock:
        if _default is None:
            _default = QA()
        return _default


def _unmarked(hits) -> tuple[Hit, ...]:
    """The hits without an answer span (their highlighted sentences kept): shown, not answering."""
    return tuple(replace(h, answer_start=None, answer_end=None) for h in hits)


def _direct(text: str, hits: Sequence[Hit], k: int, s: Settings):
    """(answer, confidence, abstained, hits, reason) for a question the passages' metadata or a definition
    answer without the span reader, else None: "Who wrote the article on ...?" (the byline of the article found
    first, qa.byline) and "What does SICW stand for?" (the long form a passage gives it, qa.read.acronyms)."""
    if not hits or (hits[0].dense_score or 0.0) < s.min_relevance:
        return None
    kind = byline.asked(text)
    if kind:
        what = "byline" if kind == "author" else "publication date"
        answer = byline.answer(kind, hits[0])
        shown = _unmarked(hits[:k])
        if answer:
            return answer, byline.CONFIDENCE, False, shown, f"the {what} of the first article"
        return None, 0.0, True, shown, f"the first article found has no {what}"
    short = acronyms.asked(text)
    where = acronyms.find(short, [h.text for h in hits[:READ_LIMIT]]) if short else None
    if where:
        i, a, b = where
        sa, sb = sentence_around(hits[i].text, a, b)
        h = replace(hits[i], answer_start=a, answer_end=b, highlight_start=sa, highlight_end=sb)
        rest = _unmarked(x for j, x in enumerate(hits) if j != i)
        return hits[i].text[a:b], acronyms.CONFIDENCE, False, (h, *rest)[:k], None
    return None


def ask(question: str, k: int = 5, history: Sequence | None = None, as_of=None) -> Answer:
    """Answer a question with the default corpus and index (see QA.ask)."""
    return default_qa().ask(question, k=k, history=history, as_of=as_of)


def warm_up(progress: bool = False) -> None:
    """Load the default model and index now (building the index if needed)."""
    default_qa().warm_up(progress=progress)
