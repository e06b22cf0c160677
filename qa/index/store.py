"""A loaded index generation (Index) and how it is read from disk: manifest, checksums, then each part."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.index import dense as vec
from qa.index import refresh
from qa.index.bm25 import Lexical
from qa.index.generation import current_path
from qa.index.manifest import IndexLoadError, read_manifest, verify
from qa.index.ondisk import DiskArray
from qa.index.parses import ParseStore
from qa.index.passages import PassageStore

VECTORS_FILE = "vectors.npy"
FAISS_FILE = "dense.faiss"
BM25_DIR = "bm25"
ARTICLE_BM25_DIR = "bm25-articles"  # BM25 over whole articles (rows: the stories table's article numbers)


@dataclass(frozen=True)
class Index:
    """A loaded index generation."""

    path: Path
    manifest: dict
    passages: PassageStore
    vectors: np.ndarray | DiskArray  # (n, dim) float32: the flat FAISS index's own copy, or read from disk
    dense: vec.Dense
    lexical: Lexical
    watched: tuple = ()  # files read at load only, watched for truncation (the disk copy must stay whole)
    articles: Lexical | None = None  # whole-article BM25 (None: an index built before it was kept)
    parses: ParseStore | None = None  # each passage's spaCy parse (None: built with parse_passages off)

    def __len__(self) -> int:
        return len(self.passages)

    def stored_keys(self) -> np.ndarray | None:
        """The text keys this generation stored for its passages, or None (an older index)."""
        try:
            keys = np.load(self.path / refresh.KEYS_FILE, allow_pickle=False)
        except (OSError, ValueError):
            return None
        return keys if keys.shape == (len(self), refresh.KEY_BYTES) else None

    def damaged(self) -> str | None:
        """Why a file this index reads on demand changed size since it was loaded, or None: a few fstat calls."""
        parts = (self.passages, self.lexical, *self.watched, *((self.articles,) if self.articles else ()),
                 *((self.parses,) if self.parses else ()),
                 *((self.vectors,) if isinstance(self.vectors, DiskArray) else ()))
        return next((why for part in parts if (why := part.damaged())), None)


def load(index_dir: Path, verify_checksums: bool | None = None) -> Index:
    """Load the live generation; IndexLoadError says what is wrong if it is missing or corrupt."""
    path = current_path(index_dir)
    if path is None:
        raise IndexLoadError(f"no index in {index_dir}")
    manifest = read_manifest(path)
    verify(path, manifest, verify_checksums)
    try:
        passages = PassageStore(path)
        dense = vec.load(path / FAISS_FILE)
        vectors = DiskArray(path / VECTORS_FILE)  # header checked here: a plain float array, never a pickle
        if vectors.ndim != 2 or vectors.dtype != np.float32:
            raise ValueError(f"{VECTORS_FILE} holds {vectors.dtype} {vectors.shape}, not float32 vectors")
        stored_rows, watched = len(vectors), ()
        if dense.kind == "flat":  # no memory maps (see qa.index.ondisk): a flat index holds every vector already
            watched, vectors = (vectors.file,), vec.stored_vectors(dense)
        lexical = Lexical.load(path / BM25_DIR)
        articles = Lexical.load(path / ARTICLE_BM25_DIR) if (path / ARTICLE_BM25_DIR).is_dir() else None
        parses = ParseStore.open(path, len(passages))
    except Exception as exc:  # any unreadable part means the generation is unusable
        raise IndexLoadError(f"cannot load index in {path}: {exc}") from exc
    n = manifest.get("passages")
    if not (len(passages) == len(vectors) == stored_rows == dense.ntotal == lexical.size == n):
        raise IndexLoadError(f"index parts disagree on the passage count in {path}")
    return Index(path=path, manifest=manifest, passages=passages, vectors=vectors, dense=dense,
                 lexical=lexical, watched=watched, articles=articles, parses=parses)


def try_load(index_dir: Path) -> tuple[Index | None, str | None]:
    """Load the index, or return (None, why not)."""
    try:
        return load(index_dir), None
    except IndexLoadError as exc:
        return None, str(exc)
