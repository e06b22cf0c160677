"""Passage storage on disk: one JSON line per passage plus a byte-offset table, read lazily."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.index.ondisk import RangeFile
from qa.types import Passage

PASSAGES_FILE = "passages.jsonl"
OFFSETS_FILE = "passages.offsets.npy"
DATES_FILE = "passages.dates.npy"


def _to_record(p: Passage) -> dict:
    return {"id": p.id, "article_id": p.article_id, "source": p.source, "title": p.title,
            "published": p.published.isoformat() if p.published else None,
            "text": p.text, "start": p.start, "end": p.end, "headline": p.headline,
            **{k: v for k in ("url", "author", "site") if (v := getattr(p, k))}}


def _from_record(r: dict) -> Passage:
    published = dt.date.fromisoformat(r["published"]) if r["published"] else None
    return Passage(id=r["id"], article_id=r["article_id"], source=r["source"], title=r["title"],
                   published=published, text=r["text"], start=r["start"], end=r["end"],
                   headline=r.get("headline", ""), url=r.get("url"), author=r.get("author"), site=r.get("site"))


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Split row positions into maximal runs [a, b) where rows[a:b] are consecutive old rows, or all -1."""
    if not len(rows):
        return []
    new = rows < 0
    cut = np.flatnonzero((new[1:] != new[:-1]) | (~new[1:] & (rows[1:] != rows[:-1] + 1))) + 1
    bounds = [0, *cut.tolist(), len(rows)]
    return list(zip(bounds[:-1], bounds[1:]))


def write_passages(passages: Sequence[Passage], folder: Path, old: "PassageStore | None" = None,
                   old_rows: np.ndarray | None = None) -> None:
    """Write passages, their byte offsets and their date ordinals into `folder`.

    With `old` and `old_rows`, row i is a byte copy of old's record old_rows[i] where that is >= 0, and
    the next of `passages` where it is -1 (unchanged files are copied, not re-serialised).
    """
    rows = np.full(len(passages), -1, dtype=np.int64) if old_rows is None else np.asarray(old_rows, np.int64)
    if int((rows < 0).sum()) != len(passages):
        raise ValueError(f"{int((rows < 0).sum())} new rows but {len(passages)} new passages")
    if old is None and (rows >= 0).any():
        raise ValueError("old rows requested without an old passage store")
    lengths = np.zeros(len(rows), dtype=np.int64)
    dates = np.zeros(len(rows), dtype=np.int32)
    fresh = iter(passages)
    with open(folder / PASSAGES_FILE, "wb") as f:
        for a, b in _runs(rows):
            if rows[a] >= 0:
                lo, hi = int(rows[a]), int(rows[b - 1]) + 1
                f.write(old.raw(lo, hi))
                lengths[a:b] = np.diff(old.offsets[lo:hi + 1])
                dates[a:b] = old.dates[lo:hi]
                continue
            for i in range(a, b):
                p = next(fresh)
                line = (json.dumps(_to_record(p), ensure_ascii=False) + "\n").encode("utf-8")
                f.write(line)
                lengths[i] = len(line)
                dates[i] = p.published.toordinal() if p.published else 0
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    np.save(folder / OFFSETS_FILE, offsets, allow_pickle=False)
    np.save(folder / DATES_FILE, dates, allow_pickle=False)


class PassageStore:
    """Random access to stored passages without loading them all into memory.

    Records are read with pread, not a memory map (see qa.index.ondisk): a passages file truncated under
    the running process is an error for that read, not a SIGBUS.
    """

    def __init__(self, folder: Path):
        self._offsets = np.load(folder / OFFSETS_FILE, allow_pickle=False)
        self.dates = np.load(folder / DATES_FILE, allow_pickle=False)
        self._file = RangeFile(folder / PASSAGES_FILE)
        if int(self._offsets[-1]) != self._file.size or len(self.dates) != len(self):
            self._file.close()
            raise ValueError(f"{folder / PASSAGES_FILE}: offsets table does not match the file")

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @property
    def offsets(self) -> np.ndarray:
        """Byte offset of each record in the passages file (one more entry than records)."""
        return self._offsets

    def raw(self, start: int, stop: int) -> bytes:
        """The stored JSON lines of records start..stop-1, as bytes."""
        if start >= stop:
            return b""
        lo = int(self._offsets[start])
        return self._file.read(lo, int(self._offsets[stop]) - lo)

    def __getitem__(self, i: int) -> Passage:
        if not 0 <= i < len(self):
            raise IndexError(i)
        return _from_record(json.loads(self.raw(i, i + 1)))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def damaged(self) -> str | None:
        """Why the passages file can no longer be read as loaded (it shrank), or None."""
        return self._file.damaged()

    def close(self) -> None:
        """Close the passages file."""
        self._file.close()
