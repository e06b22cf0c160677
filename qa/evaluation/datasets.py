"""Question sets, and public benchmarks read in place (SQuAD v1.1 dev, SQuADShifts new_wiki, BEIR NFCorpus).

Also where those datasets are (datasets_dir) and where the benchmarks keep their indexes (bench_index_dir).
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from typing import Iterator

from qa import index as index_mod
from qa.config import REPO_ROOT, Settings
from qa.dates import as_of_day
from qa.types import Article

DEFAULT_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
BENCH_DIR = REPO_ROOT / ".qa-bench"  # benchmark indexes, kept between runs

BENCHMARKS = {
    "squad": "squad-v1.1-dev/dev-v1.1.json",
    "squadshifts": "squadshifts/new_wiki_v1.0.json",
    "nfcorpus": "beir-nfcorpus",
}


def datasets_dir(explicit: Path | None = None) -> Path:
    """The public datasets folder: `explicit` (--datasets), else $QA_DATASETS_DIR, else ../shared/datasets."""
    if explicit is not None:
        return Path(explicit)
    value = os.environ.get("QA_DATASETS_DIR")
    return Path(value).expanduser() if value else DEFAULT_DATASETS


@dataclass(frozen=True)
class Case:
    """One question to score: gold answers, gold source and category (DESIGN.md question-set format)."""

    question: str
    answers: tuple[str, ...] = ()
    source: str = ""
    category: str = "uncategorised"
    turns: tuple[str, ...] = ()  # earlier turns of a follow-up; `question` is the last one
    gains: tuple[tuple[str, float], ...] = ()  # graded relevance (BEIR); default {source: 1}
    question_date: str | None = None  # ISO day the question was asked: passed to ask() as as_of

    @property
    def answerable(self) -> bool:
        """False when the corpus does not answer the question (no gold answers, no graded relevance)."""
        return bool(self.answers or self.gains)

    def relevance(self) -> dict[str, float]:
        """Relevance gain per source."""
        return dict(self.gains) if self.gains else ({self.source: 1.0} if self.source else {})


def _case(record: dict, where: str) -> Case:
    turns = record.get("turns")
    if isinstance(turns, str):  # CSV: turns separated by " || "
        turns = [t.strip() for t in turns.split("||") if t.strip()]
    question = turns[-1] if turns else record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"{where}: no question")
    answers = record.get("answers") or []
    if isinstance(answers, str):  # CSV: answers separated by "|"
        answers = [a.strip() for a in answers.split("|") if a.strip()]
    day = record.get("question_date") or None
    if day is not None:
        try:
            day = as_of_day(day).isoformat()
        except ValueError:
            raise ValueError(f"{where}: question_date must be YYYY-MM-DD, not {day!r}") from None
    return Case(question=question, answers=tuple(answers), source=record.get("source") or "",
                category=record.get("category") or "uncategorised",
                turns=tuple(turns[:-1]) if turns else (), question_date=day)


def load_questions(path: Path) -> list[Case]:
    """Cases from a JSONL or CSV question set; ValueError names the file and line of a bad record."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"question set not found: {path}")
    cases = []
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):
                cases.append(_case(row, f"{path}:{i}"))
    else:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{i}: not JSON ({exc.msg})") from None
                cases.append(_case(record, f"{path}:{i}"))
    if not cases:
        raise ValueError(f"no questions in {path}")
    return cases


def squad_paragraphs(path: Path) -> Iterator[tuple[str, int, dict]]:
    """(title as in the file, position in its article, paragraph dict) of each paragraph in a SQuAD-format file."""
    for a in json.loads(Path(path).read_text(encoding="utf-8"))["data"]:
        for j, para in enumerate(a["paragraphs"]):
            yield a["title"], j, para


def jsonl(path: Path) -> Iterator[dict]:
    """Each line of a JSON-lines file (BEIR's corpus.jsonl, queries.jsonl) as a dict."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def _squad(path: Path) -> tuple[list[Article], list[Case], str]:
    articles, cases = [], []
    for raw_title, j, para in squad_paragraphs(path):
        title = raw_title.replace("_", " ")
        source = f"{raw_title}#{j}"
        articles.append(Article(id=hashlib.sha1(source.encode()).hexdigest()[:16], title=title,
                                published=None, byline=None, text=para["context"], source=source))
        for qa in para["qas"]:
            answers = tuple(dict.fromkeys(x["text"] for x in qa["answers"]))
            cases.append(Case(question=qa["question"], answers=answers, source=source, category=title))
    return articles, cases, _fingerprint(path)


def _nfcorpus(folder: Path) -> tuple[list[Article], list[Case], str]:
    articles = [Article(id=hashlib.sha1(d["_id"].encode()).hexdigest()[:16], title=d.get("title") or "",
                        published=None, byline=None, text=d["text"], source=d["_id"])
                for d in jsonl(folder / "corpus.jsonl")]
    queries = {d["_id"]: d["text"] for d in jsonl(folder / "queries.jsonl")}
    qrels: dict[str, dict[str, float]] = {}
    with open(folder / "qrels" / "test.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = float(row["score"])
    cases = [Case(question=queries[q], source=max(g, key=g.get), category="test",
                  gains=tuple(sorted(g.items())), answers=())
             for q, g in sorted(qrels.items()) if q in queries]
    return articles, cases, _fingerprint(folder / "corpus.jsonl")


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def load_benchmark(name: str, datasets: Path | None = None, limit: int | None = None,
                   seed: int = 0) -> tuple[list[Article], list[Case], str]:
    """(articles, cases, fingerprint) of a public benchmark; `limit` samples that many cases reproducibly."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    path = datasets_dir(datasets) / BENCHMARKS[name]
    if not path.exists():
        raise ValueError(f"benchmark data not found: {path} (set --datasets or QA_DATASETS_DIR)")
    articles, cases, fingerprint = _nfcorpus(path) if name == "nfcorpus" else _squad(path)
    if limit is not None and limit < len(cases):
        cases = random.Random(seed).sample(cases, limit)
    return articles, cases, fingerprint


def bench_index_dir(name: str, settings: Settings) -> Path:
    """The folder a benchmark's index is kept in, one per build settings (.qa-bench/NAME-HASH)."""
    key = json.dumps(index_mod.build_settings(settings, 0), sort_keys=True)
    return BENCH_DIR / f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
