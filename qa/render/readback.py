"""A chat reply read back: its answer, its sources, and the chat so far as plain turns (for follow-ups, feedback)."""
from __future__ import annotations

import html
import json
import re
from typing import Sequence

from qa.history import message_text, short_reply, turns
from qa.render.parts import ANSWER_CLASS, SOURCES_CLASS
from qa.types import Turn

# The answer line render_answer writes; reply_answer reads the answer back out of it.
_SOURCES = re.compile(r"<div class=\"" + SOURCES_CLASS + r"\"[^>]*>([^<]*)</div>")
_ANSWER_LINE = re.compile(r"<p class=\"" + ANSWER_CLASS + r"\"[^>]*><strong>([^<]{1,200})</strong></p>"
                          # replies of the earlier page (a chat history restored from before this layout)
                          r"|<strong>([^<]{1,200})</strong>\s*(?:·|&middot;|&#183;)\s*confidence")


def reply_answer(reply) -> str | None:
    """The answer a chat reply shows: the bold answer of render_answer's HTML, or a short plain reply."""
    text = message_text(reply)
    if text and "<" in text:
        m = _ANSWER_LINE.search(text)
        return html.unescape(m.group(1) or m.group(2)).strip() if m else None
    return short_reply(text)


def _question_text(message):
    """A user message as the user typed it (app.py shows questions HTML-escaped)."""
    if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
        return {**message, "content": html.unescape(message["content"])}
    return message


def plain_history(history: Sequence | None) -> tuple[Turn, ...]:
    """The chat so far (Gradio messages or pairs) as plain turns, each reply's answer read back from its HTML."""
    return turns([_question_text(m) for m in history or []], reply_answer)


def reply_sources(reply) -> list[dict]:
    """The passages a reply of render_answer showed (source, article_id, passage_id, title, url), best first."""
    text = message_text(reply) or ""
    m = _SOURCES.search(text)
    try:
        found = json.loads(html.unescape(m.group(1))) if m else []
    except ValueError:
        return []
    return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []
