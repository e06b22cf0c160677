"""PDF files -> one Article: pypdf's text in content-stream order, title and date from the metadata or the text.

The date printed on the page (a dateline in the first lines) wins over the metadata's CreationDate, which is
when the file was made, often the day someone printed the story; the metadata title wins over the first
line unless it is a file name or a word processor's placeholder.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

from qa.ingest.head import make_article, paragraphs, split_head, title_like
from qa.types import Article

logger = logging.getLogger(__name__)
SUFFIXES = (".pdf",)
_JUNK_TITLE = re.compile(r"(?i)^(?:untitled|document\d*|microsoft (?:word|powerpoint) - .*"
                         r"|.*\.(?:docx?|pdf|indd|qxd|tmp))$")


def _meta(reader) -> tuple[str | None, str | None, dt.date | None]:
    """Title, author and creation date from the document information, if they look real."""
    try:
        info = reader.metadata
    except Exception:  # a broken Info dictionary costs only the metadata  # noqa: BLE001
        return None, None, None
    if not info:
        return None, None, None
    title = (info.title or "").strip() or None
    if title and (_JUNK_TITLE.match(title) or not title_like(title)):
        title = None
    author = (info.author or "").strip() or None
    if author and len(author.split()) < 2:  # a login name, not a byline
        author = None
    try:
        created = info.creation_date
    except (ValueError, TypeError):  # a date string pypdf cannot read
        created = None
    return title, author, created.date() if created else None


def read_pdf(path: Path, source: str, max_bytes: int) -> list[Article]:
    """The article in one PDF; IngestError for an oversized, unreadable, encrypted or image-only file."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    from qa.ingest.errors import IngestError

    path = Path(path)
    try:
        if (size := path.stat().st_size) > max_bytes:
            raise IngestError(source, f"file is {size} bytes, over the limit of {max_bytes}")
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:  # many PDFs are "protected" with an empty user password and open for reading
                opened = reader.decrypt("")
            except (NotImplementedError, DependencyError) as e:  # an AES file without the crypto library
                raise IngestError(source, f"encrypted PDF ({e})") from None
            if not opened:
                raise IngestError(source, "encrypted PDF (needs a password)")
        lines = []
        for page in reader.pages:
            lines += (page.extract_text() or "").split("\n")
    except FileNotDecryptedError:
        raise IngestError(source, "encrypted PDF (needs a password)") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise IngestError(source, f"not a readable PDF: {type(e).__name__}: {e}"[:200]) from None
    except OSError as e:
        raise IngestError(source, f"cannot read: {e.strerror or e}") from e
    if not any(line.strip() for line in lines):
        raise IngestError(source, f"has no text layer ({len(reader.pages)} page(s) of images or drawings; "
                                  "run OCR first)")
    meta_title, meta_author, created = _meta(reader)
    title, byline, printed, body = split_head(lines, meta_title, want_title=not meta_title)
    return [make_article(source, 0, paragraphs(body) or title or "", title, printed or created,
                         byline or meta_author)]

