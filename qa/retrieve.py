"""Dense + BM25 retrieval, fused, restricted to the question's dates when it names any."""
from __future__ import annotations

import numpy as np

from qa.config import Settings
from qa.index import dense as vec
from qa.index import Index
from qa.types import DateRange, Hit, Retrieval

MODES = ("hybrid", "dense", "bm25")


def date_subset(index: Index, dates: DateRange | None) -> np.ndarray | None:
    """Rows of passages published within the range (None when there is no range)."""
    if dates is None:
        return None
    d = index.passages.dates
    return np.flatnonzero((d >= dates.start.toordinal()) & (d <= dates.end.toordinal())).astype(np.int64)


def _top(scores: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(rows))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return rows[part[np.argsort(-scores[part], kind="stable")]]


def fuse_rrf(rankings: list[np.ndarray], rrf_k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion: sum of 1 / (rrf_k + rank) over the rankings that hold a row."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking.tolist(), start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (rrf_k + rank)
    return fused


def fuse_linear(dense: np.ndarray, bm25: np.ndarray, weight: float) -> np.ndarray:
    """Convex combination of cosine and max-normalised BM25 scores of the same candidates."""
    top = float(bm25.max()) if len(bm25) else 0.0
    lexical = bm25 / top if top > 0 else np.zeros_like(bm25)
    return weight * dense + (1.0 - weight) * lexical


def retrieve(index: Index, query_vector: np.ndarray | None, search_text: str, k: int,
             dates: DateRange | None = None, mode: str = "hybrid", settings: Settings | None = None) -> Retrieval:
    """Top-k passage rows for a question, by dense, BM25 or fused scores (candidates and fusion from settings)."""
    settings = settings or Settings()
    if mode not in MODES:
        raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
    subset = date_subset(index, dates)
    date_applied = subset is None or len(subset) > 0
    if subset is not None and len(subset) == 0:
        subset = None  # nothing published then: search everything rather than nothing
    n = max(k, settings.candidates)
    dense_rows = np.zeros(0, dtype=np.int64)
    if mode != "bm25":
        _, dense_rows = vec.search(index.dense, index.vectors, query_vector, n, subset)
    bm25_all = index.lexical.scores(search_text) if mode != "dense" else None
    bm25_rows = np.zeros(0, dtype=np.int64)
    if bm25_all is not None:
        pool = subset if subset is not None else np.arange(len(bm25_all), dtype=np.int64)
        scores = bm25_all[pool]
        bm25_rows = _top(scores[scores > 0], pool[scores > 0], n)
    rows = np.unique(np.concatenate([dense_rows, bm25_rows])) if mode == "hybrid" else (
        dense_rows if mode == "dense" else bm25_rows)
    if len(rows) == 0:
        return Retrieval((), (), (), (), date_applied)
    dense_scores = (np.asarray(index.vectors[rows] @ query_vector, dtype=np.float32)
                    if query_vector is not None else np.zeros(len(rows), np.float32))
    bm25_scores = bm25_all[rows] if bm25_all is not None else np.zeros(len(rows), np.float32)
    if mode == "dense":
        fused = dense_scores
    elif mode == "bm25":
        fused = bm25_scores
    elif settings.fusion == "rrf":
        table = fuse_rrf([dense_rows, bm25_rows], settings.rrf_k)
        fused = np.array([table[r] for r in rows.tolist()], dtype=np.float32)
    else:
        fused = fuse_linear(dense_scores, bm25_scores, settings.dense_weight)
    order = np.lexsort((rows, -fused))[:k]  # ties broken by row for determinism
    return Retrieval(tuple(int(r) for r in rows[order]), tuple(float(s) for s in fused[order]),
                     tuple(float(s) for s in dense_scores[order]),
                     tuple(float(s) for s in bm25_scores[order]), date_applied)


def to_hits(index: Index, found: Retrieval) -> list[Hit]:
    """Hits (passage text, title, date, source, scores) for the retrieved rows."""
    hits = []
    for row, score, dense, bm25 in zip(found.rows, found.scores, found.dense, found.bm25):
        p = index.passages[row]
        hits.append(Hit(passage_id=p.id, text=p.text, title=p.title,
                        date=p.published.isoformat() if p.published else None, source=p.source,
                        score=round(score, 4), dense_score=round(dense, 4), bm25_score=round(bm25, 4),
                        start=p.start, article_id=p.article_id,
                        url=p.url, author=p.author, site=p.site))
    return hits
