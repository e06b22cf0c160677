"""Answer -> chat-reply HTML for the Gradio Chatbot, and back: the one module that knows the page's HTML.

Pure string functions; no gradio import.

The Chatbot runs every message through Markdown (marked, GFM), a `$$` LaTeX pass and an HTML
sanitizer. The reply is therefore one HTML block with no blank lines (a blank line would end the
block and switch Markdown back on), and every piece of article text is HTML-escaped with the
Markdown- and LaTeX-active characters turned into numeric entities: marked passes entities through
untouched and the browser shows them as the plain characters.
"""
from __future__ import annotations

import html
import re
from typing import Sequence

from qa.history import message_text, short_reply, turns
from qa.types import Answer, Hit, Turn

SNIPPET_CHARS = 200
ABSTAIN_TEXT = "The articles don't answer this."

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
_HEAD = "font-weight:600;margin:.8em 0 .2em"
_LIST = "list-style:none;padding:0;margin:.2em 0"
_ITEM = "border-left:3px solid rgba(128,128,128,.45);padding:.2em .6em;margin:.4em 0"
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


def _meta(hit: Hit) -> str:
    """One line: title, date, file and score."""
    title = escape(hit.title) if hit.title else "(untitled)"
    date = escape(hit.date) if hit.date else "undated"
    return (f"<strong>{title}</strong><br><span style=\"{_META}\">{date} · {escape(hit.source)}"
            f" · score {hit.score:.3f}</span>")


def _best_card(hit: Hit) -> str:
    """The best passage in full, sentence and answer highlighted."""
    n = len(hit.text)
    hl = _span(hit.highlight_start, hit.highlight_end, n)
    ans = _span(hit.answer_start, hit.answer_end, n)
    return (f"<div style=\"{_CARD}\">{_meta(hit)}"
            f"<div style=\"margin-top:.4em\">{highlight(hit.text, hl, ans)}</div></div>")


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


def _source_list(hits: tuple[Hit, ...] | list[Hit]) -> str:
    """Compact cards for the other passages."""
    items = "".join(f"<li style=\"{_ITEM}\">{_meta(h)}<br><span style=\"font-size:.9em\">"
                    f"{escape(snippet(h))}</span></li>" for h in hits)
    return f"<ul style=\"{_LIST}\">{items}</ul>"


def _note(text: str) -> str:
    return f"<p style=\"{_NOTE}\">{escape(text)}</p>"


def _heading(text: str) -> str:
    return f"<p style=\"{_HEAD}\">{escape(text)}</p>"


def render_answer(answer: Answer) -> str:
    """The chat reply for `answer` as one Markdown-safe HTML block."""
    hits = tuple(answer.passages)
    parts: list[str] = []
    if answer.index_note:
        parts.append(_note(answer.index_note))
    if answer.date_filter:
        parts.append(_note(f"Limited to articles from {answer.date_filter}"))
    if answer.abstained:
        parts.append(f"<p>{escape(ABSTAIN_TEXT)}</p>")
        if answer.reason:
            parts.append(_note(f"Why: {answer.reason}."))
        if hits:
            parts.append(_heading("Closest passages (they do not answer the question)"))
    elif answer.answer is not None:
        parts.append(f"<p><strong>{escape(answer.answer)}</strong>"
                     f" · confidence {answer.confidence:.2f}</p>")
    elif hits:
        parts.append(_heading("Best matching passage"))
    else:
        parts.append(f"<p>{escape('No matching passages found.')}</p>")
    if answer.reason and not answer.abstained:
        parts.append(_note(answer.reason))
    if hits:
        parts.append(_best_card(hits[0]))
    if len(hits) > 1:
        parts.append(_heading("Other sources" if not answer.abstained else "Also close"))
        parts.append(_source_list(hits[1:]))
    return "<div>" + "".join(parts) + "</div>"


# The answer line render_answer writes; reply_answer reads the answer back out of it.
_ANSWER_LINE = re.compile(r"<strong>([^<]{1,200})</strong>\s*(?:·|&middot;|&#183;)\s*confidence")


def reply_answer(reply) -> str | None:
    """The answer a chat reply shows: the bold answer of render_answer's HTML, or a short plain reply."""
    text = message_text(reply)
    if text and "<" in text:
        m = _ANSWER_LINE.search(text)
        return html.unescape(m.group(1)).strip() if m else None
    return short_reply(text)


def plain_history(history: Sequence | None) -> tuple[Turn, ...]:
    """The chat so far (Gradio messages or pairs) as plain turns, each reply's answer read back from its HTML."""
    return turns(history, reply_answer)


def render_error(message: str) -> str:
    """A one-line, escaped error message."""
    line = " ".join(str(message).split()) or "Something went wrong."
    return f"<div><p style=\"color:#c0392b\"><strong>Error:</strong> {escape(line)}</p></div>"
