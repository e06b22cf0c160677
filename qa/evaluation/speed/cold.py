"""Cold start: `python -m qa ask` in a new process with the index built, ours vs the fp32 model."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from qa.config import FP32_MODEL, INT8_MODEL, REPO_ROOT, Settings
from qa.evaluation.speed.timing import median, rnd
from qa.pipeline import QA


# `python -m qa ARGS` as __main__ runs it, then a report of what it imported and its peak RSS (VmHWM:
# unlike ru_maxrss, not inflated by the parent's memory at fork time).
_PROBE = """
import json, re, sys
from qa.cli import main
code = main(sys.argv[1:])
heavy = [m for m in ("torch", "sentence_transformers", "gradio", "transformers", "spacy") if m in sys.modules]
hwm = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"code": code, "heavy_imports": heavy, "peak_rss_kb": hwm}), file=sys.stderr)
sys.exit(code)
"""


def _run_child(args: list[str], env: dict) -> tuple[float, dict]:
    """Wall seconds of `python -m qa ARGS` in a new process, and its report (imports, peak RSS)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=REPO_ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"python -m qa {' '.join(args[:2])} ... failed: {proc.stderr.strip()[-300:]}")
    return took, json.loads(proc.stderr.strip().splitlines()[-1])


def _cold_runs(args: list[str], env: dict, repeats: int) -> dict:
    """Wall seconds and peak RSS of `python -m qa ARGS` over `repeats` new processes, and what they imported."""
    runs = [_run_child(args, env) for _ in range(repeats)]
    return {"median_s": rnd(median([r[0] for r in runs])), "runs_s": [rnd(r[0]) for r in runs],
            "peak_rss_mb": rnd(median([r[1]["peak_rss_kb"] for r in runs]) / 1024, 0),
            "heavy_imports": runs[-1][1]["heavy_imports"]}


def bench_cold_start(settings: Settings, cfg: dict, work: Path, say) -> dict:
    """`python -m qa ask` in a new process (index already built), ours vs the fp32 model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["HF_HUB_OFFLINE"] = "1"
    question = "who led the 2023 delegation?"
    out = {}
    for label, model in (("ours", INT8_MODEL), ("baseline", FP32_MODEL)):
        index_dir = work / f"cold-{model}"
        QA(replace(settings, model=model, index_dir=index_dir)).index()  # built beforehand, not timed
        args = ["ask", question, "--corpus", str(settings.corpus_dir), "--index", str(index_dir), "--model", model]
        repeats = cfg["cold_repeats"]
        say(f"cold start: python -m qa ask ... --model {model}, {repeats} runs")
        out[label] = {"model": model, **_cold_runs(args, env, repeats)}
    big = work / "corpus-index"  # left by the corpus section, when it ran
    if (big / "CURRENT").is_file():
        args = ["ask", "Which year did the study start?", "--corpus", str(work / "corpus"), "--index", str(big),
                "--model", INT8_MODEL]
        figures = _cold_runs(args, env, cfg["cold_repeats"])
        out["ours_on_corpus"] = {"index": str(big.name), "median_s": figures["median_s"],
                                 "peak_rss_mb": figures["peak_rss_mb"]}
    return {"command": f'python -m qa ask "{question}" (seed corpus, index built)', **out,
            "speedup": rnd(out["baseline"]["median_s"] / out["ours"]["median_s"])}
