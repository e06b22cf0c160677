"""Answer confidence: a logistic model of "the answer is right" on retrieval and reader evidence."""
from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.read import Reading
from qa.types import Hit

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
TARGET_PRECISION = 0.95  # share of abstentions that must be questions the articles do not answer
FEATURES = ("dense", "best_dense", "bm25", "reader_prob", "reader_score", "typed", "cover", "rank", "untyped", "gap")


def features(reading: Reading, hits: Sequence[Hit]) -> np.ndarray:
    """The confidence features of one answered question (see FEATURES)."""
    top = reading.hits[0] if reading.hits else None
    dense = (top.dense_score or 0.0) if top else 0.0
    best = max((h.dense_score or 0.0 for h in hits), default=0.0)
    bm25 = math.log1p(max(0.0, top.bm25_score or 0.0)) if top else 0.0
    span = reading.chosen  # no span: no reader evidence
    f = span.features if span is not None else None
    reader = (span.prob, span.score, f.typed, f.cover, float(span.rank), f.untyped) if f else (0.0,) * 6
    prob, score, typed, cover, rank, untyped = reader
    return np.array([dense, best, bm25, prob, score, typed, cover, rank, untyped, reading.gap], dtype=np.float64)


@functools.lru_cache(maxsize=1)
def model() -> dict:
    """The fitted coefficients, scaling and threshold from calibration.json (see its "command")."""
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{CALIBRATION_FILE.name} was fitted for other features; refit with {data['command']!r}")
    return {**data, **arrays(data)}


def arrays(m: dict) -> dict:
    """The model's mean, scale and coefficients as arrays (as model() holds them)."""
    return {k: np.asarray(m[k], dtype=np.float64) for k in ("mean", "scale", "coef")}


def confidence(x: np.ndarray, m: dict | None = None) -> float:
    """P(answer is right) under the logistic model `m` (default: the fitted one), in 0..1."""
    m = model() if m is None else m
    z = (np.asarray(x, dtype=np.float64) - m["mean"]) / m["scale"]
    logit = float(z @ m["coef"] + m["intercept"])
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))


def threshold() -> float:
    """The confidence below which ask() abstains (chosen on the fitting split)."""
    return float(model()["threshold"])


def fit(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> dict:
    """Logistic regression on standardised features; the model as a JSON-ready dict (no threshold)."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, y)
    return {"features": list(FEATURES), "mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(),
            "coef": lr.coef_[0].round(6).tolist(), "intercept": round(float(lr.intercept_[0]), 6)}


def best_threshold(conf: Sequence[float], answerable: Sequence[bool],
                   precision: float = TARGET_PRECISION) -> tuple[float, float, float]:
    """(threshold, precision, recall): the most abstentions whose precision on unanswerables stays >= target.

    Wrongly refusing a question the articles answer is taken to be the worse mistake (the closest
    passages are shown either way), so the refusals must be right `precision` of the time.
    """
    conf, answerable = np.asarray(conf), np.asarray(answerable, dtype=bool)
    best = (0.0, 1.0, 0.0)
    for t in np.round(np.arange(0.01, 1.0, 0.01), 2):
        abstain = conf < t
        if not abstain.any():
            continue
        tp = float(np.sum(abstain & ~answerable))
        p, r = tp / abstain.sum(), tp / max(1, (~answerable).sum())
        if p >= precision and r > best[2]:
            best = (float(t), p, r)
    return best
