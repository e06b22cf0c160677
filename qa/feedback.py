"""A reader's verdict on a chat answer ("right" / "wrong") appended to a JSONL question set.

Each line is a case in the question-set format (DESIGN.md) that `python -m qa eval FILE` scores:
`question` (or `turns` for a follow-up), `answers`, `source`, `category`, `question_date`, plus the
verdict and what the bot showed. A "right" verdict keeps the shown answer as the expected one. A
"wrong" verdict has no correct answer yet: `answers` stays empty (so eval counts showing that answer
as a mistake and an abstention as right) and the rejected answer is kept in `wrong_answers`; an
editor who adds the right answer to `answers` turns it into an answerable case.
"""
from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from qa.render import plain_history, reply_answer, reply_sources

log = logging.getLogger(__name__)
CATEGORY = "feedback"
MAX_TURNS = 5  # earlier questions kept with a follow-up; older context does not change the answer
_lock = threading.Lock()  # one append at a time: the chat serves several browser tabs


def feedback_record(history: Sequence, index: int, liked: bool, as_of: str | None = None) -> dict:
    """The question-set case for the reply at `index` of a Gradio messages history, with the verdict."""
    if not 0 <= index < len(history):
        raise ValueError(f"no chat message at position {index}")
    reply = history[index].get("content") if isinstance(history[index], dict) else None
    asked = plain_history(history[:index])
    if not asked:
        raise ValueError(f"no question before the chat message at position {index}")
    shown = reply_answer(reply)
    sources = reply_sources(reply)
    record: dict = {"question": asked[-1].question}
    if len(asked) > 1:
        record = {"turns": [t.question for t in asked[-MAX_TURNS:]]}
    record.update({
        "answers": [shown] if liked and shown else [],
        "source": sources[0]["source"] if sources and liked and shown else "",
        "category": CATEGORY,
        "verdict": "right" if liked else "wrong",
        "shown_answer": shown,
        "wrong_answers": [shown] if shown and not liked else [],
        "passages": sources,
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    if as_of:
        record["question_date"] = str(as_of)
    return record


def append(path: Path, record: dict) -> None:
    """Append one record as a JSON line (created with its folder on first use)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _lock, open(path, "a", encoding="utf-8") as f:
        f.write(line)
    log.info("recorded a %r verdict in %s", record.get("verdict"), path)
