"""Resumable embedding: vectors saved in chunks to a staging folder, keyed by text, so a killed build resumes.

A build that is interrupted (killed, out of time, machine restarted) has lost nothing but the chunk it was
encoding: the next build loads every saved chunk, encodes only the texts none of them holds, and the folder
is removed once the generation is published. Each chunk is written to a temp file and renamed, so a chunk
on disk is always whole. Progress and the rate (passages/s) are logged after every chunk.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.index.refresh import KEY_BYTES, text_keys

logger = logging.getLogger(__name__)

STAGING_DIR = "staging"  # inside the index folder; hidden from nothing, removed after a publish
CHUNK = 5000  # passages per saved chunk: about 8 MB of vectors, minutes of encoding on a busy machine
# From this many passages to encode, a build encodes them in a worker process at a lower priority
# (qa.index.encode_worker), so a chat answering while its index is refreshed keeps its cores; loading the encoder
# there takes about a second, what encoding 200 passages takes.
WORKER_FROM = 2000
POLL_S = 1.0  # how often the building process looks at the worker's progress


class StagedEncoder:
    """An Encoder that saves what it encodes in chunks under `folder` and reuses saved vectors by text."""

    def __init__(self, inner, folder: Path, chunk: int = CHUNK):
        self.inner, self.folder, self.chunk = inner, Path(folder), max(1, int(chunk))
        self.name, self.dim = inner.name, inner.dim

    def _saved(self) -> dict[bytes, np.ndarray]:
        """Every vector saved so far (of this model and size), by text key."""
        found: dict[bytes, np.ndarray] = {}
        for path in sorted(self.folder.glob("chunk-*.npz")):
            try:
                with np.load(path, allow_pickle=False) as z:
                    if str(z["model"]) != self.name or z["vectors"].shape[1] != self.dim:
                        continue
                    keys, vectors = z["keys"], z["vectors"]
            except (OSError, ValueError, KeyError) as e:  # a foreign or damaged file: encode those again
                logger.warning("ignoring staged chunk %s: %s", path, e)
                continue
            raw = keys.tobytes()
            for i in range(len(keys)):
                found[raw[i * KEY_BYTES:(i + 1) * KEY_BYTES]] = vectors[i]
        return found

    def _save(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        save_chunk(self.folder, self.name, keys, vectors)

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Vectors of `texts`: saved ones reused, the rest encoded and saved a chunk at a time."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        keys = text_keys(texts)
        saved = self._saved()
        todo, same = [], {}  # same: later rows of a text already to be encoded (copies of one article)
        for i in range(len(texts)):
            key = keys[i].tobytes()
            v = saved.get(key)
            if v is not None:
                out[i] = v
            elif key in same:
                same[key].append(i)
            else:
                same[key] = []
                todo.append(i)
        del saved
        copies = sum(len(v) for v in same.values())
        if len(todo) + copies < len(texts):
            logger.info("resuming: %d of %d passage vectors already staged in %s",
                        len(texts) - len(todo) - copies, len(texts), self.folder)
        self._encode_rows(texts, keys, todo, out, batch_size, progress)
        for i in todo:
            out[same[keys[i].tobytes()]] = out[i]
        return out

    def _encode_rows(self, texts: Sequence[str], keys: np.ndarray, todo: list[int], out: np.ndarray,
                     batch_size: int, progress: bool) -> None:
        """Encode texts[todo] into out[todo], saving a chunk at a time (a cluster build does this its own way): in a
        worker process at a lower priority when there are WORKER_FROM or more and the encoder is one a worker can
        load by name, else here (and here whatever a failed worker left)."""
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), initial=len(texts) - len(todo), desc="encoding", unit="passage")
        if len(todo) >= WORKER_FROM and by_name(self.inner):
            try:
                _in_worker([texts[i] for i in todo], self.folder, self.chunk, self.name, batch_size, len(texts), bar)
            except RuntimeError as e:
                logger.warning("%s; encoding the rest in this process", e)
            saved = self._saved()
            left = []
            for i in todo:
                v = saved.get(keys[i].tobytes())
                if v is None:
                    left.append(i)
                else:
                    out[i] = v
            todo = left
            if bar is not None:
                bar.n = len(texts) - len(todo)
                bar.refresh()
        start, done = time.perf_counter(), 0
        for a in range(0, len(todo), self.chunk):
            rows = todo[a:a + self.chunk]
            vectors = _encode_with_bar(self.inner, [texts[i] for i in rows], batch_size, bar)
            out[rows] = vectors
            self._save(keys[rows], vectors)
            done += len(rows)
            rate = done / max(time.perf_counter() - start, 1e-9)
            left = len(todo) - done
            logger.info("encoded %d of %d passages (%.1f passages/s, about %.0f min left)",
                        len(texts) - left, len(texts), rate, left / max(rate, 1e-9) / 60)
        if bar is not None:
            bar.close()

    def clear(self) -> None:
        """Remove the staging folder (after the vectors are safely in a published generation)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def by_name(encoder) -> bool:
    """True when `encoder` is the process's shared encoder of a model a worker process can load by its name
    (qa.embed.get_encoder), so the worker's vectors are its vectors."""
    from qa.config import HASH_MODEL
    from qa.embed import is_shared

    return getattr(encoder, "name", None) != HASH_MODEL and is_shared(encoder)


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a build's worker process (qa.index.encode_worker, qa.index.parse_worker): this process's,
    with the folder holding the qa package first on PYTHONPATH so the worker imports the same code, and `extra`."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def _in_worker(texts: list[str], folder: Path, chunk: int, model: str, batch_size: int, total: int, bar) -> None:
    """Encode `texts` in a new Python process (`python -m qa.index.encode_worker`, at a lower priority), which saves
    its chunks into `folder` as this process would; progress and rate are logged per saved chunk. The worker stops
    when this process is gone; if this process stops first (an error, an interrupt), it stops the worker.
    RuntimeError when the worker fails (what it saved stays)."""
    import json
    import subprocess
    import sys

    work = folder / f"work-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    env = worker_env()
    share, log_path = work / "texts.jsonl", work / "worker.log"
    worker = None
    try:
        with open(share, "w", encoding="utf-8") as f:
            for text in texts:
                f.write(json.dumps(text, ensure_ascii=False) + "\n")
        with open(log_path, "w+", encoding="utf-8") as log:
            worker = subprocess.Popen([sys.executable, "-m", "qa.index.encode_worker", str(share.resolve()),
                                       str(folder.resolve()), str(chunk), str(os.getpid()), model, str(batch_size)],
                                      env=env, stdout=subprocess.DEVNULL, stderr=log)
            start, shown, logged = time.perf_counter(), 0, 0
            while True:
                finished = worker.poll() is not None
                log.seek(0)
                counts = re.findall(r"^encoded (\d+)$", log.read(), re.M)
                done = int(counts[-1]) if counts else 0
                if bar is not None and done > shown:
                    bar.update(done - shown)
                shown = max(shown, done)
                if done // chunk > logged // chunk or (finished and done > logged):
                    logged = done
                    rate = done / max(time.perf_counter() - start, 1e-9)
                    logger.info("encoded %d of %d passages (%.1f passages/s, about %.0f min left)",
                                total - len(texts) + done, total, rate, (len(texts) - done) / max(rate, 1e-9) / 60)
                if finished:
                    break
                try:
                    worker.wait(timeout=POLL_S)  # back as soon as it ends
                except subprocess.TimeoutExpired:
                    pass
            if worker.returncode != 0:
                log.seek(0)
                lines = [line for line in log.read().strip().splitlines() if not line.startswith("encoded ")]
                raise RuntimeError(f"the embedding worker exited with code {worker.returncode}: "
                                   f"{lines[-1] if lines else 'no output'}")
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait()
        shutil.rmtree(work, ignore_errors=True)


def save_chunk(folder: Path, model: str, keys: np.ndarray, vectors: np.ndarray) -> None:
    """Save one chunk of vectors with their text keys under `folder` (temp file, fsync, rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"chunk-{time.time_ns()}-{os.getpid()}"
    tmp = folder / f".{name}.tmp.npz"
    np.savez(tmp, keys=keys, vectors=vectors, model=np.array(model))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.rename(tmp, folder / f"{name}.npz")  # atomic; the name is new (os.replace is for CURRENT)


def _encode_with_bar(inner, texts: list[str], batch_size: int, bar) -> np.ndarray:
    """Encode one chunk, advancing the outer bar in small steps so it shows a live rate."""
    if bar is None:
        return inner.encode(texts, batch_size=batch_size)
    parts = []
    for a in range(0, len(texts), 100):
        parts.append(inner.encode(texts[a:a + 100], batch_size=batch_size))
        bar.update(len(parts[-1]))
    return np.concatenate(parts) if parts else np.zeros((0, inner.dim), np.float32)
