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


def is_shared(encoder: object) -> bool:
    """True when `encoder` is this process's shared encoder of a known model (the one get_encoder gives for its
    name), so another process calling get_encoder with that name computes the same vectors."""
    name = getattr(encoder, "name", None)
    with _ENCODERS_LOCK:
        return name in KNOWN_MODELS and _ENCODERS.get(name) is encoder
