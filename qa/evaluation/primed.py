"""Query vectors encoded ahead in batches and served from a cache: the benchmarks' fast path past QA's encoder."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from qa.config import Settings
from qa.embed import Encoder
from qa.history import turns
from qa.pipeline import clean_question
from qa.query import understand


class PrimedEncoder:
    """An Encoder for QA(encoder=...): texts encoded ahead by prime() come from a cache, the rest from `base`."""

    def __init__(self, base: Encoder):
        self.base = base
        self.name = base.name
        self.dim = base.dim
        self._vectors: dict[str, np.ndarray] = {}

    def prime(self, texts: Iterable[str], batch_size: int = 64) -> None:
        """Encode the texts not cached yet, in batches, and keep their vectors."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if todo:
            self._vectors.update(zip(todo, self.base.encode(todo, batch_size=batch_size)))

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """The cached vectors when every text was primed; otherwise `base` encodes them all, as without priming."""
        if len(texts) and all(t in self._vectors for t in texts):
            return np.stack([self._vectors[t] for t in texts])
        return self.base.encode(texts, batch_size=batch_size, progress=progress)

    def __getattr__(self, name: str):
        if name == "base":  # not set yet: no recursion
            raise AttributeError(name)
        return getattr(self.base, name)  # anything else an encoder offers (e.g. the ONNX model's path)


def search_texts(questions: Iterable[tuple[str, Sequence | None]], settings: Settings) -> list[str]:
    """The text QA.search encodes for each (question, history) pair: what prime() should be given."""
    return [understand(clean_question(q, settings), turns(history)).search_text for q, history in questions]
