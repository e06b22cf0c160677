"""RSS and Atom feed files (.rss, .atom, .xml) -> one Article per entry, read with feedparser."""
from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from xml.sax import SAXParseException

from qa.ingest.head import make_article
from qa.types import Article

logger = logging.getLogger(__name__)
SUFFIXES = (".rss", ".atom", ".xml")
_BLOCKS = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr", "section", "article",
           "figure", "ul", "ol", "table"}
_DROP = {"script", "style", "figcaption", "iframe", "noscript"}


def html_text(fragment: str) -> str:
    """Plain text of an HTML fragment (a feed entry's content), a paragraph per block element."""
    from lxml import html as lxml_html
    from lxml.etree import ParserError

    if "<" not in fragment:
        return fragment.strip()
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (ParserError, ValueError):
        return re.sub(r"<[^>]+>", " ", fragment).strip()
    for node in list(root.iter()):
        if node.tag in _DROP and node.getparent() is not None:
            node.drop_tree()
        elif node.tag == "br":
            node.tail = "\n" + (node.tail or "")
        elif node.tag in _BLOCKS:
            node.tail = "\n\n" + (node.tail or "")
            node.text = "\n\n" + (node.text or "")
    text = root.text_content()
    paras = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paras if p)


def _day(entry) -> dt.date | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        if stamp := entry.get(key):  # a UTC struct_time
            try:
                return dt.date(stamp.tm_year, stamp.tm_mon, stamp.tm_mday)
            except ValueError:
                continue
    return None


def _body(entry) -> str:
    """The entry's full content if it has one, else its summary (whichever is longer)."""
    texts = [c.get("value", "") for c in entry.get("content", []) if isinstance(c, dict)]
    texts.append(entry.get("summary", ""))
    return max((html_text(t) for t in texts if t), key=len, default="")


def read_feed(path: Path, source: str, max_bytes: int) -> list[Article]:
    """The entries of one RSS or Atom file; IngestError if it is not a feed or has no usable entry."""
    import feedparser

    from qa.ingest.errors import IngestError

    path = Path(path)
    try:
        if (size := path.stat().st_size) > max_bytes:
            raise IngestError(source, f"file is {size} bytes, over the limit of {max_bytes}")
        data = path.read_bytes()
    except OSError as e:
        raise IngestError(source, f"cannot read: {e.strerror or e}") from e
    # feedparser reads bytes itself (XML declaration, BOM) and never fetches anything for a bytes input.
    parsed = feedparser.parse(data)
    if not parsed.entries:
        error = parsed.get("bozo_exception")
        if parsed.get("version"):
            reason = "a feed with no entries"
        elif isinstance(error, SAXParseException):
            reason = f"not XML ({error.getMessage()} at line {error.getLineNumber()}, column {error.getColumnNumber()})"
        else:
            reason = "not an RSS or Atom feed"
        raise IngestError(source, reason)
    if parsed.get("bozo"):
        logger.warning("%s: malformed feed, read what could be read: %s", source, parsed.get("bozo_exception"))
    site = parsed.feed.get("title") or None
    articles = []
    for k, entry in enumerate(parsed.entries):
        text, title = _body(entry), html_text(entry.get("title", ""))
        if not text:
            logger.warning("%s entry %d (%s): no content or summary; skipped", source, k, title or "untitled")
            continue
        articles.append(make_article(source, k, text, title or None, _day(entry), entry.get("author") or None,
                                     entry.get("link") or None, site))
    if not articles:
        raise IngestError(source, "no entry has any text")
    return articles
