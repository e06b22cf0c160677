"""Question understanding without an LLM: date constraints, expected answer type, follow-up context."""
from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Sequence

from .ingest import MONTHS
from .types import DateRange, Query

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_YEAR = r"(?:19|20)\d{2}"
_DATE_PATTERNS = [  # most specific first; each yields (year, month, day) groups by name
    re.compile(rf"\b(?P<y>{_YEAR})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}})\b"),
    re.compile(rf"\b(?P<d>\d{{1,2}})/(?P<m>\d{{1,2}})/(?P<y>{_YEAR})\b"),  # day first, as in the corpus
    re.compile(rf"\b(?P<mn>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>{_YEAR})\b", re.I),
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mn>{_MONTH})\.?,?\s+(?P<y>{_YEAR})\b", re.I),
    re.compile(rf"\b(?P<mn>{_MONTH})\.?,?\s+(?:of\s+)?(?P<y>{_YEAR})\b", re.I),
    re.compile(rf"(?<![\w-])(?P<y>{_YEAR})(?![\w-])"),
]

_FOLLOWUP_WORDS = re.compile(
    r"\b(he|she|they|him|her|them|his|hers|their|theirs|it|its|there|that|this|those|these|then|"
    r"the same|the other|also|too|else)\b", re.I)
_ELLIPSIS_START = re.compile(r"^\s*(and|but|what about|how about|and what about|also|then)\b", re.I)
_STOP = set("""a an the of to in on at for from by with and or but is are was were be been being do does did
who whom whose what which when where why how many much that this these those it its he she they him her them
his their there then also too else same other about as into than please tell me i you we us our your any some
""".split())


def find_dates(text: str) -> DateRange | None:
    """The date range a question names (a day, a month or a year; several widen it), or None."""
    ranges: list[tuple[dt.date, dt.date, str]] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            found = _to_range(m)
            if found:
                taken.append(m.span())
                ranges.append((*found, m.group(0)))
    if not ranges:
        return None
    ranges.sort(key=lambda r: text.find(r[2]))
    return DateRange(min(r[0] for r in ranges), max(r[1] for r in ranges), ", ".join(r[2] for r in ranges))


def _to_range(m: re.Match) -> tuple[dt.date, dt.date] | None:
    g = m.groupdict()
    year = int(g["y"])
    month = MONTHS.get(g["mn"].lower().rstrip(".")) if g.get("mn") else (int(g["m"]) if g.get("m") else None)
    try:
        if month is None:
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        if not g.get("d"):
            return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
        day = dt.date(year, month, int(g["d"]))
        return day, day
    except ValueError:  # 31 February and the like: not a date
        return None


def answer_type(question: str) -> str:
    """Expected answer type from the question words: who, when, where, number, which, why, how, what."""
    q = question.lower()
    checks = [
        ("number", r"\bhow (many|much|long|far|old)\b|\bwhat (percentage|percent|share|number|proportion)\b"),
        ("when", r"\bwhen\b|\bwhat (year|date|day|month|time)\b|\bwhich (year|date|day|month)\b"),
        ("where", r"\bwhere\b|\b(what|which) (country|city|place|venue|location|nation)\b"),
        ("who", r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich (person|official|minister|leader)\b"),
        ("why", r"\bwhy\b"),
        ("which", r"\bwhich\b"),
        ("how", r"\bhow\b"),
    ]
    for label, pattern in checks:
        if re.search(pattern, q):
            return label
    return "what"


def content_words(text: str) -> list[str]:
    """Words of a question worth carrying into a follow-up (no stopwords, no question words)."""
    return [w for w in re.findall(r"[\w'-]+", text) if w.lower() not in _STOP and len(w) > 1]


def _history_questions(history: Sequence | None) -> list[str]:
    """The user's earlier questions from Gradio messages, (user, bot) pairs or plain strings."""
    out: list[str] = []
    for turn in history or []:
        if isinstance(turn, str):
            out.append(turn)
        elif isinstance(turn, dict) and turn.get("role") == "user":
            content = turn.get("content")
            if isinstance(content, list):  # gradio 6 may give a list of content parts
                content = " ".join(c.get("text", "") for c in content if isinstance(c, dict))
            if isinstance(content, str):
                out.append(content)
        elif isinstance(turn, (list, tuple)) and turn and isinstance(turn[0], str):
            out.append(turn[0])
    return [q for q in out if q.strip()]


def is_followup(question: str) -> bool:
    """True when the question refers back to an earlier turn (pronouns, ellipsis, very short)."""
    words = content_words(question)
    return bool(_FOLLOWUP_WORDS.search(question) or _ELLIPSIS_START.search(question) or len(words) <= 1)


def understand(question: str, history: Sequence | None = None) -> Query:
    """Turn a question (and the chat so far) into a Query with dates, answer type and carried context."""
    dates = find_dates(question)
    previous = _history_questions(history)
    carried: tuple[str, ...] = ()
    if previous and is_followup(question):
        last = previous[-1]
        own = {w.lower() for w in content_words(question)}
        carried = tuple(w for w in content_words(last) if w.lower() not in own and not re.fullmatch(_YEAR, w))
        if dates is None:
            dates = find_dates(last)
    search_text = question if not carried else f"{question} {' '.join(carried)}"
    return Query(question=question, search_text=search_text, dates=dates,
                 answer_type=answer_type(question), carried=carried)
