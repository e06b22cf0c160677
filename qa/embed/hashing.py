"""A deterministic bag-of-words hashing encoder: no model, for unit tests and smoke runs."""
from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

from qa.config import HASH_MODEL

_TOKEN = re.compile(r"\w+")


class HashingEncoder:
    """Deterministic bag-of-words hashing encoder: no model, for unit tests and smoke runs."""

    def __init__(self, dim: int = 384):
        self.name = HASH_MODEL
        self.dim = dim

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for token in _TOKEN.findall(text.lower()):
            h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Hash each text's lowercase word tokens into a signed count vector, normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])
