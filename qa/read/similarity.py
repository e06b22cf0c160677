"""The question's cosine similarity to each sentence of parsed passages, with sentence vectors cached."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from qa.read.lru import LRU

CACHE_SIZE = 20_000  # sentence vectors kept (1.5 KB each)

_cache = LRU(CACHE_SIZE)


def sentence_similarities(question: str, docs: Sequence, encoder=None,
                          question_vector: np.ndarray | None = None) -> list[list[float]]:
    """Per doc, the cosine of the question to each of its sentences (in doc.sents order).

    `question_vector`: the question already encoded by `encoder` (ask() has it from retrieval); without
    it the question text is encoded here. `encoder` defaults to the configured model's.
    """
    if encoder is None:
        from qa.config import load_settings
        from qa.embed import get_encoder

        encoder = get_encoder(load_settings().model)
    sents = [[s.text for s in d.sents] for d in docs]
    if not question or not any(sents):
        return [[0.0] * len(s) for s in sents]
    qv = question_vector if question_vector is not None else encoder.encode([question])[0]
    keys = [(id(encoder), t) for ss in sents for t in ss]
    vecs = _cache.get_many(keys, lambda missing: encoder.encode([t for _, t in missing]))
    return [[float(vecs[(id(encoder), t)] @ qv) for t in ss] for ss in sents]
