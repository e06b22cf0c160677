"""Each passage's spaCy parse, made when the index is built, so an ask reads it instead of parsing.

The reader re-scores its candidate spans with spaCy's parse of the passages it reads (qa.read.rescore): about 44
ms of a news ask on 2 cores, the largest part after the reader's own windows. An index stores that parse for
every passage, whole, as a spaCy DocBin record (its public serialisation, with only the annotations the reader
uses; about 2.5 KB a passage), beside the passage records:

    parses.bin           the records, one after another (an empty record: no stored parse, spaCy parses it)
    parses.offsets.npy   int64 byte offsets, one more than the passages

Parsing is a build stage like embedding: `StagedParser` parses the new passages a chunk at a time into the
build's staging folder, keyed by text, so a killed build resumes where it stopped, and logs its progress and
rate. A refresh copies the records of carried rows byte for byte. The parser (package and version) is part of
the build settings (qa.index.manifest), so a new spaCy model rebuilds the parses; the vectors are reused.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from qa.index.ondisk import RangeFile
from qa.index.refresh import KEY_BYTES, text_key

logger = logging.getLogger(__name__)

PARSES_FILE = "parses.bin"
PARSE_OFFSETS_FILE = "parses.offsets.npy"
# what the reader reads of a parse (qa.read.rescore, features, candidates, expected); ORTH and SPACY always
ATTRS = ("TAG", "POS", "DEP", "HEAD", "ENT_IOB", "ENT_TYPE", "LEMMA", "SENT_START")
PARSES_STAGING = "parses"  # the staged chunks, inside the build's staging folder
CHUNK = 2000  # passages per staged chunk: about 5 MB, a minute of parsing on one core
BATCH = 64  # texts per nlp.pipe batch
MIN_PER_WORKER = 2000  # texts to parse for each worker process started (fewer: parsed in the building process)


def to_bytes(docs: Sequence) -> list[bytes]:
    """One DocBin record (zlib-compressed by spaCy) per Doc, with ATTRS only."""
    from spacy.tokens import DocBin

    out = []
    for doc in docs:
        db = DocBin(attrs=list(ATTRS), store_user_data=False)
        db.add(doc)
        out.append(db.to_bytes())
    return out


def parse_texts(texts: Sequence[str]) -> list[bytes]:
    """The stored records of texts: parsed whole by the reader's spaCy pipeline (one nlp.pipe batch at a time)."""
    from qa.read.nlp import get_nlp

    nlp = get_nlp()
    return to_bytes(list(nlp.pipe(texts, batch_size=BATCH)))


class StagedParser:
    """Parses texts a chunk at a time into `folder` (the build's staging folder), reusing chunks saved there.

    A chunk is two files written to temp names and renamed, the index (keys, offsets) last, so a chunk whose
    index is on disk is whole."""

    def __init__(self, folder: Path, chunk: int = CHUNK, parse: Callable[[Sequence[str]], list[bytes]] | None = None):
        self.folder, self.chunk, self.parse = Path(folder), max(1, int(chunk)), parse  # None: parse_texts
        self._where: dict[bytes, tuple[Path, int, int]] = {}

    def _load_saved(self) -> None:
        """Where each saved record lies (its chunk's .bin file, offset, length), by text key."""
        from qa.read.nlp import parser_name

        self._where.clear()
        for index in sorted(self.folder.glob("parses-*.npz")):
            blob = index.with_suffix(".bin")
            try:
                with np.load(index, allow_pickle=False) as z:
                    keys, offsets, name = z["keys"], z["offsets"], str(z["parser"])
                if name != parser_name() or len(offsets) != len(keys) + 1 or blob.stat().st_size != offsets[-1]:
                    continue
            except (OSError, ValueError, KeyError) as e:  # a foreign or damaged chunk: parse those again
                logger.warning("ignoring staged parses %s: %s", index, e)
                continue
            raw = keys.tobytes()
            for i in range(len(keys)):
                self._where[raw[i * KEY_BYTES:(i + 1) * KEY_BYTES]] = (blob, int(offsets[i]),
                                                                      int(offsets[i + 1] - offsets[i]))

    def run(self, texts: Sequence[str], progress: bool = False) -> None:
        """Parse every text not staged yet, saving a chunk at a time; progress and rate logged per chunk."""
        self._load_saved()
        todo: dict[bytes, str] = {}
        for t in texts:
            key = text_key(t)
            if key not in self._where:
                todo.setdefault(key, t)
        if len(todo) < len(texts):
            logger.info("parses: %d of %d passages already staged in %s", len(texts) - len(todo), len(texts),
                        self.folder)
        if not todo:
            return
        self._parse_todo(list(todo.items()), len(texts), progress)
        self._load_saved()

    def _parse_todo(self, items: list[tuple[bytes, str]], total: int, progress: bool) -> None:
        """Parse and save the (key, text) items, a chunk at a time (a cluster build does this its own way): in
        worker processes, one a core, when there are enough of them to pay for loading spaCy in each."""
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=total - len(items), desc="parsing", unit="passage")
        start, done = time.perf_counter(), 0
        batches = [items[a:a + BATCH * 4] for a in range(0, len(items), BATCH * 4)]
        with _workers(len(items) if self.parse is None else 0) as pool:
            parse = self.parse or parse_texts
            results = pool.map(parse_texts, [[t for _, t in b] for b in batches]) if pool \
                else (parse([t for _, t in b]) for b in batches)
            keys: list[bytes] = []
            records: list[bytes] = []
            for batch, got in zip(batches, results):
                keys += [k for k, _ in batch]
                records += got
                if bar is not None:
                    bar.update(len(batch))
                if len(records) >= self.chunk or batch is batches[-1]:
                    save_parses(self.folder, keys, records)
                    done += len(records)
                    keys, records = [], []
                    rate = done / max(time.perf_counter() - start, 1e-9)
                    logger.info("parsed %d of %d passages (%.1f passages/s, about %.0f min left)",
                                total - len(items) + done, total, rate, (len(items) - done) / max(rate, 1e-9) / 60)
        if bar is not None:
            bar.close()

    def record(self, text: str) -> bytes:
        """The staged record of a text run() was given (b"" if it has none)."""
        where = self._where.get(text_key(text))
        if where is None:
            return b""
        path, offset, length = where
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(length)


@contextlib.contextmanager
def _workers(n: int) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of spaCy worker processes, one a core, for `n` texts to parse; None (parse here) when there are too
    few to pay for starting them (each loads spaCy: about 2 s) or only one core."""
    procs = min(os.cpu_count() or 1, n // MIN_PER_WORKER)
    if procs < 2:
        yield None
        return
    import multiprocessing

    # spawned, not forked: the parent holds onnxruntime's and the encoder's threads
    with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn"), initializer=_load) as pool:
        yield pool


def _load() -> None:
    from qa.read.nlp import get_nlp

    get_nlp()


def save_parses(folder: Path, keys: Sequence[bytes], records: Sequence[bytes]) -> None:
    """Save one chunk of parse records with their text keys under `folder`: the records, then their index, each
    written to a temp name, fsynced and renamed."""
    from qa.read.nlp import parser_name

    folder.mkdir(parents=True, exist_ok=True)
    name = f"parses-{time.time_ns()}-{os.getpid()}"
    offsets = np.zeros(len(records) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in records], out=offsets[1:])
    tmp_blob, tmp_index = folder / f".{name}.tmp.bin", folder / f".{name}.tmp.npz"
    with open(tmp_blob, "wb") as f:
        for r in records:
            f.write(r)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp_blob, folder / f"{name}.bin")
    keys_arr = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), KEY_BYTES)
    np.savez(tmp_index, keys=keys_arr, offsets=offsets, parser=np.array(parser_name()))
    with open(tmp_index, "rb") as f:
        os.fsync(f.fileno())
    os.rename(tmp_index, folder / f"{name}.npz")


def write_parses(folder: Path, texts: Sequence[str], staged: StagedParser | None, old: "ParseStore | None",
                 old_rows: np.ndarray) -> None:
    """Write the generation's parse records: row i copies old's record old_rows[i] where that is >= 0 (an empty
    record if old has none), else takes the staged record of the next of `texts` (the new passages, in order)."""
    from qa.index.passages import _runs

    rows = np.asarray(old_rows, dtype=np.int64)
    lengths = np.zeros(len(rows), dtype=np.int64)
    fresh = iter(texts)
    with open(folder / PARSES_FILE, "wb") as f:
        for a, b in _runs(rows):
            if rows[a] >= 0:
                if old is None:
                    continue
                lo, hi = int(rows[a]), int(rows[b - 1]) + 1
                f.write(old.raw(lo, hi))
                lengths[a:b] = np.diff(old.offsets[lo:hi + 1])
                continue
            for i in range(a, b):
                record = staged.record(next(fresh)) if staged is not None else b""
                f.write(record)
                lengths[i] = len(record)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    np.save(folder / PARSE_OFFSETS_FILE, offsets, allow_pickle=False)


@dataclass
class ParseStore:
    """Random access to a generation's stored parses (pread, as qa.index.passages)."""

    offsets: np.ndarray
    file: RangeFile

    @classmethod
    def open(cls, folder: Path, rows: int) -> "ParseStore | None":
        """The generation's store, or None when it has none (built without parses); ValueError if malformed."""
        if not (folder / PARSES_FILE).is_file():
            return None
        offsets = np.load(folder / PARSE_OFFSETS_FILE, allow_pickle=False)
        file = RangeFile(folder / PARSES_FILE)
        if offsets.ndim != 1 or len(offsets) != rows + 1 or int(offsets[-1]) != file.size:
            file.close()
            raise ValueError(f"{folder / PARSE_OFFSETS_FILE} does not match {PARSES_FILE} and the passages")
        return cls(offsets, file)

    def raw(self, start: int, stop: int) -> bytes:
        """The records of rows start..stop-1, as bytes."""
        lo = int(self.offsets[start])
        return self.file.read(lo, int(self.offsets[stop]) - lo)

    def loader(self, row: int) -> Callable[[], object]:
        """A function giving row's stored Doc, or None (no record, or one that does not read back)."""
        return lambda: _doc(self.raw(row, row + 1), row)

    def damaged(self) -> str | None:
        """Why the parses file can no longer be read as loaded (it shrank), or None."""
        return self.file.damaged()

    def close(self) -> None:
        """Close the parses file."""
        self.file.close()


def _doc(record: bytes, row: int):
    if not record:
        return None
    from qa.read.nlp import from_bytes

    try:
        return from_bytes(record)
    except Exception as exc:  # a damaged record: this passage is parsed as it is read instead
        logger.warning("stored parse of passage row %d does not read back (%s); parsing it again", row, exc)
        return None
