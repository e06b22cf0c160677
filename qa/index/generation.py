"""Generation folders: written in a temp folder, fsynced, renamed, made live by an atomic CURRENT swap.

A crash at any step leaves the previous generation live; after each swap the generation it replaced is kept (a
reader may still have it open; the next build reuses its vectors), older ones and stray temp folders are removed.
"""
from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Callable

from qa.index.manifest import IndexLoadError

CURRENT = "CURRENT"


def publish(index_dir: Path, write: Callable[[Path], None]) -> Path:
    """Let `write` fill a new temp folder, then make it the live generation; returns its folder."""
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    try:
        write(tmp)
        _fsync_tree(tmp)
        try:
            replaced = current_path(index_dir)
        except IndexLoadError:
            replaced = None
        os.rename(tmp, index_dir / name)
        _atomic_write(index_dir / CURRENT, name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # the generation this one replaced is the one kept (a build warns that it is, and reuses its vectors:
    # qa.index.build.kept_vectors), not a newer folder a build killed before its swap left behind
    kept = {replaced.name} if replaced is not None and replaced.is_dir() and replaced.name != name else set()
    _remove_old_generations(index_dir, keep={name}, previous=kept)
    return index_dir / name


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


def is_live(path: Path) -> bool:
    """True if CURRENT still names the generation folder `path`."""
    try:
        return current_path(path.parent) == path
    except IndexLoadError:
        return False


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


def _remove_old_generations(index_dir: Path, keep: set[str], previous: set[str] = frozenset()) -> None:
    """Delete every generation but `keep` and `previous` (the one the live one replaced; without it, the newest
    other), and stray temps: a reader may still have the previous one open.

    Stray temps are the folders and `.CURRENT.<hex>` files of builds killed before their switch; the caller
    holds the build lock, so no other build is writing one.
    """
    gens = sorted((p for p in index_dir.glob("gen-*") if p.name not in keep), key=lambda p: p.stat().st_mtime)
    gone = [p for p in gens if p.name not in previous] if previous else gens[:-1]
    for p in gone + [t for t in index_dir.glob(".tmp-gen-*")]:
        shutil.rmtree(p, ignore_errors=True)
    for p in index_dir.glob(f".{CURRENT}.*"):
        if p.is_symlink() or p.is_file():  # a planted link is removed, never followed
            p.unlink(missing_ok=True)
