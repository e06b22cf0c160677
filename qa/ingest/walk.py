"""Which files a corpus folder holds: the one corpus walk (hidden skipped, supported types, sorted) and its
fingerprint (size and mtime per file), cheap enough for a refresh check every few seconds."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from qa.ingest.errors import CorpusError
from qa.ingest.formats import format_of

logger = logging.getLogger(__name__)


def walk(corpus_dir: Path) -> list[tuple[str, str]]:
    """(name relative to the folder, path) of each supported file under `corpus_dir`, sorted by name.

    Hidden files and folders are skipped. Broken symlinks are listed (so they get reported, not silently
    lost); symlinked folders are not followed (they could loop). Plain strings, not a Path per file:
    building and sorting Paths costs seconds on a large archive.
    """
    root = os.fspath(corpus_dir)
    try:
        os.listdir(root)
    except OSError as e:
        if not os.path.isdir(root):
            problem = "is not a folder" if os.path.exists(root) else "does not exist"
            raise CorpusError(f"corpus folder {Path(corpus_dir)} {problem}") from None
        raise CorpusError(f"cannot read corpus folder {Path(corpus_dir)}: {e.strerror or e}") from e
    found = []
    for folder, dirs, names in os.walk(root, onerror=lambda e: logger.warning("skipping folder %s", e)):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        prefix = folder[len(root):].strip(os.sep).replace(os.sep, "/")
        for name in names:
            if name[:1] != "." and format_of(name):  # by whole ending: ".html.gz" is not ".gz"
                found.append((f"{prefix}/{name}" if prefix else name, os.path.join(folder, name)))
    found.sort(key=lambda item: item[0].split("/"))
    return found


def list_files(corpus_dir: Path) -> list[Path]:
    """Supported files under `corpus_dir` (recursive, sorted), skipping hidden files and folders."""
    return [Path(path) for _, path in walk(corpus_dir)]


def fingerprint(corpus_dir: Path) -> dict[str, list[int]]:
    """[size, mtime_ns] of every corpus file by name: cheap to compute, enough to notice a change."""
    files = {}
    for name, path in walk(corpus_dir):
        try:
            st = os.stat(path)
        except OSError:
            continue  # broken symlink: reading the corpus warns about it
        files[name] = [st.st_size, st.st_mtime_ns]
    return files
