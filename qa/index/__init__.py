"""The on-disk index: ensure() loads it if fresh, else builds the next generation; FAISS + BM25 + passages.

Layout of the index folder:
    CURRENT            name of the live generation folder (replaced atomically; see qa.index.generation)
    .lock              taken while building, so two processes never build at once
    gen-*/             manifest.json, vectors.npy, dense.faiss (+ dense.rows.npy for HNSW), bm25/,
                       passages.*, parses.*, sources.json (rows and article keys of each corpus file)
A build writes a new generation folder, then swaps CURRENT; a crash at any point leaves the old one live.
A refresh parses only new and changed files and carries everything else over from the live generation
(vectors, stored passages, BM25 term counts, HNSW graph); see qa.index.refresh.

    manifest.py   build settings, stale_reason (the one freshness rule), checksums, read and verify
    generation.py temp folder, fsync, CURRENT swap, old generations removed
    store.py      Index and load(); build.py the parts of a new generation; refresh.py what it carries over
    live.py       the index a running QA answers from, refreshed in a background thread
    passages.py, dense.py (FAISS), bm25.py   the three stores; ondisk.py reads their files without memory maps
    parses.py     each passage's spaCy parse, made at build time (settings.parse_passages) for the reader
    staging.py    resumable embedding (chunks saved under staging/); encode_worker.py and parse_worker.py embed and
                  parse many passages in new processes at nice 10, so a chat answering meanwhile keeps its cores
    distributed.py the Ray build path: parsing, chunking and embedding on a cluster (settings.ray_address)
"""
from __future__ import annotations

import contextlib
import logging
from typing import Callable, Iterator

from qa.config import Settings
from qa.embed import Encoder
from qa.index import refresh
from qa.index.build import carried_sources, carried_texts, embed_new, kept_vectors, parses_usable, write_parts
from qa.index.generation import current_path, is_live, publish
from qa.index.staging import STAGING_DIR, StagedEncoder
from qa.index.parses import PARSES_STAGING, StagedParser
from qa.index.manifest import FORMAT_VERSION, IndexLoadError, build_settings, read_manifest, stale_reason, verify
from qa.index.store import Index, load, try_load
from qa.ingest import CorpusSource, FolderSource

__all__ = ["FORMAT_VERSION", "Index", "IndexLoadError", "build_settings", "current_path", "ensure", "load",
           "read_manifest", "stale_reason", "try_load", "verify"]

logger = logging.getLogger(__name__)


def ensure(settings: Settings, encoder: Encoder, source: CorpusSource | None = None, progress: bool = False,
           force: bool = False, on_blocked: Callable[[], None] | None = None, current: Index | None = None) -> Index:
    """The index for the corpus (by default the folder settings.corpus_dir): loaded if fresh, else built.

    A build takes a lock, carries unchanged files over from the live generation and reuses the vectors
    of identical texts; `force` builds from nothing. `on_blocked` is called if another process holds the
    lock, before waiting for it. `current` is the live generation if the caller has it loaded already (it is
    not read and checksummed again).
    """
    source = source if source is not None else FolderSource.from_settings(settings)
    index_dir = settings.index_dir
    source.check_outside(index_dir)
    files = source.fingerprint()
    if force:
        index, why = None, "rebuild requested"
    elif current is not None and is_live(current.path) and not current.damaged():
        index, why = current, None
    else:
        index, why = try_load(index_dir)
    if index is not None:
        why = stale_reason(index.manifest, settings, encoder.dim, files)
        if why is None:
            return index
    index_dir.mkdir(parents=True, exist_ok=True)
    with _build_lock(index_dir, on_blocked):
        if not force:  # another process may have built it while we waited for the lock
            fresh = index if index is not None and is_live(index.path) else try_load(index_dir)[0]
            if fresh is not None and stale_reason(fresh.manifest, settings, encoder.dim, files) is None:
                return fresh
            index = fresh or index
        logger.info("building index in %s: %s", index_dir, why)
        if index is not None:
            warn_if_dropping(index, files, source)
        # vectors are reused by text from any index of the same model; rows are carried over from one
        # built with the same settings and per-file tables
        reuse = index if index is not None and index.manifest.get("model") == settings.model else None
        stored = reuse.stored_keys() if reuse is not None else None
        sources = carried_sources(reuse, settings, encoder.dim, stored)
        carry = reuse if sources is not None else None
        with _stages(settings, source, encoder, index_dir / STAGING_DIR, progress) as (read, staged, chunk, parser):
            layout = refresh.plan(read, files, settings.chunk_words, settings.chunk_overlap_sentences,
                                  carry.manifest["files"] if carry else None, sources, settings.chunk_chars,
                                  chunk)
            logger.info("%d passages: %d carried over, %d new from %d parsed files", len(layout.old_rows),
                        layout.carried, len(layout.passages), layout.parsed)
            texts = [p.embed_text(settings.embed_title) for p in layout.passages]
            keys = refresh.text_keys(texts)
            # the live generation's vectors are reused above when it loads; when it does not, they may be whole
            skip = index.path if index is not None else None
            kept = None if force else lambda wanted, used: kept_vectors(index_dir, skip, settings, encoder.dim, wanted,
                                                                          used)
            new_vectors = embed_new(texts, keys, settings, staged, reuse, stored, progress, kept=kept)
            parses = parser if settings.parse_passages else None
            if parses is not None:  # each new passage's spaCy parse, read by the reader instead of parsing, and
                # those of carried rows that have none usable (an index built before parses were stored)
                # The previous generation's parses are reused by text, as vectors are, when no rows are carried over
                # or many passages are new (a big JSONL file with one record added is read again whole): finding
                # them reads every passage of that generation, more than parsing a small refresh's few passages.
                wide = not layout.carried or len(layout.passages) >= REUSE_PARSES_FROM
                previous = reuse if wide and reuse is not None and parses_usable(reuse, settings, encoder.dim) else None
                parses.run([p.text for p in layout.passages] + carried_texts(carry, layout, settings, encoder.dim),
                           progress, previous=previous)
        carry = carry if layout.carried else None
        vectors = refresh.gather_vectors(layout, new_vectors, carry.vectors if carry else None)
        all_keys = refresh.gather_keys(layout, keys, stored if carry else None)
        written = publish(index_dir, lambda folder: write_parts(folder, layout, texts, vectors, all_keys,
                                                                settings, encoder.dim, files, carry, parses))
        staged.clear()
    # just written and checksummed: check sizes only, unless another build has replaced it since
    return load(index_dir, verify_checksums=None if current_path(index_dir) != written else False)


# From this many new passages a build carrying rows over still looks for their parses in the previous generation:
# parsing 1,000 takes about 7 s on 2 cores (151 passages/s), reading the texts of a 223,621-passage generation to
# find them 4.8 s (measured, twenty-second session).
REUSE_PARSES_FROM = 1000
DROP_WARN_PASSAGES = 1000  # an index this big losing most of its files to a refresh is said so


def warn_if_dropping(index: Index, files: dict, source: CorpusSource) -> None:
    """Warn when the build about to start drops most of a big index's files: the corpus given no longer holds
    them (a wrong folder given, a disk not mounted). The build goes on (an index follows its corpus); the
    replaced generation is kept beside the new one until the next build, which reuses its vectors if those
    articles come back (qa.index.build.kept_vectors)."""
    old = index.manifest.get("files") or {}
    gone = [name for name in old if name not in files]
    if len(index) >= DROP_WARN_PASSAGES and old and len(gone) * 2 >= len(old):
        path = getattr(source, "path", None)
        logger.warning("building from the corpus %s, which holds %d of the %d files the index of %d passages was "
                       "built from; if that is the wrong folder, build once more with the right one: %s is kept "
                       "until the next build and its vectors are reused", f"at {path}" if path else "given",
                       len(old) - len(gone), len(old), len(index), index.path)


def _stages(settings: Settings, source: CorpusSource, encoder: Encoder, staging, progress: bool):
    """(source, staged encoder, chunk function or None, staged parser) of a build: here, or on Ray
    (settings.ray_address).

    Either way the encoder saves its vectors, and the parser its parses, a chunk at a time under staging/, so a
    killed build resumes.
    """
    if settings.ray_address:
        from qa.index.distributed import ray_build  # imports ray: only for a cluster build

        return ray_build(settings, source, encoder, staging, progress)
    # None: chunk_articles
    return contextlib.nullcontext((source, StagedEncoder(encoder, staging), None,
                                   StagedParser(staging / PARSES_STAGING)))


@contextlib.contextmanager
def _build_lock(index_dir, on_blocked: Callable[[], None] | None) -> Iterator[None]:
    """Hold the index folder's build lock; `on_blocked` is called first if another process holds it."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(index_dir / ".lock"), timeout=3600)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_blocked is not None:
            on_blocked()
        logger.info("waiting for another process that is building the index in %s", index_dir)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
