"""The readers of saved web pages, PDFs, feeds, web archives and Word files, by file name ending, and a tally
of what each format gave (articles read, files skipped and why) for the summary after indexing."""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from qa.ingest import docx, feeds, html, pdf, warc
from qa.types import Article

# ending -> (format name, reader(path, source, max_bytes) -> articles); longest ending wins (".warc.gz").
READERS: dict[str, tuple[str, Callable]] = {
    **{s: ("html", html.read_html) for s in html.SUFFIXES},
    **{s: ("pdf", pdf.read_pdf) for s in pdf.SUFFIXES},
    **{s: ("feed", feeds.read_feed) for s in feeds.SUFFIXES},
    **{s: ("warc", warc.read_warc) for s in warc.SUFFIXES},
    **{s: ("docx", docx.read_docx) for s in docx.SUFFIXES},
}
SUFFIXES = tuple(sorted(READERS, key=len, reverse=True))
# The text formats files.py reads itself (decoded there), by suffix.
TEXT_FORMATS = {".txt": "txt", ".md": "md", ".markdown": "md", ".json": "json", ".jsonl": "jsonl"}


def format_of(name: str | Path) -> str | None:
    """The format a file name says ("txt", "html", "warc", ...), or None when no reader takes it."""
    found = reader_for(name)
    return found[0] if found else TEXT_FORMATS.get(os.path.splitext(os.fspath(name))[1].lower())


def ending(path: str | Path) -> str | None:
    """The reader's file name ending that `path` has (".html.gz" before ".gz"), or None."""
    name = Path(path).name.lower()
    return next((s for s in SUFFIXES if name.endswith(s)), None)


def reader_for(path: str | Path) -> tuple[str, Callable] | None:
    """(format name, reader) for a file, or None when no reader here takes it."""
    found = ending(path)
    return READERS[found] if found else None


def read(path: Path, source: str, max_bytes: int, notes: Counter | None = None) -> list[Article]:
    """The articles of one file by its reader; a web archive's record counts go into `notes`."""
    fmt, reader = READERS[ending(path)]
    if fmt == "warc":
        # Streamed record by record; the file's articles are held together as the corpus loop's one part.
        return list(reader(path, source, max_bytes, notes))
    return list(reader(path, source, max_bytes))


@dataclass
class Tally:
    """Per format: files, articles read, files skipped with their reasons, and notes (WARC record counts)."""

    files: Counter = field(default_factory=Counter)
    articles: Counter = field(default_factory=Counter)
    skipped: dict[str, Counter] = field(default_factory=dict)
    notes: dict[str, Counter] = field(default_factory=dict)

    def read(self, fmt: str, articles: int, notes: Counter | None = None) -> None:
        """Count a file that gave `articles` articles."""
        self.files[fmt] += 1
        self.articles[fmt] += articles
        if notes:
            self.notes.setdefault(fmt, Counter()).update(notes)

    def add(self, part) -> None:
        """Count one corpus file's part (qa.ingest.corpus.Part): read, carried over unchanged, or skipped."""
        if part.name is None:
            return
        fmt = format_of(part.name) or "other"
        notes = Counter({k: v for k, v in part.notes if k != "articles"})  # articles are counted already
        if part.duplicates:
            notes["duplicate articles skipped"] += part.duplicates
        if part.carried:
            notes["unchanged files carried over"] += 1
        if part.skipped is not None:
            self.skip(fmt, part.skipped)
            if notes:
                self.notes.setdefault(fmt, Counter()).update(notes)
        else:
            self.read(fmt, len(part.keys), notes)

    def skip(self, fmt: str, reason: str) -> None:
        """Count a file skipped for `reason` (its first words, so like reasons add up)."""
        self.files[fmt] += 1
        self.skipped.setdefault(fmt, Counter())[_kind(reason)] += 1

    def lines(self) -> list[str]:
        """One line per format, e.g. "html: 3 files, 4 articles read; 1 skipped (truncated gzip file: 1)"."""
        out = []
        for fmt in sorted(self.files):
            skipped = self.skipped.get(fmt, Counter())
            line = f"{fmt}: {_n(self.files[fmt], 'file')}, {_n(self.articles[fmt], 'article')} read"
            if sum(skipped.values()):
                reasons = ", ".join(f"{why}: {n}" for why, n in sorted(skipped.items(), key=lambda x: (-x[1], x[0])))
                line += f"; {sum(skipped.values())} skipped ({reasons})"
            if notes := self.notes.get(fmt):
                line += " [" + ", ".join(f"{k}: {v}" for k, v in sorted(notes.items())) + "]"
            out.append(line)
        return out


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _kind(reason: str) -> str:
    """A reason without its particulars ("file is 209715200 bytes, over..." -> "over the size limit")."""
    if "over the limit" in reason:
        return "over the size limit"
    return reason.split(" (")[0].split(":")[0].strip()


def summarise(results: Iterable[tuple[str, int | str]]) -> Tally:
    """A tally from (format, article count or skip reason) pairs."""
    tally = Tally()
    for fmt, outcome in results:
        if isinstance(outcome, int):
            tally.read(fmt, outcome)
        else:
            tally.skip(fmt, outcome)
    return tally
