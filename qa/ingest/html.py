"""Saved web pages (.html, .htm, .html.gz) -> Article: trafilatura for the body, its metadata and htmldate.

The body comes from `trafilatura.bare_extraction`; the headline, author, site name and canonical URL from
`trafilatura.extract_metadata` (JSON-LD NewsArticle, Open Graph, meta tags, then the page); the date from
htmldate (through trafilatura) on its structured signals only. Comment threads, "related stories" and
other teaser lists are pruned from the page first, so a date printed next to a comment or another story's
link is never taken for the article's own. Failing all metadata, the byline and date come from the first
lines of the text and the date from the URL.
"""
from __future__ import annotations

import codecs
import datetime as dt
import gzip
import logging
import re
import zlib
from pathlib import Path

from lxml import etree

from qa.ingest.head import BYLINE, make_article, split_head
from qa.types import Article

logger = logging.getLogger(__name__)
SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")

# Extraction settings, chosen for news in general and measured in qa/evaluation/extraction.py: precision
# over recall, since a passage of furniture in the index is worse for answering than a lost sentence;
# trafilatura's fallback extractors stay on (they rescue pages whose layout its own rules miss); a
# precise extraction shorter than SHORT_WORDS is retried in trafilatura's balanced mode.
OPTIONS = {"favor_precision": True, "include_comments": False, "include_tables": True}
SHORT_WORDS = 100

# Page parts that are never the article: comment threads, teaser lists of other stories, subscription
# and newsletter prompts. Matched on whole words of class and id ("header" and "thread" are not "ad"s).
# "sidebar" is left out: sites name their whole article column "with-sidebar" or "l-sidebar-fixed".
# "paywall" is left out too: Dow Jones pages wrap the subscriber-only rest of the story in class "paywall".
PROMPT_WORDS = frozenset("subscribe subscription newsletter signup regwall".split())
FURNITURE_WORDS = PROMPT_WORDS | frozenset("""comment comments disqus related recommended recommendations trending
    popular mostread teaser teasers promo outbrain taboola""".split())
_PART_TAGS = frozenset(("aside", "nav", "footer"))
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def read_bytes(path: Path, source: str, max_bytes: int) -> bytes:
    """The page's bytes, gunzipped for .gz (a truncated or bad gzip is an IngestError), at most max_bytes."""
    from qa.ingest.errors import IngestError

    path = Path(path)
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise IngestError(source, f"uncompressed page is over the limit of {max_bytes} bytes")
            return data
        if (size := path.stat().st_size) > max_bytes:
            raise IngestError(source, f"file is {size} bytes, over the limit of {max_bytes}")
        return path.read_bytes()
    except EOFError:
        raise IngestError(source, "truncated gzip file (ends before its end marker)") from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise IngestError(source, f"bad gzip file: {e}") from None
    except OSError as e:
        raise IngestError(source, f"cannot read: {e.strerror or e}") from e


def decode(data: bytes, declared: str | None = None) -> str:
    """Text of an HTML page: BOM, valid UTF-8, the HTTP or <meta> charset, a detector, then cp1252."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(name, errors="replace")
    try:
        return data.decode("utf-8")  # valid UTF-8 beyond ASCII is near-certain evidence, whatever the page says
    except UnicodeDecodeError:
        pass
    names = [declared] if declared else []
    if m := _CHARSET.search(data[:4096]):
        names.append(m[1].decode("ascii", "replace"))
    for name in names:
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            continue
        # Browsers read latin-1 and ASCII labels as windows-1252 (WHATWG Encoding), and so do we.
        codec = "cp1252" if codec in ("latin-1", "iso8859-1", "ascii") else codec
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data[:65536]).best()
    return data.decode(best.encoding if best else "cp1252", errors="replace")


def _furniture(tree, words: frozenset = FURNITURE_WORDS, tags: frozenset = _PART_TAGS) -> list:
    """The outermost page parts that are never the article (by tag or class/id words), none holding the headline."""
    found, stack = [], [tree]
    while stack:  # depth first, not descending into a part already found
        node = stack.pop()
        if not isinstance(node.tag, str):
            continue
        names = f"{node.get('class', '')} {node.get('id', '')}".lower()
        if node.tag in tags or (names.strip() and not words.isdisjoint(re.split(r"[\s_-]+", names))):
            found.append(node)
        else:
            stack.extend(node)
    # WordPress classes <body> "comments-open" and some sites wrap the whole page in a <nav>: never remove
    # what holds the story's headline or an <article>.
    return [n for n in found
            if n.tag not in ("body", "html") and n.find(".//h1") is None and n.find(".//article") is None]


def _prune(tree, words: frozenset = FURNITURE_WORDS, tags: frozenset = _PART_TAGS):
    """Remove the furniture from `tree` in place and return it."""
    for node in _furniture(tree, words, tags):
        if (parent := node.getparent()) is not None:
            parent.remove(node)
    return tree


def _today() -> str:
    return dt.date.today().isoformat()


def _metadata(tree, url: str | None):
    import trafilatura

    return trafilatura.extract_metadata(
        tree, default_url=url,
        # Structured signals only (meta, JSON-LD, <time>, date-classed elements, URL): a free-text search
        # prefers the oldest date on the page, which is often a quoted past event.
        date_config={"original_date": True, "extensive_search": False, "max_date": _today()})


def body_text(tree) -> str:
    """The story's text by trafilatura; a precise extraction under 100 words is retried in balanced mode."""
    import trafilatura

    def run(**options) -> str:
        doc = trafilatura.bare_extraction(tree, with_metadata=False, **{**OPTIONS, **options})
        return (doc.text or "").strip() if doc is not None else ""

    text = run()
    # Precision mode sometimes settles on one small block (a standfirst, a reprint notice) of a long story.
    if len(text.split()) < SHORT_WORDS and len(longer := run(favor_precision=False)) > len(text):
        text = longer
    return text


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _article_nodes(tree) -> list:
    """Two or more complete stories on one page, each in its own <article> with a heading; else []."""
    nodes = [n for n in tree.iter("article") if not any(a.tag == "article" for a in n.iterancestors())
             and "comment" not in f"{n.get('class', '')} {n.get('id', '')}".lower()]
    # Its own headline, and no stories inside it (a container of teasers is not a story).
    full = [n for n in nodes if n.find(".//article") is None
            and (n.find(".//h1") is not None or n.find(".//h2") is not None)]
    # A story, not a teaser: three paragraphs or more and 60 words or more of them.
    full = [n for n in full if len(paras := [p.text_content() for p in n.iter("p")]) >= 3
            and sum(len(p.split()) for p in paras) >= 60]
    return full if len(full) >= 2 else []


def _stories(parts: list, meta, source: str, index: int, url: str | None) -> list[Article]:
    """One article per story of a multi-story page: its own heading, <time> and byline; the page's site."""
    import trafilatura

    articles = []
    for k, node in enumerate(parts):
        heading = next(iter(node.xpath(".//h1|.//h2")), None)
        title = heading.text_content() if heading is not None else None
        wrapper = trafilatura.load_html(f"<html><body>{etree.tostring(node, encoding='unicode')}</body></html>")
        _, byline, text_date, lines = split_head(body_text(wrapper).split("\n"), title)
        if not lines:
            continue
        if byline is None:
            found = (" ".join(e.text_content().split()) for e in node.xpath(".//*[contains(@class, 'byline')]"))
            byline = next((m[1] for line in found if (m := BYLINE.match(line))), None)
        stamp = _date(next(iter(node.xpath(".//time/@datetime")), None))
        articles.append(make_article(source, index + k, "\n\n".join(lines), title, stamp or text_date, byline,
                                     url, meta.sitename))
    return articles


def parse_html(data: bytes | str, source: str, url: str | None = None, index: int = 0,
               charset: str | None = None) -> list[Article]:
    """The article(s) in one page: usually one; one per <article> when a page carries several full stories."""
    import trafilatura

    from qa.ingest.errors import IngestError

    html = _XML_DECL.sub("", data if isinstance(data, str) else decode(data, charset), count=1)
    tree = trafilatura.load_html(html) if html.strip() else None
    if tree is None:
        raise IngestError(source, "not an HTML page")
    _prune(tree)  # comments and teasers out before the date search and the body extraction alike
    meta = _metadata(tree, url)
    if (parts := _article_nodes(tree)) and (articles := _stories(parts, meta, source, index, url)):
        return articles
    _, byline, text_date, lines = split_head(body_text(tree).split("\n"), meta.title)
    if not lines:
        raise IngestError(source, "no article text found on the page")
    return [make_article(source, index, "\n\n".join(lines), meta.title, _date(meta.date) or text_date,
                         meta.author or byline, meta.url or url, meta.sitename)]


def read_html(path: Path, source: str, max_bytes: int) -> list[Article]:
    """Articles of one saved page (.html, .htm, .html.gz); IngestError names the file and the reason."""
    return parse_html(read_bytes(path, source, max_bytes), source)
