"""Answer -> the chat reply: one Markdown-safe HTML block, with its plain-text copy and its sources hidden in it."""
from __future__ import annotations

import json
from typing import Sequence

from qa.render.parts import (ABSTAIN_TEXT, COPY_CLASS, SOURCES_CLASS, ANSWER_CLASS, _ANSWER, _best_card, _count,
                             _facts, _heading, _more, _note, _url, _window, confidence_words, escape)
from qa.types import Answer, Hit


def render_text(answer: Answer) -> str:
    """The reply as plain text for a document or an email: the answer, its trust, its source and the sentence."""
    hits = tuple(answer.passages)
    lines: list[str] = []
    if answer.abstained or answer.answer is None:
        lines.append(ABSTAIN_TEXT if answer.abstained else "Best matching passage:" if hits
                     else "No matching passages found.")
        if answer.abstained and answer.reason:
            lines.append(f"Why: {answer.reason}.")
        if answer.abstained and hits:
            lines.append("Closest passage (it does not answer the question):")
    else:
        lines += [answer.answer, f"{confidence_words(answer.confidence)}."]
    if hits:
        best = hits[0]
        source = ", ".join([best.title or "(untitled)", *_facts(best)[:-1]])
        lines.append(f"Source: {source} — {_url(best) or best.source}")
        a, b = _window(best)
        lines.append(f"\"{' '.join(best.text[a:b].split())}\"")
    return "\n".join(lines)


def _copy_block(answer: Answer) -> str:
    """The plain text, hidden, with line breaks as entities so the HTML block stays one line."""
    return (f"<div class=\"{COPY_CLASS}\" style=\"display:none\" hidden>"
            f"{escape(render_text(answer)).replace(chr(10), '&#10;')}</div>")


def _sources_block(hits: Sequence[Hit]) -> str:
    """The passages' ids and files as hidden JSON, read back by reply_sources (for feedback)."""
    found = [{"source": h.source, "article_id": h.article_id, "passage_id": h.passage_id,
              "title": h.title, "url": h.url} for h in hits]
    return f"<div class=\"{SOURCES_CLASS}\" style=\"display:none\" hidden>{escape(json.dumps(found))}</div>"


def render_answer(answer: Answer) -> str:
    """The chat reply for `answer` as one Markdown-safe HTML block: the answer first, then its source."""
    hits = tuple(answer.passages)
    best = hits[0] if hits else None
    parts: list[str] = []
    if answer.index_note:
        parts.append(_note(answer.index_note))
    limited = f"limited to articles from {answer.date_filter}" if answer.date_filter else ""
    if answer.abstained:
        parts.append(f"<p>{escape(ABSTAIN_TEXT)}</p>")
        if limited:
            parts.append(_note(limited[0].upper() + limited[1:]))
        if answer.reason:
            parts.append(_note(f"Why: {answer.reason}."))
        if hits:
            parts.append(_more(None, hits, f"Closest passages (they do not answer the question): "
                                           f"{_count(hits, None)}"))
        return f"<div>{''.join(parts)}{_copy_block(answer)}{_sources_block(hits)}</div>"
    if answer.answer is not None:
        parts.append(f"<p class=\"{ANSWER_CLASS}\" style=\"{_ANSWER}\"><strong>{escape(answer.answer)}</strong></p>")
        parts.append(_note(confidence_words(answer.confidence) + (f" · {limited}" if limited else "")))
    elif hits:
        parts.append(_heading("Best matching passage"))
        if limited:
            parts.append(_note(limited[0].upper() + limited[1:]))
    else:
        parts.append(f"<p>{escape('No matching passages found.')}</p>")
    if answer.reason:
        parts.append(_note(answer.reason))
    if best:
        parts.append(_best_card(best))
        more = _count(hits[1:], best)
        parts.append(_more(best, hits[1:], f"The full passage{', ' + more if more else ''}"))
    return f"<div>{''.join(parts)}{_copy_block(answer)}{_sources_block(hits)}</div>"


def render_error(message: str) -> str:
    """A one-line, escaped error message as a chat reply (the chat stays usable: never an exception)."""
    line = " ".join(str(message).split()) or "Something went wrong."
    return f"<div><p style=\"color:#c0392b\"><strong>Error:</strong> {escape(line)}</p></div>"
