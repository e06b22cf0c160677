"""SQuAD v1.1 dev split by whole articles (fitting vs test), a QA over its paragraphs, and the reader on gold ones."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from qa.config import Settings
from qa.embed import get_encoder
from qa.evaluation.datasets import Case, bench_index_dir, load_benchmark
from qa.ingest import ArticlesSource
from qa.pipeline import QA
from qa.types import Article

PARTS = {"fit": (0, 1), "test": (2, 3), "all": (0, 1, 2, 3), "holdout": (0, 1)}  # article position mod 4
# "holdout": the fitting split's questions on the paragraphs the neural reader's training held out
# (qa.evaluation.reader.data.training_data), so fits on it see the reader as it is on new text.


def reader_holdout() -> set[tuple[str, str]]:
    """(question, paragraph text) of the neural reader's SQuAD holdout questions."""
    from qa.evaluation.reader.data import training_data

    return {(e["question"], e["context"]) for e in training_data()[1] if e["source"] == "squad-dev-fit"}


def title_positions(articles) -> dict[str, int]:
    """Position of each article title in the benchmark file; SQuAD splits are made of whole articles."""
    return {t: i for i, t in enumerate(dict.fromkeys(a.title for a in articles))}


def _split(part: str, limit: int | None, seed: int,
           datasets: Path | None) -> tuple[list[Article], list[Case], str]:
    articles, cases, fingerprint = load_benchmark("squad", datasets)
    pos = title_positions(articles)
    cases = [c for c in cases if pos[c.category] % 4 in PARTS[part]]
    if part == "holdout":
        held, text = reader_holdout(), {a.source: a.text for a in articles}
        cases = [c for c in cases if (c.question, text[c.source]) in held]
    if limit is not None and limit < len(cases):
        cases = [cases[i] for i in sorted(np.random.default_rng(seed).choice(len(cases), limit, replace=False))]
    return articles, cases, fingerprint


def squad_part(part: str, limit: int | None = None, seed: int = 0,
               datasets: Path | None = None) -> tuple[list[Article], list[Case]]:
    """All SQuAD dev paragraphs, and the questions of one split of its articles (a sample of `limit`)."""
    articles, cases, _ = _split(part, limit, seed, datasets)
    return articles, cases


def benchmark_qa(settings: Settings, setup: str, part: str, limit: int | None = None, seed: int = 0,
                 datasets: Path | None = None) -> tuple[QA, list[Article], list[Case]]:
    """A QA over all SQuAD paragraphs ("open") or the even-position articles only ("half"), and the questions.

    In "half", questions about the other articles lose their answers: the corpus does not answer them.
    """
    articles, cases, fingerprint = _split(part, limit, seed, datasets)
    if setup == "half":
        pos = title_positions(articles)
        articles = [a for a in articles if pos[a.title] % 2 == 0]
        kept = {a.title for a in articles}
        cases = [c if c.category in kept else Case(c.question, (), "", c.category) for c in cases]
    index_dir = bench_index_dir(f"squad-{setup}", settings)
    s = settings.with_overrides(index_dir=index_dir, answer_threshold=0.0)
    return QA(s, source=ArticlesSource(articles, {index_dir.name: [len(articles), fingerprint]})), articles, cases


def gold_readings(settings: Settings, part: str, limit: int | None = None, seed: int = 0,
                  weights: np.ndarray | None = None, progress: bool = True, desc: str = "reader",
                  datasets: Path | None = None) -> Iterator[tuple[Case, object, object, np.ndarray, str]]:
    """The reader on each question's gold paragraph: (case, analysed question, candidates, scores, paragraph)."""
    from tqdm import tqdm

    from qa.read import analyse, score_texts

    articles, cases = squad_part(part, limit, seed, datasets)
    text = {a.source: a.text for a in articles}
    encoder = get_encoder(settings.model)
    for case in tqdm(cases, desc=desc, disable=not progress, leave=False):
        q = analyse(case.question)
        (candidates, scores), = score_texts(q, [text[case.source]], weights, encoder)
        yield case, q, candidates, scores, text[case.source]
