"""Shared fixtures: tiny inline corpora written to tmp_path and a QA over them with the hash encoder."""
from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed import HashingEncoder
from qa.pipeline import QA

# name -> (title, ISO date line, body paragraphs); each article has words no other article uses.
ARTICLES: dict[str, tuple[str, str, list[str]]] = {
    "iswaran.txt": (
        "Singapore transport minister resigns",
        "2023-10-20",
        ["Mr. S. Iswaran, the transport minister of Singapore, resigned on Friday after a bribery "
         "investigation. He was charged with corruption offences in court.",
         "The U.S. embassy declined to comment. Prime Minister Lee said the case showed that "
         "integrity mattered more than rank."],
    ),
    "floods.txt": (
        "Floods kill twelve in Ha Giang",
        "2020-10-01",
        ["Heavy monsoon rain caused floods and landslides in Ha Giang province. Twelve people died "
         "and about 3,000 homes were damaged.",
         "Rescue teams used boats to reach villages cut off by the water."],
    ),
    "bridge.txt": (
        "Da Nang opens dragon bridge",
        "2021-03-15",
        ["The city of Da Nang opened a new steel bridge shaped like a dragon over the Han river. "
         "The bridge breathes fire on weekend nights.",
         "Engineers from Japan designed the lighting for the structure."],
    ),
    "vaccine.txt": (
        "Vaccination campaign reaches rural schools",
        "2022-06-01",
        ["Health workers vaccinated forty thousand children against measles in mountain schools. "
         "The campaign was funded by the health ministry.",
         "Parents queued before dawn at the clinics."],
    ),
}


def article_text(title: str, date: str | None, paragraphs: list[str]) -> str:
    """A .txt article: title line, blank line, date line, blank line, paragraphs."""
    head = f"{title}\n\n" + (f"{date}\n\n" if date else "")
    return head + "\n\n".join(paragraphs) + "\n"


def write_article(folder: Path, name: str, title: str, date: str | None, *paragraphs: str) -> Path:
    """Write one article file into `folder` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(article_text(title, date, list(paragraphs)), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_qa_env(monkeypatch):
    """Keep the caller's QA_* environment out of the tests."""
    for name in ("QA_CORPUS_DIR", "QA_INDEX_DIR", "QA_MODEL", "QA_DATASETS_DIR", "QA_RAY", "QA_READER",
                 "QA_PARSE_PASSAGES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_corpus(tmp_path):
    """Factory: write articles (default: ARTICLES) into tmp_path/<name> and return the folder."""

    def make(articles: dict | None = None, name: str = "corpus") -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, (title, date, paragraphs) in (ARTICLES if articles is None else articles).items():
            write_article(folder, file_name, title, date, *paragraphs)
        return folder

    return make


@pytest.fixture
def corpus(make_corpus) -> Path:
    """The default four-article corpus."""
    return make_corpus()


@pytest.fixture
def settings(corpus, tmp_path) -> Settings:
    """Hash-encoder settings over the default corpus; the corpus is re-checked on every ask, and a question
    waits for the refresh a change needs (the chat waits at most Settings().refresh_wait_s)."""
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "idx", model="hash", chunk_words=30,
                    refresh_interval_s=0, refresh_wait_s=60)


@pytest.fixture
def encoder() -> HashingEncoder:
    """The deterministic fake encoder."""
    return HashingEncoder()


@pytest.fixture
def hash_qa(settings) -> QA:
    """A QA over the default corpus with the hash encoder."""
    return QA(settings)
