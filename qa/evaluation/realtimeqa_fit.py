"""Fit the ranking (qa.retrieve.Ranking: recency prior, article aggregation and evidence) on RealTimeQA dev.

SOURCE.md allows fitting on the dev questions (a disjoint set is kept aside). Each question's candidates are
retrieved once, as ask() retrieves them (settings.candidates per retriever, the recent pool) but without
prior or aggregation; every grid point then scores each candidate article exactly as retrieve() does: its
best passage + damp * its next 3 + prior + article_terms * summed passage BM25 + article_bm25 * whole-article
BM25. The grid is scored on all questions and 2-fold cross-validated (fit on the even questions, score the
odd ones, and back), with each question asked on its date (as_of given) and with the date unknown (today).
`python -m qa.evaluation.realtimeqa_fit [--mode bm25] [--model hash] [--limit N]` prints it as JSON.
"""
from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qa.evaluation.realtimeqa import Corpus, Question, bench_settings, build_index, load_corpus, load_questions
from qa.index.stories import article_numbers
from qa.query import understand
from qa.retrieve import Ranking, article_evidence, retrieve

logger = logging.getLogger(__name__)

# recency_weight, recency_days, article_damp, article_terms, article_bm25
GRID = {"recency_weight": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0), "recency_days": (30.0, 60.0, 90.0, 150.0),
        "article_damp": (0.0, 0.1), "article_terms": (0.0, 0.1, 0.2, 0.4),
        "article_bm25": (0.0, 0.2, 0.4, 0.6, 0.8, 1.2)}


@dataclass(frozen=True)
class Candidates:
    """One question's candidate articles: what each grid point needs to score them, and which are gold."""

    top: np.ndarray  # fused score of the article's best passage
    rest: np.ndarray  # sum of its next 3 passages' fused scores
    age: np.ndarray  # days before as_of; NaN when undated
    terms: np.ndarray  # summed passage BM25, on [0, 1] over the candidates
    whole: np.ndarray  # whole-article BM25, on [0, 1]
    gold: np.ndarray  # bool
    recency: bool  # the prior applies (the question names no other time)


def candidates(qa, corpus: Corpus, q: Question, as_of: dt.date, mode: str) -> Candidates:
    """Retrieve once as ask() does, without prior or aggregation, and gather each candidate article's evidence."""
    index = qa.index()
    numbers = article_numbers(index)
    if numbers is None:
        raise ValueError("the benchmark index has no stories table (rebuild it)")
    query = understand(q.question, (), as_of)
    vector = qa.encoder.encode([query.search_text])[0] if mode != "bm25" else None
    found = retrieve(index, vector, query.bm25_text, qa.settings.candidates, query.dates, mode, qa.settings,
                     as_of=query.as_of, recency=query.recency,
                     ranking=Ranking(recency_weight=0.0, per_article=False))
    rows = np.asarray(found.rows, dtype=np.int64)
    fused = np.asarray(found.scores, dtype=np.float64)
    if mode != "dense" and len(rows):
        terms, whole = article_evidence(index, numbers, rows, query.bm25_text, index.lexical.scores(query.bm25_text))
    else:
        terms = whole = np.zeros(len(rows))
    arts = numbers[rows]
    first: dict[int, int] = {}
    rest: dict[int, list[float]] = {}
    for i in np.lexsort((rows, -fused)).tolist():
        a = int(arts[i])
        if a in first:
            rest[a].append(float(fused[i]))
        else:
            first[a], rest[a] = i, []
    pick = np.asarray(list(first.values()), dtype=np.int64)
    d = index.passages.dates[rows[pick]].astype(np.float64) if len(pick) else np.zeros(0)
    records = [corpus.record_id.get(index.passages[int(rows[i])].article_id, "") for i in pick.tolist()]
    return Candidates(fused[pick], np.array([sum(v[:3]) for v in rest.values()]),
                      np.where(d > 0, as_of.toordinal() - d, np.nan), np.asarray(terms)[pick],
                      np.asarray(whole)[pick], np.array([r in q.supporting for r in records], dtype=bool),
                      query.recency)


def hits(found: Sequence[Candidates], point: tuple) -> tuple[int, int]:
    """How many questions have a gold article first, and in the top 5, under one grid point."""
    weight, days, damp, terms, whole = point
    h1 = h5 = 0
    for c in found:
        if not len(c.top):
            continue
        s = c.top + damp * c.rest + terms * c.terms + whole * c.whole
        if c.recency and weight:
            s = s + np.nan_to_num(weight * np.exp(-c.age / days), nan=0.0)
        top = np.argsort(-s, kind="stable")[:5]
        h1 += bool(c.gold[top[0]])
        h5 += bool(c.gold[top].any())
    return h1, h5


def grid(found: Sequence[Candidates]) -> dict:
    """Every grid point on all questions, the best, and 2-fold cross-validated hit@1/hit@5."""
    points = [p for p in itertools.product(*GRID.values()) if p[0] or p[1] == GRID["recency_days"][0]]
    folds = [[c for i, c in enumerate(found) if i % 2 == f] for f in (0, 1)]
    table = {p: (hits(folds[0], p), hits(folds[1], p)) for p in points}
    n = len(found)

    def rate(p, i):
        return (table[p][0][i] + table[p][1][i]) / n

    ranked = sorted(points, key=lambda p: (-rate(p, 0), -rate(p, 1)))
    cv1 = cv5 = 0
    picks = []
    for a, b in ((0, 1), (1, 0)):
        p = max(points, key=lambda p: (table[p][a][0], table[p][a][1]))
        cv1, cv5 = cv1 + table[p][b][0], cv5 + table[p][b][1]
        picks.append(dict(zip(GRID, p)))
    shipped = tuple(getattr(Ranking(), k) for k in GRID)
    (s1, s5), (z1, z5) = hits(found, shipped), hits(found, (0.0, 30.0, 0.0, 0.0, 0.0))
    return {"best": [{**dict(zip(GRID, p)), "hit@1": round(rate(p, 0), 4), "hit@5": round(rate(p, 1), 4)}
                     for p in ranked[:10]],
            "cross_validated": {"hit@1": round(cv1 / n, 4), "hit@5": round(cv5 / n, 4), "fold_fits": picks},
            "shipped": {**dict(zip(GRID, shipped)), "hit@1": round(s1 / n, 4), "hit@5": round(s5 / n, 4)},
            "none": {"hit@1": round(z1 / n, 4), "hit@5": round(z5 / n, 4)}}


def main(argv: Sequence[str] | None = None) -> int:
    """Print the grid, the cross-validated figures and the shipped Ranking's, per condition, as JSON."""
    from qa.config import load_settings

    p = argparse.ArgumentParser(prog="python -m qa.evaluation.realtimeqa_fit")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25"])
    p.add_argument("--model")
    p.add_argument("--limit", type=int)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = bench_settings(load_settings(model=args.model))
    corpus = load_corpus()
    qa = build_index(settings, corpus, progress=False)
    questions = load_questions(limit=args.limit)
    out = {"questions": len(questions), "mode": args.mode, "model": settings.model}
    for label, given in (("date given", True), ("date unknown", False)):
        found = [candidates(qa, corpus, q, q.asked if given else dt.date.today(), args.mode) for q in questions]
        out[label] = {"gold_among_candidates": round(float(np.mean([c.gold.any() for c in found])), 4), **grid(found)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
