"""The Markdown reader: YAML front matter for metadata, the first heading as title, heading marks dropped."""
from __future__ import annotations

import re

import yaml

from qa.ingest.article import make_article
from qa.ingest.errors import IngestError
from qa.types import Article


def read_markdown(text: str, source: str) -> list[Article]:
    """The article of a Markdown file's (decoded, newline-normalised) text."""
    meta: dict = {}
    if m := re.match(r"---[ \t]*\n(.*?)^---[ \t]*(?:\n|\Z)", text, re.S | re.M):
        try:
            meta = yaml.safe_load(m[1]) or {}
        except yaml.YAMLError as e:
            raise IngestError(source, f"bad YAML front matter: {e}") from None
        if not isinstance(meta, dict):
            raise IngestError(source, "front matter is not a mapping")
        meta, text = {str(k).lower(): v for k, v in meta.items()}, text[m.end():]
    if "title" not in meta and (h := re.match(r"\s*#{1,6}[ \t]+(.+?)[ \t#]*(?:\n|$)", text)):
        meta["title"], text = h[1], text[h.end():]
    return [make_article(source, 0, meta, re.sub(r"(?m)^#{1,6}[ \t]+", "", text), source)]
