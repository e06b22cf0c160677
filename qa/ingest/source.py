"""Where an index's articles come from: the CorpusSource protocol, a folder (the default) or articles in memory.

The index asks a source for a fingerprint of its parts (when it changes, the index is stale) and for the
parts themselves, in order; it passes `unchanged`, which gives the article keys of a part the live
generation already holds as it is now, so a folder need not parse those files again.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence

from qa.config import Settings
from qa.ingest.corpus import MAX_BYTES, Part, read_folder
from qa.ingest.formats import Tally
from qa.ingest.walk import fingerprint
from qa.types import Article

Unchanged = Callable[[str], Sequence[str] | None]


class CorpusSource(Protocol):
    """What the index needs of a corpus."""

    def fingerprint(self) -> dict[str, list]:
        """A JSON fingerprint of each part by name; the index is stale when it differs from the manifest's."""

    def read(self, unchanged: Unchanged | None = None) -> Iterator[Part]:
        """The parts in order: parsed, or (where `unchanged` gives their keys) carried over unparsed."""

    def check_outside(self, folder: Path) -> None:
        """ValueError if reading the corpus would read `folder` (the index's own files)."""


@dataclass(frozen=True)
class FolderSource:
    """The corpus folder: one part per supported file, fingerprinted by size, mtime and ctime.

    `outside_links` follows symlinks whose target is outside the folder (by default they are skipped).
    """

    path: Path
    max_bytes: int = MAX_BYTES
    outside_links: bool = False
    tally: Tally | None = field(default=None, compare=False)  # filled per format as the files are read

    @classmethod
    def from_settings(cls, settings: Settings, tally: Tally | None = None) -> "FolderSource":
        """The folder settings.corpus_dir, with the settings' file size limit and symlink policy."""
        return cls(settings.corpus_dir, settings.max_file_mb * 2**20, settings.follow_outside_links, tally)

    def fingerprint(self) -> dict[str, list]:
        """[size, mtime_ns, ctime_ns] of every corpus file by name."""
        return fingerprint(self.path, self.outside_links)

    def read(self, unchanged: Unchanged | None = None) -> Iterator[Part]:
        """Every file's part, the duplicate rule applied across files; CorpusError if none has an article."""
        parts = read_folder(self.path, self.max_bytes, unchanged, self.outside_links)
        return parts if self.tally is None else (self.tally.add(p) or p for p in parts)

    def check_outside(self, folder: Path) -> None:
        """Refuse an index folder the walk would read: it would index its own files, then rebuild forever."""
        try:
            inside = Path(folder).resolve().relative_to(Path(self.path).resolve())
        except ValueError:
            return
        if not any(part.startswith(".") for part in inside.parts):  # hidden folders are not walked
            raise ValueError(f"index folder {folder} is inside the corpus folder {self.path}; "
                             f"move it out or give it a name starting with a dot")


class ArticlesSource:
    """Articles already in memory (Python callers, benchmarks), with a fingerprint of the data they came from.

    They are one unnamed part, indexed whole and as given (no duplicate rule): a change of the
    fingerprint rebuilds the index.
    """

    def __init__(self, articles: Sequence[Article], fingerprint: dict[str, list]):
        self.articles = tuple(articles)
        self._fingerprint = json.loads(json.dumps(fingerprint))  # as the manifest will hold it

    def fingerprint(self) -> dict[str, list]:
        """The fingerprint given, in JSON types."""
        return self._fingerprint

    def read(self, unchanged: Unchanged | None = None) -> Iterator[Part]:
        """One part with every article."""
        yield Part(None, self.articles)

    def check_outside(self, folder: Path) -> None:
        """Nothing to check: no folder is read."""

