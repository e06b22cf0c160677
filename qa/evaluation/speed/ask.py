"""Warm ask() latency: our encoder vs the plain fp32 one, same pipeline and index (seed corpus and others)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from qa.config import FP32_MODEL, INT8_MODEL, REPO_ROOT, Settings
from qa.embed import get_encoder
from qa.evaluation.datasets import load_questions
from qa.evaluation.speed.timing import Timer, median, pct, rnd
from qa.pipeline import QA


def _ask_latency(qa, questions: list[str], n: int) -> list[float]:
    for q in questions[:3]:
        qa.ask(q)  # warm
    times = []
    for i in range(n):
        with Timer() as t:
            qa.ask(questions[i % len(questions)])
        times.append(t.s * 1e3)
    return times


def _latency_row(ours: list[float], base: list[float], what: str) -> dict:
    return {"what": what, "p50_ms": rnd(median(ours), 1), "p95_ms": rnd(pct(ours, 95), 1),
            "baseline_p50_ms": rnd(median(base), 1), "baseline_p95_ms": rnd(pct(base, 95), 1),
            "baseline": "same pipeline and index, question and highlight encoding with plain fp32 "
                        "SentenceTransformer", "asks": len(ours)}


def bench_seed_ask(settings: Settings, cfg: dict, work: Path, say) -> dict:
    """Warm ask() latency on the seed corpus, ours vs the fp32 encoder; and, when a fast reader is shipped, the
    default reader against it and against itself reading all its passages at once, as before the staged reading
    (alternating per round, one process: `reader_latency`)."""
    from qa.evaluation.answers import reader_latency
    from qa.read import neural

    path = REPO_ROOT / "eval" / "seed.jsonl"
    questions = [c.question for c in load_questions(path) if not c.turns]
    s = replace(settings, model=INT8_MODEL, index_dir=work / "seed-index")
    what = f"seed corpus ({len(QA(s).index())} passages)"
    row = ask_vs_fp32(s, None, questions, cfg["asks"], what, say)
    if neural.available(neural.ARTIFACTS["fast"]):
        say("ask: the default reader against the fast one and against reading every passage at once")
        row["readers"] = reader_latency(s, path, readers=("neural", "fast"), at_once=("neural",))
    return row


def ask_vs_fp32(s: Settings, encoder, questions: list[str], asks: int, what: str, say) -> dict:
    """Warm ask() latency of our encoder vs the plain fp32 one, same pipeline and index."""
    ours = QA(s, encoder=encoder) if encoder is not None else QA(s)
    ours.warm_up()
    base = QA(s, encoder=get_encoder(FP32_MODEL))
    base.warm_up()
    say(f"ask: {what}, {asks} asks each")
    t_base = _ask_latency(base, questions, asks)
    t_ours = _ask_latency(ours, questions, asks)
    return _latency_row(t_ours, t_base, what)
