"""Word documents (.docx) -> one Article, read with python-docx: paragraphs in order, tables after them.

Title: the core properties' title, else the first paragraph styled Title or Heading 1, else the first line
if it looks like a headline. Date: a dateline in the first lines, else the core properties' creation date
(when the document was written: for a press release or a filed story, close to its publication).
"""
from __future__ import annotations

import logging
import zipfile
from pathlib import Path

from qa.ingest.head import make_article, split_head
from qa.types import Article

logger = logging.getLogger(__name__)
SUFFIXES = (".docx",)


def read_docx(path: Path, source: str, max_bytes: int) -> list[Article]:
    """The article in one Word document; IngestError for an oversized, unreadable or empty file."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    from qa.ingest.errors import IngestError

    path = Path(path)
    try:
        if (size := path.stat().st_size) > max_bytes:
            raise IngestError(source, f"file is {size} bytes, over the limit of {max_bytes}")
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile):
        raise IngestError(source, "not a Word document (not a .docx zip package)") from None
    except (KeyError, ValueError) as e:
        raise IngestError(source, f"not a readable Word document: {e}"[:200]) from None
    except OSError as e:
        raise IngestError(source, f"cannot read: {e.strerror or e}") from e
    title = (document.core_properties.title or "").strip() or None
    lines = []
    for para in document.paragraphs:
        text = " ".join(para.text.split())
        style = (para.style.name if para.style is not None else "") or ""
        if text and title is None and not lines and style in ("Title", "Heading 1"):
            title = text
            continue
        lines.append(text)
    for table in document.tables:  # cells once each: merged cells repeat in python-docx's rows
        for row in table.rows:
            cells = list(dict.fromkeys(" ".join(c.text.split()) for c in row.cells))
            lines.append(" | ".join(c for c in cells if c))
    title, byline, printed, body = split_head(lines, title, want_title=title is None)
    if not body:
        raise IngestError(source, "no text in the document")
    created = document.core_properties.created
    return [make_article(source, 0, "\n\n".join(body), title, printed or (created.date() if created else None),
                         byline)]
