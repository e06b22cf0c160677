"""What a new index generation keeps from the previous one: the refresh plan for a changed corpus.

Each generation records, per corpus file, the rows its passages occupy, the keys of its articles and a key of
each whole record (sources.json), and the hash of every passage's embedded text (passages.keys.npy). A refresh
parses only new and changed files (qa.ingest reads the folder and applies the duplicate rule); an unchanged
file's passages are carried over by row, with their vectors, term counts and stored records. A changed file (a JSONL
or feed file appended to, a record corrected, the file only touched) keeps the rows of every record it still holds
exactly as before, at the same place in the file: only its new and changed records are chunked (sources.json keeps
each record's key and passage count; a table without the counts, written before them, keeps the rows only of old
records that still begin the file). The result is what ingest.load_corpus + chunk.chunk_articles give for the whole
folder; tests hold the two together.
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


def record_spans(old: dict | None, records: Sequence[str]) -> tuple[list[tuple[int, int] | None], bool]:
    """(for each record of a re-read file, the previous generation's rows [start, stop) it keeps, or None when it is
    chunked anew; whether each span is its own record's, so the spans give each record's passage count).

    With each old record's passage count in the table, every record whose key is among the old ones keeps its rows
    (the key holds the record's index in the file, through its article id, so a record keeps rows only in its old
    place). Without the counts, kept_records(): the old records keep their rows, as one span given to the first, when
    they begin the file as it is now."""
    held, counts = (old.get("records"), old.get("counts")) if old is not None else (None, None)
    if isinstance(held, list) and isinstance(counts, list) and len(counts) == len(held) \
            and all(type(n) is int and n >= 0 for n in counts) and sum(counts) == old["rows"][1] - old["rows"][0]:
        spans: dict[str, list[tuple[int, int]]] = {}
        at = old["rows"][0]
        for key, n in zip(held, counts):
            spans.setdefault(key, []).append((at, at + n))
            at += n
        return [spans[key].pop(0) if spans.get(key) else None for key in records], True
    kept = kept_records(old, records)
    if not kept:
        return [None] * len(records), True
    start, stop = old["rows"]
    return [(start, stop)] + [(stop, stop)] * (kept - 1) + [None] * (len(records) - kept), kept == 1


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
            counts = previous_sources[part.name].get("counts")
        else:
            records = [record_key(a) for a in part.articles]
            old = previous_sources.get(part.name) if part.name is not None and part.name in previous_files else None
            spans, exact = record_spans(old, records)
            new = chunk([a for a, span in zip(part.articles, spans) if span is None], chunk_words, overlap,
                        chunk_chars)
            of: dict[str, list[Passage]] = {}
            for p in new:
                of.setdefault(p.article_id, []).append(p)
            # each record's passages by its article id (ids of one file's records differ: they hold its index)
            known = len({a.id for a in part.articles}) == len(part.articles) and \
                sum(len(of.get(a.id, ())) for a, span in zip(part.articles, spans) if span is None) == len(new)
            if all(span is None for span in spans):  # nothing kept: the chunked passages as they come
                passages += new
                rows = np.full(len(new), -1, dtype=np.int64)
                counts = [len(of.get(a.id, ())) for a in part.articles] if known else None
            elif not known:
                raise RuntimeError(f"the passages chunked from {part.name} do not match its records")
            else:
                pieces, counts = [], []
                for a, span in zip(part.articles, spans):
                    if span is None:
                        mine = of.get(a.id, [])
                        passages += mine
                        pieces.append(np.full(len(mine), -1, dtype=np.int64))
                    else:
                        pieces.append(np.arange(span[0], span[1], dtype=np.int64))
                    counts.append(len(pieces[-1]))
                rows = np.concatenate(pieces)
                if not exact:
                    counts = None  # old records kept as one span (a table without counts): their counts are not known
            parsed += part.name is not None
        parts.append(rows)
        if part.name is not None:
            sources[part.name] = {"rows": [row, row + len(rows)], "keys": list(part.keys),
                                  "status": "ok" if part.complete else "reparse"}
            if isinstance(records, list):
                sources[part.name]["records"] = records
                if isinstance(counts, list) and len(counts) == len(records):
                    sources[part.name]["counts"] = counts
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
