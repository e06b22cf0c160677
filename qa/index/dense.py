"""Dense search over normalised passage vectors: exact (flat) for small indexes, HNSW for large, IVF-PQ for huge.

The index type follows the size (choose_kind). An HNSW index keeps int8 codes (faiss SQ8) to save memory,
and an IVF-PQ index (tens of millions of rows) 32-byte product codes; both have their candidates re-scored
exactly from the float vectors (read from disk). Each HNSW slot records the passage row it
holds: an update appends new passages as new slots and marks removed ones dead (-1) instead of rebuilding
the graph, until too many are dead. Searches restricted to a subset of rows (the date filter) scan small
subsets exactly and pass larger ones to FAISS as an id selector.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# Measured with `python -m qa bench` (2 cores): a flat search over 50k 384-d vectors takes about 5 ms,
# the goal for a whole vector search, and grows linearly (about 170 ms at 1M); HNSW stays near 1-2 ms.
FLAT_LIMIT = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 256
RERANK = 2  # HNSW fetches RERANK * k candidates by int8 distance, then re-scores them exactly
MAX_FILTERED_EF = 2048
MAX_DEAD = 0.2  # rebuild the graph instead of updating it when more slots than this are dead
TRAIN_SAMPLE = 65_536
# Up to this many candidate rows, gather and score them exactly (gathering costs about 0.2-1 ms per
# thousand rows here); larger subsets go to FAISS with a bitmap selector (exact for flat, HNSW otherwise).
EXACT_SUBSET_LIMIT = 20_000
# An HNSW walk restricted to a subset holding at least this share of the rows finds its neighbours
# (recall@10 0.96-1.0 measured at 5-10%) in a few ms, sooner than gathering even a few thousand rows.
GRAPH_FILTER_SHARE = 0.05
# Above this, HNSW's graph and int8 codes (656 bytes a vector, measured at 1M: 6.6 GB at 10M) give way to
# IVF-PQ: an inverted file over about sqrt(n) lists from spherical k-means, found by an exact (flat) scan of the
# centroids (0.2 ms a query at 4,096 lists), with 4-bit PQ codes scanned with SIMD ("fast scan": 64 sub-vectors
# of 6 dimensions, 32 bytes). 8-bit PQ codes took 100x longer to train here, for no recall the exact re-score
# does not restore. Before, an HNSW coarse quantizer (by inner product, efSearch 16) and k-means on 16 points a
# list lost a third of the neighbours at 10M (bench --only scale: recall@10 0.635): the probed lists held 0.635
# of each query's true top 10 at nprobe 32; the same centroids scanned exactly, 0.80; lists retrained on 16
# points a list, 0.90, and on 60, 0.975 (both found exactly). Measured since: recall@10 1.0 at 1M
# (p50 1.2 ms) and 0.98 at 10M (p50 2.8 ms; 0.96 with a 10% date filter) at nprobe 64, against HNSW's 0.9995
# at 1M for 15x the memory, so IVF-PQ takes over from 2M.
IVF_LIMIT = 2_000_000
IVF_PQ_M = 64
IVF_TRAIN_PER_LIST = 64  # k-means sample (FAISS asks for >= 39 a list; 16 lost 10% of the neighbours)
IVF_NPROBE = 64  # lists scanned per query (python -m qa bench --only scale: recall vs latency at 1M and 10M)
IVF_RERANK = 10  # IVF-PQ fetches IVF_RERANK * k candidates by PQ distance, then re-scores them exactly
IVF_MAX_NPROBE = 512
# A subset holding at least this share of an IVF-PQ index's rows (a date filter over years of news) is
# searched unfiltered for k / share times the candidates, kept if in the subset: a bitmap over 10M slots
# costs 10-20 ms a query here, more than the whole search.
IVF_POSTFILTER_SHARE = 0.02
IVF_MAX_FETCH = 16_384
KINDS = ("flat", "hnsw", "ivfpq")


def _threads(n: int | None) -> None:
    """Set FAISS's OpenMP threads for the calling thread: all cores to build, one to answer a query.

    One query is too little work to share: measured on 2 busy cores, a flat search over 10k vectors took
    0.3 ms on one thread and 24 ms on two (each waits for the other at OpenMP's barrier).
    """
    import faiss

    faiss.omp_set_num_threads(n or os.cpu_count() or 1)


def choose_kind(n: int) -> str:
    """The index type for n vectors: exact below FLAT_LIMIT, HNSW below IVF_LIMIT, IVF-PQ from there on."""
    return "flat" if n < FLAT_LIMIT else "hnsw" if n < IVF_LIMIT else "ivfpq"


def ivf_lists(n: int) -> int:
    """Inverted lists for n vectors: the power of two nearest sqrt(n), 64 to 65,536."""
    return int(min(65_536, max(64, 2 ** round(np.log2(max(n, 1) ** 0.5)))))


def new_ivfpq(dim: int, n: int):
    """An untrained IVF-PQ index sized for n vectors, by inner product, its lists from spherical k-means.

    Not L2: on unit vectors with weak clusters, L2 sends most of them to the few centroids nearest the
    origin (measured: one list held 60% of 1M synthetic vectors, p50 20-30 ms at 10M).
    """
    import faiss

    index = faiss.index_factory(dim, f"IVF{ivf_lists(n)},PQ{IVF_PQ_M}x4fs", faiss.METRIC_INNER_PRODUCT)
    faiss.extract_index_ivf(index).cp.spherical = True
    return index


def train_ivfpq(index, sample: np.ndarray) -> None:
    """Train the coarse quantizer and the product codes on a sample (IVF_TRAIN_PER_LIST points a list)."""
    import faiss

    _threads(None)
    faiss.extract_index_ivf(index).cp.niter = 10  # k-means iterations: the lists need to be roughly right
    index.train(np.ascontiguousarray(sample, dtype=np.float32))


def kind_of(index) -> str:
    """The KINDS name of a FAISS index."""
    import faiss

    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "ivfpq" if isinstance(index, faiss.IndexIVF) else "flat"


class Dense:
    """A FAISS index and, for HNSW, the passage row held in each slot (-1 once the passage is gone)."""

    def __init__(self, index, rows: np.ndarray | None = None):
        import faiss

        self.index = index
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)  # None: slot i holds row i
        self.kind = kind_of(index)
        self._live = int(index.ntotal if self.rows is None else (self.rows >= 0).sum())
        self._slot_of: np.ndarray | None = None

    @property
    def ntotal(self) -> int:
        """Number of live vectors (passages), not counting dead slots."""
        return self._live

    @property
    def dead(self) -> int:
        """Slots whose passage was removed."""
        return int(self.index.ntotal) - self._live

    def slot_rows(self) -> np.ndarray:
        """The passage row of every slot."""
        return np.arange(self.index.ntotal, dtype=np.int64) if self.rows is None else self.rows

    def slots_of(self, rows: np.ndarray) -> np.ndarray:
        """The slots holding the given passage rows."""
        if self.rows is None:
            return np.asarray(rows, dtype=np.int64)
        if self._slot_of is None:
            live = np.flatnonzero(self.rows >= 0)
            slot_of = np.full(int(self.rows.max(initial=-1)) + 1, -1, dtype=np.int64)
            slot_of[self.rows[live]] = live
            self._slot_of = slot_of
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[rows < len(self._slot_of)]
        slots = self._slot_of[rows]
        return slots[slots >= 0]

    def to_rows(self, slots: np.ndarray) -> np.ndarray:
        """Passage rows of FAISS result slots (-1 for padding or dead slots)."""
        if self.rows is None:
            return slots
        return np.where(slots >= 0, self.rows[np.maximum(slots, 0)], -1)


def build(vectors: np.ndarray, kind: str = "flat") -> Dense:
    """A FAISS index of the given kind over `vectors` (slot i holds row i)."""
    import faiss

    if kind not in KINDS:
        raise ValueError(f"unknown vector index kind {kind!r}; choose one of {', '.join(KINDS)}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivfpq":
        index = new_ivfpq(dim, len(vectors))
        step = max(1, len(vectors) // (IVF_TRAIN_PER_LIST * ivf_lists(len(vectors))))
        train_ivfpq(index, vectors[::step])
    else:
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        step = max(1, len(vectors) // TRAIN_SAMPLE)
        # unit vectors: every coordinate lies in [-1, 1], so train on a sample plus those bounds
        sample = np.concatenate([vectors[::step], np.full((1, dim), -1, np.float32), np.ones((1, dim), np.float32)])
        _threads(None)
        index.train(sample)
    if len(vectors):
        _threads(None)
        index.add(vectors)
    return Dense(index)


def update(old: Dense | None, vectors: np.ndarray, old_rows: np.ndarray) -> Dense:
    """The index for a new set of rows, reusing `old` (which this modifies) where it can.

    `vectors` are the new rows' vectors; `old_rows[i]` is the row of `old` that new row i continues (its
    vector unchanged) or -1 for a new passage. An HNSW index of the right kind gets only the new vectors
    added and the removed rows marked dead; anything else is built afresh.
    """
    old_rows = np.asarray(old_rows, dtype=np.int64)
    kind = choose_kind(len(vectors))
    if old is None or kind == "flat" or old.kind != kind:
        return build(vectors, kind)
    slot_rows = old.slot_rows()
    old_to_new = np.full(int(max(slot_rows.max(initial=-1), old_rows.max(initial=-1))) + 1, -1, np.int64)
    kept = np.flatnonzero(old_rows >= 0)
    old_to_new[old_rows[kept]] = kept
    rows = np.where(slot_rows >= 0, old_to_new[np.maximum(slot_rows, 0)], -1)
    fresh = np.flatnonzero(old_rows < 0)
    if (rows < 0).sum() > MAX_DEAD * (len(rows) + len(fresh)):
        return build(vectors, kind)
    if len(fresh):
        _threads(None)
        old.index.add(np.ascontiguousarray(vectors[fresh], dtype=np.float32))
    return Dense(old.index, np.concatenate([rows, fresh]))


class _Owner:
    """Hands numpy a pointer into FAISS's memory and keeps the FAISS index alive as long as the array is."""

    def __init__(self, array: np.ndarray, owner):
        self.__array_interface__ = array.__array_interface__
        self.owner = owner


def stored_vectors(dense: Dense) -> np.ndarray:
    """The (n, dim) vectors a flat index holds, as a read-only view of FAISS's memory (no copy, no file)."""
    import faiss

    index = dense.index
    if dense.kind != "flat" or dense.rows is not None:
        raise ValueError("only a flat index without a slot map holds its vectors in row order")
    n, dim = int(index.ntotal), int(index.d)
    if n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    view = np.asarray(_Owner(faiss.rev_swig_ptr(index.get_xb(), n * dim), index)).reshape(n, dim)
    view.flags.writeable = False  # the index is never changed once loaded; nothing may write through this
    return view


def _rows_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).stem + ".rows.npy")


def save(dense: Dense, path: Path) -> None:
    """Write the FAISS index file (and, for a slot map, `<stem>.rows.npy` beside it)."""
    import faiss

    faiss.write_index(dense.index, str(path))
    if dense.rows is not None:
        np.save(_rows_path(path), dense.rows, allow_pickle=False)


def load(path: Path) -> Dense:
    """Read an index written by save()."""
    import faiss

    rows_path = _rows_path(path)
    rows = np.load(rows_path, allow_pickle=False) if rows_path.is_file() else None
    return Dense(faiss.read_index(str(path)), rows)


def _top(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.lexsort((ids[part], -scores[part]))]
    return scores[order].astype(np.float32), ids[order].astype(np.int64)


def _exact(vectors: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.asarray(rows, dtype=np.int64)
    return _top(np.asarray(vectors[rows] @ query, dtype=np.float32), rows, k)


def search(dense: Dense, vectors: np.ndarray, query: np.ndarray, k: int, subset: np.ndarray | None = None,
           ef_search: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows) for one query vector, optionally restricted to the rows in `subset`."""
    import faiss

    if subset is not None and len(subset) <= EXACT_SUBSET_LIMIT and (
            dense.kind == "flat" or len(subset) < GRAPH_FILTER_SHARE * dense.ntotal):
        return _exact(vectors, query, subset, k)
    k = min(k, dense.ntotal if subset is None else len(subset))
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    _threads(1)
    if dense.kind == "ivfpq" and subset is not None and len(subset) >= IVF_POSTFILTER_SHARE * dense.ntotal:
        found = _postfiltered(dense, vectors, query, q, k, subset)
        if found is not None:
            return found
    sel = bits = None
    if subset is not None:  # a bitmap over the slots: far cheaper to build and test than an id hash set
        mask = np.zeros(dense.index.ntotal, dtype=bool)
        mask[dense.slots_of(subset)] = True
        bits = np.packbits(mask, bitorder="little")
        sel = faiss.IDSelectorBitmap(dense.index.ntotal, faiss.swig_ptr(bits))
    if dense.kind == "flat":
        params = faiss.SearchParameters(sel=sel) if sel is not None else None
        scores, slots = dense.index.search(q, k, params=params)
        del bits
        rows = dense.to_rows(slots[0])
        keep = rows >= 0  # FAISS pads with -1 when fewer than k ids pass the filter
        return scores[0][keep], rows[keep]
    fetch = (IVF_RERANK if dense.kind == "ivfpq" else RERANK) * k
    if sel is None:
        fetch = _past_dead(dense, fetch)
    # a filter discards most of what the walk or the lists give: widen them by sqrt(1 / share)
    widen = 1.0 if subset is None else (dense.ntotal / max(len(subset), 1)) ** 0.5
    if dense.kind == "ivfpq":
        nprobe = min(int(IVF_NPROBE * widen), IVF_MAX_NPROBE, dense.index.nlist)
        params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
    else:
        ef = max(ef_search or HNSW_EF_SEARCH, fetch)
        ef = max(ef, min(int(ef * widen), MAX_FILTERED_EF)) if subset is not None else ef
        params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef)
    _, slots = dense.index.search(q, fetch, params=params)
    del bits  # the selector reads it until the search returns
    rows = dense.to_rows(slots[0])
    return _exact(vectors, query, np.unique(rows[rows >= 0]), k)


def _past_dead(dense: Dense, fetch: int) -> int:
    """`fetch` widened by the share of dead slots, which take places in an unfiltered result."""
    return fetch + int(np.ceil(fetch * dense.dead / max(dense.ntotal, 1)))


def _postfiltered(dense: Dense, vectors, query: np.ndarray, q: np.ndarray, k: int,
                  subset: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """IVF-PQ top-k within a large sorted subset, from an unfiltered search for more; None if it finds too few."""
    import faiss

    if len(subset) > 1 and not bool(np.all(subset[1:] > subset[:-1])):
        return None  # membership is a binary search: sorting a million rows would cost more than a bitmap
    fetch = _past_dead(dense, min(int(np.ceil(IVF_RERANK * k * dense.ntotal / len(subset))), IVF_MAX_FETCH))
    params = faiss.SearchParametersIVF(nprobe=min(IVF_NPROBE, dense.index.nlist))
    _, slots = dense.index.search(q, fetch, params=params)
    rows = dense.to_rows(slots[0])
    rows = np.unique(rows[rows >= 0])
    at = np.minimum(np.searchsorted(subset, rows), len(subset) - 1)
    inside = rows[subset[at] == rows]
    return _exact(vectors, query, inside, k) if len(inside) >= k else None
