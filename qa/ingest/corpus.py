"""A corpus folder -> its articles, file by file: the one read loop and the one duplicate rule.

An article whose text (whitespace- and case-insensitive) an earlier file already gave is skipped with a
warning. A refresh may pass the article keys of files it can carry over unchanged: those are not parsed,
and they count for the duplicate rule as if they had been.
"""
from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from qa.ingest.errors import CorpusError, IngestError, shown
from qa.ingest.files import parse_file
from qa.ingest.walk import walk
from qa.types import Article

logger = logging.getLogger(__name__)

MAX_BYTES = 32 * 2**20


def article_key(article: Article) -> str:
    """What counts as the same article: its whitespace- and case-insensitive text (a 20-hex-digit sha1)."""
    return hashlib.sha1(" ".join(article.text.split()).casefold().encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class Part:
    """What one corpus file gives: its articles (none when carried over unparsed) and their keys.

    `complete` is False when the file could not be read or lost an article to the duplicate rule: it must
    be read again next time (the other copy may be gone). A part without a name did not come from a file.
    """

    name: str | None
    articles: tuple[Article, ...] = ()
    keys: tuple[str, ...] = ()
    carried: bool = False
    complete: bool = True
    skipped: str | None = None  # why the file gave nothing (it could not be read)
    duplicates: int = 0  # articles lost to the duplicate rule
    notes: tuple[tuple[str, int], ...] = ()  # a web archive's record counts

def read_folder(corpus_dir: Path, max_bytes: int = MAX_BYTES,
                unchanged: Callable[[str], Sequence[str] | None] | None = None,
                outside_links: bool = False, parse: Callable[..., list[Article]] | None = None) -> Iterator[Part]:
    """The parts of every corpus file, in walk order; CorpusError at the end if no file gave an article.

    `unchanged(name)` gives the article keys of a file that need not be parsed again, or None;
    `outside_links` follows symlinks to files outside the folder too; `parse` reads one file (parse_file's
    signature: a cluster build passes one that returns what its workers parsed).
    """
    parse = parse or parse_file
    seen: dict[str, str] = {}  # article key -> file that has it
    for name, path in walk(corpus_dir, outside_links, warn=True):
        old = unchanged(name) if unchanged else None
        if old is not None and not any(k in seen for k in old):
            seen.update((k, name) for k in old)
            yield Part(name, keys=tuple(old), carried=True)
            continue
        notes: Counter = Counter()
        try:
            articles = parse(Path(path), name, max_bytes, notes)
        except IngestError as e:
            logger.warning("skipping %s: %s", shown(name), e.reason)
            yield Part(name, complete=False, skipped=e.reason, notes=tuple(notes.items()))
            continue
        kept, keys = [], []
        for n, article in enumerate(articles, 1):
            key = article_key(article)
            where = f"{name}, record {n}, {article.title[:80]!r}" if len(articles) > 1 else name
            if key in seen:
                logger.warning("skipping duplicate article in %s (same text as %s)", shown(where), shown(seen[key]))
                continue
            seen[key] = where
            kept.append(article)
            keys.append(key)
        yield Part(name, tuple(kept), tuple(keys), complete=len(kept) == len(articles),
                   duplicates=len(articles) - len(kept), notes=tuple(notes.items()))
    if not seen:
        raise CorpusError(f"no articles found in {Path(corpus_dir)} (supported: .txt .md .json .jsonl .html "
                          f".html.gz .pdf .rss .atom .xml .warc .warc.gz .docx)")


def load_corpus(corpus_dir: Path, max_bytes: int = MAX_BYTES) -> list[Article]:
    """Every article in the corpus folder; bad files and duplicate texts are skipped with a warning."""
    return [a for part in read_folder(corpus_dir, max_bytes) for a in part.articles]
