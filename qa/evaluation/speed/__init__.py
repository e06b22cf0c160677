"""`python -m qa bench`: speed and scale figures, each next to a baseline measured in the same run.

Every figure is a median over repeats, measured in this process (or in child processes for cold start)
on whatever else the machine is doing; compare a figure with its baseline, not with other runs.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from qa.config import Settings
from qa.evaluation.datasets import datasets_dir
from qa.evaluation.speed.ask import bench_seed_ask
from qa.evaluation.speed.cold import bench_cold_start
from qa.evaluation.speed.cluster import bench_ray
from qa.evaluation.speed.encode import bench_encode
from qa.evaluation.speed.scale import bench_scale_sizes
from qa.evaluation.speed.summary import summary_rows
from qa.evaluation.speed.timing import rnd
from qa.evaluation.speed.updates import bench_corpus
from qa.evaluation.speed.vectors import bench_vectors, synthetic_vectors

__all__ = ["run_bench", "summary_rows", "bench_vectors", "synthetic_vectors"]

logger = logging.getLogger(__name__)

FULL = dict(paragraphs=2000, questions=1000, encode_repeats=3, corpus_passages=10_000, asks=100,
            vector_sizes=(100_000, 1_000_000), queries=200, cold_repeats=5, add_repeats=3,
            ray_passages=20_000, ray_repeats=1, scale_sizes=(1_000_000, 10_000_000))
QUICK = dict(paragraphs=150, questions=300, encode_repeats=3, corpus_passages=1_000, asks=30,
             vector_sizes=(100_000,), queries=100, cold_repeats=2, add_repeats=2,
             ray_passages=1_000, ray_repeats=1, scale_sizes=(100_000,))


SECTIONS = ("encode", "ask", "corpus", "vectors", "cold")
# heavy (tens of minutes, 16 GB of disk at 10M): run only when named, `bench --only ray scale`
EXTRA_SECTIONS = ("ray", "scale")


def run_bench(settings: Settings, quick: bool = False, say=lambda msg: None, work: Path | None = None,
              only: set[str] | None = None, datasets: Path | None = None) -> dict:
    """Every figure with its baseline; `quick` uses reduced sizes (and says so); `only` picks sections."""
    only = set(only or SECTIONS)
    datasets = datasets_dir(datasets)
    cfg = QUICK if quick else FULL
    own = work is None
    work = Path(work or tempfile.mkdtemp(prefix="qa-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result: dict = {"mode": "quick" if quick else "full", "cores": os.cpu_count(),
                    "load_average_at_start": rnd(os.getloadavg()[0]),
                    "sizes": {k: cfg[k] for k in ("paragraphs", "corpus_passages", "vector_sizes")},
                    "note": ("quick: reduced sizes (150 paragraphs, a 1,000-passage corpus, 100k vectors, no 1M, "
                             "fewer repeats); run without --quick for the full sizes") if quick else
                            "full sizes: 2,000 paragraphs, a 10,000-passage corpus, 100k and 1M vectors"}
    try:
        steps = (("encode", "encode", lambda: bench_encode(settings, datasets, cfg, say)),
                 ("ask", "ask_seed", lambda: bench_seed_ask(settings, cfg, work, say)),
                 ("corpus", "corpus", lambda: bench_corpus(settings, datasets, cfg, work, say)),
                 ("vectors", "vector_search", lambda: [bench_vectors(n, cfg, work, say) for n in cfg["vector_sizes"]]),
                 ("cold", "cold_start", lambda: bench_cold_start(settings, cfg, work, say)),
                ("ray", "ray_build", lambda: bench_ray(settings, datasets, cfg, work, say)),
                ("scale", "vector_search_at_scale", lambda: bench_scale_sizes(cfg, work, say, result)))
        for section, key, step in steps:
            if section in only:
                try:
                    result[key] = step()
                except Exception as exc:  # one broken section must not lose the others' figures
                    logger.exception("bench section %s failed", section)
                    result.setdefault("errors", {})[section] = f"{type(exc).__name__}: {exc}"
                    say(f"{section}: failed: {exc}")
        import resource

        result["peak_rss_mb_this_process"] = rnd(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    result["elapsed_s"] = rnd(time.perf_counter() - started, 1)
    result["load_average_at_end"] = rnd(os.getloadavg()[0])
    return result
