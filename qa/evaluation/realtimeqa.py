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


def bench_settings(settings: Settings, name: str = FOLDER) -> Settings:
    """The settings with the index kept under .qa-bench/<name> (model and chunking unchanged)."""
    return settings.with_overrides(index_dir=BENCH_DIR / name)


def build_index(settings: Settings, corpus: Corpus, progress: bool = True):
    """The QA over the corpus, its index built (or resumed, or loaded) under settings.index_dir."""
    from qa.pipeline import QA

    qa = QA(settings, source=ArticlesSource(corpus.articles, corpus.fingerprint))
    t0 = time.perf_counter()
    index = qa.index(progress=progress)
    logger.info("index ready: %d passages in %.0f s", len(index.passages), time.perf_counter() - t0)
    return qa


def main_build(argv: Sequence[str] | None = None) -> int:
    """Build (or resume building) the full RealTimeQA index; for a background `setsid nohup` run."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from qa.config import load_settings

    build_index(bench_settings(load_settings()), load_corpus(), progress=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main_build())
