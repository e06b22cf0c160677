"""The .txt reader: one article per file, its title, date and byline taken off the first lines."""
from __future__ import annotations

from qa.ingest.article import make_article
from qa.types import Article


def read_txt(text: str, source: str) -> list[Article]:
    """The article of a plain-text file's (decoded, newline-normalised) text."""
    return [make_article(source, 0, {}, text, source)]
