"""The Ray build path: corpus files parsed and chunked, passages embedded, as Ray Data pipelines on a cluster.

Only the two expensive stages leave the driver, each as a Ray Data pipeline: files -> articles and
passages (qa.ingest.parse_file and qa.chunk, in Ray tasks), and passage texts -> vectors (an actor pool,
one encoder load per actor; each batch's vectors are written as a shard under the index's staging folder
before they are returned, in the format qa.index.staging reads, so a build whose driver dies resumes
from them). Between the two the driver applies the corpus's one duplicate rule in file order (it is
sequential across files), and after them it builds FAISS and BM25 and publishes the generation exactly
as a single-process build does (qa.index.ensure): same rows, same ids. Faults are Ray's: tasks are
retried (`max_retries`) and a killed actor is restarted and its batch retried (`max_restarts`,
`max_task_retries`); the driver checks that every passage came back exactly once.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from qa.chunk import chunk_article
from qa.config import INT8_MODEL, Settings
from qa.embed import KNOWN_MODELS, Encoder, get_encoder
from qa.index.parses import PARSES_STAGING, Chunks, StagedParser, parse_texts
from qa.index.refresh import text_keys
from qa.index.staging import StagedEncoder, save_chunk
from qa.ingest import FolderSource, Part, parse_file, read_folder, walk
from qa.ingest.errors import IngestError
from qa.types import Article, Passage

logger = logging.getLogger(__name__)

LOCAL = "local"  # Settings.ray_address for a Ray started for the run with this machine's CPUs
RETRIES = 4  # attempts after a task fails or an actor dies, before the build fails
MIN_BATCH, MAX_BATCH = 32, 1024
BATCHES_PER_ACTOR = 8  # enough batches per actor that one slow or restarted actor does not hold up the rest


@contextlib.contextmanager
def session(address: str) -> Iterator[None]:
    """Ray connected for the block: to the cluster at `address`, or (LOCAL) a local one started and stopped here."""
    import ray

    if ray.is_initialized():  # the caller's own session (a test, a notebook): use it, leave it running
        yield
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # contact nothing outside the machine
    package = Path(__file__).resolve().parents[1]  # the qa package the workers must import
    env_vars = {"HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    temp = None
    if address == LOCAL:  # the workers run from this machine's copy of qa
        os.environ.setdefault("RAY_worker_niceness", "0")  # Ray's default 15 starves the build on a busy machine
        temp = tempfile.mkdtemp(prefix="qa-ray-")  # Ray's sockets and logs, removed after the run
        path = os.pathsep.join(filter(None, [str(package.parent), os.environ.get("PYTHONPATH")]))
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, _temp_dir=temp, log_to_driver=False,
                 logging_level=logging.WARNING, runtime_env={"env_vars": {**env_vars, "PYTHONPATH": path}})
    else:  # Ray ships this copy of qa to the cluster's nodes (they need its requirements installed)
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING,
                 runtime_env={"env_vars": env_vars, "py_modules": [str(package)]})
    try:
        yield
    finally:
        ray.shutdown()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def cluster_cpus() -> int:
    """CPUs the connected Ray cluster offers."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _data_context(progress: bool) -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = progress
    ctx.print_on_execution_start = False  # the library logs; only the CLI prints


def _parse_batch(batch: dict, max_bytes: int, words: int, overlap: int, chars: int) -> dict:
    """Parse and chunk each file of a batch (a Ray task): its articles, their passages, or why it failed."""
    out = {"name": [], "articles": [], "chunks": [], "error": [], "notes": []}
    for name, path in zip(batch["name"], batch["path"]):
        notes: Counter = Counter()
        try:
            articles = parse_file(Path(path), str(name), max_bytes, notes)
            error = ""
        except IngestError as e:
            articles, error = [], e.reason
        out["name"].append(str(name))
        out["articles"].append(articles)
        out["chunks"].append([chunk_article(a, words, overlap, chars) for a in articles])
        out["error"].append(error)
        out["notes"].append(dict(notes))
    return {k: _objects(v) for k, v in out.items()}


def _objects(values: list) -> np.ndarray:
    """A 1-d object array of `values` (np.array would make equal-length lists a 2-d array)."""
    arr = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        arr[i] = v
    return arr


class RaySource:
    """A FolderSource whose new and changed files are parsed and chunked on the cluster before the read loop."""

    def __init__(self, inner: FolderSource, settings: Settings, progress: bool = False):
        self.inner, self.settings, self.progress = inner, settings, progress
        self._parsed: dict[str, tuple[list[Article], str, dict]] = {}
        self._chunks: dict[int, list[Passage]] = {}  # id(article) -> its passages, for the articles parsed here

    def fingerprint(self) -> dict[str, list]:
        """The folder's fingerprint."""
        return self.inner.fingerprint()

    def check_outside(self, folder: Path) -> None:
        """As the folder source."""
        self.inner.check_outside(folder)

    def read(self, unchanged=None) -> Iterator[Part]:
        """The folder's parts, the duplicate rule applied on the driver in file order as FolderSource does."""
        todo = [(name, path) for name, path in walk(self.inner.path, self.inner.outside_links)
                if unchanged is None or unchanged(name) is None]
        self._parse_on_cluster(todo)
        parts = read_folder(self.inner.path, self.inner.max_bytes, unchanged, self.inner.outside_links,
                            parse=self._parse)
        tally = self.inner.tally
        return parts if tally is None else (tally.add(p) or p for p in parts)

    def _parse_on_cluster(self, todo: list[tuple[str, str]]) -> None:
        import ray.data

        if not todo:
            return
        s = self.settings
        _data_context(self.progress)
        blocks = min(len(todo), cluster_cpus() * BATCHES_PER_ACTOR)
        ds = ray.data.from_items([{"name": n, "path": p} for n, p in todo], override_num_blocks=blocks)
        ds = ds.map_batches(_parse_batch, batch_size=max(1, math.ceil(len(todo) / blocks)), num_cpus=1,
                            max_retries=RETRIES,
                            fn_kwargs=dict(max_bytes=self.inner.max_bytes, words=s.chunk_words,
                                           overlap=s.chunk_overlap_sentences, chars=s.chunk_chars))
        for row in ds.iter_rows():
            articles = list(row["articles"])
            self._parsed[row["name"]] = (articles, row["error"], row["notes"])
            for article, passages in zip(articles, row["chunks"]):
                self._chunks[id(article)] = list(passages)
        logger.info("parsed %d files on the Ray cluster", len(todo))

    def _parse(self, path: Path, name: str, max_bytes: int, notes: Counter | None = None) -> list[Article]:
        """parse_file's result for a file the cluster parsed (a file it did not parse is parsed here)."""
        found = self._parsed.pop(name, None)
        if found is None:  # a carried file whose articles another file now holds: rare, read here
            return parse_file(path, name, max_bytes, notes)
        articles, error, counts = found
        if notes is not None:
            notes.update(counts)
        if error:
            raise IngestError(name, error)
        return articles

    def chunk(self, articles: Sequence[Article], words: int, overlap: int, chars: int) -> list[Passage]:
        """chunk_articles' result, from the passages the cluster made for these articles."""
        out: list[Passage] = []
        for a in articles:
            passages = self._chunks.get(id(a))
            out += passages if passages is not None else chunk_article(a, words, overlap, chars)
        return out


def actor_encoder(model: str) -> Encoder:
    """The encoder an actor loads once: the int8 model on one thread (an actor holds one CPU)."""
    if model == INT8_MODEL:
        from qa.embed.onnx import OnnxInt8Encoder

        return OnnxInt8Encoder(model, threads=1)
    return get_encoder(model)


class EncodeActor:
    """Ray Data actor: loads the encoder once, then embeds batches and saves each as a staging shard."""

    def __init__(self, model: str, folder: str, batch_size: int):
        self.encoder, self.model = actor_encoder(model), model
        self.folder, self.batch_size = Path(folder), batch_size

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        vectors = np.asarray(self.encoder.encode(texts, batch_size=self.batch_size), dtype=np.float32)
        save_chunk(self.folder, self.model, text_keys(texts), vectors)  # before returning: a resumed build has it
        return {"row": np.asarray(batch["row"], dtype=np.int64), "vector": vectors}


class RayStagedEncoder(StagedEncoder):
    """A StagedEncoder whose texts still to encode go through an actor pool on the Ray cluster."""

    def __init__(self, inner: Encoder, folder: Path, workers: int | None = None, progress: bool = False):
        if inner.name not in KNOWN_MODELS:
            raise ValueError(f"a Ray build loads its encoder by model name; {inner.name!r} is not one of "
                             f"{', '.join(KNOWN_MODELS)}")
        super().__init__(inner, folder)
        self.workers, self.progress = workers, progress

    def _encode_rows(self, texts: Sequence[str], keys: np.ndarray, todo: list[int], out: np.ndarray,
                     batch_size: int, progress: bool) -> None:
        """Encode texts[todo] into out[todo] on the cluster; RuntimeError unless each comes back exactly once."""
        import ray.data

        if not todo:
            return
        actors = self.workers or cluster_cpus()
        batch = min(MAX_BATCH, max(MIN_BATCH, math.ceil(len(todo) / (actors * BATCHES_PER_ACTOR))))
        blocks = math.ceil(len(todo) / batch)
        actors = min(actors, blocks)
        _data_context(progress or self.progress)
        ds = ray.data.from_items([{"row": i, "text": texts[i]} for i in todo], override_num_blocks=blocks)
        ds = ds.map_batches(EncodeActor, batch_size=batch, concurrency=actors, num_cpus=1,
                            fn_constructor_kwargs=dict(model=self.name, folder=str(self.folder),
                                                       batch_size=batch_size),
                            max_restarts=RETRIES, max_task_retries=RETRIES)
        seen = np.zeros(len(out), dtype=np.int64)
        for part in ds.iter_batches(batch_size=None, batch_format="numpy"):
            rows = part["row"]
            out[rows] = part["vector"]
            np.add.at(seen, rows, 1)
        wanted = np.zeros(len(out), dtype=np.int64)
        wanted[todo] = 1
        if not np.array_equal(seen, wanted):
            raise RuntimeError(f"the Ray build returned {int((seen > wanted).sum())} passages twice and missed "
                               f"{int((seen < wanted).sum())}; nothing was published")
        logger.info("encoded %d passages on %d Ray actors (batches of %d)", len(todo), actors, batch)


class ParseActor:
    """Ray Data actor: loads spaCy once, then parses batches; the records go back to the driver, which saves them
    (a worker node's disk is not the driver's)."""

    def __init__(self):
        from qa.read.nlp import get_nlp

        get_nlp()

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        return {"key": text_keys(texts), "record": _objects(parse_texts(texts))}


class RayStagedParser(StagedParser):
    """A StagedParser whose texts still to parse go through an actor pool on the Ray cluster."""

    def __init__(self, folder: Path, workers: int | None = None, progress: bool = False):
        super().__init__(folder)
        self.workers, self.progress = workers, progress

    def _parse_todo(self, items: list[tuple[bytes, str]], total: int, progress: bool) -> None:
        """Parse the items on the cluster and save them here a chunk at a time as they come back (run() checks that
        every one did)."""
        import ray.data

        actors = self.workers or cluster_cpus()
        batch = min(MAX_BATCH, max(MIN_BATCH, math.ceil(len(items) / (actors * BATCHES_PER_ACTOR))))
        blocks = math.ceil(len(items) / batch)
        actors = min(actors, blocks)
        _data_context(progress or self.progress)
        ds = ray.data.from_items([{"text": t} for _, t in items], override_num_blocks=blocks)
        ds = ds.map_batches(ParseActor, batch_size=batch, concurrency=actors, num_cpus=1,
                            max_restarts=RETRIES, max_task_retries=RETRIES)
        chunks = Chunks(self.folder, self.chunk)
        for part in ds.iter_batches(batch_size=None, batch_format="numpy"):
            chunks.add([bytes(k) for k in part["key"]], [bytes(r) for r in part["record"]])
        chunks.flush()
        logger.info("parsed %d passages on %d Ray actors (batches of %d)", len(items), actors, batch)


@contextlib.contextmanager
def ray_build(settings: Settings, source, encoder: Encoder, staging: Path,
              progress: bool = False) -> Iterator[tuple[object, StagedEncoder, object, StagedParser]]:
    """(source, staged encoder, chunk function or None, staged parser) for a build whose reading of files, encoding
    and spaCy parsing run on Ray."""
    with session(settings.ray_address or LOCAL):
        chunk = None  # articles already in memory: nothing to parse, chunked by the driver
        if isinstance(source, FolderSource):
            source = RaySource(source, settings, progress)
            chunk = source.chunk
        yield (source, RayStagedEncoder(encoder, staging, progress=progress), chunk,
               RayStagedParser(staging / PARSES_STAGING, progress=progress))
