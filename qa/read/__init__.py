"""Reading the retrieved passages: the answer span, the sentence that holds it, and a passage re-ranking."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.read.expected import expected
from qa.read.nlp import parse
from qa.read.similarity import sentence_similarities
from qa.read.features import FEATURES, Candidates, SpanFeatures, candidates
from qa.read.candidates import Question, question, with_idf
from qa.types import Hit, Query

WEIGHTS_FILE = Path(__file__).with_name("weights.json")
READ_LIMIT = 3  # passages read per question; the rest keep their retrieval order


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
    features: SpanFeatures | None = None  # that span's features; None when the passage has no candidate

    @property
    def answer(self) -> str | None:
        """The text of its best span (None when it has none)."""
        h = self.hit
        return h.text[h.answer_start:h.answer_end] if self.features is not None else None


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


def best_span(question_text: str, text: str) -> tuple[int, int] | None:
    """Offsets of the answer span in one given passage (the reader alone, as in SQuAD)."""
    (c, s), = score_texts(analyse(question_text), [text])
    return c.spans[int(np.argmax(s))] if len(s) else None


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def read_passages(hits: Sequence[Hit], query: Query, limit: int = READ_LIMIT, encoder=None,
                  question_vector: np.ndarray | None = None) -> list[PassageRead]:
    """The best span of each of the first `limit` hits, in retrieval order.

    `question_vector`: query.search_text as `encoder` encoded it for retrieval, if at hand.
    """
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
    return Reading(all_hits, order[0], gap) if order[0].features is not None else Reading(all_hits)


def read(hits: Sequence[Hit], query: Query, limit: int = READ_LIMIT, weight: float | None = None,
         encoder=None, question_vector: np.ndarray | None = None) -> Reading:
    """The best span of the first passage after re-ranking, that passage moved first (ask() lets
    qa.decide choose among every read passage's span instead)."""
    return options(hits, query, limit, weight, encoder, question_vector)[0]


def options(hits: Sequence[Hit], query: Query, limit: int = READ_LIMIT, weight: float | None = None,
            encoder=None, question_vector: np.ndarray | None = None) -> list[Reading]:
    """One Reading per read passage with a span, the re-ranked first passage's first; [no answer] if none."""
    if not hits:
        return [Reading(())]
    weight = reader_model()[1] if weight is None else weight
    ranked = rerank(read_passages(hits, query, limit, encoder, question_vector), weight)
    rest = hits[limit:]
    found = [_reading(ranked, rest, i) for i, p in enumerate(ranked) if p.features is not None]
    if not found or ranked[0].features is None:
        found.insert(0, _reading(ranked, rest))
    return found
