"""Text encoders: the Encoder protocol and get_encoder(); int8 ONNX (onnx.py), fp32 (fp32.py), hashing (hashing.py)."""
from __future__ import annotations

import logging
import threading
from typing import Protocol, Sequence

import numpy as np

from qa.config import FP32_MODEL, HASH_MODEL, INT8_MODEL
from qa.embed.hashing import HashingEncoder

logger = logging.getLogger(__name__)

KNOWN_MODELS = (INT8_MODEL, FP32_MODEL, HASH_MODEL)


class Encoder(Protocol):
    """Anything that maps texts to L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Encode texts to an (n, dim) float32 array of unit vectors."""
        ...


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
                from qa.embed.onnx import OnnxInt8Encoder  # no torch once the export is cached

                _ENCODERS[name] = OnnxInt8Encoder(name)
            else:
                from qa.embed.fp32 import SentenceTransformerEncoder

                _ENCODERS[name] = SentenceTransformerEncoder(name)
        return _ENCODERS[name]
