"""Raw text + metadata -> Article: title, date and byline taken off the first lines, captions dropped."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import unicodedata

from qa.dates import LABEL as _LABEL
from qa.dates import match_date, parse_date
from qa.ingest.errors import IngestError, shown
from qa.types import Article

logger = logging.getLogger(__name__)

_WORD = r"[A-Z][\w'’.-]*"
_NOT_LABEL = rf"(?!(?i:{_LABEL}))"
_NAME = rf"(?P<name>{_NOT_LABEL}{_WORD}(?:\s+(?:(?:and|&|de|van|von|bin)\s+)?{_NOT_LABEL}{_WORD}){{0,5}})"
_BYLINE_HEAD = re.compile(rf"(?i:by)\s+{_NAME}(?=\s|$|[,|/–—-])")  # "By X" then a date or the body
_BYLINE_LINE = re.compile(rf"(?i:by)\s+{_NAME}(?:\s*[,/|–—-]\s*[A-Z][\w .&'’-]{{0,40}})?\s*")  # "By X, VNA"
_STRIP = " ,|/–—-:"
# Captions are dropped conservatively: explicit photo credits anywhere, and the tell-tale one-line
# "<two or more capitalised name words> <present-simple verb> ... ." picture description.
_CREDIT = r"(?:photos?|images?|pictures?|file\s+photo|illustration(?:\s+photo)?)"
_CREDIT_TAIL = r"(?::|by\b|courtesy\b|credits?\b)"
_CAPTION = re.compile(
    rf"\(?{_CREDIT}\s*(?:{_CREDIT_TAIL}|[-–—]|\)?\.?$)"  # Photo: VNA / (File photo) / Photo by X
    rf"|.*\({_CREDIT}\b[^()]*\)\.?$"  # ... (Photo: VNA)
    rf"|.*\s[-–—|]\s*{_CREDIT}(?:\s*{_CREDIT_TAIL}.*|\s+(?-i:[A-Z])[\w/ ]*)?\.?$"  # ... - Photo: VNA
    r"|!\[[^\]]*\]\([^)]*\)$", re.I)  # Markdown image
_PERSON_CAPTION = re.compile(
    r"(?!(?:He|She|It|They|We|I|You|This|That|These|Those|The|A|An|His|Her|Its|Their|Our|There|Here)\b)"
    rf"{_WORD}(?:\s+{_WORD}){{1,6}}(?:\s+\([^()]{{1,20}}\))?"  # "(L)", "(centre)"
    r"\s+(?:speaks|addresses|attends|talks|chairs|delivers|poses|receives|meets|visits|shakes|signs|presents"
    r"|welcomes|greets|hosts)\b[^.!?]*\.$")


def _bare(line: str) -> str:
    return line.strip().strip("*_").strip()  # Markdown emphasis does not change what a line is


def _is_caption(line: str, alone: bool) -> bool:
    line = _bare(line)
    if len(line.split()) <= 40 and _CAPTION.match(line):
        return True
    # A person caption is a paragraph of its own; inside a paragraph the same words are prose.
    return alone and len(line.split()) <= 14 and bool(_PERSON_CAPTION.match(line))


def _title_like(line: str) -> bool:
    # Headlines are short and do not end like a sentence; a first line that does is body text.
    return len(line.split()) <= 20 and not line.endswith((".", ",", ";", ":")) and not _is_caption(line, True)


def _derive_title(body: str, limit: int = 80) -> str:
    first = re.split(r"(?<=[.!?])\s", body.split("\n", 1)[0], maxsplit=1)[0].rstrip(".")
    return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"


def _split_text(text: str, want_title: bool) -> tuple[str | None, dt.date | None, str | None, str]:
    """Take title, date and byline off the first lines; drop bylines and captions from the body."""
    lines = [ln.rstrip() for ln in text.split("\n")]
    title = published = byline = None
    first = next((k for k, ln in enumerate(lines) if ln.strip()), 0)
    i = first
    while i < len(lines):
        rest = line = _bare(lines[i])
        if not line:
            i += 1
            continue
        m = _BYLINE_HEAD.match(line)
        after = line[m.end():].lstrip(_STRIP) if m else ""
        if byline is None and m and (not after or match_date(after)):  # "By X" or "By X date 2023-10-20 ..."
            byline, rest = m["name"], after
        elif byline is None and (m := _BYLINE_LINE.fullmatch(line)):
            byline, rest = m["name"], ""
        # A date glued to prose ("5 May 2024 is the day") is body text unless labelled or set off.
        if published is None and (d := match_date(rest)) and (
                re.match(rf"\s*(?:{_LABEL}|$|[-–—|:,])", rest[d[1]:], re.I) or re.match(_LABEL, rest, re.I)):
            published, rest = d[0], rest[d[1]:].lstrip(_STRIP)
        if rest == line:  # nothing recognised: the title if it is the first line, else the body starts
            if want_title and i == first and _title_like(line):
                title, i = line, i + 1
                continue
            break
        if rest:  # the body starts right after a byline/date prefix
            lines[i] = rest
            break
        i += 1
    body, tail_byline = _clean_body(lines[i:])
    if not body and title:  # a lone short line is the article, not its title
        body, title = title, None
    return title, published, byline or tail_byline, body


def _clean_body(lines: list[str]) -> tuple[str, str | None]:
    """Paragraphs (blank-line separated) without bylines and captions, joined by a blank line."""
    blocks = [[ln for ln in b.split("\n") if ln.strip()] for b in re.split(r"\n\s*\n", "\n".join(lines))]
    paragraphs, byline = [], None
    for block in blocks:
        kept = []
        for ln in block:
            if m := _BYLINE_LINE.fullmatch(_bare(ln)):
                byline = byline or m["name"]
            elif not _is_caption(ln, alone=len(block) == 1):
                kept.append(ln)
        if kept:
            paragraphs.append("\n".join(kept))
    return "\n\n".join(paragraphs), byline


_DATE_KEYS = ("date", "published", "published_at", "pubdate")


def first(meta: dict, keys: tuple[str, ...]):
    """The first of `keys` that `meta` has a non-empty value for, or None."""
    return next((meta[k] for k in keys if meta.get(k) not in (None, "", [])), None)


def _meta_date(value, where: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):  # YAML already turns unquoted dates into these
        return value.date() if isinstance(value, dt.datetime) else value
    if (day := parse_date(str(value))) is None:
        logger.warning("%s: unrecognised date %r; treating it as unknown", shown(where), value)
    return day


# Metadata is copied into every passage of its article (the title) and into every answer: a huge value in
# a file's metadata (a 4.6 MB title made a 230 MB index) is cut here. Real titles are under 200 characters.
MAX_TITLE, MAX_AUTHOR, MAX_URL = 300, 200, 2048


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def make_article(source: str, index: int, meta: dict, body: str, where: str) -> Article:
    """An Article from record metadata (lower-cased keys) and raw body text."""
    meta_title = first(meta, ("title", "headline"))
    title, published, byline, text = _split_text(body.replace("\r\n", "\n"), want_title=meta_title is None)
    if not text:
        raise IngestError(where, "no body text")
    text = unicodedata.normalize("NFC", text)  # Vietnamese diacritics arrive both composed and decomposed
    author = first(meta, ("author", "byline", "authors"))
    author = ", ".join(map(str, author)) if isinstance(author, list) else author
    url = first(meta, ("url", "link"))
    title = _cap(str(meta_title or title or _derive_title(text)).strip(), MAX_TITLE)
    byline = re.sub(r"(?i)^by\s+", "", str(author).strip()) if author else byline
    byline = _cap(byline, MAX_AUTHOR) if byline else byline
    url = str(url).strip() if url else None
    return Article(
        id=hashlib.sha1(f"{source}#{index}".encode()).hexdigest()[:16],
        title=unicodedata.normalize("NFC", title),
        published=_meta_date(first(meta, _DATE_KEYS), where) or published,
        byline=byline, text=text, source=source, url=url if url and len(url) <= MAX_URL else None,
        site=_cap(str(site), MAX_AUTHOR) if (site := first(meta, ("site", "site_name", "publisher"))) else None)
