"""RealTimeQA: real news-quiz questions asked on a date, over years of real articles read in place.

`python -m qa bench-quality realtimeqa` builds the index once under .qa-bench/ from articles.jsonl (never
copied), then scores ours next to plain BM25 over whole articles and BM25 restricted to the 45 days before the
question's date, from the same run, with the question's date given (as_of) and unknown. A question's gold
articles are its `supporting` record ids (see the dataset's SOURCE.md); our article ids map to them.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.config import Settings
from qa.evaluation import metrics as m
from qa.evaluation.datasets import BENCH_DIR, datasets_dir
from qa.ingest import ArticlesSource
from qa.ingest.errors import IngestError
from qa.ingest.records import record_article
from qa.types import Article

logger = logging.getLogger(__name__)

FOLDER = "realtimeqa"
ARTICLES = "articles.jsonl"
QUESTIONS = "questions-dev.jsonl"
WINDOW_DAYS = 45  # the baseline's window: how SOURCE.md chose the gold articles


@dataclass(frozen=True)
class Question:
    """One dev question: text, answers, gold record ids and the day it was asked."""

    question: str
    answers: tuple[str, ...]
    supporting: frozenset[str]
    asked: dt.date
    qid: str


@dataclass(frozen=True)
class Corpus:
    """The articles as our Articles, and the record id of each of our article ids."""

    articles: tuple[Article, ...]
    record_id: dict[str, str]
    fingerprint: dict[str, list]


def data_dir(datasets: Path | None = None) -> Path:
    """The RealTimeQA folder; ValueError (with how to point at it) when it is absent."""
    path = datasets_dir(datasets) / FOLDER
    if not (path / ARTICLES).is_file():
        raise ValueError(f"RealTimeQA data not found: {path / ARTICLES} (set --datasets or QA_DATASETS_DIR)")
    return path


def load_questions(datasets: Path | None = None, limit: int | None = None) -> list[Question]:
    """The dev questions in file order (the first `limit`)."""
    out = []
    with open(data_dir(datasets) / QUESTIONS, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                out.append(Question(r["question"], tuple(r["answers"]), frozenset(r["supporting"]),
                                    dt.date.fromisoformat(r["question_date"]), r.get("question_id", "")))
    return out[:limit] if limit else out


def load_corpus(datasets: Path | None = None, keep: set[str] | None = None) -> Corpus:
    """Every record of articles.jsonl (or those whose id is in `keep`) read in place as an Article."""
    path = data_dir(datasets) / ARTICLES
    articles, record_id = [], {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if keep is not None and obj.get("id") not in keep:
                continue
            try:
                a = record_article(obj, ARTICLES, lineno - 1, f"{ARTICLES} line {lineno}")
            except IngestError as e:
                logger.warning("%s line %d: skipped: %s", ARTICLES, lineno, e.reason)
                continue
            articles.append(a)
            record_id[a.id] = obj["id"]
    st = path.stat()
    fp = {ARTICLES: [st.st_size, st.st_mtime_ns, len(articles)]}
    return Corpus(tuple(articles), record_id, fp)


def bench_settings(settings: Settings, explicit_index: Path | None = None) -> Settings:
    """The settings with the index kept under .qa-bench/realtimeqa[-MODEL] (or `explicit_index`)."""
    from qa.config import INT8_MODEL

    name = FOLDER if settings.model == INT8_MODEL else f"{FOLDER}-{settings.model}"
    return settings.with_overrides(index_dir=explicit_index or BENCH_DIR / name)


def build_index(settings: Settings, corpus: Corpus, progress: bool = True):
    """The QA over the corpus, its index built (or resumed, or loaded) under settings.index_dir."""
    from qa.pipeline import QA

    qa = QA(settings, source=ArticlesSource(corpus.articles, corpus.fingerprint))
    t0 = time.perf_counter()
    index = qa.index(progress=progress)
    logger.info("index ready: %d passages in %.0f s", len(index.passages), time.perf_counter() - t0)
    return qa


# ---- the baselines: BM25 over whole articles, everything or the 45 days before the question ------------
class ArticleBM25:
    """BM25 over whole articles (title and text), with each article's date, as the plain baseline."""

    def __init__(self, corpus: Corpus):
        from qa.index.bm25 import Lexical

        self.ids = [corpus.record_id[a.id] for a in corpus.articles]
        self.dates = np.array([a.published.toordinal() if a.published else 0 for a in corpus.articles])
        self.lexical = Lexical.build([f"{a.title}\n{a.text}" for a in corpus.articles])

    def rank(self, question: str, asked: dt.date | None = None, k: int = 5) -> list[str]:
        """Top-k record ids; with `asked`, only articles from the WINDOW_DAYS before it (that day included)."""
        scores = np.asarray(self.lexical.scores(question), dtype=np.float64)
        if asked is not None:
            inside = (self.dates <= asked.toordinal()) & (self.dates >= asked.toordinal() - WINDOW_DAYS)
            scores = np.where(inside, scores, -np.inf)
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[i] for i in top if np.isfinite(scores[i]) and scores[i] > 0]


# ---- scoring --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What one system returned for one question."""

    ranked: tuple[str, ...]  # distinct record ids, best first
    top_text: str
    prediction: str | None
    abstained: bool
    latency_ms: float
    confidence: float | None = None  # the answer's confidence (ours, reading)


def ask_ours(qa, corpus: Corpus, q: Question, as_of: dt.date | None, mode: str, read: bool, k: int) -> Outcome:
    """Our pipeline on one question, asked on `as_of` (None: today, the date unknown)."""
    t0 = time.perf_counter()
    if read:
        answer = qa.ask(q.question, k=k, mode=mode, as_of=as_of)
        hits, prediction, abstained, conf = answer.passages, answer.answer, answer.abstained, answer.confidence
    else:
        hits, prediction, abstained, conf = qa.search(q.question, k=k, mode=mode, as_of=as_of).hits, None, False, None
    latency = (time.perf_counter() - t0) * 1e3
    ranked = tuple(dict.fromkeys(corpus.record_id.get(h.article_id, h.article_id) for h in hits))
    return Outcome(ranked, hits[0].text if hits else "", prediction, abstained, latency, conf)


def summarize(questions: Sequence[Question], outcomes: Sequence[Outcome], read: bool) -> dict:
    """hit@1, hit@5, answer in the top passage, EM/F1, abstention, precision of shown answers, latency."""
    out = {"questions": len(questions),
           "hit@1": m.mean([m.hit_at_k(o.ranked, q.supporting, 1) for q, o in zip(questions, outcomes)]),
           "hit@5": m.mean([m.hit_at_k(o.ranked, q.supporting, 5) for q, o in zip(questions, outcomes)])}
    out["answer_in_top_passage"] = m.mean([m.answer_in_passages([o.top_text], q.answers, 1) if o.top_text else 0.0
                                           for q, o in zip(questions, outcomes)])
    if read:
        f1 = [m.token_f1(o.prediction, q.answers) for q, o in zip(questions, outcomes)]
        out["em"] = m.mean([m.exact_match(o.prediction, q.answers) for q, o in zip(questions, outcomes)])
        out["f1"] = m.mean(f1)
        out["right_f1>=0.5"] = m.mean([float(f >= 0.5) for f in f1])
        # the reader's own share: right among the questions whose gold article is among the first 3 shown
        held = [float(f >= 0.5) for f, q, o in zip(f1, questions, outcomes) if q.supporting & set(o.ranked[:3])]
        out["right_when_gold_in_top3"], out["gold_in_top3"] = m.mean(held), len(held)
        out["abstained"] = m.mean([float(o.abstained) for o in outcomes])
        shown = [f >= 0.5 for f, o in zip(f1, outcomes) if not o.abstained]
        out["precision_shown"] = m.mean([float(x) for x in shown]) if shown else None
        # calibration of the shown answers: is "answers this sure are right" true on news? (right: F1 >= 0.5)
        rated = [(o.confidence, float(f >= 0.5)) for f, o in zip(f1, outcomes)
                 if not o.abstained and o.confidence is not None]
        if rated:
            table, ece = m.reliability(*zip(*rated))
            out["expected_calibration_error"], out["reliability"] = ece, table
    lat = [o.latency_ms for o in outcomes]
    out["latency_p50_ms"], out["latency_p95_ms"] = m.percentile(lat, 50), m.percentile(lat, 95)
    return {key: (round(v, 4) if isinstance(v, float) else v) for key, v in out.items()}


def reader_for(readers: Sequence[Path] | None, i: int) -> Path | None:
    """The reader artifact that answers the dev question at position i when cross-fitting: readers[0] (trained
    on the odd questions) for even positions, readers[1] for odd ones; None (the shipped reader) without them."""
    return readers[i % 2] if readers else None


def bench_realtimeqa(settings: Settings, explicit_index: Path | None = None, limit: int | None = None,
                     mode: str = "hybrid", read: bool = True, progress: bool = True,
                     datasets: Path | None = None, readers: Sequence[Path] | None = None) -> tuple[dict, dict]:
    """Rows of metrics (ours with the date given and unknown, BM25 articles, BM25 45-day window) and run facts.

    `readers`: (reader artifact for the questions at even positions, the one for odd positions): each question
    answered by a reader fine-tuned without it (`python -m qa.evaluation.reader train --news odd|even`), the
    honest figure when the shipped reader trained on these questions."""
    from tqdm import tqdm

    from qa.read import neural

    questions = load_questions(datasets, limit)
    corpus = load_corpus(datasets)
    settings = bench_settings(settings, explicit_index)
    qa = build_index(settings, corpus, progress)
    qa.warm_up()
    baseline = ArticleBM25(corpus)
    rows: dict[str, dict] = {}
    for label, given in (("ours, date given", True), ("ours, date unknown", False)):
        outs = []
        for i, q in enumerate(tqdm(questions, desc=label, disable=not progress, leave=False)):
            with neural.reading_with(reader_for(readers, i)):
                outs.append(ask_ours(qa, corpus, q, q.asked if given else None, mode, read, 5))
        rows[label] = summarize(questions, outs, read)
    for label, window in (("BM25 whole articles", False), (f"BM25 {WINDOW_DAYS} days before", True)):
        outs = []
        for q in questions:
            t0 = time.perf_counter()
            ranked = baseline.rank(q.question, q.asked if window else None)
            outs.append(Outcome(tuple(ranked), "", None, False, (time.perf_counter() - t0) * 1e3))
        row = summarize(questions, outs, read=False)
        row.pop("answer_in_top_passage")
        rows[label] = row
    index = qa.index()
    extra = {"benchmark": "realtimeqa dev", "model": settings.model, "mode": mode, "articles": len(corpus.articles),
             "passages": len(index.passages), "questions": len(questions), "index": str(settings.index_dir),
             "gold": "the question's supporting record ids"}
    if readers:
        extra["read_with"] = {"even questions": str(readers[0]), "odd questions": str(readers[1])}
    elif read:  # say so: for a reader trained on these questions, this is an in-sample figure
        from qa.read import reader_name

        name = reader_name()
        where = "" if name == "features" else f" at {neural.artifact_dir()}"
        extra["read_with"] = f"every question by the reader in use ({name}{where})"
    return rows, extra


def main_build(argv: Sequence[str] | None = None) -> int:
    """Build (or resume building) the full RealTimeQA index; for a background `setsid nohup` run."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from qa.config import load_settings

    build_index(bench_settings(load_settings()), load_corpus(), progress=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main_build())
