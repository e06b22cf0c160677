"""A generation's manifest: the build settings it was made with, whether it is stale, its files' checksums."""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from qa.config import Settings
from qa.ingest import shown

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VERIFY_LIMIT = 512 * 2**20  # checksum every file on load while the index is smaller than this


class IndexLoadError(Exception):
    """The index on disk is missing, corrupt or stale; the message says which and why."""


def build_settings(settings: Settings, dim: int) -> dict:
    """The parts of the settings that, when changed, make an index stale."""
    return {"format_version": FORMAT_VERSION, "model": settings.model, "dim": dim,
            "chunk_words": settings.chunk_words, "chunk_chars": settings.chunk_chars,
            "chunk_overlap": settings.chunk_overlap_sentences, "embed_title": settings.embed_title,
            "parser": _parser() if settings.parse_passages else None}


@functools.lru_cache(maxsize=1)
def _parser() -> str:
    """The spaCy pipeline the passages' stored parses come from (qa.index.parses), package and version."""
    from qa.read.nlp import parser_name

    return parser_name()


# Build settings whose change leaves an index servable and its rows carried over: the next build adds what the
# generation lacks (its passages' parses) while questions are answered from it as it is. Each with what that build
# does, in the words an answer's note gives a user.
SOFT = {"parser": "storing each passage's parse, for faster answers"}


def stale_reason(manifest: dict, settings: Settings, dim: int, files: dict | None = None,
                 soft: bool = True) -> str | None:
    """Why an index with this manifest is out of date for these settings and corpus fingerprint, or None.

    Without `files` only the build settings are compared: what a refresh needs to carry rows over. With
    `soft=False`, a change of a SOFT setting is not a reason: the index can still serve, and its rows be carried.
    """
    for key, value in build_settings(settings, dim).items():
        if manifest.get(key) != value and (soft or key not in SOFT):
            return f"{key} changed ({manifest.get(key)!r} -> {value!r})"
    if files is not None and manifest.get("files") != files:
        old, new = set(manifest.get("files", {})), set(files)
        added, removed = sorted(new - old), sorted(old - new)
        changed = sorted(f for f in old & new if manifest["files"][f] != files[f])
        parts = [f"{label}: {', '.join(map(shown, names[:3]))}{' ...' if len(names) > 3 else ''}"
                 for label, names in (("added", added), ("removed", removed), ("changed", changed)) if names]
        return "corpus changed (" + "; ".join(parts) + ")"
    return None


def upgrade_reason(manifest: dict, settings: Settings, dim: int) -> str:
    """What a build that changes only SOFT settings adds, in a user's words ("storing each passage's parse, ...")."""
    built = build_settings(settings, dim)
    return "; ".join(label for key, label in SOFT.items() if manifest.get(key) != built.get(key)) or "upgrading"


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checksums(folder: Path) -> dict[str, list]:
    """[size, sha256] of every file in a generation folder but the manifest, by relative name."""
    return {p.relative_to(folder).as_posix(): [p.stat().st_size, sha256(p)]
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write the manifest, with the checksums of everything already in `folder`, as the folder's last file."""
    manifest = {**manifest, "checksums": checksums(folder)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))


def read_manifest(path: Path) -> dict:
    """The manifest of a generation folder; IndexLoadError if missing or unreadable."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"manifest unreadable in {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexLoadError(f"index format {found!r} is not {FORMAT_VERSION}")
    if problem := _shape_problem(manifest):
        raise IndexLoadError(f"manifest in {path} is corrupt: {problem}")
    return manifest


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# The type of each field the code reads, where present (a field a newer build adds is absent from older ones).
_FIELDS = {"model": str, "dim": int, "chunk_words": int, "chunk_overlap": int, "chunk_chars": int,
           "embed_title": bool, "parser": str, "index_type": str, "articles": int, "dense_slots": dict, "refresh": dict}


def _shape_problem(manifest: dict) -> str | None:
    """What is wrong with a manifest's structure (valid JSON, wrong types), or None: such a one is corrupt."""
    if not _count(manifest.get("passages")):
        return "passages is not a count"
    sums, files = manifest.get("checksums"), manifest.get("files")
    if not isinstance(sums, dict) or not all(
            isinstance(v, list) and len(v) == 2 and _count(v[0]) and isinstance(v[1], str)
            and not Path(k).is_absolute() and ".." not in Path(k).parts for k, v in sums.items()):
        return "checksums is not a table of [size, sha256] by file"
    if not isinstance(files, dict) or not all(isinstance(v, list) for v in files.values()):
        return "files is not a table of fingerprints by file"
    for key, kind in _FIELDS.items():
        value = manifest.get(key)
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            return f"{key} is not {kind.__name__}"
    return None


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
        if full and sha256(f) != digest:
            raise IndexLoadError(f"{name} checksum mismatch in {path}")
