"""FAISS inner-product search over normalised passage vectors, with an optional id subset."""
from __future__ import annotations

from pathlib import Path

import numpy as np

# Below this many candidate ids an exact scan of the stored vectors beats any FAISS selector.
EXACT_SUBSET_LIMIT = 50_000


def build(vectors: np.ndarray, kind: str = "flat"):
    """A FAISS index over `vectors` (row i has id i)."""
    import faiss

    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind.startswith("hnsw"):
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    else:
        raise ValueError(f"unknown vector index kind {kind!r}")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save(index, path: Path) -> None:
    """Write a FAISS index file."""
    import faiss

    faiss.write_index(index, str(path))


def load(path: Path):
    """Read a FAISS index file."""
    import faiss

    return faiss.read_index(str(path))


def _top(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.argsort(-scores[part], kind="stable")]
    return scores[order].astype(np.float32), ids[order].astype(np.int64)


def search(index, vectors: np.ndarray, query: np.ndarray, k: int,
           subset: np.ndarray | None = None, ef_search: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, ids) for one query vector, optionally restricted to the ids in `subset`."""
    import faiss

    if subset is not None and len(subset) <= EXACT_SUBSET_LIMIT:
        return _top(np.asarray(vectors[subset] @ query, dtype=np.float32), subset, k)
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    params = None
    if subset is not None:
        sel = faiss.IDSelectorBatch(np.ascontiguousarray(subset, dtype=np.int64))
        is_hnsw = isinstance(index, faiss.IndexHNSW)
        params = (faiss.SearchParametersHNSW(sel=sel, efSearch=max(ef_search, k)) if is_hnsw
                  else faiss.SearchParameters(sel=sel))
    elif isinstance(index, faiss.IndexHNSW):
        params = faiss.SearchParametersHNSW(efSearch=max(ef_search, k))
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
    keep = ids[0] >= 0  # FAISS pads with -1 when fewer than k ids pass the filter
    return scores[0][keep], ids[0][keep]
