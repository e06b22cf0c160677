"""Fit the recency prior and the article aggregation (qa.retrieve.Ranking) on the RealTimeQA dev questions.

Each question's candidates are retrieved once (fused scores, no prior, passage level); every grid point then
re-ranks them exactly as retrieve() does (recency_prior, by_article), so the grid costs no more searches.
`python -m qa.evaluation.realtimeqa_fit [--mode bm25] [--model hash] [--limit N]` prints the grid as JSON.
"""
from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qa.evaluation import metrics as m
from qa.evaluation.realtimeqa import Question, bench_settings, build_index, load_corpus, load_questions
from qa.query import understand
from qa.retrieve import Ranking, by_article, retrieve

logger = logging.getLogger(__name__)

WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
DAYS = (7.0, 14.0, 30.0, 60.0, 120.0, 365.0)
DAMPS = (0.0, 0.1, 0.2, 0.4)


@dataclass(frozen=True)
class Candidates:
    """One question's candidate passages: fused scores, ages in days, record ids, and whether the prior applies."""

    fused: np.ndarray
    age: np.ndarray  # days before as_of; NaN when undated
    records: list[str]
    rows: np.ndarray
    recency: bool


def candidates(qa, corpus, q: Question, as_of, mode: str) -> Candidates:
    """Retrieve once without prior or aggregation, keeping every fused candidate."""
    index = qa.index()
    query = understand(q.question, (), as_of)
    vector = qa.encoder.encode([query.search_text])[0]
    found = retrieve(index, vector, query.bm25_text, 10_000, query.dates, mode, qa.settings, as_of=query.as_of,
                     recency=query.recency, ranking=Ranking(recency_weight=0.0, per_article=False))
    rows = np.asarray(found.rows, dtype=np.int64)
    d = index.passages.dates[rows].astype(np.float64) if len(rows) else np.zeros(0)
    age = np.where(d > 0, as_of.toordinal() - d, np.nan)
    records = [corpus.record_id.get(index.passages[int(r)].article_id, "") for r in rows]
    return Candidates(np.asarray(found.scores, np.float32), age, records, rows, query.recency)


def ranked(c: Candidates, weight: float, days: float, damp: float) -> list[str]:
    """Distinct record ids in the order retrieve() would give with this Ranking."""
    if not len(c.rows):
        return []
    fused = c.fused
    if c.recency and weight:
        fused = fused + np.nan_to_num(weight * np.exp(-c.age / days), nan=0.0).astype(np.float32)
    order, _ = by_article(c.records, c.rows, fused, damp)
    return list(dict.fromkeys(c.records[i] for i in order))


def grid(questions: Sequence[Question], found: Sequence[Candidates]) -> list[dict]:
    """hit@1 and hit@5 of every (weight, days, damp), best hit@1 first."""
    out = []
    for w in WEIGHTS:
        for days in (DAYS if w else DAYS[:1]):
            for damp in DAMPS:
                lists = [ranked(c, w, days, damp) for c in found]
                out.append({"recency_weight": w, "recency_days": days, "article_damp": damp,
                            "hit@1": round(m.mean([m.hit_at_k(r, q.supporting, 1) for q, r in zip(questions, lists)]), 4),
                            "hit@5": round(m.mean([m.hit_at_k(r, q.supporting, 5) for q, r in zip(questions, lists)]), 4)})
    return sorted(out, key=lambda r: (-r["hit@1"], -r["hit@5"]))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the grid (and how often a gold article is among the candidates at all) as JSON."""
    from qa.config import load_settings

    p = argparse.ArgumentParser(prog="python -m qa.evaluation.realtimeqa_fit")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25"])
    p.add_argument("--model")
    p.add_argument("--limit", type=int)
    p.add_argument("--top", type=int, default=15, help="grid rows to print")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = bench_settings(load_settings(model=args.model))
    corpus = load_corpus()
    qa = build_index(settings, corpus, progress=False)
    questions = load_questions(limit=args.limit)
    found = [candidates(qa, corpus, q, q.asked, args.mode) for q in questions]
    reach = m.mean([float(bool(q.supporting & set(c.records))) for q, c in zip(questions, found)])
    rows = grid(questions, found)
    print(json.dumps({"questions": len(questions), "mode": args.mode, "model": settings.model,
                      "gold_among_candidates": round(reach, 4), "default": Ranking().__dict__,
                      "grid": rows[:args.top]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
