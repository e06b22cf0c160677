"""The next generation: what it carries over from the live one, vectors for its new passages, every part written."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from qa.config import Settings
from qa.embed import Encoder
from qa.index import dense as vec
from qa.index import refresh
from qa.index.bm25 import Lexical
from qa.index.manifest import IndexLoadError, build_settings, read_manifest, sha256, stale_reason, write_manifest
from qa.index.ondisk import DiskArray
from qa.index.parses import StagedParser, write_parses
from qa.index.passages import write_passages
from qa.index.stories import write_stories
from qa.index.store import ARTICLE_BM25_DIR, BM25_DIR, FAISS_FILE, VECTORS_FILE, Index

logger = logging.getLogger(__name__)


def carried_sources(index: Index | None, settings: Settings, dim: int, stored: np.ndarray | None) -> dict | None:
    """The per-file table a refresh may carry rows from (same build settings, every table present), or None."""
    if index is None or stored is None or stale_reason(index.manifest, settings, dim, soft=False) is not None:
        return None
    if index.lexical.doc_terms() is None:
        return None
    sources = refresh.read_sources(index.path)
    if sources is not None and any(entry["rows"][1] > len(index) for entry in sources.values()):
        return None  # a table that does not fit its generation carries nothing
    return sources


@dataclass(frozen=True)
class KeptVectors:
    """The passage vectors of a generation kept beside the live one, with the key of the text of each."""

    path: Path
    keys: np.ndarray  # (n, refresh.KEY_BYTES) uint8
    vectors: DiskArray  # (n, dim) float32


def kept_vectors(index_dir: Path, live: Path | None, settings: Settings, dim: int,
                 wanted: set[bytes] | None = None, used: tuple[Path, ...] = ()) -> KeptVectors | None:
    """The vectors of a generation other than `live` (the newest of at most two: the one the last build
    replaced, and an unloadable live one when `live` is None), when it was built by the same model from the
    same kind of text and its two files are whole (sizes and sha256 as its manifest lists them); else None.
    With `wanted` (the keys of the texts left to embed), only a generation holding one of them: the vectors
    file, as big as the index, is checksummed only then, so an ordinary refresh (the kept generation being the
    one before it, holding none of its new texts) reads only the small keys file.

    A refresh follows the corpus it is given: pointed once at the wrong folder, it replaces a big index with a
    small one, and the big one stays only as the kept generation, until the next build. Its vectors make that
    next build (the right folder again) re-embed nothing: only the passages, BM25 and the graph are rebuilt.
    The same holds for a live generation that no longer loads (a damaged BM25 or passage file) whose vectors
    are whole."""
    try:
        gens = sorted((p for p in index_dir.glob("gen-*") if p.is_dir() and p != live),
                      key=lambda p: p.stat().st_mtime)
    except OSError:
        return None
    for path in gens[::-1][:2]:
        if path in used:  # already taken from by this build (embed_new asks again for what is still missing)
            continue
        found = _vectors_of(path, settings, dim, wanted)
        if found is not None:
            return found
    return None


def _vectors_of(path: Path, settings: Settings, dim: int, wanted: set[bytes] | None) -> KeptVectors | None:
    """kept_vectors() of one generation folder."""
    def whole(name: str) -> bool:
        size, digest = (manifest.get("checksums") or {})[name]
        if (path / name).stat().st_size == size and sha256(path / name) == digest:
            return True
        logger.warning("not reusing the vectors of %s: %s does not match its checksum", path, name)
        return False

    try:
        manifest = read_manifest(path)
        if (manifest.get("model") != settings.model or manifest.get("dim") != dim
                or bool(manifest.get("embed_title")) != settings.embed_title or not whole(refresh.KEYS_FILE)):
            return None
        keys = np.load(path / refresh.KEYS_FILE, allow_pickle=False)
        if wanted is not None:
            raw, w = keys.tobytes(), refresh.KEY_BYTES
            if not any(raw[i:i + w] in wanted for i in range(0, len(raw), w)):
                return None
        if not whole(VECTORS_FILE):
            return None
        vectors = DiskArray(path / VECTORS_FILE)
        if keys.shape != (len(vectors), refresh.KEY_BYTES) or vectors.shape[1:] != (dim,) or vectors.dtype != np.float32:
            return None
    except (IndexLoadError, KeyError, TypeError, OSError, ValueError) as exc:
        logger.debug("no vectors reused from %s: %s", path, exc)
        return None
    return KeptVectors(path, keys, vectors)


def embed_new(texts: list[str], keys: np.ndarray, settings: Settings, encoder: Encoder,
              previous: Index | None, stored: np.ndarray | None, progress: bool,
              kept: Callable[[set[bytes], tuple[Path, ...]], KeptVectors | None] | None = None) -> np.ndarray:
    """Vectors for the new passages' texts, reusing those of identical texts in the previous index, then in
    the generations kept beside it, each in turn (`kept`, called with the keys of the texts left to embed and
    the generations already used: kept_vectors)."""
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    todo = list(range(len(texts)))
    if texts and previous is not None and previous.manifest.get("dim") == encoder.dim:
        # key the cache by the text each old vector was computed from, under the old index's settings
        old_title = bool(previous.manifest.get("embed_title"))
        if stored is not None and old_title == settings.embed_title:
            raw, w = stored.tobytes(), refresh.KEY_BYTES
            cache = {raw[i * w:(i + 1) * w]: i for i in range(len(stored))}
        else:
            cache = {refresh.text_key(p.embed_text(old_title)): i for i, p in enumerate(previous.passages)}
        todo, hits, rows = [], [], []
        for i, key in enumerate(keys):
            j = cache.get(key.tobytes())
            if j is None:
                todo.append(i)
            else:
                hits.append(i)
                rows.append(j)
        if hits:  # one gather: the old vectors may be read from disk
            out[hits] = previous.vectors[np.asarray(rows, dtype=np.int64)]
        logger.info("reusing %d cached passage vectors, %d left to encode", len(texts) - len(todo), len(todo))
    used: tuple[Path, ...] = ()
    while todo and kept is not None:  # each kept generation in turn, for the texts still without a vector
        found_in = kept({keys[i].tobytes() for i in todo}, used)
        if found_in is None:
            break
        used += (found_in.path,)
        raw, w = found_in.keys.tobytes(), refresh.KEY_BYTES
        cache = {raw[i * w:(i + 1) * w]: i for i in range(len(found_in.keys))}
        found = [(i, cache[keys[i].tobytes()]) for i in todo if keys[i].tobytes() in cache]
        if found:
            hits, rows = zip(*found)
            out[list(hits)] = found_in.vectors[np.asarray(rows, dtype=np.int64)]
            todo = sorted(set(todo) - set(hits))
            logger.info("reusing %d passage vectors of %s, %d left to encode", len(hits), found_in.path.name,
                        len(todo))
    if todo:
        out[todo] = encoder.encode([texts[i] for i in todo], batch_size=settings.batch_size, progress=progress)
    return out


def parses_usable(index: Index, settings: Settings, dim: int) -> bool:
    """Whether a generation's stored parses can be carried over: it has them, from the parser in use."""
    return index.parses is not None and index.manifest.get("parser") == build_settings(settings, dim)["parser"]


def carried_texts(carry: Index | None, layout: refresh.Layout, settings: Settings, dim: int) -> list[str]:
    """The texts of the rows a build carries over whose parses it cannot copy (an index built before parses were
    stored, or by another parser): parsed with the new passages."""
    if carry is None or not settings.parse_passages or parses_usable(carry, settings, dim):
        return []
    return [carry.passages[int(r)].text for r in layout.old_rows if r >= 0]


def write_parts(folder: Path, layout: refresh.Layout, texts: list[str], vectors: np.ndarray, keys: np.ndarray,
                settings: Settings, dim: int, files: dict, carry: Index | None,
                parses: StagedParser | None = None) -> None:
    """Write every part of a generation into `folder`, the manifest last.

    `vectors` and `keys` have every row; `layout.passages` and `texts` are the new rows only. Rows that
    `layout` carries over from `carry` have their records, term counts, parses and (for HNSW) graph entries
    copied. `parses`: the new passages' staged parses (settings.parse_passages), else no parses are stored.
    """
    write_passages(layout.passages, folder, carry.passages if carry else None, layout.old_rows)
    if settings.parse_passages:
        usable = carry is not None and parses_usable(carry, settings, dim)
        write_parses(folder, [p.text for p in layout.passages], parses, carry.parses if usable else None,
                     layout.old_rows, None if usable or carry is None else lambda row: carry.passages[row].text)
    # near-duplicate stories, no vectors; each row's article number serves the whole-article BM25 below
    row_article = write_stories(folder, layout.old_rows, carry.path if carry else None)
    np.save(folder / VECTORS_FILE, vectors, allow_pickle=False)
    np.save(folder / refresh.KEYS_FILE, keys, allow_pickle=False)
    # a private copy of the live HNSW graph to extend (the loaded one may be serving searches)
    old_dense = vec.load(carry.path / FAISS_FILE) if carry and carry.manifest.get("index_type") in ("hnsw", "ivfpq") \
        else None
    dense = vec.update(old_dense, vectors, layout.old_rows)
    vec.save(dense, folder / FAISS_FILE)
    lexical = Lexical.rebuild(carry.lexical if carry else None, layout.old_rows, texts)
    (folder / BM25_DIR).mkdir()
    lexical.save(folder / BM25_DIR)
    # whole-article BM25 from the passages' term counts (ranking evidence spread over an article's passages)
    whole = lexical.articles(row_article, int(row_article.max()) + 1 if len(row_article) else 0)
    if whole is not None:
        (folder / ARTICLE_BM25_DIR).mkdir()
        whole.save(folder / ARTICLE_BM25_DIR)
    if layout.sources:
        refresh.write_sources(layout.sources, folder)
    articles = (sum(len(s["keys"]) for s in layout.sources.values()) if layout.sources
                else len({p.article_id for p in layout.passages}))
    write_manifest(folder, {
        **build_settings(settings, dim), "index_type": dense.kind, "passages": len(vectors),
        "articles": articles, "files": files,
        "dense_slots": {"total": int(dense.index.ntotal), "dead": dense.dead},
        "refresh": {"carried_rows": layout.carried, "new_rows": len(layout.passages),
                    "parsed_files": layout.parsed},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
