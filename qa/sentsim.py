"""The question's cosine similarity to each sentence of parsed passages, with sentence vectors cached."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Sequence

import numpy as np

CACHE_SIZE = 20_000  # sentence vectors kept (1.5 KB each)

_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()
_default = None


def default_encoder():
    """The encoder of the default settings' model (QA passes its own instead)."""
    global _default
    if _default is None:
        from .config import load_settings
        from .embed import get_encoder

        _default = get_encoder(load_settings().model)
    return _default


def _vectors(encoder, texts: list[str]) -> dict[str, np.ndarray]:
    key = id(encoder)
    with _lock:
        found = {t: _cache[(key, t)] for t in texts if (key, t) in _cache}
        for t in found:
            _cache.move_to_end((key, t))
    missing = list(dict.fromkeys(t for t in texts if t not in found))
    if missing:
        vecs = encoder.encode(missing)
        with _lock:
            for t, v in zip(missing, vecs):
                _cache[(key, t)] = v
                found[t] = v
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return found


def sentence_similarities(question: str, docs: Sequence, encoder=None) -> list[list[float]]:
    """Per doc, the cosine of `question` to each of its sentences (in doc.sents order)."""
    encoder = encoder or default_encoder()
    sents = [[s.text for s in d.sents] for d in docs]
    if not question or not any(sents):
        return [[0.0] * len(s) for s in sents]
    qv = encoder.encode([question])[0]
    vecs = _vectors(encoder, [t for ss in sents for t in ss])
    return [[float(vecs[t] @ qv) for t in ss] for ss in sents]
