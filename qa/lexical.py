"""BM25 over passages with bm25s: tokenize, build, save/load (no pickle), score."""
from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lowercased, English-stopword-free, Snowball-stemmed tokens of each text."""
    import bm25s

    if not texts:
        return []
    return bm25s.tokenize(list(texts), lower=True, stopwords="en", stemmer=_stemmer(),
                          return_ids=False, show_progress=False)


class Lexical:
    """A bm25s index over passage texts, in passage order."""

    def __init__(self, retriever):
        self._bm25 = retriever

    @classmethod
    def build(cls, texts: Sequence[str]) -> "Lexical":
        """Index the given texts (row i = passage i)."""
        import bm25s

        retriever = bm25s.BM25()
        tokens = tokenize(texts)
        # bm25s cannot index an empty vocabulary; a placeholder token keeps row numbers aligned
        if not any(tokens):
            tokens = [["\u2400"] for _ in texts]
        retriever.index(tokens, show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        """Write the bm25s arrays and JSON vocabulary into `folder`."""
        self._bm25.save(str(folder), allow_pickle=False, show_progress=False)

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> "Lexical":
        """Load an index written by save()."""
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=mmap, allow_pickle=False, load_corpus=False))

    @property
    def size(self) -> int:
        """Number of indexed passages."""
        return int(self._bm25.scores["num_docs"])

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for the query (zeros when no query term is known)."""
        tokens = tokenize([query])[0]
        known = [t for t in tokens if t in self._bm25.vocab_dict]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
