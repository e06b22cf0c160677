"""The pieces of a chat reply: escaping, highlighting, confidence in words, passage cards, snippets and groups."""
from __future__ import annotations

import re
from typing import Sequence

from qa.types import Hit

SNIPPET_CHARS = 200
ABSTAIN_TEXT = "The articles don't answer this."
COPY_CLASS = "qa-copy"
SOURCES_CLASS = "qa-sources"
ANSWER_CLASS = "qa-answer"
CARD_CLASS = "qa-card"  # the answering passage's card (the page's phone style tightens it)
_URL_OK = re.compile(r"^https?://[^\s<>\"']+$", re.I)

# HTML specials plus the characters Markdown (GFM) or the `$$` LaTeX delimiter could act on,
# replaced in one pass so no entity is escaped twice.
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
_ENTITIES.update({c: f"&#{ord(c)};" for c in "\\`*_[]#~|$!"})
_ACTIVE = re.compile("[" + re.escape("".join(_ENTITIES)) + "]")
_NEWLINES = re.compile(r"\s*\n\s*")

# Inline styles only: the sanitizer drops <style> elements. Borders and muted text use
# translucent grey and inherit the colour, so they read in light and dark themes alike.
_CARD = "border:1px solid rgba(128,128,128,.35);border-radius:8px;padding:.6em .8em;margin:.5em 0"
_META = "font-size:.85em;opacity:.75"
_NOTE = "font-size:.85em;opacity:.75;margin:.2em 0"
_ANSWER = "font-size:1.15em;margin:.1em 0"
_HEAD = "font-weight:600;margin:.8em 0 .2em"
_GROUP = "margin:.5em 0"
_LIST = "list-style:none;padding:0;margin:.2em 0"
_ITEM = "border-left:3px solid rgba(128,128,128,.45);padding:.2em .6em;margin:.3em 0;font-size:.9em"
# Translucent yellow over the inherited text colour: the browser's default <mark> (yellow on
# black) goes unreadable under the dark theme's light text.
_MARK = "background:rgba(250,204,21,.3);color:inherit"
_MARK_ANSWER = "background:rgba(250,204,21,.65);color:inherit"


def escape(text: object) -> str:
    """HTML-escape `text` and neutralise Markdown/LaTeX-active characters as numeric entities."""
    return _ACTIVE.sub(lambda m: _ENTITIES[m.group()], str(text))


def _text(text: str) -> str:
    """Escaped article text; line breaks become <br> so the HTML block never has a blank line."""
    return _NEWLINES.sub("<br>", escape(text))


def _span(start: int | None, end: int | None, length: int) -> tuple[int, int] | None:
    """Clamp an offset pair into [0, length]; None when absent or empty."""
    if start is None or end is None:
        return None
    start, end = max(0, min(start, length)), max(0, min(end, length))
    return (start, end) if start < end else None


def _covers(span: tuple[int, int] | None, a: int, b: int) -> bool:
    return span is not None and span[0] <= a and b <= span[1]


def highlight(text: str, hl: tuple[int, int] | None, ans: tuple[int, int] | None) -> str:
    """Escaped `text` with the sentence `hl` in <mark> and the answer `ans` in <mark><strong>.

    An answer inside its sentence is nested in the sentence's <mark>. Otherwise the text is cut at
    every span boundary, so overlapping spans (the answer across or outside the sentence) each get
    well-formed, non-overlapping tags.
    """
    if hl and ans and hl[0] <= ans[0] and ans[1] <= hl[1]:  # the usual case: the answer inside its sentence
        lead, tail = text[:hl[0]].lstrip(), text[hl[1]:].rstrip()  # the passage's outer whitespace, as below
        before, after = text[hl[0]:ans[0]], text[ans[1]:hl[1]]
        before, after = before if lead else before.lstrip(), after if tail else after.rstrip()
        inner = (f"{_text(before)}<mark style=\"{_MARK_ANSWER}\"><strong>{_text(text[ans[0]:ans[1]])}</strong>"
                 f"</mark>{_text(after)}")
        return f"{_text(lead)}<mark style=\"{_MARK}\">{inner}</mark>{_text(tail)}"
    cuts = sorted({0, len(text), *(hl or ()), *(ans or ())})
    pieces: list[tuple[int, str]] = []  # (state, raw text); 0 plain, 1 sentence, 2 answer
    for a, b in zip(cuts, cuts[1:]):
        state = 2 if _covers(ans, a, b) else 1 if _covers(hl, a, b) else 0
        if pieces and pieces[-1][0] == state:
            pieces[-1] = (state, pieces[-1][1] + text[a:b])
        else:
            pieces.append((state, text[a:b]))
    if pieces:  # trim the passage's outer whitespace without moving any offsets
        pieces[0] = (pieces[0][0], pieces[0][1].lstrip())
        pieces[-1] = (pieces[-1][0], pieces[-1][1].rstrip())
    out = []
    for state, raw in pieces:
        if not raw:
            continue
        body = _text(raw)
        out.append(body if state == 0 else f"<mark style=\"{_MARK}\">{body}</mark>" if state == 1
                   else f"<mark style=\"{_MARK_ANSWER}\"><strong>{body}</strong></mark>")
    return "".join(out)


def confidence_words(p: float) -> str:
    """A calibrated probability in words people read: how likely, and how often answers this sure are right."""
    level = ("very likely right" if p >= 0.8 else "likely right" if p >= 0.6 else "may be right" if p >= 0.4
             else "unsure" if p >= 0.2 else "a guess")
    n = round(p * 10)
    often = ("nearly all answers at this level are right" if n >= 10
             else f"about {n} in 10 answers at this level are right" if n >= 1
             else "fewer than 1 in 10 answers at this level are right")
    return f"{level[0].upper()}{level[1:]} ({often})"


def _url(hit: Hit) -> str | None:
    """The article's url when it is a plain http(s) address (no javascript: or data: links)."""
    return hit.url.strip() if hit.url and _URL_OK.match(hit.url.strip()) else None


def _title(hit: Hit) -> str:
    """The article's title in bold, a link to the article when it has a url."""
    title = escape(hit.title) if hit.title else "(untitled)"
    url = _url(hit)
    if url:
        return (f"<a href=\"{escape(url)}\" target=\"_blank\" rel=\"noopener noreferrer\">"
                f"<strong>{title}</strong></a>")
    return f"<strong>{title}</strong>"


def _facts(hit: Hit) -> list[str]:
    """Date, author, site and file of the hit's article, as plain strings."""
    return [hit.date or "undated", *([f"by {hit.author}"] if hit.author else []),
            *([hit.site] if hit.site else []), hit.source]


def _meta(hit: Hit) -> str:
    """The article line: title (linked), then date, author, site and file in small print."""
    return f"{_title(hit)} <span style=\"{_META}\">· {escape(' · '.join(_facts(hit)))}</span>"


WINDOW_CHARS = 300  # of the best passage shown open when it has no highlighted sentence


def _window(hit: Hit) -> tuple[int, int]:
    """The part of the best passage shown open: its highlighted sentence (and answer), else its start."""
    n = len(hit.text)
    hl = _span(hit.highlight_start, hit.highlight_end, n)
    ans = _span(hit.answer_start, hit.answer_end, n)
    spans = [s for s in (hl, ans) if s]
    if not spans:
        cut = hit.text[:WINDOW_CHARS]
        return 0, (len(cut.rsplit(" ", 1)[0]) if n > WINDOW_CHARS and " " in cut else len(cut))
    a, b = min(s[0] for s in spans), max(s[1] for s in spans)
    part = hit.text[a:b]
    return a + len(part) - len(part.lstrip()), b - len(part) + len(part.rstrip())


def _passage(hit: Hit, a: int = 0, b: int | None = None) -> str:
    """text[a:b] of the hit, highlighted, with an ellipsis where the passage goes on."""
    b = len(hit.text) if b is None else b
    shift = lambda s: (s[0] - a, s[1] - a) if s else None  # noqa: E731
    n = len(hit.text)
    hl = shift(_span(hit.highlight_start, hit.highlight_end, n))
    ans = shift(_span(hit.answer_start, hit.answer_end, n))
    part = hit.text[a:b]
    hl, ans = _span(*(hl or (None, None)), len(part)), _span(*(ans or (None, None)), len(part))
    return (("…" if hit.text[:a].strip() else "") + highlight(part, hl, ans)
            + ("…" if hit.text[b:].strip() else ""))


def _best_card(hit: Hit) -> str:
    """The best passage's highlighted sentence under its article's line (the full passage is one click away)."""
    return (f"<div class=\"{CARD_CLASS}\" style=\"{_CARD}\">{_meta(hit)}"
            f"<div style=\"margin-top:.4em\">{_passage(hit, *_window(hit))}</div></div>")


def snippet(hit: Hit, limit: int = SNIPPET_CHARS) -> str:
    """About `limit` plain characters of the hit, starting at its highlighted sentence if any."""
    text = " ".join(hit.text.split())
    start = 0
    hl = _span(hit.highlight_start, hit.highlight_end, len(hit.text))
    if hl:  # locate the sentence in the whitespace-collapsed text
        start = max(0, text.find(" ".join(hit.text[hl[0]:hl[1]].split())))
    cut = text[start:start + limit]
    if start + limit < len(text):
        cut = (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"
    return ("…" if start > 0 else "") + cut


def _article(hit: Hit) -> tuple:
    """What tells one article from another: its id, else its file and title."""
    return (hit.article_id,) if hit.article_id else (hit.source, hit.title)


def _groups(hits: Sequence[Hit]) -> list[list[Hit]]:
    """Hits grouped by article, groups in the order of their best hit."""
    groups: dict[tuple, list[Hit]] = {}
    for h in hits:
        groups.setdefault(_article(h), []).append(h)
    return list(groups.values())


def _snippets(hits: Sequence[Hit]) -> str:
    items = "".join(f"<li style=\"{_ITEM}\">{escape(snippet(h))}</li>" for h in hits)
    return f"<ul style=\"{_LIST}\">{items}</ul>"


def _more(best: Hit | None, rest: Sequence[Hit], summary: str) -> str:
    """The other passages, collapsed: the best passage's article first (title not repeated), then one
    group per other article with its title once."""
    if not rest and (best is None or _window(best) == (0, len(best.text))):
        return ""
    same = [h for h in rest if best is not None and _article(h) == _article(best)]
    full = [f"<div style=\"{_GROUP}\"><span style=\"{_META}\">The full passage</span>"
            f"<div style=\"{_ITEM}\">{_passage(best)}</div></div>"] if best is not None else []
    parts = full + ([f"<div style=\"{_GROUP}\"><span style=\"{_META}\">More from this article</span>"
                     f"{_snippets(same)}</div>"] if same else [])
    for group in _groups([h for h in rest if h not in same]):
        parts.append(f"<div style=\"{_GROUP}\">{_meta(group[0])}{_snippets(group)}</div>")
    return (f"<details style=\"margin:.4em 0\"><summary style=\"cursor:pointer;{_META}\">{escape(summary)}"
            f"</summary>{''.join(parts)}</details>")


def _count(hits: Sequence[Hit], best: Hit | None) -> str:
    """"2 more passages from this article and 3 from 2 other articles", for the collapsed list's summary."""
    same = sum(1 for h in hits if best is not None and _article(h) == _article(best))
    others = _groups([h for h in hits if best is None or _article(h) != _article(best)])
    n_other = sum(len(g) for g in others)
    bits = [f"{same} more passage{'s' * (same != 1)} from this article"] if same else []
    if others:
        bits.append(f"{n_other} passage{'s' * (n_other != 1)} from {len(others)}{' other' * (best is not None)} "
                    f"article{'s' * (len(others) != 1)}")
    return ", ".join(bits)


def _note(text: str) -> str:
    return f"<p style=\"{_NOTE}\">{escape(text)}</p>"


def _heading(text: str) -> str:
    return f"<p style=\"{_HEAD}\">{escape(text)}</p>"


