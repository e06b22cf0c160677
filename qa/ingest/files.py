"""One corpus file -> its articles: the checks every file passes, then the reader for its format (text
formats decoded here; web pages, PDFs, feeds, web archives and Word files by their readers in formats.py)."""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from qa.ingest import formats
from qa.ingest.decode import decode
from qa.ingest.errors import IngestError, shown
from qa.ingest.markdown import read_markdown
from qa.ingest.records import read_json, read_jsonl
from qa.ingest.txt import read_txt
from qa.types import Article

logger = logging.getLogger(__name__)

READERS = {".txt": read_txt, ".md": read_markdown, ".markdown": read_markdown, ".json": read_json}
SUPPORTED = (".txt", ".md", ".markdown", ".json", ".jsonl")  # .jsonl is streamed from the file


def parse_file(path: Path, source: str, max_bytes: int, notes: Counter | None = None) -> list[Article]:
    """Parse one corpus file into its articles; raise IngestError naming the file and the reason.

    `notes` counts what a web archive's records gave (records, broken records, pages without an article).
    """
    path, suffix = Path(path), Path(path).suffix.lower()
    other = formats.reader_for(path)  # by the whole ending: ".html.gz" and ".warc.gz" are not ".gz"
    if other is None and suffix not in SUPPORTED:
        raise IngestError(source, f"unsupported file type {suffix!r}")
    try:
        if not path.exists():
            raise IngestError(source, "broken symlink" if path.is_symlink() else "file not found")
        if not path.is_file():  # reading a FIFO named x.txt would block forever
            raise IngestError(source, "not a regular file")
        if (size := path.stat().st_size) == 0:
            raise IngestError(source, "empty file")
        if other is not None:
            return formats.read(path, source, max_bytes, notes)
        if suffix == ".jsonl":
            return read_jsonl(path, source, max_bytes)
        if size > max_bytes:
            raise IngestError(source, f"file is {size} bytes, over the limit of {max_bytes}")
        text, fallback = decode(path.read_bytes(), source)
    except OSError as e:
        raise IngestError(source, f"cannot read: {e.strerror or e}") from e
    if fallback:
        logger.warning("%s is not valid UTF-8; decoded it as %s", shown(source), fallback)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise IngestError(source, "empty file")
    return READERS[suffix](text, source)
