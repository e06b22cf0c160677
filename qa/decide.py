"""Deciding the answer, in one place: which read passage answers, its confidence, and every abstain rule."""
from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from qa.config import Settings
from qa.query import STOP_WORDS
from qa.read import Reading, reader_name
from qa.types import DateRange, Hit, Search

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")  # the neural reader's
# The feature reader's calibration (fitted on its own evidence, FEATURE_READER_FEATURES).
CALIBRATION_FILES = {"neural": CALIBRATION_FILE, "fast": Path(__file__).with_name("calibration-fast.json"),
                     "features": Path(__file__).with_name("calibration-features.json")}
TARGET_PRECISION = 0.95  # share of abstentions that must be questions the articles do not answer
# A lower passage's span replaces the first passage's only when the confidence rates it this much more likely
# right. `python -m qa bench-answers squad-abstain --split fit --limit 3000` prints the choice per margin:
# answerable F1 0.4436 / 0.4417 / 0.4398 / 0.4416 for margins 0 / 0.02 / 0.1 / never, switching 10.3% /
# 2.6% / 0.4% / 0% of answers. 0 gains most here, but on words outside the answer's sentence the reader can
# be confidently wrong (the load test's look-alike articles); 0.02 switches rarely.
SWITCH_MARGIN = 0.02
# The neural reader's evidence: its span score, and that score above its "not here" ([CLS]) score. The spaCy
# features of the feature reader (typed, cover, untyped) are gone: the span score subsumes them, and the ask
# path then needs no parser.
# "support": how many other articles among the retrieved passages also hold the answer's words (news repeats the
# answer across articles on one story; RealTimeQA dev, shown answers held by 0 / 1 / 2 / 3 / 4 other passages
# were right 0.43 / 0.59 / 0.70 / 0.80 / 0.90 of the time, seventh session).
# "question_cover": the share of the question's content words the answer's passage (or its title) holds. A
# question the articles do not answer still finds a passage on its general words but not on its particular ones
# (names, numbers, the event): on SQuAD's fitting split (the reader's 403 holdout questions, half the articles
# not indexed) it raised the recall the threshold rule keeps at precision 0.95 from 0.625 to 0.738, and on the
# evaluation half 0.776 -> 0.843 at precision 0.956 (ninth session).
FEATURES = ("dense", "best_dense", "bm25", "reader_prob", "reader_score", "reader_margin", "rank", "gap", "support",
            "question_cover")
FEATURE_READER_FEATURES = ("dense", "best_dense", "bm25", "reader_prob", "reader_score", "typed", "cover", "rank",
                           "untyped", "gap")
FEATURE_SETS = {"neural": FEATURES, "fast": FEATURES, "features": FEATURE_READER_FEATURES}


def best_dense(hits: Sequence[Hit]) -> float:
    """The highest dense cosine among the retrieved passages (0 when none): below Settings.min_relevance nothing
    answers."""
    return max((h.dense_score or 0.0 for h in hits), default=0.0)


def features(reading: Reading, hits: Sequence[Hit], question: str = "") -> np.ndarray:
    """The confidence features of one answered question (see FEATURE_SETS, by the reader in use); `question`:
    the words the passage was searched with."""
    top = reading.hits[0] if reading.hits else None
    dense = (top.dense_score or 0.0) if top else 0.0
    best = best_dense(hits)
    bm25 = math.log1p(max(0.0, top.bm25_score or 0.0)) if top else 0.0
    p = reading.passage  # None: no span, so no reader evidence
    if reader_name() == "features":
        f = p.features if p is not None else None
        prob, score, typed, cover, rank, untyped = ((p.prob, p.score, f.typed, f.cover, float(p.rank), f.untyped)
                                                    if f is not None else (0.0,) * 6)
        return np.array([dense, best, bm25, prob, score, typed, cover, rank, untyped, reading.gap], dtype=np.float64)
    prob, score, margin, rank = ((p.prob, p.score, p.score - (p.null or 0.0), float(p.rank))
                                 if p is not None and p.spanned else (0.0,) * 4)
    return np.array([dense, best, bm25, prob, score, margin, rank, reading.gap,
                     support(reading.answer, top, hits, rate=support_rate()), question_cover(question, top)],
                    dtype=np.float64)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def question_cover(question: str, top: Hit | None) -> float:
    """The share of the question's content words (no stop words or question words, 3 letters or more) that the
    passage or its article's title holds; 0 when it has none."""
    asked = {w for w in _words(question) if len(w) > 2 and w not in STOP_WORDS}
    if not asked or top is None:
        return 0.0
    return len(asked & (_words(top.text) | _words(top.title or ""))) / len(asked)


SUPPORT_MOST = 4  # other articles counted as support at most
# The retrieved passages the confidence weighs (support, the best cosine): the first 5 whatever k, so how many
# passages are shown never changes an answer's rating; ask() retrieves at least these.
EVIDENCE_HITS = SUPPORT_MOST + 1


def evidence(found: Search) -> tuple[Hit, ...]:
    """The retrieved passages the confidence weighs: the first EVIDENCE_HITS, whatever k."""
    return found.hits[:EVIDENCE_HITS]


def support(answer: str | None, top: Hit | None, hits: Sequence[Hit], most: int = SUPPORT_MOST,
            rate: float = 0.0) -> float:
    """How many articles other than the answer's own hold the answer among the retrieved passages (at most
    `most`): "Tesla" in three articles on the recall is likelier right than a name only one passage has.
    Articles, not passages: a story's overlapping passages repeat each other.

    When fewer than `most` other articles were retrieved (a folder of a few articles), each one missing counts
    `rate`, the share of other articles that hold the answer where the news model was fitted (support_rate): an
    answer in a folder of two articles has no other article to repeat it, which is not the evidence against it
    that four other articles on the story leaving it out is."""
    words = " ".join((answer or "").lower().split())
    if len(words) < 2 or top is None:
        return 0.0
    own = top.article_id or top.passage_id
    retrieved = {h.article_id or h.passage_id for h in hits} - {own}
    others = {h.article_id or h.passage_id for h in hits if words in " ".join(h.text.lower().split())} - {own}
    return float(min(len(others), most)) + max(0, most - len(retrieved)) * rate


def support_rate() -> float:
    """The share of the other retrieved articles that hold the answer in the news model's fitting data (its mean
    support / SUPPORT_MOST; about 0.23 on RealTimeQA dev, where four other articles are retrieved): what an
    article a small folder lacks is counted as (support). 0 without a news model."""
    dated = model().get("dated")
    names = FEATURE_SETS[reader_name()]
    if not isinstance(dated, dict) or "support" not in names:
        return 0.0
    if "support_rate" in dated:  # recorded when the news model was fitted (fit.dated_model)
        return float(dated["support_rate"])
    return float(dated["mean"][names.index("support")]) / SUPPORT_MOST


def model() -> dict:
    """The fitted coefficients, scaling and threshold of the reader in use (see its file's "command")."""
    return _model(reader_name())


@functools.lru_cache(maxsize=3)
def _model(name: str) -> dict:
    path = CALIBRATION_FILES[name]
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURE_SETS[name]:
        raise ValueError(f"{path.name} was fitted for other features; refit with {data['command']!r}")
    out = {**data, **arrays(data)}
    if isinstance(data.get("dated"), dict):  # the news model: a logistic fit of the same features on news
        out["dated"] = {**data["dated"], **arrays(data["dated"])}
    return out


model.cache_clear = _model.cache_clear  # as fitting code expects of the cached loader


def arrays(m: dict) -> dict:
    """The model's mean, scale and coefficients as arrays (as model() holds them)."""
    return {k: np.asarray(m[k], dtype=np.float64) for k in ("mean", "scale", "coef")}


def confidence(x: np.ndarray, m: dict | None = None) -> float:
    """P(answer is right) under the logistic model `m` (default: the fitted one), in 0..1."""
    m = model() if m is None else m
    z = (np.asarray(x, dtype=np.float64) - m["mean"]) / m["scale"]
    logit = float(z @ m["coef"] + m["intercept"])
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))


def model_for(reading: Reading) -> dict:
    """The confidence model of one reading: the news model ("dated" in the file, fitted on news questions)
    when its passage has a publication date and such a model is fitted, else the base one (fitted on SQuAD's
    undated paragraphs). The same evidence means less on news (RealTimeQA dev: the base model's 0.85-sure
    answers are right about 0.5-0.67 of the time, docs/reader-history.md, "Confidence on news"). Each has its
    own threshold (`threshold`): the news model's shows an answer only when it is at least as likely right as
    wrong."""
    m = model()
    top = reading.hits[0] if reading.hits else None
    return m["dated"] if top is not None and top.date and "dated" in m else m


def threshold(settings: Settings | None = None, m: dict | None = None) -> float:
    """The confidence below which ask() abstains: the settings' answer_threshold, else that of the model `m` rating
    the answer (model_for: the news model's own when it has one), else the base model's (chosen on SQuAD)."""
    if settings is not None and settings.answer_threshold is not None:
        return settings.answer_threshold
    return float((m if m is not None and "threshold" in m else model())["threshold"])


def choose(rated: Sequence[float], margin: float = SWITCH_MARGIN) -> int:
    """Index of the option to answer with, given each option's rating (option 0: the first passage's)."""
    best = int(np.argmax(rated))
    return best if rated[best] > rated[0] + margin else 0


def most_confident(rows: np.ndarray, m: dict | None = None, margin: float = SWITCH_MARGIN) -> int:
    """choose() over one question's options given as confidence-feature rows, rated under `m` (default: the
    fitted model): how the fitting code replays ask()'s choice."""
    return choose([confidence(x, m) for x in rows], margin)


def judged(found: Sequence[Reading], judge: Callable[[Reading], float] | None) -> tuple[Reading, float | None]:
    """The option to answer with and its rating: the first without a judge (rating None), else by choose()."""
    if judge is None:
        return found[0], None
    rated = [judge(r) for r in found]
    best = choose(rated)
    return found[best], rated[best]


@dataclass(frozen=True)
class Decision:
    """What ask() answers: the span (None when abstaining), its confidence, and the reading it comes from."""

    answer: str | None
    confidence: float
    abstained: bool
    reason: str | None  # why it abstained, or a note that the question's dates matched no article
    reading: Reading  # the chosen reading: the hits with the answering passage first


def decide(readings: Sequence[Reading], found: Search, settings: Settings) -> Decision:
    """Choose among the read passages' answers (options(), the first passage's first), rate it, and
    abstain when no passage is close enough, the answer is unlikely, or a named year is not covered."""
    hits, query = evidence(found), found.query
    # Which passage answers, and how sure it is, by the model for each passage: the news model for a dated one
    # (RealTimeQA dev, 2-fold by question parity: right 0.537 -> 0.557 against choosing by the base model;
    # scratch /work/tools/choice_2fold.py), the base model for an undated one. A year the question names keeps
    # its lead through `in_dates`, not through the base model's weight on the ranking.
    rate = lambda r: confidence(features(r, hits, query.search_text), model_for(r))  # noqa: E731
    reading, rated = judged(in_dates(readings, query.dates), rate if settings.choose_by_confidence else None)
    if rated is None and reading.answer:  # chosen without rating (the first passage's answer): rate it now
        rated = rate(reading)
    conf = round(rated, 3) if reading.answer else 0.0
    best = best_dense(hits)
    limit = threshold(settings, model_for(reading))
    dates, applied = query.dates, found.retrieval.date_applied
    if not reading.hits or best < settings.min_relevance:
        conf, why = 0.0, "no passage in the articles is close enough to the question"
    elif reading.answer is None or conf < limit:
        why = (f"the best answer found is too unsure to show (about {round(conf * 100)} in 100 answers this sure "
               f"are right; the bot shows answers from {round(limit * 100)} in 100)")
    elif dates and not applied and not _mentions_years(reading.hits[0].text, dates):
        why = (f"no article was published in {dates.label}, and the closest passage, from another "
               f"date, does not mention {dates.label}")
    else:
        note = f"no articles published in {dates.label}; searched all dates" if dates and not applied else None
        return Decision(reading.answer, conf, False, note, reading)
    return Decision(None, conf, True, why, reading)


def in_dates(readings: Sequence[Reading], dates: DateRange | None) -> Sequence[Reading]:
    """The readings that may answer when the question names dates: a passage published outside them, however
    sure its span, never displaces one from inside them that the ranking put above it ("In 2020, who was ...?"
    answered from the 2023 article is a wrong answer). Out-of-range passages ranked above every in-range one
    stay: the ranking found them more relevant despite the year's preference (only a later article is about
    it). `readings` are in ranking order, as options() gives them."""
    if not dates:
        return readings
    inside = [bool(r.answer and r.hits and dates.contains(r.hits[0].day)) for r in readings]
    if not any(inside):
        return readings
    first = inside.index(True)
    return [r for i, r in enumerate(readings) if i <= first or inside[i]]


def _mentions_years(text: str, dates: DateRange) -> bool:
    """True when the text names a year of the date range (an article about that time, published later)."""
    return any(str(y) in text for y in range(dates.start.year, dates.end.year + 1))


def fit(x: np.ndarray, y: np.ndarray, c: float = 1.0, without: Sequence[str] = ()) -> dict:
    """Logistic regression on standardised features; the model as a JSON-ready dict (no threshold). Features
    named in `without` are left out of the fit (coefficient 0)."""
    from sklearn.linear_model import LogisticRegression

    names = FEATURE_SETS[reader_name()]
    used = np.array([n not in without for n in names])
    x = np.asarray(x, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=c, max_iter=1000).fit(((x - mean) / scale)[:, used], y)
    coef = np.zeros(len(names))
    coef[used] = lr.coef_[0]
    return {"features": list(names), "mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(),
            "coef": coef.round(6).tolist(), "intercept": round(float(lr.intercept_[0]), 6)}


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
