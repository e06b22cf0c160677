"""The JSON and JSONL readers: one article per record object (text/body/content, with metadata keys)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from qa.ingest.article import first, make_article
from qa.ingest.decode import decode
from qa.ingest.errors import IngestError, shown
from qa.types import Article

logger = logging.getLogger(__name__)


def record_article(obj, source: str, index: int, where: str) -> Article:
    """The article of one record; IngestError if it is not an object with text."""
    if not isinstance(obj, dict):
        raise IngestError(where, f"record is a {type(obj).__name__}, not an object")
    meta = {str(k).lower(): v for k, v in obj.items()}
    text = first(meta, ("text", "body", "content"))
    if not isinstance(text, str) or not text.strip():
        raise IngestError(where, "record has no text (expected one of: text, body, content)")
    return make_article(source, index, meta, text, where)


def read_json(text: str, source: str) -> list[Article]:
    """The articles of a .json file: one record object or a list of them; any bad record fails the file."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise IngestError(source, f"invalid JSON: {e}") from None
    records = data if isinstance(data, list) else [data]
    if not records:
        raise IngestError(source, "no records")
    articles = []
    for k, record in enumerate(records):
        try:
            articles.append(record_article(record, source, k, f"{source} record {k}"))
        except IngestError as e:  # one bad record means the file is not what we think it is
            raise IngestError(source, f"record {k}: {e.reason}") from None
    return articles


def read_jsonl(path: Path, source: str, max_bytes: int) -> list[Article]:
    """The articles of a .jsonl file, one record per line; a bad line is skipped with a warning."""
    # Streamed so one big export need not fit in memory; a bad line costs only its own record.
    articles, warned = [], False
    with path.open("rb") as f:
        if b"\x00" in f.read(8192):
            raise IngestError(source, "binary content (NUL bytes)")
        f.seek(0)
        for lineno, raw in enumerate(f, 1):
            where = f"{shown(source)} line {lineno}"
            try:
                if not raw.strip():
                    continue
                if len(raw) > max_bytes:  # one record must not bring in what a whole file may not
                    raise IngestError(where, f"record is {len(raw)} bytes, over the limit of {max_bytes}")
                text, fallback = decode(raw, where)
                if fallback and not warned:
                    warned = True
                    logger.warning("%s is not valid UTF-8; decoded it as %s", shown(source), fallback)
                articles.append(record_article(json.loads(text), source, lineno - 1, where))
            except (ValueError, RecursionError, IngestError) as e:
                logger.warning("%s: skipping bad record: %s", where, getattr(e, "reason", e))
    if not articles:
        raise IngestError(source, "no valid records")
    return articles
