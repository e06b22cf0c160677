"""The chat so far as plain text: earlier turns from Gradio messages, (question, answer) pairs or strings."""
from __future__ import annotations

import re
from typing import Callable, Sequence

from qa.types import Turn

_WH = re.compile(r"\b(who|whom|whose|what|which|when|where|why|how)\b", re.I)
SHORT_REPLY_WORDS = 6  # a longer plain reply is a sentence about the answer, not the answer


def message_text(content) -> str | None:
    """Plain text of a message's content (a string or gradio's list of content parts)."""
    if isinstance(content, list):
        content = " ".join(c.get("text", "") for c in content if isinstance(c, dict))
    return content if isinstance(content, str) else None


def short_reply(reply) -> str | None:
    """The answer a plain-text reply gives: the reply itself when short and not a question, else None."""
    text = message_text(reply)
    if not text or not text.strip() or "<" in text:  # markup is not plain text (qa.render reads its own HTML)
        return None
    words = text.split()
    return text.strip().rstrip(".") if len(words) <= SHORT_REPLY_WORDS and not _WH.search(text) else None


def turns(history: Sequence | None, reply_answer: Callable[[object], str | None] = short_reply) -> tuple[Turn, ...]:
    """Each earlier user turn with the answer it got, from Gradio messages, (user, bot) pairs, strings or Turns.

    `reply_answer` reads the answer out of a bot reply (default: a short plain-text reply is the answer);
    qa.render.plain_history passes one that also reads the chat page's HTML.
    """
    found: list[Turn] = []
    for turn in history or []:
        if isinstance(turn, Turn):
            found.append(turn)
        elif isinstance(turn, str):
            found.append(Turn(turn))
        elif isinstance(turn, dict) and turn.get("role") == "user":
            text = message_text(turn.get("content"))
            if text is not None:
                found.append(Turn(text))
        elif isinstance(turn, dict) and turn.get("role") == "assistant" and found and found[-1].answer is None:
            found[-1] = Turn(found[-1].question, reply_answer(turn.get("content")))
        elif isinstance(turn, (list, tuple)) and turn and isinstance(turn[0], str):
            found.append(Turn(turn[0], reply_answer(turn[1]) if len(turn) > 1 else None))
    return tuple(t for t in found if t.question.strip())


def answered(history: Sequence[Turn], answer: Callable[[str, tuple[Turn, ...]], str | None]) -> tuple[Turn, ...]:
    """The turns with every missing answer filled in: `answer(question, earlier turns)` answers it.

    A history of questions alone (a form the contract accepts) then says whom "he" or "there" stands for.
    """
    done: list[Turn] = []
    for turn in history:
        if turn.answer is None:
            turn = Turn(turn.question, answer(turn.question, tuple(done)))
        done.append(turn)
    return tuple(done)
