"""Vector search at 10M synthetic vectors with the IVF-PQ index, built chunk by chunk so memory stays bounded.

The vectors go to a .npy file on disk (the float copy a served index re-scores from, read with pread as in
qa.index.ondisk), the index is trained on a sample and filled a chunk at a time, and the exact top 10 of
each query (all rows, and a 10% date filter) is kept while the chunks go by: nothing holds 10M vectors
in memory. A finished index and its ground truth are saved in the work folder and reused by a rerun.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from qa.evaluation.speed.timing import Timer, median, pct, rnd
from qa.evaluation.speed.vectors import points, subtopics
from qa.index import dense as vec
from qa.index.ondisk import DiskArray

CHUNK = 100_000
DIM = 384


def synthetic_chunks(n: int, queries: int, dim: int = DIM, seed: int = 0):
    """(queries, iterator of vector chunks): vectors.synthetic_vectors' clustered data, made a chunk at a time."""
    rng = np.random.default_rng(seed)
    subs = subtopics(rng, n, dim)
    q = points(rng, subs, queries)

    def chunks():
        for i in range(0, n, CHUNK):
            yield points(rng, subs, min(n, i + CHUNK) - i)

    return q, chunks()


def _merge_top(best_s, best_i, scores, offset, k=10):
    """Keep the running top k per query after a chunk's scores (rows numbered from `offset`)."""
    part = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
    s = np.concatenate([best_s, np.take_along_axis(scores, part, 1)], axis=1)
    i = np.concatenate([best_i, part + offset], axis=1)
    top = np.argsort(-s, axis=1)[:, :k]
    return np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)


def _add(index, vectors, x, row, q, inside, top, ftop, t_add, t_truth):
    """Add one chunk to the index and the vectors file, and merge it into the exact top 10 of each query."""
    with Timer() as t:
        index.add(x)
    t_add += t.s
    vectors[row:row + len(x)] = x
    with Timer() as t:
        scores = q @ x.T
        top = _merge_top(*top, scores, row)
        mask = inside[row:row + len(x)]
        if mask.any():
            ftop = _merge_top(*ftop, np.where(mask[None, :], scores, -np.inf).astype(np.float32), row)
    t_truth += t.s
    return t_add, t_truth, row + len(x), top, ftop


def _build(n: int, q: np.ndarray, chunks, work: Path, say) -> dict:
    """Write the vectors file, fill the index, keep the ground truth; returns timings."""
    import faiss

    vectors = np.lib.format.open_memmap(work / "vectors.npy", mode="w+", dtype=np.float32, shape=(n, DIM))
    dates = np.random.default_rng(1).integers(0, 3650, n)  # ten years of days: one year keeps about 10%
    year = 3
    inside = (dates >= 365 * year) & (dates < 365 * (year + 1))
    nq = len(q)
    top = (np.full((nq, 10), -np.inf, np.float32), np.zeros((nq, 10), np.int64))
    ftop = (np.full((nq, 10), -np.inf, np.float32), np.zeros((nq, 10), np.int64))
    index = vec.new_ivfpq(DIM, n)
    want = vec.IVF_TRAIN_PER_LIST * vec.ivf_lists(n)
    t_train = t_add = t_truth = 0.0
    row, pending = 0, []  # the first chunks are held until they make the training sample, then added
    for x in chunks:
        pending.append(x)
        if not index.is_trained:
            have = sum(len(c) for c in pending)
            if have < want and have < n:
                continue
            sample = np.concatenate(pending)[:want]
            with Timer() as t:
                vec.train_ivfpq(index, sample)
            t_train = t.s
            say(f"scale: trained {vec.ivf_lists(n)} lists on {len(sample):,} vectors in {t.s:.0f} s")
            del sample
        for c in pending:
            t_add, t_truth, row, top, ftop = _add(index, vectors, c, row, q, inside, top, ftop, t_add, t_truth)
            if row % 1_000_000 == 0:
                say(f"scale: {row:,} of {n:,} vectors added ({t_add:.0f} s adding so far)")
        pending = []
    vectors.flush()
    del vectors
    faiss.write_index(index, str(work / "ivfpq.faiss"))
    np.savez(work / "truth.npz", top=top[1], ftop=ftop[1], inside=np.flatnonzero(inside).astype(np.int64))
    return {"train_s": rnd(t_train, 1), "add_s": rnd(t_add, 1), "ground_truth_s": rnd(t_truth, 1)}


def _warm(path: Path, say) -> str:
    """Read the vectors file once if the machine's free memory holds it (a serving box would keep it cached)."""
    import psutil

    size, free = path.stat().st_size, psutil.virtual_memory().available
    if free < 1.2 * size:
        return f"not read ahead: {size / 1e9:.1f} GB file, {free / 1e9:.1f} GB free; re-scores read from disk"
    with Timer() as t, open(path, "rb", buffering=0) as f:
        while f.read(64 * 2**20):
            pass
    say(f"scale: read {path.name} ahead ({size / 1e9:.1f} GB) in {t.s:.0f} s")
    return f"read ahead once ({size / 1e9:.1f} GB, {free / 1e9:.1f} GB free): re-scores read the page cache"


def _search(dense, vectors, q, truth, subset=None) -> tuple[list[float], list[float]]:
    times, recall = [], []
    for qq, want in zip(q, truth):
        with Timer() as t:
            _, rows = vec.search(dense, vectors, qq, 10, subset=subset)
        times.append(t.s * 1e3)
        recall.append(len(set(rows.tolist()) & set(want.tolist())) / 10)
    return times, recall


def bench_scale(n: int, queries: int, work: Path, say, nprobes=(16, 32, 64)) -> dict:
    """IVF-PQ at n synthetic vectors: recall@10 and p50 per nprobe, with and without a 10% date filter."""
    work = Path(work) / f"scale-{n}"
    work.mkdir(parents=True, exist_ok=True)
    q, chunks = synthetic_chunks(n, queries)
    built = {}
    if not ((work / "ivfpq.faiss").is_file() and (work / "truth.npz").is_file()):  # a rerun reuses a finished one
        say(f"scale: building IVF-PQ over {n:,} synthetic vectors, {CHUNK:,} at a time, in {work}")
        with Timer() as t:
            built = _build(n, q, chunks, work, say)
        built["build_s"] = rnd(t.s, 1)
    dense = vec.load(work / "ivfpq.faiss")
    vectors = DiskArray(work / "vectors.npy")  # re-scored from disk, as a served index does
    with np.load(work / "truth.npz", allow_pickle=False) as z:
        truth, ftruth, subset = z["top"], z["ftop"], z["inside"]
    cache = _warm(work / "vectors.npy", say)
    saved = vec.IVF_NPROBE
    rows = []
    try:
        for nprobe in nprobes:
            vec.IVF_NPROBE = nprobe
            _search(dense, vectors, q[:20], truth[:20])  # warm the page cache a little, as a running bot is
            t_all, r_all = _search(dense, vectors, q, truth)
            t_f, r_f = _search(dense, vectors, q, ftruth, subset)
            rows.append({"nprobe": nprobe, "p50_ms": rnd(median(t_all), 3), "p95_ms": rnd(pct(t_all, 95), 3),
                         "recall@10": rnd(np.mean(r_all), 4),
                         "date_filter": {"rows": len(subset), "p50_ms": rnd(median(t_f), 3),
                                         "p95_ms": rnd(pct(t_f, 95), 3), "recall@10": rnd(np.mean(r_f), 4)}})
            say(f"scale: nprobe {nprobe}: {rows[-1]}")
    finally:
        vec.IVF_NPROBE = saved
    index_bytes = (work / "ivfpq.faiss").stat().st_size
    return {"vectors": n, "data": "synthetic clustered unit vectors (not embeddings of text)", "index_type": "ivfpq",
            "params": {"lists": int(dense.index.nlist), "codes": f"PQ{vec.IVF_PQ_M}x4 fast-scan",
                       "rerank": f"{vec.IVF_RERANK} x k candidates re-scored exactly from vectors.npy on disk",
                       "default_nprobe": saved},
            "queries": len(q), "by_nprobe": rows, **built,
            "index_bytes_per_vector": rnd(index_bytes / n, 1), "vectors_file_bytes_per_vector": DIM * 4,
            "ram_gb": rnd(index_bytes / 1e9, 2), "disk_gb": rnd((index_bytes + n * DIM * 4) / 1e9, 2),
            "page_cache": cache, "cpu_count": os.cpu_count()}


def bench_scale_sizes(cfg: dict, work: Path, say, result: dict) -> dict:
    """IVF-PQ at each of cfg["scale_sizes"], and each index type's bytes a vector, measured and extrapolated."""
    runs = [bench_scale(n, cfg["queries"], work, say) for n in cfg["scale_sizes"]]
    measured = {"flat": (DIM * 4, "FAISS IndexFlatIP: 4 bytes a dimension (exact)")}
    hnsw = [r for r in result.get("vector_search", []) if r.get("index_type") == "hnsw"]
    if hnsw:  # the vectors section, when it ran in this bench
        measured["hnsw"] = (hnsw[-1]["index_bytes_per_vector"], f"measured at {hnsw[-1]['vectors']:,} (this run)")
    first = runs[0]
    measured["ivfpq"] = (first["index_bytes_per_vector"], f"measured at {first['vectors']:,} (this run)")
    table = {}
    for kind, (per, how) in measured.items():
        ram = {f"{n // 1_000_000}M_gb": rnd(per * n / 1e9, 1) for n in (10_000_000, 100_000_000)}
        # every kind but flat also keeps the float vectors on disk for the exact re-score
        disk = {f"{n // 1_000_000}M_gb": rnd((per + (DIM * 4 if kind != "flat" else 0)) * n / 1e9, 1)
                for n in (10_000_000, 100_000_000)}
        table[kind] = {"bytes_per_vector": per, "how": how, "index_in_ram_extrapolated": ram,
                       "disk_extrapolated": disk}
    return {"runs": runs, "bytes_per_vector": table,
            "note": "10M and 100M sizes are extrapolated linearly from the measured bytes per vector; passages "
                    "(about 690 bytes of text) and BM25 (about 815 bytes) per passage come on top, on disk"}
