"""A news-like benchmark corpus written from public datasets: one dated .txt article per paragraph."""
from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from qa.chunk import chunk_article
from qa.evaluation.datasets import BENCHMARKS, jsonl, squad_paragraphs
from qa.types import Article

SOURCES = (BENCHMARKS["squad"], BENCHMARKS["squadshifts"])
NFCORPUS = f"{BENCHMARKS['nfcorpus']}/corpus.jsonl"


@dataclass(frozen=True)
class Doc:
    """One article to write, with the questions (if any) its paragraph answers."""

    name: str
    title: str
    date: dt.date
    text: str
    questions: tuple[str, ...] = ()

    def file_text(self) -> str:
        """The .txt layout ingest reads: title, date, body."""
        return f"{self.title}\n\n{self.date.isoformat()}\n\n{self.text}\n"


def _date(key: str) -> dt.date:
    days = int.from_bytes(hashlib.sha1(key.encode()).digest()[:4], "little") % 3650
    return dt.date(2015, 1, 1) + dt.timedelta(days=days)


def iter_docs(datasets: Path):
    """SQuAD dev, then SQuADShifts new_wiki paragraphs, then NFCorpus abstracts, as dated articles."""
    for rel in SOURCES:
        path = Path(datasets) / rel
        if not path.is_file():
            continue
        for title, j, para in squad_paragraphs(path):
            name = f"{Path(rel).parts[0]}-{hashlib.sha1(title.encode()).hexdigest()[:8]}-{j:03d}.txt"
            questions = tuple(q["question"] for q in para["qas"])
            yield Doc(name, title.replace("_", " "), _date(name), para["context"].strip(), questions)
    path = Path(datasets) / NFCORPUS
    if path.is_file():
        for d in jsonl(path):
            if d.get("title") and d.get("text"):
                name = f"nfcorpus-{d['_id']}.txt"
                yield Doc(name, d["title"].strip(), _date(name), d["text"].strip())


def docs_for(datasets: Path, passages: int, chunk_words: int = 90, overlap: int = 1) -> list[Doc]:
    """The first articles whose passages add up to at least `passages` (fewer if the data runs out)."""
    out, n = [], 0
    for doc in iter_docs(datasets):
        if n >= passages:
            break
        art = Article(id=doc.name, title=doc.title, published=doc.date, byline=None, text=doc.text,
                      source=doc.name)
        n += len(chunk_article(art, chunk_words, overlap))
        out.append(doc)
    return out


def write_docs(docs: list[Doc], folder: Path) -> None:
    """Write each article as folder/<name>."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        (folder / doc.name).write_text(doc.file_text(), encoding="utf-8")


def sample_questions(docs: list[Doc], n: int, seed: int = 0) -> list[str]:
    """A reproducible sample of questions about the written articles."""
    pool = [q for d in docs for q in d.questions]
    return random.Random(seed).sample(pool, min(n, len(pool)))
