"""Reading the retrieved passages: the answer span, the sentence that holds it, and a passage re-ranking."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.read import neural, rescore
from qa.read.expected import expected
from qa.read.nlp import parse
from qa.read.similarity import sentence_similarities
from qa.read.features import FEATURES, Candidates, SpanFeatures, candidates
from qa.read.candidates import Question, question, with_idf
from qa.types import Hit, Query

WEIGHTS_FILE = Path(__file__).with_name("weights.json")
READ_LIMIT = 3  # retrieved passages read per question (and the first article's opening: qa.pipeline.to_read)
# "neural": the trained span reader (qa.read.neural, 12 layers) when its artifact is shipped; "fast": the 6-layer
# span reader in qa/read/model-fast (less accurate, faster); "features": the spaCy candidate phrases scored by
# weights.json (see the README, "Neural reader").
READERS = ("neural", "fast", "features")
SPAN_READERS = ("neural", "fast")


@functools.lru_cache(maxsize=1)
def reader_model() -> tuple[dict[str, np.ndarray], float]:
    """(span feature weights per answer kind, with "shared" for the rest; re-rank weight) from the JSON."""
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{WEIGHTS_FILE.name} was fitted for other features; refit it with {data['command']!r}")
    weights = {kind: np.asarray(w, dtype=np.float32) for kind, w in data["weights"].items()}
    return weights, float(data.get("rerank", 0.0))


@dataclass(frozen=True)
class PassageRead:
    """One read passage: its hit with highlight and answer offsets, and its best span's evidence."""

    hit: Hit
    rank: int  # retrieval rank
    score: float = 0.0  # linear score of its best span
    prob: float = 0.0  # that span's share of the softmax over every candidate read
    features: SpanFeatures | None = None  # that span's features (feature reader only)
    null: float | None = None  # the neural reader's "answer not in this passage" score (neural reader only)

    @property
    def spanned(self) -> bool:
        """True when the passage has a best span."""
        return self.features is not None or self.null is not None

    @property
    def answer(self) -> str | None:
        """The text of its best span (None when it has none)."""
        h = self.hit
        return h.text[h.answer_start:h.answer_end] if self.spanned else None


@dataclass(frozen=True)
class Reading:
    """One way to answer: the hits re-ranked with the answering passage first, and that passage's read."""

    hits: tuple[Hit, ...]
    passage: PassageRead | None = None  # the passage first in `hits`, whose best span answers; None: no span
    gap: float = 0.0  # its ranking score minus the first passage's (<= 0)

    @property
    def answer(self) -> str | None:
        """The answer span's text, or None."""
        return self.passage.answer if self.passage is not None else None


def analyse(text: str, carried: Sequence[str] = (), inherited_kind: str | None = None,
            resolved: str = "") -> Question:
    """Parse a question: expected answer (`inherited_kind` when it has no wh-word) and weighted words.

    `resolved`: the question as the sentence encoder should read it (a follow-up with its pronoun resolved).
    """
    qdoc = parse([text], cache=False)[0]
    return question(qdoc, expected(qdoc, inherited_kind), tuple(carried), resolved)


def score_texts(q: Question, texts: Sequence[str], weights: np.ndarray | None = None, encoder=None,
                question_vector: np.ndarray | None = None) -> list[tuple[Candidates, np.ndarray]]:
    """Candidates of each text with their linear scores (question-word weights scaled by IDF over `texts`).

    `encoder` embeds the question (unless `question_vector`, q.text encoded, is given) and each sentence
    for the sentence-similarity features (default: the configured model's).
    """
    if weights is None:
        table = reader_model()[0]
        weights = table.get(q.exp.kind, table["shared"])
    docs = parse(list(texts))
    q = with_idf(q, docs)
    sims = sentence_similarities(q.text, docs, encoder, question_vector)
    out = []
    for doc, sim in zip(docs, sims):
        c = candidates(doc, q, sim)
        out.append((c, c.features @ weights))
    return out


def best_span(question_text: str, text: str, reader: str | None = None) -> tuple[int, int] | None:
    """Offsets of the answer span in one given passage (the reader alone, as in SQuAD)."""
    if reader_name(reader) in SPAN_READERS:
        with _artifact(reader):
            span, = rescore.read(question_text, [text])
        return (span.start, span.end) if span is not None else None
    (c, s), = score_texts(analyse(question_text), [text])
    return c.spans[int(np.argmax(s))] if len(s) else None


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def reader_name(reader: str | None = None) -> str:
    """The reader to use: `reader`, else $QA_READER, else the neural span reader (the feature reader when its
    artifact is absent).

    The shipped neural reader (12 layers, trained on SQuAD-format questions and news, n-best re-scored by answer
    type) reads SQuAD's evaluation half at F1 0.814, the fast 6-layer one (QA_READER=fast) at 0.721 and the
    spaCy feature reader (QA_READER=features) at 0.481 (400-question sample; README, "Neural reader").
    """
    import os

    name = reader or os.environ.get("QA_READER") or "neural"
    if name == "neural" and not neural.available():
        name = "features"
    if name not in READERS:
        raise ValueError(f"unknown reader {name!r}; one of {READERS}")
    if name == "fast" and not neural.available(neural.ARTIFACTS["fast"]):
        raise ValueError(f"the fast reader is not installed here ({neural.ARTIFACTS['fast']} has no artifact)")
    return name


def _artifact(reader: str | None):
    """Within it, the span reader is the one `reader` names; with None, or the name the default resolves to
    (QA_READER, else "neural"), the one artifact_dir() says: an evaluation's reading_with (cross-fitting) stays in
    place whether a caller passes the default's name or nothing."""
    import contextlib

    if reader is None or reader == reader_name() or neural.artifact_dir() == neural.ARTIFACTS[reader]:
        return contextlib.nullcontext()
    return neural.reading_with(neural.ARTIFACTS[reader])


def warm_up(reader: str | None = None) -> None:
    """Load the reader now: the span reader's ONNX session (exported first if not cached) and spaCy, which its
    re-scoring parses with; or spaCy alone for the feature reader."""
    if reader_name(reader) in SPAN_READERS:
        with _artifact(reader):
            rescore.read("Who warms up the reader?", ["The reader warms up."])
    else:
        parse(["Warm up the reader."], cache=False)


def read_neural(hits: Sequence[Hit], query: Query, limit: int = READ_LIMIT) -> list[PassageRead]:
    """The neural reader's best span of each of the first `limit` hits, in retrieval order."""
    head = list(hits[:limit])
    # The reader reads a sentence: the follow-up with its pronoun resolved, else the question as asked
    # (carried words appended to it would read as part of the question). A resolved follow-up is read both ways,
    # each passage keeping the surer span: the antecedent's name as the history gave it ("Who did Luong Tam Quang
    # meet from Russia?") can mislead where the passage names it otherwise ("Deputy Minister Quang") and the
    # pronoun reads as the passage's own subject.
    resolved = query.search_text != " ".join((query.question, *query.carried))
    texts = [h.text for h in head]
    spans = rescore.read(query.search_text if resolved else query.question, texts, query.inherited_kind)
    if resolved:
        as_asked = rescore.read(query.question, texts, query.inherited_kind)
        spans = [b if a is None or (b is not None and b.score > a.score) else a for a, b in zip(spans, as_asked)]
    scores = np.array([s.score for s in spans if s is not None] or [0.0])
    probs, k, out = _softmax(scores), 0, []
    for rank, (h, span) in enumerate(zip(head, spans)):
        if span is None:
            out.append(PassageRead(replace(h, highlight_start=0, highlight_end=len(h.text)), rank))
            continue
        sa, sb = neural.sentence_around(h.text, span.start, span.end)
        h = replace(h, highlight_start=sa, highlight_end=sb, answer_start=span.start, answer_end=span.end)
        out.append(PassageRead(h, rank, span.score, float(probs[k]), None, span.null))
        k += 1
    return out


def read_passages(hits: Sequence[Hit], query: Query, limit: int = READ_LIMIT, encoder=None,
                  question_vector: np.ndarray | None = None, reader: str | None = None) -> list[PassageRead]:
    """The best span of each of the first `limit` hits, in retrieval order.

    `question_vector`: query.search_text as `encoder` encoded it for retrieval, if at hand.
    """
    if reader_name(reader) in SPAN_READERS:
        with _artifact(reader):
            return read_neural(hits, query, limit)
    head = list(hits[:limit])
    q = analyse(query.question, query.carried, query.inherited_kind, query.search_text)
    scored = score_texts(q, [h.text for h in head], encoder=encoder, question_vector=question_vector)
    probs = _softmax(np.concatenate([s for _, s in scored if len(s)] or [np.zeros(1)]))
    out, offset = [], 0
    for rank, (h, (c, s)) in enumerate(zip(head, scored)):
        if not len(s):  # nothing phrase-like: the whole passage is the best evidence it has
            out.append(PassageRead(replace(h, highlight_start=0, highlight_end=len(h.text)), rank))
            continue
        i = int(np.argmax(s))
        (a, b), (sa, sb) = c.spans[i], c.sentences[i]
        h = replace(h, highlight_start=sa, highlight_end=sb, answer_start=a, answer_end=b)
        out.append(PassageRead(h, rank, float(s[i]), float(probs[offset + i]), c.named(i)))
        offset += len(s)
    return out


def rerank(passages: Sequence[PassageRead], weight: float) -> list[PassageRead]:
    """Passages ordered by retrieval score + weight * answer probability (the score is updated to match)."""
    moved = [replace(p, hit=replace(p.hit, score=round(p.hit.score + weight * p.prob, 4))) for p in passages]
    return sorted(moved, key=lambda p: (-p.hit.score, p.rank))


def _reading(ranked: Sequence[PassageRead], rest: Sequence[Hit], first: int = 0) -> Reading:
    """The Reading whose answer is the span of ranked[first], that passage moved to the front."""
    order = [ranked[first]] + [p for i, p in enumerate(ranked) if i != first]
    gap = ranked[first].hit.score - ranked[0].hit.score
    if first:  # promoted by the reader: it ties the passage it displaced, so the list stays best first
        order[0] = replace(order[0], hit=replace(order[0].hit, score=ranked[0].hit.score))
    all_hits = tuple(p.hit for p in order) + tuple(rest)
    return Reading(all_hits, order[0], gap) if order[0].spanned else Reading(all_hits)


def read(hits: Sequence[Hit], query: Query, limit: int = READ_LIMIT, weight: float | None = None,
         encoder=None, question_vector: np.ndarray | None = None, reader: str | None = None) -> Reading:
    """The best span of the first passage after re-ranking, that passage moved first (ask() lets
    qa.decide choose among every read passage's span instead)."""
    return options(hits, query, limit, weight, encoder, question_vector, reader)[0]


def options(hits: Sequence[Hit], query: Query, limit: int = READ_LIMIT, weight: float | None = None,
            encoder=None, question_vector: np.ndarray | None = None, reader: str | None = None) -> list[Reading]:
    """One Reading per read passage with a span, the re-ranked first passage's first; [no answer] if none."""
    if not hits:
        return [Reading(())]
    name = reader_name(reader)
    # The re-rank weight was fitted for the feature reader's probabilities; the neural reader keeps the
    # retrieval order and lets qa.decide choose among the passages' spans.
    weight = (reader_model()[1] if name == "features" else 0.0) if weight is None else weight
    ranked = rerank(read_passages(hits, query, limit, encoder, question_vector, reader), weight)
    rest = hits[limit:]
    found = [_reading(ranked, rest, i) for i, p in enumerate(ranked) if p.spanned]
    if not found or not ranked[0].spanned:
        found.insert(0, _reading(ranked, rest))
    return found
