"""Bytes -> text: UTF-8 (with or without BOM), else cp1252, else latin-1; binary content is refused."""
from __future__ import annotations

from qa.ingest.errors import IngestError


def decode(data: bytes, where: str) -> tuple[str, str | None]:
    """The text and, when it was not UTF-8, the fallback encoding used."""
    if b"\x00" in data:
        raise IngestError(where, "binary content (NUL bytes)")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), None if encoding == "utf-8-sig" else encoding
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1"), "latin-1"  # cp1252 leaves five bytes undefined; latin-1 maps all
