"""The head of an extracted text (PDF, Word, web page): headline, "By X" and dateline in its first lines."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata

from qa.types import Article

BYLINE = re.compile(r"(?i:by)\s+([A-Z][\w'’.-]*(?:\s+(?:(?:and|&|de|van|von)\s+)?[A-Z][\w'’.-]*){0,4})"
                    r"(?:\s*[,|/–—-]\s*|\s*$)")
_STRIP = " ,|/–—-:"


def _norm(s: str) -> str:
    return " ".join(re.findall(r"\w+", s.casefold()))


def title_like(line: str) -> bool:
    """A headline is short and does not end like a sentence."""
    return 0 < len(line.split()) <= 20 and not line.rstrip().endswith((".", ",", ";", ":"))


def split_head(lines: list[str], title: str | None = None, want_title: bool = False,
               ) -> tuple[str | None, str | None, dt.date | None, list[str]]:
    """Title (the first line if `want_title` and it looks like one; a first line repeating `title` is dropped),
    byline and date taken off the first lines; the remaining lines."""
    from qa.dates import match_date

    lines = [ln.strip() for ln in lines if ln.strip()]
    byline = published = None
    if lines and title and _norm(lines[0]) == _norm(title):
        lines = lines[1:]
    elif lines and want_title and not title and title_like(lines[0]) and not match_date(lines[0]) \
            and not BYLINE.match(lines[0]):
        title, lines = lines[0], lines[1:]
    for _ in range(3):  # "By X", "Published 5 May 2024", "By X, 5 May 2024" on the next lines
        if not lines:
            break
        line = lines[0]
        if byline is None and (m := BYLINE.match(line)):
            byline, line = m[1], line[m.end():]
        if published is None and (d := match_date(line)) and not line[d[1]:].strip(_STRIP):
            published, line = d[0], ""
        if line == lines[0]:
            break
        lines = ([line] if line.strip(_STRIP) else []) + lines[1:]
    return title, byline, published, lines


def headline_from(text: str, limit: int = 80) -> str:
    """A title for a text that has none: its first sentence, shortened."""
    first = re.split(r"(?<=[.!?])\s", text.split("\n", 1)[0], maxsplit=1)[0].rstrip(".")
    return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0] + "…"


def make_article(source: str, index: int, text: str, title: str | None = None, published: dt.date | None = None,
                 byline: str | None = None, url: str | None = None, site: str | None = None) -> Article:
    """An Article with the corpus' id rule (hash of file name and record index) and NFC-normalised text."""
    text = unicodedata.normalize("NFC", text.strip())
    title = unicodedata.normalize("NFC", " ".join((title or "").split()))
    return Article(id=hashlib.sha1(f"{source}#{index}".encode()).hexdigest()[:16], title=title or headline_from(text),
                   published=published, byline=" ".join(byline.split()) if byline else None, text=text,
                   source=source, url=url or None, site=" ".join(site.split()) if site else None)


def paragraphs(lines: list[str]) -> str:
    """Lines of a page (PDF) joined into paragraphs: hyphens at line ends mended, a short line ending a
    sentence closes its paragraph."""
    if not lines:
        return ""
    full = sorted(len(ln) for ln in lines)[int(len(lines) * 0.8)]  # a typical full line's length
    out, current = [], ""
    for line in lines:
        if current.endswith("-") and line[:1].islower() and current[-2:-1].isalpha():
            current = current[:-1] + line
        else:
            current = f"{current} {line}".strip()
        if len(line) < 0.75 * full and line.endswith((".", "!", "?", '"', "”", ":")):
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return "\n\n".join(out)
