"""Passage storage on disk: one JSON line per passage plus a byte-offset table, read lazily."""
from __future__ import annotations

import datetime as dt
import json
import mmap
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .types import Passage

PASSAGES_FILE = "passages.jsonl"
OFFSETS_FILE = "passages.offsets.npy"
DATES_FILE = "passages.dates.npy"


def _to_record(p: Passage) -> dict:
    return {"id": p.id, "article_id": p.article_id, "source": p.source, "title": p.title,
            "published": p.published.isoformat() if p.published else None,
            "text": p.text, "start": p.start, "end": p.end, "headline": p.headline}


def _from_record(r: dict) -> Passage:
    published = dt.date.fromisoformat(r["published"]) if r["published"] else None
    return Passage(id=r["id"], article_id=r["article_id"], source=r["source"], title=r["title"],
                   published=published, text=r["text"], start=r["start"], end=r["end"],
                   headline=r.get("headline", ""))


def date_ordinals(passages: Iterable[Passage]) -> np.ndarray:
    """Publication date of each passage as a proleptic ordinal; 0 where unknown."""
    return np.fromiter((p.published.toordinal() if p.published else 0 for p in passages), dtype=np.int32)


def write_passages(passages: Sequence[Passage], folder: Path) -> None:
    """Write passages, their byte offsets and their date ordinals into `folder`."""
    offsets = np.zeros(len(passages) + 1, dtype=np.int64)
    with open(folder / PASSAGES_FILE, "wb") as f:
        for i, p in enumerate(passages):
            line = (json.dumps(_to_record(p), ensure_ascii=False) + "\n").encode("utf-8")
            f.write(line)
            offsets[i + 1] = offsets[i] + len(line)
    np.save(folder / OFFSETS_FILE, offsets, allow_pickle=False)
    np.save(folder / DATES_FILE, date_ordinals(passages), allow_pickle=False)


class PassageStore:
    """Random access to stored passages without loading them all into memory."""

    def __init__(self, folder: Path):
        self._offsets = np.load(folder / OFFSETS_FILE, allow_pickle=False)
        self.dates = np.load(folder / DATES_FILE, allow_pickle=False)
        size = (folder / PASSAGES_FILE).stat().st_size
        if int(self._offsets[-1]) != size or len(self.dates) != len(self):
            raise ValueError(f"{folder / PASSAGES_FILE}: offsets table does not match the file")
        self._file = open(folder / PASSAGES_FILE, "rb")
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else None

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i: int) -> Passage:
        if not 0 <= i < len(self):
            raise IndexError(i)
        raw = self._map[int(self._offsets[i]):int(self._offsets[i + 1])]
        return _from_record(json.loads(raw))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def close(self) -> None:
        """Release the file mapping."""
        if self._map is not None:
            self._map.close()
        self._file.close()
