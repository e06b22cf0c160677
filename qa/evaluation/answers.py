"""Answer benchmarks on SQuAD v1.1 dev (reader alone, open retrieval, abstention) and on follow-up cases."""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.config import Settings
from qa.decide import confidence, threshold
from qa.evaluation import metrics as m
from qa.evaluation.datasets import load_benchmark, load_questions
from qa.evaluation.fit import confidence_examples
from qa.evaluation.report import pyplot
from qa.evaluation.squad import benchmark_qa, squad_part
from qa.pipeline import QA

logger = logging.getLogger(__name__)

SWITCH_MARGINS = (0.0, 0.02, 0.1, None)  # None: always the first passage's answer


def _error_type(prediction: str | None, sentence: str, golds) -> str:
    """Why a reader answer missed: no answer, wrong sentence, partly right span, or wrong phrase."""
    if prediction is None:
        return "no answer"
    if not any(m.normalize_answer(g) in m.normalize_answer(sentence) for g in golds):
        return "wrong sentence"
    return "right sentence, overlapping span" if m.token_f1(prediction, golds) > 0 else \
        "right sentence, wrong phrase"


def squad_reader(settings: Settings, part: str = "test", limit: int | None = None, seed: int = 0,
                 progress: bool = True, datasets: Path | None = None, benchmark: str = "squad") -> dict:
    """Reader alone (the runtime reader): the gold paragraph given, EM/F1 overall, per answer type, and
    the error types. `benchmark` "squadshifts": SQuADShifts new_wiki (every article; `part` unused)."""
    from tqdm import tqdm

    from qa.read import analyse, best_span, reader_name
    from qa.read.neural import sentence_around

    if benchmark == "squad":
        articles, cases = squad_part(part, limit, seed, datasets)
    else:
        articles, cases, _ = load_benchmark(benchmark, datasets)
        if limit is not None and limit < len(cases):
            cases = [cases[i] for i in sorted(np.random.default_rng(seed).choice(len(cases), limit, replace=False))]
    text = {a.source: a.text for a in articles}
    by_kind: dict[str, list] = defaultdict(list)
    errors: Counter = Counter()
    for case in tqdm(cases, desc=f"{benchmark} reader", disable=not progress, leave=False):
        body = text[case.source]
        span = best_span(case.question, body)
        pred = body[slice(*span)] if span else None
        sentence = body[slice(*sentence_around(body, *span))] if span else ""
        em, f1 = m.exact_match(pred, case.answers), m.token_f1(pred, case.answers)
        by_kind[analyse(case.question).exp.kind].append((em, f1))
        if em < 1:
            errors[_error_type(pred, sentence, case.answers)] += 1
    rows = {k: {"questions": len(v), "em": m.mean([e for e, _ in v]), "f1": m.mean([f for _, f in v])}
            for k, v in sorted(by_kind.items(), key=lambda kv: -len(kv[1]))}
    every = [x for v in by_kind.values() for x in v]
    total = {"questions": len(every), "em": m.mean([e for e, _ in every]), "f1": m.mean([f for _, f in every])}
    return {"benchmark": benchmark, "split": part if benchmark == "squad" else "all", "reader": reader_name(),
            "all": total, "by_answer_type": rows, "errors": dict(errors.most_common())}


def squad_open(settings: Settings, part: str = "test", limit: int | None = None, seed: int = 0,
               k: int = 5, progress: bool = True, datasets: Path | None = None) -> dict:
    """Open retrieval over all 2,067 paragraphs, then the reader: EM/F1 and the answer paragraph's hit@1."""
    from tqdm import tqdm

    qa, _, cases = benchmark_qa(settings, "open", part, limit, seed, datasets)
    qa.index(progress=progress)
    em, f1, hit1, answer_in = [], [], [], []
    for case in tqdm(cases, desc="squad open", disable=not progress, leave=False):
        a = qa.ask(case.question, k=k)
        em.append(m.exact_match(a.answer, case.answers))
        f1.append(m.token_f1(a.answer, case.answers))
        hit1.append(float(bool(a.passages) and a.passages[0].source == case.source))
        answer_in.append(m.answer_in_passages([h.text for h in a.passages], case.answers, 3))
    return {"split": part, "questions": len(cases), "em": m.mean(em), "f1": m.mean(f1),
            "hit@1": m.mean(hit1), "answer_in@3": m.mean(answer_in)}


def squad_abstain(settings: Settings, part: str = "test", limit: int | None = None, seed: int = 0,
                  progress: bool = True, plot: Path | None = None, datasets: Path | None = None) -> dict:
    """Half the articles indexed, every question asked: abstention P/R and answered F1 at the threshold."""
    found = confidence_examples(settings, part, limit, progress, datasets)
    chosen = found.chosen(settings.choose_by_confidence)
    conf = np.array([confidence(row) for row in found.pick("x", chosen)])
    f1, right, answerable = found.pick("f1", chosen), found.pick("right", chosen), found.answerable
    curve = [_at(t, conf, answerable, f1) for t in np.round(np.arange(0.0, 1.0, 0.02), 2)]
    reliability, ece = m.reliability(conf, right)
    if plot:
        _plot(curve, reliability, threshold(), plot)
    switch = {}  # the answer from the most confident read passage, if it beats the first's by a margin
    for margin in SWITCH_MARGINS:
        picked = found.chosen(margin is not None, margin=margin or 0.0)
        switch["never" if margin is None else str(margin)] = {
            "answerable_f1": m.mean(found.pick("f1", picked)[answerable].tolist()),
            "switched": m.mean((picked > 0).astype(float).tolist())}
    return {"split": part, "questions": len(found.x), "answer_choice": "most confident of the read passages"
            if settings.choose_by_confidence else "top passage", "unanswerable": int((~answerable).sum()),
            "threshold": threshold(), "at_threshold": _at(threshold(), conf, answerable, f1),
            "never_abstain": _at(0.0, conf, answerable, f1), "switch_margins": switch,
            "expected_calibration_error": round(ece, 4), "reliability": reliability, "curve": curve}


def _at(t: float, conf: np.ndarray, answerable: np.ndarray, f1: np.ndarray) -> dict:
    """Abstention precision/recall at threshold t, and the F1 of the answers given."""
    abstain = conf < t
    scores = m.abstention_scores(abstain.tolist(), answerable.tolist())
    answered = ~abstain & answerable
    return {"threshold": float(t), "abstain_precision": scores["precision"], "abstain_recall": scores["recall"],
            "answered": int((~abstain).sum()), "answered_f1": m.mean(f1[~abstain].tolist()),
            "answerable_f1": m.mean(np.where(answered, f1, 0.0)[answerable].tolist())}


def _plot(curve: list[dict], reliability: list[dict], chosen: float, path: Path) -> None:
    """Left: abstention precision/recall and F1 against the threshold. Right: confidence against accuracy."""
    plt = pyplot()
    t = [c["threshold"] for c in curve]
    fig, (ax, rel) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("abstain_precision", "abstention precision"), ("abstain_recall", "abstention recall"),
                       ("answered_f1", "F1 of the answers given"), ("answerable_f1", "F1 over answerable")):
        ax.plot(t, [c[key] if c[key] is not None else np.nan for c in curve], label=label)
    ax.axvline(chosen, color="grey", linestyle="--", label=f"chosen threshold {chosen:.2f}")
    ax.set_xlabel("confidence threshold (abstain below)")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    rel.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    rel.plot([r["mean_confidence"] for r in reliability], [r["right"] for r in reliability], marker="o",
             label="SQuAD dev, test split")
    rel.set_xlabel("confidence (bin mean)")
    rel.set_ylabel("share of answers right (F1 >= 0.5)")
    rel.grid(True, alpha=0.3)
    rel.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def followups(settings: Settings, path: Path, k: int = 5) -> dict:
    """Follow-up cases: answer and top-source hit rates of the last turn, with the chat so far as (question,
    answer) pairs, as the earlier questions alone (ask() answers them itself), or with no history.

    The pair history is built as the chat builds it: each earlier turn is asked in turn and its answer kept.
    """
    cases = [c for c in load_questions(path) if c.turns]
    out = {}
    for label in ("pair history", "question-only history", "without history"):
        qa = QA(settings)  # a fresh cache of earlier answers per mode
        answers, sources, missed = [], [], []
        for case in cases:
            history: list = []
            if label == "pair history":
                for turn in case.turns:
                    history.append((turn, qa.ask(turn, k=k, history=history).answer))
            elif label == "question-only history":
                history = list(case.turns)
            a = qa.ask(case.question, k=k, history=history or None)
            answers.append(m.token_f1(a.answer, case.answers) >= 0.5)
            sources.append(bool(a.passages) and a.passages[0].source == case.source)
            if not answers[-1]:
                missed.append(f"{case.question!r} -> {a.answer!r} (want {case.answers[0]!r})")
        out[label] = {"cases": len(cases), "answer_hit": m.mean(answers), "right": int(sum(answers)),
                      "source_hit@1": m.mean(sources), "missed": missed}
    return out


def reader_latency(settings: Settings, path: Path, readers=("neural", "features"), rounds: int = 2,
                   at_once: Sequence[str] = ()) -> dict:
    """Warm ask() p50/p95 in ms per reader, one process, each question asked of every reader in turn (the order
    rotating from one question to the next), `rounds` times over the questions.

    Each reader answers every question once before timing (models loaded, passages parsed and cached).
    `at_once`: readers also timed reading every one of the READ_LIMIT passages at once, as before the twentieth
    session (the baseline of the staged reading, Settings.read_first), under "<reader>, all at once".
    """
    import os
    import time

    from qa.read import READ_LIMIT

    cases = [c for c in load_questions(path) if not c.turns]
    qa = QA(settings)
    every = qa.settings.with_overrides(read_first=READ_LIMIT)
    runs = [(r, r, qa) for r in readers] + [(f"{r}, all at once", r, QA(every, encoder=qa.encoder)) for r in at_once]
    previous = os.environ.get("QA_READER")
    times: dict[str, list[float]] = {label: [] for label, _, _ in runs}
    try:
        for _, r, asker in runs:
            os.environ["QA_READER"] = r
            for c in cases:
                asker.ask(c.question, as_of=c.question_date)
        for n in range(rounds):
            for i, c in enumerate(cases):  # each question asked of every setup in turn, the order rotating
                shift = (n * len(cases) + i) % len(runs)
                for label, r, asker in runs[shift:] + runs[:shift]:
                    os.environ["QA_READER"] = r
                    t0 = time.perf_counter()
                    asker.ask(c.question, as_of=c.question_date)
                    times[label].append((time.perf_counter() - t0) * 1000)
    finally:
        if previous is None:
            os.environ.pop("QA_READER", None)
        else:
            os.environ["QA_READER"] = previous
    return {"questions": len(cases), "rounds": rounds, "load_average": os.getloadavg()[0],
            **{r: {"p50_ms": round(float(np.percentile(t, 50)), 1), "p95_ms": round(float(np.percentile(t, 95)), 1)}
               for r, t in times.items()}}
