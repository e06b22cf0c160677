"""Build, save, load and refresh the on-disk index: FAISS + BM25 + passages + versioned manifest.

Layout of the index folder:
    CURRENT            name of the live generation folder (replaced atomically)
    .lock              taken while building, so two processes never build at once
    gen-*/             manifest.json, vectors.npy, dense.faiss (+ dense.rows.npy for HNSW), bm25/,
                       passages.*, sources.json (rows and article keys of each corpus file)
A build writes a new generation folder, then swaps CURRENT; a crash at any point leaves the old one live.
A refresh parses only new and changed files and carries everything else over from the live generation
(vectors, stored passages, BM25 term counts, HNSW graph); see qa.index.refresh.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.index import refresh as inc
from qa.index import dense as vec
from qa.chunk import chunk_articles
from qa.config import Settings
from qa.embed import Encoder
from qa.index.bm25 import Lexical
from qa.index.passages import PassageStore, write_passages
from qa.types import Article, Passage

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
VECTORS_FILE = "vectors.npy"
FAISS_FILE = "dense.faiss"
BM25_DIR = "bm25"
VERIFY_LIMIT = 512 * 2**20  # checksum every file on load while the index is smaller than this


class IndexLoadError(Exception):
    """The index on disk is missing, corrupt or stale; the message says which and why."""


@dataclass(frozen=True)
class Index:
    """A loaded index generation."""

    path: Path
    manifest: dict
    passages: PassageStore
    vectors: np.ndarray  # (n, dim) float32, memory-mapped
    dense: vec.Dense
    lexical: Lexical

    def __len__(self) -> int:
        return len(self.passages)


def scan_corpus(corpus_dir: Path) -> dict[str, list[int]]:
    """Size and mtime of every corpus file: cheap to compute, enough to notice a change."""
    files = {}
    for name, path in inc.walk(corpus_dir):
        try:
            st = os.stat(path)
        except OSError:
            continue  # broken symlink: ingest will warn about it
        files[name] = [st.st_size, st.st_mtime_ns]
    return files


def build_settings(settings: Settings, dim: int) -> dict:
    """The parts of the settings that, when changed, make an index stale."""
    return {"format_version": FORMAT_VERSION, "model": settings.model, "dim": dim,
            "chunk_words": settings.chunk_words, "chunk_overlap": settings.chunk_overlap_sentences,
            "embed_title": settings.embed_title}


def stale_reason(manifest: dict, settings: Settings, dim: int, files: dict) -> str | None:
    """Why an index with this manifest cannot serve these settings and corpus, or None if it can."""
    wanted = build_settings(settings, dim)
    for key, value in wanted.items():
        if manifest.get(key) != value:
            return f"{key} changed ({manifest.get(key)!r} -> {value!r})"
    if manifest.get("files") != files:
        old, new = set(manifest.get("files", {})), set(files)
        added, removed = sorted(new - old), sorted(old - new)
        changed = sorted(f for f in old & new if manifest["files"][f] != files[f])
        parts = [f"{label}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
                 for label, names in (("added", added), ("removed", removed), ("changed", changed)) if names]
        return "corpus changed (" + "; ".join(parts) + ")"
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _checksums(folder: Path) -> dict[str, list]:
    return {p.relative_to(folder).as_posix(): [p.stat().st_size, _sha256(p)]
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def embed_passages(passages: list[Passage], settings: Settings, encoder: Encoder,
                   previous: Index | None, progress: bool) -> np.ndarray:
    """Vectors for the passages, reusing those of identical texts in the previous index."""
    texts = [p.embed_text(settings.embed_title) for p in passages]
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    todo = list(range(len(texts)))
    if texts and previous is not None and previous.manifest.get("dim") == encoder.dim:
        # key the cache by the text each old vector was computed from, under the old index's settings
        old_title = bool(previous.manifest.get("embed_title"))
        stored = _stored_keys(previous) if old_title == settings.embed_title else None
        cache = ({k.tobytes(): i for i, k in enumerate(stored)} if stored is not None else
                 {inc.text_key(p.embed_text(old_title)): i for i, p in enumerate(previous.passages)})
        todo = []
        for i, t in enumerate(texts):
            j = cache.get(inc.text_key(t))
            if j is None:
                todo.append(i)
            else:
                out[i] = previous.vectors[j]
        logger.info("reusing %d cached passage vectors, encoding %d", len(texts) - len(todo), len(todo))
    if todo:
        out[todo] = encoder.encode([texts[i] for i in todo], batch_size=settings.batch_size,
                                   progress=progress)
    return out


def _stored_keys(index: Index) -> np.ndarray | None:
    """The text keys a generation stored for its passages, or None (an older index)."""
    try:
        keys = np.load(index.path / inc.KEYS_FILE, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    return keys if keys.shape == (len(index), inc.KEY_BYTES) else None


def can_carry(index: Index | None, settings: Settings, dim: int) -> bool:
    """True if a refresh may carry rows over from `index` (same build settings, per-file tables present)."""
    return (index is not None and all(index.manifest.get(k) == v for k, v in build_settings(settings, dim).items())
            and (index.path / inc.SOURCES_FILE).is_file() and _stored_keys(index) is not None
            and index.lexical.doc_terms() is not None)


def write_generation(passages: list[Passage], vectors: np.ndarray, settings: Settings,
                     dim: int, files: dict, index_dir: Path, layout: inc.Layout | None = None,
                     previous: Index | None = None) -> Path:
    """Write a complete generation folder, then make it live by replacing CURRENT.

    `vectors` has every row; `passages` are the new rows of `layout` (all rows without a layout).
    With a layout that carries rows over from `previous`, those rows' records, vectors, term counts and
    (for HNSW) graph entries are copied, not recomputed.
    """
    layout = layout or inc.full_layout(passages)
    carry = previous if previous is not None and layout.carried else None
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    try:
        write_passages(passages, tmp, carry.passages if carry else None, layout.old_rows)
        np.save(tmp / VECTORS_FILE, vectors, allow_pickle=False)
        new_keys = inc.text_keys(passages, settings.embed_title)
        np.save(tmp / inc.KEYS_FILE, inc.gather_keys(layout, new_keys, _stored_keys(carry) if carry else None),
                allow_pickle=False)
        # a private copy of the live HNSW graph to extend (the loaded one may be serving searches)
        old_dense = vec.load(carry.path / FAISS_FILE) if carry and carry.manifest.get("index_type") == "hnsw" \
            else None
        dense = vec.update(old_dense, vectors, layout.old_rows)
        vec.save(dense, tmp / FAISS_FILE)
        lexical = Lexical.rebuild(carry.lexical if carry else None, layout.old_rows,
                                  [p.embed_text(settings.embed_title) for p in passages])
        (tmp / BM25_DIR).mkdir()
        lexical.save(tmp / BM25_DIR)
        if layout.sources:
            inc.write_sources(layout.sources, tmp)
        articles = (sum(len(s["keys"]) for s in layout.sources.values()) if layout.sources
                    else len({p.article_id for p in passages}))
        manifest = {**build_settings(settings, dim), "index_type": dense.kind, "passages": len(vectors),
                    "articles": articles, "files": files,
                    "dense_slots": {"total": int(dense.index.ntotal), "dead": dense.dead},
                    "refresh": {"carried_rows": layout.carried, "new_rows": len(passages),
                                "parsed_files": layout.parsed},
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "checksums": _checksums(tmp)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        _fsync_tree(tmp)
        os.rename(tmp, index_dir / name)
        _atomic_write(index_dir / CURRENT, name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_old_generations(index_dir, keep={name})
    return index_dir / name


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _remove_old_generations(index_dir: Path, keep: set[str]) -> None:
    """Delete all but the newest previous generation (a reader may still have it open) and stray temps."""
    gens = sorted((p for p in index_dir.glob("gen-*") if p.name not in keep), key=lambda p: p.stat().st_mtime)
    for p in gens[:-1] + [t for t in index_dir.glob(".tmp-gen-*")]:
        shutil.rmtree(p, ignore_errors=True)


def current_path(index_dir: Path) -> Path | None:
    """The live generation folder, or None if there is none."""
    try:
        name = (index_dir / CURRENT).read_text(errors="replace").strip()  # garbage is refused below
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise IndexLoadError(f"cannot read {index_dir / CURRENT}: {exc}") from exc
    if not name.startswith("gen-") or "/" in name:
        raise IndexLoadError(f"{index_dir / CURRENT} names no generation ({name[:40]!r})")
    return index_dir / name


def read_manifest(path: Path) -> dict:
    """The manifest of a generation folder; IndexLoadError if missing or unreadable."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"manifest unreadable in {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexLoadError(f"index format {found!r} is not {FORMAT_VERSION}")
    return manifest


def verify(path: Path, manifest: dict, full: bool | None = None) -> None:
    """Check every file's size (and, for indexes under VERIFY_LIMIT or when asked, its sha256)."""
    sums = manifest.get("checksums") or {}
    if not sums:
        raise IndexLoadError(f"manifest in {path} lists no checksums")
    total = sum(size for size, _ in sums.values())
    full = total < VERIFY_LIMIT if full is None else full
    for name, (size, digest) in sums.items():
        f = path / name
        if not f.is_file() or f.stat().st_size != size:
            raise IndexLoadError(f"{name} is missing or truncated in {path}")
        if full and _sha256(f) != digest:
            raise IndexLoadError(f"{name} checksum mismatch in {path}")


def load(index_dir: Path, verify_checksums: bool | None = None) -> Index:
    """Load the live generation; IndexLoadError says what is wrong if it is missing or corrupt."""
    path = current_path(index_dir)
    if path is None:
        raise IndexLoadError(f"no index in {index_dir}")
    manifest = read_manifest(path)
    verify(path, manifest, verify_checksums)
    try:
        passages = PassageStore(path)
        vectors = np.load(path / VECTORS_FILE, mmap_mode="r", allow_pickle=False)
        dense = vec.load(path / FAISS_FILE)
        lexical = Lexical.load(path / BM25_DIR)
    except Exception as exc:  # any unreadable part means the generation is unusable
        raise IndexLoadError(f"cannot load index in {path}: {exc}") from exc
    n = manifest.get("passages")
    if not (len(passages) == len(vectors) == dense.ntotal == lexical.size == n):
        raise IndexLoadError(f"index parts disagree on the passage count in {path}")
    return Index(path=path, manifest=manifest, passages=passages, vectors=vectors, dense=dense,
                 lexical=lexical)


def try_load(index_dir: Path) -> tuple[Index | None, str | None]:
    """Load the index, or return (None, why not)."""
    try:
        return load(index_dir), None
    except IndexLoadError as exc:
        return None, str(exc)


def _check_outside(index_dir: Path, corpus_dir: Path) -> None:
    """Refuse an index folder the corpus scan would read: it would index its own files, then rebuild forever."""
    try:
        inside = Path(index_dir).resolve().relative_to(Path(corpus_dir).resolve())
    except ValueError:
        return
    if not any(part.startswith(".") for part in inside.parts):  # hidden folders are not scanned
        raise ValueError(f"index folder {index_dir} is inside the corpus folder {corpus_dir}; "
                         f"move it out or give it a name starting with a dot")


def ensure(settings: Settings, encoder: Encoder, progress: bool = False, force: bool = False,
           articles: Sequence[Article] | None = None, files: dict | None = None,
           carry_over: bool = True) -> Index:
    """The index for the corpus: loaded if fresh, otherwise (re)built under a lock.

    By default the corpus is the folder settings.corpus_dir; benchmarks pass `articles` with a
    `files` fingerprint of the data they came from instead. A refresh carries unchanged files over
    from the live generation; carry_over=False re-parses everything (vectors are still reused by text).
    """
    from filelock import FileLock

    index_dir = settings.index_dir
    if articles is None:
        _check_outside(index_dir, settings.corpus_dir)
        files = scan_corpus(settings.corpus_dir)
    index, why = (None, "rebuild requested") if force else try_load(index_dir)
    if index is not None:
        why = stale_reason(index.manifest, settings, encoder.dim, files)
        if why is None:
            return index
    index_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(index_dir / ".lock"), timeout=3600):
        if not force:  # another process may have built it while we waited for the lock
            fresh = index if index is not None and _is_live(index) else try_load(index_dir)[0]
            if fresh is not None and stale_reason(fresh.manifest, settings, encoder.dim, files) is None:
                return fresh
            index = fresh or index
        logger.info("building index in %s: %s", index_dir, why)
        reuse = index if index is not None and index.manifest.get("model") == settings.model else None
        carry = reuse if carry_over and articles is None and can_carry(reuse, settings, encoder.dim) else None
        if articles is None:  # parse only new and changed files (all of them without `carry`)
            layout = inc.plan(settings.corpus_dir, files, settings.chunk_words, settings.chunk_overlap_sentences,
                              settings.max_file_mb * 2**20, carry.manifest["files"] if carry else None,
                              inc.read_sources(carry.path) if carry else None)
        else:
            layout = inc.full_layout(chunk_articles(articles, settings.chunk_words,
                                                    settings.chunk_overlap_sentences))
        logger.info("%d passages: %d carried over, %d new from %d parsed files", len(layout.old_rows),
                    layout.carried, len(layout.passages), layout.parsed)
        new_vectors = embed_passages(layout.passages, settings, encoder, reuse, progress)
        vectors = inc.gather_vectors(layout, new_vectors, carry.vectors if carry else None)
        written = write_generation(layout.passages, vectors, settings, encoder.dim, files, index_dir, layout, carry)
    # just written and checksummed: check sizes only, unless another build has replaced it since
    return load(index_dir, verify_checksums=None if current_path(index_dir) != written else False)


def _is_live(index: Index) -> bool:
    """True if CURRENT still names the generation `index` was loaded from."""
    try:
        return current_path(index.path.parent) == index.path
    except IndexLoadError:
        return False
