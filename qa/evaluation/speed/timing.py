"""Timing helpers shared by the speed benchmarks: a with-block timer, median, percentile and rounding."""
from __future__ import annotations

import statistics
import time

import numpy as np


def median(xs) -> float:
    """The median, NaN for no values."""
    return float(statistics.median(xs)) if xs else float("nan")


def pct(xs, q: float) -> float:
    """The q-th percentile (0..100, linear), NaN for no values."""
    return float(np.percentile(xs, q)) if len(xs) else float("nan")


def rnd(x: float, nd: int = 2) -> float:
    """x as a plain float rounded to nd places, for JSON."""
    return round(float(x), nd)


class Timer:
    """Wall-clock seconds of a with-block."""

    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.s = time.perf_counter() - self.t
