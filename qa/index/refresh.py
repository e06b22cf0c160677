"""What a new index generation keeps from the previous one: the refresh plan for a changed corpus.

Each generation records, per corpus file, the rows its passages occupy, the keys of its articles and a key of
each whole record (sources.json), and the hash of every passage's embedded text (passages.keys.npy). A refresh
parses only new and changed files (qa.ingest reads the folder and applies the duplicate rule); an unchanged
file's passages are carried over by row, with their vectors, term counts and stored records. A changed file whose
records begin with every record it held before (a JSONL or feed file appended to, or only touched) keeps those
records' rows too: only the records after them are chunked. The result is what ingest.load_corpus +
chunk.chunk_articles give for the whole folder; tests hold the two together.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from qa.chunk import MAX_CHARS, chunk_articles
from qa.ingest import CorpusSource
from qa.types import Article, Passage

SOURCES_FILE = "sources.json"
KEYS_FILE = "passages.keys.npy"
KEY_BYTES = 20


def text_key(text: str) -> bytes:
    """The cache key of an embedded text (sha1 of its UTF-8 bytes)."""
    return hashlib.sha1(text.encode("utf-8")).digest()


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """(n, 20) uint8 keys of embedded texts."""
    raw = b"".join(text_key(t) for t in texts)
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(texts), KEY_BYTES).copy()


def record_key(article: Article) -> str:
    """Every field of an article that its passages are made from (sha1, 20 hex digits): two records with the same key
    chunk into the same passages."""
    fields = json.dumps(dataclasses.asdict(article), default=str, ensure_ascii=False, sort_keys=True)
    return hashlib.sha1(fields.encode("utf-8")).hexdigest()[:20]


def kept_records(old: dict | None, records: Sequence[str]) -> int:
    """How many leading records of a re-read file keep the rows the previous generation gave them: all of its
    old records when they begin the file as it is now (records appended, or the file only touched), else 0.

    Both lists hold the records the duplicate rule kept, so a file that lost records to it ("reparse") qualifies
    too: were a lost record's other copy gone, that record would now be kept and the lists would differ."""
    held = old.get("records") if old is not None else None
    if not isinstance(held, list) or not held or len(held) > len(records):
        return 0
    return len(held) if list(records[:len(held)]) == held else 0


@dataclass(frozen=True)
class Layout:
    """A new generation's rows relative to a previous one.

    old_rows[i] is the previous generation's row that row i copies, or -1 for the next of `passages`
    (the newly chunked passages, in row order). `sources` maps each corpus file to its rows, the keys of
    its articles and its status ("ok", or "reparse" when it must be parsed again next time).
    """

    passages: list[Passage]
    old_rows: np.ndarray
    sources: dict = field(default_factory=dict)
    parsed: int = 0  # files parsed (the rest were carried over)

    @property
    def carried(self) -> int:
        """Rows copied from the previous generation."""
        return int((self.old_rows >= 0).sum())


def read_sources(path: Path) -> dict | None:
    """The sources table of a generation folder, or None if it has none (an older index) or is malformed."""
    try:
        data = json.loads((path / SOURCES_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and all(map(_source_ok, data.values())) else None


def _source_ok(entry) -> bool:
    """True for a well-formed {"rows": [start, stop], "keys": [str, ...], "status": str} entry."""
    if not isinstance(entry, dict):
        return False
    rows, keys = entry.get("rows"), entry.get("keys")
    return (isinstance(rows, list) and len(rows) == 2 and all(type(r) is int for r in rows) and 0 <= rows[0] <= rows[1]
            and isinstance(keys, list) and all(isinstance(k, str) for k in keys) and isinstance(entry.get("status"), str))


def write_sources(sources: dict, folder: Path) -> None:
    """Write the sources table into a generation folder."""
    (folder / SOURCES_FILE).write_text(json.dumps(sources, ensure_ascii=False, separators=(",", ":")))


def plan(source: CorpusSource, files: dict, chunk_words: int, overlap: int, previous_files: dict | None = None,
         previous_sources: dict | None = None, chunk_chars: int = MAX_CHARS,
         chunk: Callable[..., list[Passage]] | None = None) -> Layout:
    """Read new and changed parts of the corpus, carry over unchanged ones: the rows of the next generation.

    `files` is the source's fingerprint now; `previous_files` and `previous_sources` are the live
    generation's fingerprint and per-file table (None: nothing can be carried over). `chunk` has
    chunk_articles' signature (a cluster build passes one that returns what its workers chunked).
    """
    previous_files, previous_sources = previous_files or {}, previous_sources or {}
    chunk = chunk or chunk_articles

    def unchanged(name: str) -> list[str] | None:
        """The article keys of a file the previous generation holds as it is now, or None."""
        old, now = previous_sources.get(name), files.get(name)
        if old is not None and now is not None and previous_files.get(name) == now and old.get("status") == "ok":
            return old["keys"]
        return None

    parts: list[np.ndarray] = []
    passages: list[Passage] = []
    sources: dict = {}
    row = parsed = 0
    for part in source.read(unchanged):
        if part.carried:
            start, stop = previous_sources[part.name]["rows"]
            rows = np.arange(start, stop, dtype=np.int64)
            records = previous_sources[part.name].get("records")
        else:
            records = [record_key(a) for a in part.articles]
            old = previous_sources.get(part.name) if part.name is not None and part.name in previous_files else None
            kept = kept_records(old, records)
            start, stop = old["rows"] if kept else (0, 0)
            new = chunk(part.articles[kept:], chunk_words, overlap, chunk_chars)
            passages += new
            rows = np.concatenate([np.arange(start, stop, dtype=np.int64), np.full(len(new), -1, dtype=np.int64)])
            parsed += part.name is not None
        parts.append(rows)
        if part.name is not None:
            sources[part.name] = {"rows": [row, row + len(rows)], "keys": list(part.keys),
                                  "status": "ok" if part.complete else "reparse"}
            if isinstance(records, list):
                sources[part.name]["records"] = records
        row += len(rows)
    old_rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return Layout(passages, old_rows, sources, parsed)


def _gather(layout: Layout, new: np.ndarray, old: np.ndarray | None, width: int, dtype) -> np.ndarray:
    """Rows in layout order: carried rows from `old` (the previous generation), the others from `new`."""
    out = np.zeros((len(layout.old_rows), width), dtype=dtype)
    kept = np.flatnonzero(layout.old_rows >= 0)
    if len(kept):
        out[kept] = old[layout.old_rows[kept]]
    out[layout.old_rows < 0] = new
    return out


def gather_vectors(layout: Layout, new_vectors: np.ndarray, old_vectors: np.ndarray | None) -> np.ndarray:
    """All rows' vectors: carried rows from the previous generation, new rows from `new_vectors`."""
    dim = new_vectors.shape[1] if old_vectors is None else old_vectors.shape[1]
    return _gather(layout, new_vectors, old_vectors, dim, np.float32)


def gather_keys(layout: Layout, new_keys: np.ndarray, old_keys: np.ndarray | None) -> np.ndarray:
    """All rows' text keys, carried and new, in row order."""
    return _gather(layout, new_keys, old_keys, KEY_BYTES, np.uint8)
