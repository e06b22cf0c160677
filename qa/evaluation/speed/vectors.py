"""Vector search at scale on synthetic clustered vectors: our index vs exact flat search, with a date filter."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.evaluation.speed.timing import Timer, median, pct, rnd
from qa.index import dense as vec


def subtopics(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """The sub-topic centres of n synthetic vectors: about n / 1000 topics, n / 50 sub-topics around them."""
    topics = rng.standard_normal((max(1, n // 1000), dim)).astype(np.float32)
    subs = topics[rng.integers(0, len(topics), max(1, n // 50))]
    subs += 0.8 * rng.standard_normal(subs.shape).astype(np.float32)
    return subs


def points(rng: np.random.Generator, subs: np.ndarray, m: int) -> np.ndarray:
    """m unit vectors, each near a random sub-topic centre."""
    x = subs[rng.integers(0, len(subs), m)] + 0.9 * rng.standard_normal((m, subs.shape[1])).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def synthetic_vectors(n: int, dim: int = 384, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered unit vectors (topics > sub-topics > points) and 'queries' drawn the same way, not stored.

    Sub-topics of about 50 points make a query's ten nearest neighbours near-ties within one sub-topic:
    hard for an approximate index, yet structured like embeddings of text (uniform random vectors, with
    no neighbourhoods at all, would be unlike any corpus).
    """
    rng = np.random.default_rng(seed)
    subs = subtopics(rng, n, dim)
    x = np.empty((n, dim), dtype=np.float32)
    for i in range(0, n, 100_000):
        x[i:i + 100_000] = points(rng, subs, min(n, i + 100_000) - i)
    return x, points(rng, subs, 1000)


def bench_vectors(n: int, cfg: dict, work: Path, say) -> dict:
    """Our index for n vectors vs exact flat search: latency, recall@10, build time, bytes, date filter."""
    x, queries = synthetic_vectors(n)
    q = queries[: cfg["queries"]]
    kind = vec.choose_kind(n)
    say(f"vectors: {n:,} synthetic 384-d vectors; exact flat baseline vs {kind}")
    flat = vec.build(x, "flat")
    exact_scores, exact = flat.index.search(q, 10)
    with Timer() as t_build:
        ours = vec.build(x, kind)
    path = work / f"dense-{n}.faiss"
    vec.save(ours, path)
    size = path.stat().st_size
    path.unlink()
    rng = np.random.default_rng(1)
    dates = rng.integers(0, 3650, n)  # ten years of days: a one-year filter keeps about 10%
    t_flat, t_ours, rec, t_filt, rec_filt = [], [], [], [], []
    for i, qq in enumerate(q):
        with Timer() as t:
            vec.search(flat, x, qq, 10)  # exact, one thread per query as ours
        t_flat.append(t.s * 1e3)
        with Timer() as t:
            _, ids = vec.search(ours, x, qq, 10)
        t_ours.append(t.s * 1e3)
        rec.append(len(set(ids.tolist()) & set(exact[i].tolist())) / 10)
    year = rng.integers(0, 9)
    subset = np.flatnonzero((dates >= 365 * year) & (dates < 365 * (year + 1))).astype(np.int64)
    sub_vecs = x[subset]
    for qq in q[: min(50, len(q))]:
        with Timer() as t:
            _, ids = vec.search(ours, x, qq, 10, subset=subset)
        t_filt.append(t.s * 1e3)
        truth = subset[np.argsort(-(sub_vecs @ qq))[:10]]
        rec_filt.append(len(set(ids.tolist()) & set(truth.tolist())) / 10)
    return {
        "vectors": n, "data": "synthetic clustered unit vectors (not embeddings of text)", "index_type": kind,
        "p50_ms": rnd(median(t_ours), 3), "p95_ms": rnd(pct(t_ours, 95), 3),
        "baseline_exact_p50_ms": rnd(median(t_flat), 3), "baseline_exact_p95_ms": rnd(pct(t_flat, 95), 3),
        "recall@10": rnd(np.mean(rec), 4), "queries": len(q), "build_s": rnd(t_build.s, 1),
        "index_bytes_per_vector": round(size / n), "baseline_bytes_per_vector": 384 * 4,
        "date_filter": {"rows": len(subset), "p50_ms": rnd(median(t_filt), 3), "recall@10": rnd(np.mean(rec_filt), 4)},
        "params": ({"M": vec.HNSW_M, "efConstruction": vec.HNSW_EF_CONSTRUCTION, "efSearch": vec.HNSW_EF_SEARCH,
                    "codes": "int8 (SQ8)", "rerank": f"{vec.RERANK}k candidates re-scored exactly"}
                   if kind == "hnsw" else {}),
    }
