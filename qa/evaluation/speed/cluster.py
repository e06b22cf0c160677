"""The Ray build's throughput: one process vs a local Ray with 1 and 2 workers, the same articles, same run.

The baseline is the single-process build with the encoder on one thread (the per-core rate a cluster's
worker has); the default single-process build (the encoder on every core) is reported beside it. Each
build starts from an empty index folder (no vectors reused) and times the whole build: parse, chunk,
embed, BM25, FAISS, publish. Ray's start is timed apart; each worker's model load is inside the build.
Then the time to the first answer: `python -m qa ask` in a new process over the index just built.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path

from qa.config import INT8_MODEL, Settings
from qa.embed import get_encoder
from qa.evaluation.corpus import docs_for, sample_questions, write_docs
from qa.evaluation.speed.cold import _run_child
from qa.evaluation.speed.timing import Timer, median, rnd
from qa.index import ensure

logger = logging.getLogger(__name__)


def _build(settings: Settings, encoder, folder: Path) -> tuple[float, int]:
    shutil.rmtree(folder, ignore_errors=True)
    with Timer() as t:
        index = ensure(replace(settings, index_dir=folder), encoder, force=True)
    return t.s, len(index)


def _on_ray(workers: int, settings: Settings, encoder, folder: Path) -> tuple[float, int, float]:
    """A build on a local Ray with `workers` CPUs: (build seconds, passages, Ray start seconds)."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_worker_niceness", "0")  # as qa.index.distributed.session: the baseline's priority
    temp = folder.parent / f"ray-tmp-{workers}"
    with Timer() as t_start:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, _temp_dir=str(temp),
                 logging_level=logging.WARNING,
                 runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[3]),
                                           "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}})
    try:  # ensure() uses the running Ray (its cluster_resources give the actor count)
        took, n = _build(replace(settings, ray_address="local"), encoder, folder)
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    return took, n, t_start.s


def bench_ray(settings: Settings, datasets: Path, cfg: dict, work: Path, say) -> dict:
    """Passages/s of the single-process build vs Ray with 1 and 2 workers, and the first answer after."""
    from qa.embed.onnx import OnnxInt8Encoder

    if settings.model != INT8_MODEL:
        raise ValueError(f"the Ray benchmark measures the int8 encoder, not {settings.model!r}")
    docs = docs_for(datasets, cfg["ray_passages"], settings.chunk_words, settings.chunk_overlap_sentences)
    if not docs:
        raise FileNotFoundError(f"no SQuAD data under {datasets} to write the benchmark corpus from")
    corpus = work / "ray-corpus"
    write_docs(docs, corpus)
    settings = replace(settings, corpus_dir=corpus, ray_address=None)
    one_thread, default = OnnxInt8Encoder(INT8_MODEL, threads=1), get_encoder(INT8_MODEL)
    one_thread.encode(["warm up"]), default.encode(["warm up"])  # the model export, if any, not timed
    runs: dict[str, list] = {"single_1_thread": [], "ray_1_worker": [], "ray_2_workers": [], "single_default": []}
    starts, passages = [], 0
    for r in range(cfg["ray_repeats"]):  # interleaved, so the machine's other load falls on every mode
        for mode in runs:
            folder = work / f"ray-index-{mode}"
            if mode.startswith("ray"):
                took, passages, start = _on_ray(1 if mode == "ray_1_worker" else 2, settings, default, folder)
                starts.append(start)
            else:
                took, passages = _build(settings, one_thread if mode == "single_1_thread" else default, folder)
            runs[mode].append(took)
            say(f"ray: {mode}: {passages:,} passages in {took:.1f} s ({passages / took:.1f}/s), repeat {r + 1}")
    rate = {mode: passages / median(times) for mode, times in runs.items()}
    base = rate["single_1_thread"]
    question = (sample_questions(docs, 1) or ["what happened?"])[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["HF_HUB_OFFLINE"] = "1"
    first_s, _ = _run_child(["ask", question, "--corpus", str(corpus), "--index", str(work / "ray-index-ray_2_workers")],
                            env)
    return {
        "corpus": f"{len(docs):,} SQuAD dev, SQuADShifts and NFCorpus texts as dated articles", "passages": passages,
        "repeats": cfg["ray_repeats"], "cpus": os.cpu_count(), "load_average": rnd(os.getloadavg()[0]),
        "build_s": {mode: [rnd(t, 1) for t in times] for mode, times in runs.items()},
        "passages_per_s": {mode: rnd(v, 1) for mode, v in rate.items()},
        "ray_1_worker_vs_single_1_thread": rnd(rate["ray_1_worker"] / base, 3),
        "ray_2_workers_vs_single_1_thread": rnd(rate["ray_2_workers"] / base, 3),
        "ray_2_workers_vs_single_default": rnd(rate["ray_2_workers"] / rate["single_default"], 3),
        "ray_start_s": rnd(median(starts), 1),
        "first_answer_after_build_s": rnd(first_s, 2),
        "first_answer_how": "python -m qa ask in a new process over the Ray-built index (imports, index and "
                            "model loads included)",
    }
