"""Fit the reader's span weights and the confidence model on the SQuAD dev fitting split (never on the seed set)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qa import decide as calibrate
from qa import read as read_mod
from qa.config import Settings
from qa.evaluation.metrics import token_f1
from qa.evaluation.squad import benchmark_qa, gold_readings
from qa.pipeline import to_read
from qa.read import nlp
from qa.read.features import FEATURES

logger = logging.getLogger(__name__)

L2 = 1e-3  # on the shared weights
L2_KIND = 1e-2  # on each answer kind's offset from them
KINDS = ("who", "when", "where", "number", "which", "what", "why", "how")
RERANK_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8)
# Features the base (SQuAD) model leaves out. "support" (other articles holding the answer) is news evidence: a
# Wikipedia paragraph's answer is rarely repeated, and with it the base model's threshold rule, on the fitting
# split alone, keeps precision 0.95 only down to recall 0.575 (0.08 -> 0.06) instead of 0.69.
BASE_WITHOUT = ("support",)
# The news model's threshold: an answer from dated passages is shown when rated at least as likely right as wrong.
# A rule (even odds), not a value searched for on the questions; the news model is calibrated (2-fold ECE in its
# file), so what it shows is right more often than not by construction. The base model's threshold, chosen on
# SQuAD for questions the articles do not answer (95% of its abstentions right), is far lower (0.10): on news it
# showed 97% of answers, a third of them wrong (RealTimeQA dev, twenty-sixth session).
NEWS_THRESHOLD = 0.5


def _dump(obj: dict, indent: str = " ") -> str:
    """JSON with one key per line and each list on a single line (a readable, diffable model file)."""
    lines = [f"{indent}{json.dumps(str(k))}: " + (_dump(v, indent + " ").strip() if isinstance(v, dict) else
                                            json.dumps(v, separators=(", ", ": "))) for k, v in obj.items()]
    return "{\n" + ",\n".join(lines) + "\n" + indent[:-1] + "}\n"


def _softmax_fit(data: list[tuple[str, np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Linear softmax rankers (shared weights + a per-kind offset) whose targets are the best-F1 candidates."""
    from scipy.optimize import minimize

    dim = data[0][1].shape[1]
    slot = {k: i for i, k in enumerate(KINDS)}

    def loss(theta):
        shared, offsets = theta[:dim], theta[dim:].reshape(len(KINDS), dim)
        total, g_shared, g_off = 0.0, np.zeros(dim), np.zeros_like(offsets)
        for kind, x, t in data:
            s = x @ (shared + offsets[slot[kind]])
            p = np.exp(s - s.max())
            p /= p.sum()
            total -= float(t @ np.log(p + 1e-12))
            g = -(x.T @ (t - p))
            g_shared += g
            g_off[slot[kind]] += g
        n = len(data)
        value = total / n + L2 * shared @ shared + L2_KIND * float((offsets ** 2).sum())
        grad = np.concatenate([g_shared / n + 2 * L2 * shared, (g_off / n + 2 * L2_KIND * offsets).ravel()])
        return value, grad

    theta = minimize(loss, np.zeros(dim * (1 + len(KINDS))), jac=True, method="L-BFGS-B").x
    shared = theta[:dim]
    out = {"shared": shared}
    out.update({k: shared + theta[dim * (1 + i):dim * (2 + i)] for i, k in enumerate(KINDS)})
    return out


def span_examples(settings: Settings, limit: int | None, progress: bool, datasets: Path | None = None) -> list:
    """(features, target distribution) of every fitting-split question with its gold paragraph."""
    zero = np.zeros(len(FEATURES), dtype=np.float32)
    data = []
    for case, q, c, _, text in gold_readings(settings, "fit", limit, weights=zero, progress=progress,
                                             desc="reader features", datasets=datasets):
        f1 = np.array([token_f1(text[a:b], case.answers) for a, b in c.spans])
        if len(f1) and f1.max() > 0:
            target = (f1 >= f1.max() - 1e-9).astype(np.float64)
            data.append((q.exp.kind, c.features.astype(np.float64), target / target.sum()))
    return data


def _rerank_weight(settings: Settings, limit: int | None, progress: bool,
                   datasets: Path | None) -> tuple[float, dict]:
    """The re-rank weight with the best answer F1 on open retrieval over all SQuAD paragraphs (fitting split)."""
    from tqdm import tqdm

    qa, _, cases = benchmark_qa(settings, "open", "fit", limit, datasets=datasets)
    runs = []
    for case in tqdm(cases, desc="re-rank grid", disable=not progress, leave=False):
        searched = qa.search(case.question, k=5)
        query, qvec, hits = searched.query, searched.vector, searched.hits
        with nlp.stored(searched.parses):  # the index's stored parses, as ask() reads them
            runs.append((case, read_mod.read_passages(hits, query, encoder=qa.encoder, question_vector=qvec)))
    table = {}
    for weight in RERANK_GRID:
        f1 = []
        for case, passages in runs:
            top = read_mod.rerank(passages, weight)[0].hit if passages else None
            span = top.text[top.answer_start:top.answer_end] if top and top.answer_start is not None else None
            f1.append(token_f1(span, case.answers))
        table[weight] = round(float(np.mean(f1)), 4)
    best = max(table, key=lambda w: (table[w], -w))
    return best, table


def fit_reader(settings: Settings, limit: int | None = None, progress: bool = True, command: str = "",
               datasets: Path | None = None) -> dict:
    """Fit and save reader_weights.json: span weights on gold paragraphs, then the re-rank weight."""
    data = span_examples(settings, limit, progress, datasets)
    weights = _softmax_fit(data)
    out = {"features": list(FEATURES), "weights": {k: [round(float(x), 4) for x in w] for k, w in weights.items()},
           "rerank": 0.0,
           "command": command, "fitted_on": f"SQuAD v1.1 dev, fitting split (articles at positions 0,1 mod 4), "
                                             f"{len(data)} questions"}
    read_mod.WEIGHTS_FILE.write_text(_dump(out), encoding="utf-8")
    read_mod.reader_model.cache_clear()
    out["rerank"], out["rerank_grid_f1"] = _rerank_weight(settings, limit, progress, datasets)
    read_mod.WEIGHTS_FILE.write_text(_dump(out), encoding="utf-8")
    read_mod.reader_model.cache_clear()
    logger.info("reader weights written to %s", read_mod.WEIGHTS_FILE)
    return out


@dataclass(frozen=True)
class Options:
    """Every read passage's answer to each question of the half-indexed SQuAD, with its evidence."""

    x: list[np.ndarray]  # per question: one confidence-feature row per option (option 0: the top passage's)
    right: list[np.ndarray]  # per question and option: token F1 >= 0.5 on an answerable question
    f1: list[np.ndarray]
    answers: list[list[str | None]]
    answerable: np.ndarray

    def chosen(self, by_confidence: bool, model: dict | None = None,
               margin: float = calibrate.SWITCH_MARGIN) -> np.ndarray:
        """Index of the option ask() answers with: the most confident one (under `model`, default the
        fitted one, by at least `margin`), or the top passage's."""
        if not by_confidence:
            return np.zeros(len(self.x), dtype=int)
        return np.array([calibrate.most_confident(x, model, margin) for x in self.x])

    def pick(self, field: str, chosen: np.ndarray) -> np.ndarray:
        return np.array([getattr(self, field)[i][j] for i, j in enumerate(chosen)])


def confidence_examples(settings: Settings, part: str, limit: int | None, progress: bool,
                        datasets: Path | None = None) -> Options:
    """The options of every question on the half-indexed SQuAD for one split (see Options)."""
    from tqdm import tqdm

    qa, _, cases = benchmark_qa(settings, "half", part, limit, datasets=datasets)
    xs, right, f1s, answers, answerable = [], [], [], [], []
    for case in tqdm(cases, desc=f"confidence features ({part})", disable=not progress, leave=False):
        x, f1, said = option_rows(qa, case.question, case.answers)
        xs.append(x)
        f1s.append(f1)
        right.append((f1 >= 0.5) & case.answerable)
        answers.append(said)
        answerable.append(case.answerable)
    return Options(xs, right, f1s, answers, np.array(answerable))


def option_rows(qa, question: str, golds, as_of=None) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """What ask() weighs for one question: the confidence-feature row of each read option, its token F1
    against the golds, and its answer text."""
    searched = qa.search(question, k=calibrate.EVIDENCE_HITS, as_of=as_of)
    hits, limit = to_read(searched)  # the passages ask() weighs
    with nlp.stored(searched.parses):  # the index's stored parses, as ask() reads them
        found = read_mod.options(hits, searched.query, limit=limit, encoder=qa.encoder,
                                 question_vector=searched.vector)
    x = np.array([calibrate.features(r, searched.hits, searched.query.search_text) for r in found])
    return x, np.array([token_f1(r.answer, golds) for r in found]), [r.answer for r in found]


def news_examples(settings: Settings, progress: bool = True, datasets: Path | None = None,
                  index: Path | None = None, readers: Sequence[Path] | None = None
                  ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Confidence-feature rows of every read option and whether it is right (F1 >= 0.5), for each RealTimeQA dev
    question asked on its date over the benchmark's index (or `index`; dev may be fitted on, its SOURCE.md says).

    `readers`: (the reader artifact for the even questions, the one for the odd ones), each trained without
    them (`python -m qa.evaluation.reader train --news odd|even`): when the shipped reader was trained on these
    questions, its scores on them are surer than on new news, and a model fitted on them would be over-sure;
    cross-fitting reads every question as new."""
    from tqdm import tqdm

    from qa.evaluation.realtimeqa import bench_settings, build_index, load_corpus, load_questions, reader_for
    from qa.read import neural

    qa = build_index(bench_settings(settings, index), load_corpus(datasets), progress)
    xs, right = [], []
    for i, q in enumerate(tqdm(load_questions(datasets), desc="confidence features (realtimeqa dev)",
                               disable=not progress, leave=False)):
        with neural.reading_with(reader_for(readers, i)):
            x, f1, _ = option_rows(qa, q.question, q.answers, q.asked)
        if len(f1):
            xs.append(x)
            right.append(f1 >= 0.5)
    return xs, right


def chosen_confidence(xs: list[np.ndarray], right: list[np.ndarray], base: dict,
                      model: dict) -> tuple[np.ndarray, np.ndarray]:
    """(confidence under `model`, right) of the option chosen by `base`, per question (ask() chooses among
    dated passages by the news model: pass it as `base` too)."""
    conf, ok = [], []
    for x, r in zip(xs, right):
        j = calibrate.most_confident(x, base)
        conf.append(calibrate.confidence(x[j], model))
        ok.append(bool(r[j]))
    return np.array(conf), np.array(ok)


def dated_model(xs: list[np.ndarray], right: list[np.ndarray], base: dict) -> dict:
    """The news model (choosing and rating answers from dated passages) fitted on every option of the news
    questions, with the expected calibration error of the answers under the base model (choosing and rating)
    and under a 2-fold fit (even/odd questions), and the share right of the answers each chooses."""
    from qa.evaluation.metrics import reliability

    def fitted(idx):
        m = calibrate.fit(np.concatenate([xs[i] for i in idx]), np.concatenate([right[i] for i in idx]).astype(int))
        return {**m, **calibrate.arrays(m)}

    conf, ok = [], []
    for k in (0, 1):
        m = fitted([i for i in range(len(xs)) if i % 2 != k])
        c, r = chosen_confidence([x for i, x in enumerate(xs) if i % 2 == k],
                                 [y for i, y in enumerate(right) if i % 2 == k], m, m)
        conf += list(c)
        ok += list(r)
    base_conf, base_ok = chosen_confidence(xs, right, base, base)
    model = calibrate.fit(np.concatenate(xs), np.concatenate(right).astype(int))
    model.pop("features")
    # the share of other retrieved articles holding the answer, which a small folder's missing ones count as
    # (decide.support): from these rows (RealTimeQA retrieves 4 other articles for nearly every question, so
    # hardly any row holds a filled-in share, whichever rate they were computed with)
    model["support_rate"] = round(float(np.concatenate(xs)[:, calibrate.FEATURES.index("support")].mean())
                                  / calibrate.SUPPORT_MOST, 6)
    model["threshold"] = NEWS_THRESHOLD
    model["threshold_rule"] = ("show an answer rated at least as likely right as wrong "
                               "(set, not fitted: fit.NEWS_THRESHOLD)")
    shown = np.asarray(conf) >= NEWS_THRESHOLD
    ok = np.asarray(ok, dtype=bool)
    model["at_threshold_2fold"] = {"right": round(float(np.sum(ok & shown)) / len(ok), 4),
                                   "right_among_shown": round(float(ok[shown].mean()), 4) if shown.any() else None,
                                   "abstained": round(1 - float(shown.mean()), 4),
                                   "questions": len(ok)}
    model["fitted_on"] = f"RealTimeQA dev (SOURCE.md allows fitting), {len(xs)} questions asked on their dates"
    model["ece_base_model"] = round(reliability(base_conf, base_ok)[1], 4)
    model["ece_2fold"] = round(reliability(conf, ok)[1], 4)
    model["right_base_choice"], model["right_2fold_choice"] = round(float(np.mean(base_ok)), 4), round(float(np.mean(ok)), 4)
    return model


def fitted_reader() -> dict:
    """{"artifact_sha256": ...} of the span reader artifact in use (as rescore.json records it; a test checks each
    shipped calibration against its reader), {} for the feature reader."""
    from qa.read import neural

    if read_mod.reader_name() not in read_mod.SPAN_READERS:
        return {}
    return {"artifact_sha256": neural.artifact_sha256(neural.artifact_dir())}


def fit_calibration(settings: Settings, limit: int | None = None, progress: bool = True,
                    command: str = "", datasets: Path | None = None, part: str = "fit", news: bool = False,
                    readers: Sequence[Path] | None = None) -> dict:
    """Fit and save calibration.json: P(answer right) and the abstention threshold, on the fitting split
    (`part` "fit", or "holdout": its paragraphs the neural reader never trained on). With `news`, only the
    news model instead: fitted on the RealTimeQA dev questions and added to the file as "dated", it rates answers
    from dated passages; the base model, which still chooses the passage, and its threshold (chosen on SQuAD,
    whose unanswerable questions it needs) stay as they are."""
    if part not in ("fit", "holdout"):
        raise ValueError(f"the calibration fits on SQuAD dev's fitting split only, not {part!r}")
    path = calibrate.CALIBRATION_FILES[read_mod.reader_name()]
    if news:  # the news model only, added to the shipped base model (which it leaves as it is)
        shipped = json.loads(path.read_text(encoding="utf-8"))
        dated = dated_model(*news_examples(settings, progress, datasets, readers=readers), calibrate.model())
        shipped["dated"] = {**dated, "command": command}
        if readers:
            shipped["dated"]["read_with"] = ("each question by a reader trained without it: " +
                                             ", ".join(f"{p} ({w} questions)" for p, w in zip(readers, ("even", "odd"))))
        path.write_text(_dump(shipped), encoding="utf-8")
        calibrate.model.cache_clear()
        return shipped
    found = confidence_examples(settings, part, limit, progress, datasets)
    # The model rates one passage's best span, whatever the passage's rank: fitted on every option.
    model = calibrate.fit(np.concatenate(found.x), np.concatenate(found.right).astype(int), without=BASE_WITHOUT)
    fitted = {**model, **calibrate.arrays(model)}
    chosen = found.chosen(settings.choose_by_confidence, fitted)  # the threshold applies to ask()'s answer
    conf = [calibrate.confidence(row, fitted) for row in found.pick("x", chosen)]
    model["threshold"], precision, recall = calibrate.best_threshold(conf, found.answerable)
    which = "the paragraphs the neural reader's training held out" if part == "holdout" else "all its questions"
    model.update(command=command, fitted_on=f"SQuAD v1.1 dev, half the articles indexed, fitting split "
                                            f"(positions 0,1 mod 4), {which}: {len(found.x)} questions",
                 threshold_rule=f"most abstentions with abstention precision >= {calibrate.TARGET_PRECISION} "
                                f"on the fitting split (precision {precision:.3f}, recall {recall:.3f})",
                 **fitted_reader())
    path.write_text(_dump(model), encoding="utf-8")  # a base refit drops the news model: refit it after (--news)
    calibrate.model.cache_clear()
    return model
