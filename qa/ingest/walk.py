"""Which files a corpus folder holds: the one corpus walk (hidden skipped, supported types, sorted) and its
fingerprint (size, mtime and ctime per file), cheap enough for a refresh check every few seconds.

Two kinds of entry are never listed: a name that is not valid UTF-8 (it could not be stored in the index's
JSON, nor shown), and, unless `outside_links`, a symlink whose target lies outside the corpus folder (a
link to /etc/passwd would otherwise be served as an article).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from qa.ingest.errors import CorpusError, shown
from qa.ingest.formats import format_of

logger = logging.getLogger(__name__)

OUTSIDE_LINKS_ENV = "QA_FOLLOW_OUTSIDE_LINKS"


def walk(corpus_dir: Path, outside_links: bool = False, warn: bool = False) -> list[tuple[str, str]]:
    """(name relative to the folder, path) of each supported file under `corpus_dir`, sorted by name.

    Hidden files and folders are skipped. Broken symlinks are listed (so they get reported, not silently
    lost); symlinked folders are not followed (they could loop); a symlinked file is followed only to a
    target inside the folder, unless `outside_links`. `warn` logs each refused entry (the read does; the
    frequent fingerprint does not). Plain strings, not a Path per file: building and sorting Paths costs
    seconds on a large archive.
    """
    root = os.fspath(corpus_dir)
    try:
        os.listdir(root)
    except OSError as e:
        if not os.path.isdir(root):
            problem = "is not a folder" if os.path.exists(root) else "does not exist"
            raise CorpusError(f"corpus folder {Path(corpus_dir)} {problem}") from None
        raise CorpusError(f"cannot read corpus folder {Path(corpus_dir)}: {e.strerror or e}") from e
    real_root = os.path.realpath(root)
    found = []
    folders = [(root, "")]
    while folders:  # os.scandir, not os.walk: each entry says whether it is a link without another system call
        folder, prefix = folders.pop()
        try:
            with os.scandir(folder) as entries:
                entries = list(entries)
        except OSError as e:
            logger.warning("skipping folder %s", e)
            continue
        for entry in entries:
            name = entry.name
            if name[:1] == ".":
                continue
            rel = f"{prefix}/{name}" if prefix else name
            if _is_folder(entry):
                if not entry.is_symlink():  # a linked folder could loop
                    folders.append((entry.path, rel))
            elif format_of(name):  # by whole ending: ".html.gz" is not ".gz"
                if why := _refused(rel, entry, real_root, outside_links):
                    if warn:
                        logger.warning("skipping %s: %s", shown(rel), why)
                    continue
                found.append((rel, entry.path))
    found.sort(key=lambda item: item[0].split("/"))
    return found


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _refused(name: str, entry: os.DirEntry, real_root: str, outside_links: bool) -> str | None:
    """Why a listed file is left out, or None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        return "the file name is not valid UTF-8; rename the file"
    if not outside_links and entry.is_symlink():
        target = os.path.realpath(entry.path)
        if os.path.commonpath([target, real_root]) != real_root:
            return (f"a link to a file outside the corpus folder (set {OUTSIDE_LINKS_ENV}=1 to follow such "
                    f"links)")
    return None


def list_files(corpus_dir: Path, outside_links: bool = False) -> list[Path]:
    """Supported files under `corpus_dir` (recursive, sorted), skipping hidden files and folders."""
    return [Path(path) for _, path in walk(corpus_dir, outside_links)]


def fingerprint(corpus_dir: Path, outside_links: bool = False) -> dict[str, list[int]]:
    """[size, mtime_ns, ctime_ns] of every corpus file by name: cheap to compute, enough to notice a change.

    ctime because size and mtime can be kept by an edit (`cp -p`, `rsync -a`, `touch -r`) and do not
    change when a file's permissions are fixed; no program can set ctime back. It comes with the same stat
    call, so the check costs nothing more.
    """
    files = {}
    for name, path in walk(corpus_dir, outside_links):
        try:
            st = os.stat(path)
        except OSError:
            continue  # broken symlink: reading the corpus warns about it
        files[name] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    return files
