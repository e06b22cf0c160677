"""Each passage's spaCy parse, made when the index is built, so an ask reads it instead of parsing.

The reader re-scores its candidate spans with spaCy's parse of the passages it reads (qa.read.rescore): about 44
ms of a news ask on 2 cores, the largest part after the reader's own windows. An index stores that parse for
every passage, whole, as a spaCy DocBin record (its public serialisation, with only the annotations the reader
uses; about 2.5 KB a passage), beside the passage records:

    parses.bin           the records, one after another (an empty record: no stored parse, spaCy parses it)
    parses.offsets.npy   int64 byte offsets, one more than the passages

Parsing is a build stage like embedding: `StagedParser` parses the new passages a chunk at a time into the
build's staging folder, keyed by text, so a killed build resumes where it stopped, and logs its progress and
rate; with thousands to parse, in new Python processes, one a core (`python -m qa.index.parse_worker`), on a
cluster build in Ray actors (qa.index.distributed). A refresh copies the records of carried rows byte for byte.
The parser (package and version) is recorded in the manifest as a SOFT build setting (qa.index.manifest): an
index without parses, or with another parser's, still serves, and the next build carries its rows and vectors
over and parses them.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from qa.index.ondisk import RangeFile
from qa.index.refresh import KEY_BYTES, text_key

logger = logging.getLogger(__name__)

PARSES_FILE = "parses.bin"
PARSE_OFFSETS_FILE = "parses.offsets.npy"
PARSES_STAGING = "parses"  # the staged chunks, inside the build's staging folder
CHUNK = 2000  # passages per staged chunk: about 5 MB, a minute of parsing on one core
BATCH = 64  # texts parsed at a time in the building process (a serving chat's asks wait at most that long for spaCy)
WORKER_BATCH = 256  # texts a worker process parses at a time
MIN_PER_WORKER = 2000  # texts to parse for each worker process started (fewer: parsed in the building process)
COPY_ROWS = 10_000  # carried records copied this many at a time (about 25 MB)
POLL_S = 2.0  # how often the building process looks at what its workers have saved


def parse_texts(texts: Sequence[str]) -> list[bytes]:
    """The stored records of texts: each parsed whole by the reader's spaCy pipeline (qa.read.nlp.records)."""
    from qa.read.nlp import records

    return records(texts)


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
            except Exception as e:  # noqa: BLE001 - a foreign or damaged chunk (any way np.load fails): parse again
                logger.warning("ignoring staged parses %s: %s", index, e)
                continue
            raw = keys.tobytes()
            for i in range(len(keys)):
                self._where[raw[i * KEY_BYTES:(i + 1) * KEY_BYTES]] = (blob, int(offsets[i]),
                                                                      int(offsets[i + 1] - offsets[i]))

    def run(self, texts: Sequence[str], progress: bool = False, previous=None) -> None:
        """Parse every text not staged yet, saving a chunk at a time; progress and rate logged per chunk. The records
        of texts `previous` (an Index with usable parses, or None) holds are copied, not parsed again."""
        self._load_saved()
        if previous is not None and previous.parses is not None:
            self._reuse(texts, previous)
        todo: dict[bytes, str] = {}
        staged = 0
        for t in texts:
            key = text_key(t)
            if key in self._where:
                staged += 1
            else:
                todo.setdefault(key, t)  # a text repeated (copies of one story) is parsed once
        if staged:
            logger.info("parses: %d of %d passages already staged in %s", staged, len(texts), self.folder)
        if not todo:
            return
        self._parse_todo(list(todo.items()), len(todo) + staged, progress)  # distinct texts
        self._load_saved()
        missing = sum(1 for key in todo if key not in self._where)
        if missing:
            raise RuntimeError(f"{missing} of {len(texts)} passages have no saved parse in {self.folder} after parsing; "
                               "nothing was published")

    def _reuse(self, texts: Sequence[str], previous) -> None:
        """Stage the records `previous` holds for texts not staged yet (a build that could not carry its files' rows
        over; it reads every passage of `previous`)."""
        wanted = {text_key(t) for t in texts} - set(self._where)
        chunks, reused = Chunks(self.folder, self.chunk), 0
        for row in range(len(previous.passages) if wanted else 0):
            if not previous.parses.has(row):
                continue
            key = text_key(previous.passages[row].text)
            if key in wanted:
                wanted.discard(key)
                reused += chunks.add([key], [previous.parses.raw(row, row + 1)])
                if not wanted:
                    break
        reused += chunks.flush()
        if reused:
            self._load_saved()
            logger.info("reusing %d passage parses of %s", reused, previous.path.name)

    def _parse_todo(self, items: list[tuple[bytes, str]], total: int, progress: bool) -> None:
        """Parse and save the (key, text) items, a chunk at a time (a cluster build does this its own way): in
        worker processes, one a core, when there are enough of them to pay for loading spaCy in each."""
        procs = _worker_count(len(items)) if self.parse is None else 1
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=total - len(items), desc="parsing", unit="passage")
        start = time.perf_counter()

        def report(done: int) -> None:
            rate = done / max(time.perf_counter() - start, 1e-9)
            logger.info("parsed %d of %d passages (%.1f passages/s, about %.0f min left)", total - len(items) + done,
                        total, rate, (len(items) - done) / max(rate, 1e-9) / 60)

        try:
            if procs > 1:
                _in_workers(items, procs, self.folder, self.chunk, report, bar)
                return
            chunks, done = Chunks(self.folder, self.chunk), 0
            for a in range(0, len(items), BATCH):
                batch = items[a:a + BATCH]
                saved = chunks.add([k for k, _ in batch], (self.parse or parse_texts)([t for _, t in batch]))
                if bar is not None:
                    bar.update(len(batch))
                if a + BATCH >= len(items):
                    saved += chunks.flush()
                if saved:
                    done += saved
                    report(done)
        finally:
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


class Chunks:
    """Parse records gathered and saved into `folder` a chunk of `size` at a time (save_parses)."""

    def __init__(self, folder: Path, size: int):
        self.folder, self.size = folder, size
        self.keys: list[bytes] = []
        self.records: list[bytes] = []

    def add(self, keys: Sequence[bytes], records: Sequence[bytes]) -> int:
        """Gather records; how many were saved now (a whole chunk, or 0)."""
        self.keys += keys
        self.records += records
        return self.flush() if len(self.records) >= self.size else 0

    def flush(self) -> int:
        """Save what is gathered; how many records that was."""
        n = len(self.records)
        if n:
            save_parses(self.folder, self.keys, self.records)
            self.keys, self.records = [], []
        return n


def _worker_count(n: int) -> int:
    """Worker processes for `n` texts: one a core this process may use, each with MIN_PER_WORKER texts or more."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, n // MIN_PER_WORKER))


def _in_workers(items: list[tuple[bytes, str]], procs: int, folder: Path, chunk: int,
                report: Callable[[int], None], bar) -> None:
    """Parse the items in `procs` new Python processes (`python -m qa.index.parse_worker`, so nothing of the caller's
    program runs again in them), each saving its chunks into `folder` as a build in this process would. A worker
    stops when this process is gone; if this process stops first (an error, an interrupt), it stops them."""
    import json
    import subprocess
    import sys

    work = folder / f"work-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    from qa.index.staging import worker_env

    env = worker_env(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")  # one core each
    running, logs = [], []
    before = set(folder.glob("parses-*.npz"))
    try:
        for i in range(procs):
            share = work / f"texts-{i}.jsonl"
            with open(share, "w", encoding="utf-8") as f:
                for _, text in items[i::procs]:
                    f.write(json.dumps(text, ensure_ascii=False) + "\n")
            logs.append(open(work / f"worker-{i}.log", "w+", encoding="utf-8"))
            running.append(subprocess.Popen([sys.executable, "-m", "qa.index.parse_worker", str(share.resolve()),
                                             str(folder.resolve()), str(chunk), str(os.getpid())], env=env,
                                            stdout=subprocess.DEVNULL, stderr=logs[-1]))
        counted: dict[Path, int] = {}
        while True:
            finished = all(w.poll() is not None for w in running)
            for index in set(folder.glob("parses-*.npz")) - before - set(counted):
                try:
                    with np.load(index, allow_pickle=False) as z:
                        counted[index] = len(z["keys"])
                except Exception:  # noqa: BLE001 - being renamed into place; counted on the next look
                    continue
                if bar is not None:
                    bar.update(counted[index])
                report(sum(counted.values()))
            if finished:
                break
            time.sleep(POLL_S)
        failed = [(i, w.returncode) for i, w in enumerate(running) if w.returncode != 0]
        if failed:
            i, code = failed[0]
            logs[i].seek(0)
            tail = logs[i].read()[-2000:].strip().splitlines()
            raise RuntimeError(f"spaCy worker {i} exited with code {code}: {tail[-1] if tail else 'no output'}")
    finally:
        for w in running:
            if w.poll() is None:
                w.terminate()
                w.wait()
        for f in logs:
            f.close()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


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
                 old_rows: np.ndarray, old_text: Callable[[int], str] | None = None) -> None:
    """Write the generation's parse records: row i copies old's record old_rows[i] where that is >= 0, else takes
    the staged record of the next of `texts` (the new passages, in order). Without `old`, a carried row takes the
    staged record of its text (`old_text(old row)`), or an empty record without `old_text`."""
    from qa.index.passages import _runs

    rows = np.asarray(old_rows, dtype=np.int64)
    lengths = np.zeros(len(rows), dtype=np.int64)
    fresh = iter(texts)
    with open(folder / PARSES_FILE, "wb") as f:
        for a, b in _runs(rows):
            if rows[a] >= 0 and old is None:
                if old_text is not None and staged is not None:
                    for i in range(a, b):
                        record = staged.record(old_text(int(rows[i])))
                        if not record:
                            raise RuntimeError(f"no staged parse for carried row {i}; nothing was published")
                        f.write(record)
                        lengths[i] = len(record)
                continue
            if rows[a] >= 0:
                for lo in range(int(rows[a]), int(rows[b - 1]) + 1, COPY_ROWS):  # bounded reads of a long run
                    hi = min(lo + COPY_ROWS, int(rows[b - 1]) + 1)
                    f.write(old.raw(lo, hi))
                lo, hi = int(rows[a]), int(rows[b - 1]) + 1
                lengths[a:b] = np.diff(old.offsets[lo:hi + 1])
                continue
            for i in range(a, b):
                text = next(fresh)
                record = staged.record(text) if staged is not None else b""
                if staged is not None and not record:
                    raise RuntimeError(f"no staged parse for new passage row {i}; nothing was published")
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

    def has(self, row: int) -> bool:
        """Whether row has a stored record (not an empty one)."""
        return 0 <= row < len(self.offsets) - 1 and self.offsets[row + 1] > self.offsets[row]

    def loader(self, row: int) -> Callable[[], object]:
        """A function giving row's stored Doc, or None (no record, or one that does not read back)."""
        return lambda: _doc(self, row)

    def damaged(self) -> str | None:
        """Why the parses file can no longer be read as loaded (it shrank), or None."""
        return self.file.damaged()

    def close(self) -> None:
        """Close the parses file."""
        self.file.close()


def _doc(store: ParseStore, row: int):
    from qa.read.nlp import from_bytes

    try:
        record = store.raw(row, row + 1)
        return from_bytes(record) if record else None
    except Exception as exc:  # noqa: BLE001 - a damaged record or file: this passage is parsed as it is read
        logger.warning("stored parse of passage row %d does not read back (%s); parsing it again", row, exc)
        return None

