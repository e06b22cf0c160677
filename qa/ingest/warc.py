"""Web archives (.warc, .warc.gz) -> Articles, streamed record by record with warcio.

Each HTML response (or resource) record is a page, read by the same reader as a saved page (qa.ingest.html)
with the record's URL and HTTP charset. Records are read one at a time, so an archive of any size streams
through in constant memory. A broken record (a corrupt gzip member, a garbled header, a cut-off end) is
skipped with a warning naming the file, the record and its byte offset, and reading resumes at the next
record boundary found in the bytes after it.
"""
from __future__ import annotations

import logging
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from qa.ingest import html  # noqa: the reader module
from qa.types import Article

logger = logging.getLogger(__name__)
SUFFIXES = (".warc", ".warc.gz")
HTML_TYPES = ("text/html", "application/xhtml+xml")
PROGRESS_EVERY = 1000  # records between progress lines in the log
_GZIP_MAGIC, _WARC_MAGIC = b"\x1f\x8b\x08", b"WARC/1."


def _next_boundary(f, start: int, gz: bool) -> int | None:
    """Offset of the next record start at or after `start` (a gzip member or a WARC header line), if any."""
    magic, chunk, carry = (_GZIP_MAGIC if gz else _WARC_MAGIC), 1 << 20, b""
    f.seek(start)
    offset = start
    while block := f.read(chunk):
        data = carry + block
        if (found := data.find(magic)) >= 0:
            return offset - len(carry) + found
        carry = data[-(len(magic) - 1):]
        offset += len(block)
    return None


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def _page(record, source: str, number: int, max_bytes: int, stats: Counter) -> list[Article]:
    """The articles of one record (none for a record that is not an HTML page)."""
    from qa.ingest.errors import IngestError

    if record.rec_type not in ("response", "resource"):
        return []
    status = record.http_headers.get_statuscode() if record.http_headers else "200"
    content_type = (record.http_headers.get_header("Content-Type") if record.http_headers
                    else record.rec_headers.get_header("Content-Type")) or ""
    if status != "200" or not content_type.lower().startswith(HTML_TYPES):
        stats["not an HTML page"] += 1
        return []
    url = record.rec_headers.get_header("WARC-Target-URI")
    payload = record.content_stream().read(max_bytes + 1)
    if len(payload) > max_bytes:
        logger.warning("%s record %d (%s): page over the limit of %d bytes; skipped", source, number, url, max_bytes)
        stats["page over the size limit"] += 1
        return []
    try:
        return html.parse_html(payload, source, url=url, index=number, charset=_charset(content_type))
    except IngestError as e:  # a crawl holds many pages that are not articles (home, section, search pages)
        logger.debug("%s record %d (%s): %s", source, number, url, e.reason)
        stats["no article text"] += 1
        return []


def read_warc(path: Path, source: str, max_bytes: int, stats: Counter | None = None) -> Iterator[Article]:
    """Articles from every HTML page of a WARC, streamed; `stats` counts records and why some gave none."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    from qa.ingest.errors import IngestError

    path, stats = Path(path), stats if stats is not None else Counter()
    gz, started, number, position = path.name.lower().endswith(".gz"), time.monotonic(), 0, 0
    try:
        f = path.open("rb")
    except OSError as e:
        raise IngestError(source, f"cannot read: {e.strerror or e}") from e
    with f:
        if not f.read(len(_WARC_MAGIC)).startswith(_GZIP_MAGIC if gz else _WARC_MAGIC):
            raise IngestError(source, "not a WARC file" + (" (not gzip)" if gz else ""))
        while position is not None:
            f.seek(position)
            records, resume, done = ArchiveIterator(f), None, number
            try:
                for record in records:
                    number += 1
                    stats["records"] += 1
                    found = _page(record, source, number, max_bytes, stats)
                    stats["articles"] += len(found)
                    yield from found
                    resume, done = position + records.get_record_offset() + records.get_record_length(), number
                    if number % PROGRESS_EVERY == 0:
                        logger.info("%s: %d records, %d articles, %.0f records/s", source, number,
                                    stats["articles"], number / (time.monotonic() - started))
                position = None  # the end of the archive
            except (ArchiveLoadFailed, zlib.error, EOFError, OSError, ValueError) as e:
                bad, number = (resume if resume is not None else position), done + 1
                stats["broken records"] += 1
                position = _next_boundary(f, bad + 1, gz)
                reason = "not a WARC record header" if "first line" in str(e) else \
                    ("".join(c for c in str(e).splitlines()[0] if c.isprintable())[:100] if str(e).strip() else "")
                reason = reason or type(e).__name__
                logger.warning("%s: record %d (byte %d) is broken: %s; %s", source, number, bad, reason,
                               f"resuming at byte {position}" if position is not None else "nothing readable after it")
    if stats["records"] == 0:
        raise IngestError(source, "no readable WARC record")
