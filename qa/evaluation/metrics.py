"""Answer, retrieval and abstention metrics as pure functions (SQuAD, DPR, BEIR/pytrec_eval conventions)."""
from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Collection, Mapping, Sequence

import numpy as np

_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _check_golds(golds: Sequence[str]) -> None:
    """Reject a bare string, which would otherwise be scored character by character."""
    if isinstance(golds, str):
        raise TypeError(f"golds must be a sequence of strings, not the string {golds!r}")


def _check_k(k: int) -> None:
    """Reject a cutoff that is not a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def normalize_answer(s: str) -> str:
    """Lowercase, drop punctuation and articles, collapse whitespace (official SQuAD v1.1)."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def _f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 between one prediction and one gold answer (SQuAD v1.1)."""
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str | None, golds: Sequence[str]) -> float:
    """1.0 if the normalized prediction equals any normalized gold, else 0.0."""
    _check_golds(golds)
    if prediction is None or not golds:
        return 0.0
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def token_f1(prediction: str | None, golds: Sequence[str]) -> float:
    """Best SQuAD token F1 of the prediction over the gold answers; 0.0 for None or no golds."""
    _check_golds(golds)
    if prediction is None or not golds:
        return 0.0
    return max(_f1(prediction, g) for g in golds)


def first_relevant_rank(ranked: Sequence[str], relevant: Collection[str]) -> int | None:
    """1-based position of the first relevant id in `ranked` as given, or None."""
    for rank, doc_id in enumerate(ranked, start=1):
        if doc_id in relevant:
            return rank
    return None


def hit_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 if a relevant id appears in the first k positions, else 0.0."""
    _check_k(k)
    rank = first_relevant_rank(ranked[:k], relevant)
    return 0.0 if rank is None else 1.0


def mrr_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Reciprocal rank of the first relevant id within the first k positions, else 0.0."""
    _check_k(k)
    rank = first_relevant_rank(ranked[:k], relevant)
    return 0.0 if rank is None else 1.0 / rank


def ndcg_at_k(ranked: Sequence[str], gains: Mapping[str, float], k: int = 10) -> float:
    """nDCG@k with linear gains and log2(rank+1) discount (pytrec_eval/BEIR); repeats count once."""
    _check_k(k)
    # Non-positive judgements carry no gain, as in trec_eval's ndcg_cut.
    positive = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    if not positive:
        return 0.0
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(positive))
    unique = list(dict.fromkeys(ranked))[:k]
    dcg = sum(max(gains.get(d, 0.0), 0.0) / math.log2(i + 2) for i, d in enumerate(unique))
    return dcg / idcg


def answer_in_passages(passages: Sequence[str], golds: Sequence[str], k: int) -> float:
    """1.0 if a normalized gold occurs on token boundaries in one of the first k normalized passages."""
    _check_golds(golds)
    _check_k(k)
    # Golds that normalize to nothing ("The", "...") would match every passage.
    needles = {f" {n} " for n in map(normalize_answer, golds) if n}
    for passage in passages[:k]:
        hay = f" {normalize_answer(passage)} "
        if any(n in hay for n in needles):
            return 1.0
    return 0.0


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> dict:
    """Precision and recall of abstaining on unanswerable questions (None if undefined), with counts."""
    if len(abstained) != len(answerable):
        raise ValueError(
            f"abstained and answerable differ in length: {len(abstained)} != {len(answerable)}"
        )
    n_abstained = sum(1 for a in abstained if a)
    n_unanswerable = sum(1 for a in answerable if not a)
    correct = sum(1 for a, ans in zip(abstained, answerable) if a and not ans)
    return {
        "precision": correct / n_abstained if n_abstained else None,
        "recall": correct / n_unanswerable if n_unanswerable else None,
        "n": len(abstained),
        "abstained": n_abstained,
        "unanswerable": n_unanswerable,
        "correct_abstentions": correct,
    }


def reliability(confidence: Sequence[float], right: Sequence[float], bins: int = 10) -> tuple[list[dict], float]:
    """The reliability table (per confidence bin: questions, mean confidence, share right) and the expected
    calibration error (the question-weighted gap between confidence and accuracy over the bins)."""
    conf, ok = np.asarray(confidence, dtype=np.float64), np.asarray(right, dtype=np.float64)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    table = [{"confidence": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "questions": int((which == b).sum()),
              "mean_confidence": float(conf[which == b].mean()), "right": float(ok[which == b].mean())}
             for b in range(bins) if (which == b).any()]
    ece = sum(r["questions"] * abs(r["mean_confidence"] - r["right"]) for r in table) / max(1, len(conf))
    return table, float(ece)


def percentile(values: Sequence[float], q: float) -> float | None:
    """q-th percentile (0..100) with numpy's linear interpolation; None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q!r}")
    if len(values) == 0:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean, or None for no values."""
    if len(values) == 0:
        return None
    return math.fsum(values) / len(values)
