"""Run question sets through the pipeline and score retrieval, answers, abstention and latency."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

from qa.config import Settings
from qa.evaluation import metrics as m
from qa.evaluation.datasets import Case
from qa.evaluation.primed import PrimedEncoder, search_texts
from qa.pipeline import QA

logger = logging.getLogger(__name__)

CUTOFFS = (1, 3, 5, 10, 20)


@dataclass(frozen=True)
class CaseResult:
    """What the pipeline returned for one case."""

    case: Case
    sources: tuple[str, ...]  # distinct sources in rank order
    texts: tuple[str, ...]  # passage texts in rank order
    prediction: str | None
    abstained: bool
    confidence: float
    latency_ms: float


def _distinct(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def run_case(qa: QA, case: Case, k: int, mode: str, read: bool) -> CaseResult:
    """Ask one case (with its earlier turns as history) and record the outcome."""
    history = list(case.turns) or None
    t0 = time.perf_counter()
    if read:
        answer = qa.ask(case.question, k=k, history=history, mode=mode, as_of=case.question_date)
        hits, prediction, abstained, conf = answer.passages, answer.answer, answer.abstained, answer.confidence
    else:
        hits = qa.search(case.question, k=k, history=history, mode=mode, as_of=case.question_date).hits
        prediction, abstained, conf = None, False, 0.0
    latency = (time.perf_counter() - t0) * 1e3
    return CaseResult(case, _distinct(h.source for h in hits), tuple(h.text for h in hits), prediction,
                      abstained, conf, latency)


def run(qa: QA, cases: Sequence[Case], k: int = 10, mode: str = "hybrid", read: bool = True,
        progress: bool = False, label: str = "") -> list[CaseResult]:
    """Run every case; passages retrieved per question = 3k so that k distinct sources can be scored.

    A QA whose encoder is a PrimedEncoder primed with the cases (see prime_cases) skips query encoding:
    much faster for benchmarks, and the latency figures then leave it out.
    """
    from tqdm import tqdm

    qa.index(progress=progress)
    it = tqdm(cases, desc=f"eval {label or mode}", unit="q", disable=not progress, leave=False)
    return [run_case(qa, c, 3 * k, mode, read) for c in it]


def prime_cases(encoder: PrimedEncoder, cases: Sequence[Case], settings: Settings) -> None:
    """Encode every case's question (with its earlier turns) ahead, in batches."""
    encoder.prime(search_texts(((c.question, list(c.turns) or None) for c in cases), settings))


def summarize(results: Sequence[CaseResult], read: bool = True) -> dict:
    """Metrics over a list of results (see README for the definitions)."""
    scored = [r for r in results if r.case.answerable and r.case.relevance()]
    with_answers = [r for r in results if r.case.answers]
    out: dict = {"questions": len(results), "answerable": len(scored)}
    for k in CUTOFFS:
        out[f"hit@{k}"] = m.mean([m.hit_at_k(r.sources, r.case.relevance(), k) for r in scored])
    out["mrr@10"] = m.mean([m.mrr_at_k(r.sources, r.case.relevance(), 10) for r in scored])
    out["ndcg@10"] = m.mean([m.ndcg_at_k(r.sources, r.case.relevance(), 10) for r in scored])
    for k in (1, 5, 10):
        out[f"answer_in@{k}"] = m.mean([m.answer_in_passages(r.texts, r.case.answers, k) for r in with_answers])
    if read:
        out["em"] = m.mean([m.exact_match(r.prediction, r.case.answers) for r in with_answers])
        out["f1"] = m.mean([m.token_f1(r.prediction, r.case.answers) for r in with_answers])
        abst = m.abstention_scores([r.abstained for r in results], [r.case.answerable for r in results])
        out["abstain_precision"], out["abstain_recall"] = abst["precision"], abst["recall"]
        out["answered_wrongly_abstained"] = sum(r.abstained for r in results if r.case.answerable)
    lat = [r.latency_ms for r in results]
    out["latency_p50_ms"], out["latency_p95_ms"] = m.percentile(lat, 50), m.percentile(lat, 95)
    return {key: (round(v, 4) if isinstance(v, float) else v) for key, v in out.items()}


def by_category(results: Sequence[CaseResult], read: bool = True) -> dict[str, dict]:
    """summarize() per case category."""
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(r.case.category, []).append(r)
    return {c: summarize(rs, read) for c, rs in sorted(groups.items())}


def misses(results: Sequence[CaseResult], read: bool = True, limit: int = 50) -> list[dict]:
    """Cases whose top source, answer or abstention was wrong, with what came first, for a person to read."""
    out = []
    for r in results:
        c = r.case
        wrong_source = bool(c.relevance()) and (not r.sources or r.sources[0] not in c.relevance())
        wrong_answer = read and bool(c.answers) and not m.exact_match(r.prediction, c.answers)
        wrong_abstain = read and c.answerable == r.abstained
        if wrong_source or wrong_answer or wrong_abstain:
            out.append({"question": " / ".join((*c.turns, c.question)), "expected": list(c.answers) or None,
                        "expected_source": c.source or None, "got": r.prediction,
                        "got_source": r.sources[0] if r.sources else None,
                        "first_passage": r.texts[0][:300] if r.texts else None})
    return out[:limit]
