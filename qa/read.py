"""Reading the retrieved passages: pick the sentence that answers in each, for highlighting."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .chunk import split_sentences
from .embed import Encoder
from .lexical import tokenize
from .types import Hit, Query

LEXICAL_WEIGHT = 0.3  # share of the sentence score from question-word overlap


def _overlap(question_tokens: set[str], sentence: str) -> float:
    if not question_tokens:
        return 0.0
    return len(question_tokens & set(tokenize([sentence])[0])) / len(question_tokens)


def highlight(hits: list[Hit], query: Query, query_vector: np.ndarray, encoder: Encoder,
              limit: int = 3) -> list[Hit]:
    """Mark in each of the first `limit` hits the sentence most similar to the question."""
    spans = [split_sentences(h.text) for h in hits[:limit]]
    flat = [(i, s, e) for i, sent in enumerate(spans) for s, e in sent]
    if not flat:
        return hits
    texts = [hits[i].text[s:e] for i, s, e in flat]
    sims = encoder.encode(texts) @ query_vector
    q_tokens = set(tokenize([query.search_text])[0])
    best: dict[int, tuple[float, int, int]] = {}
    for (i, s, e), sim, text in zip(flat, sims.tolist(), texts):
        score = (1 - LEXICAL_WEIGHT) * sim + LEXICAL_WEIGHT * _overlap(q_tokens, text)
        if i not in best or score > best[i][0]:
            best[i] = (score, s, e)
    out = list(hits)
    for i, (_, s, e) in best.items():
        out[i] = replace(out[i], highlight_start=s, highlight_end=e)
    return out
