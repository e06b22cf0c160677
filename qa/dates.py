"""One date grammar: the dates articles carry (a dateline, a metadata value) and the dates questions name.

Month names and abbreviations are shared; numeric dates are day first (01/10/2020 is 1 October), as in
the corpus. An article's date is a single day at the start of a text; a question's dates are a range
(a day, a month or a year; several widen it).
"""
from __future__ import annotations

import calendar
import datetime as dt
import re

from qa.types import DateRange

_MONTH_NAMES = "january february march april may june july august september october november december".split()
MONTHS: dict[str, int] = {**{m: i for i, m in enumerate(_MONTH_NAMES, 1)},
                          **{m[:3]: i for i, m in enumerate(_MONTH_NAMES, 1)}, "sept": 9}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))  # longest first, so "sept" wins over "sep"

# ---- articles: the date a text starts with ---------------------------------------------------------
LABEL = r"(?:date|dated|published|updated|posted)\b"  # words that introduce a dateline
_MON = rf"(?:{_MONTH})\b\.?"
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\b\.?)?(?:\s*(?:GMT|UTC|ICT)(?:[+-]\d{1,2})?)?"
_SEP = r"\s*[,|–—-]?\s*"
_DATE_RE = re.compile(
    rf"\s*(?:{LABEL}(?:\s+on)?\s*:?\s*)?(?:{_TIME}{_SEP})?"
    r"(?:(?:mon|tue|tues|wed|thu|thurs|fri|sat|sun)\.?,?\s+|[a-z]+day,?\s+)?(?:"  # weekday
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?"  # 2023-10-20[T08:00Z]
    rf"|(?P<mon1>{_MON})\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{{4}})"  # Oct 20, 2023
    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon2>{_MON}),?\s+(?P<y2>\d{{4}})"  # 20 October 2023
    r"|(?P<d3>\d{1,2})(?P<sep>[/.-])(?P<m3>\d{1,2})(?P=sep)(?P<y3>\d{4})"  # 01/10/2020: day first here
    rf")(?![\w/])(?:{_SEP}(?:at\s+)?{_TIME})?", re.IGNORECASE)


def match_date(text: str) -> tuple[dt.date, int] | None:
    """The date `text` starts with (label and time allowed) and the offset just past it."""
    if not (m := _DATE_RE.match(text)):
        return None
    g = m.groupdict()
    if g["y1"]:
        y, mo, d = g["y1"], MONTHS[g["mon1"].lower().rstrip(".")], g["d1"]
    elif g["y2"]:
        y, mo, d = g["y2"], MONTHS[g["mon2"].lower().rstrip(".")], g["d2"]
    else:
        y, mo, d = (g["y3"], g["m3"], g["d3"]) if g["y3"] else (g["y"], g["m"], g["d"])
    try:
        return dt.date(int(y), int(mo), int(d)), m.end()
    except ValueError:  # 31/02/2020 and the like
        return None


def parse_date(text: str) -> dt.date | None:
    """The date that `text` is or starts with, in any supported layout; None if there is none."""
    found = match_date(text)
    return found[0] if found else None


# ---- questions: the dates a question names, anywhere in it -------------------------------------------
YEAR = r"(?:19|20)\d{2}"  # a year a question can mean (a bare number otherwise)
_DATE_PATTERNS = [  # most specific first; each yields (year, month, day) groups by name
    re.compile(rf"\b(?P<y>{YEAR})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}})\b"),
    re.compile(rf"\b(?P<d>\d{{1,2}})/(?P<m>\d{{1,2}})/(?P<y>{YEAR})\b"),  # day first, as in the corpus
    re.compile(rf"\b(?P<mn>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>{YEAR})\b", re.I),
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mn>{_MONTH})\.?,?\s+(?P<y>{YEAR})\b", re.I),
    re.compile(rf"\b(?P<mn>{_MONTH})\.?,?\s+(?:of\s+)?(?P<y>{YEAR})\b", re.I),
    re.compile(rf"(?<![\w-])(?P<y>{YEAR})(?![\w-])"),
]


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


def as_of_day(value=None) -> dt.date:
    """The day a question is asked: a date, a datetime or an ISO "YYYY-MM-DD" string; None means today."""
    if value is None or value == "":
        return dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ValueError(f"as_of must be a date (YYYY-MM-DD), not {value!r}")


# ---- questions: times named relative to the day they are asked ---------------------------------------
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
# Words that mean "the latest": the recency prior applies (qa.retrieve) but no range is set.
RECENT = re.compile(r"\b(recent|recently|now|currently|current|latest|new|newly|upcoming|this (?:week|month)|"
                    r"(?:past|last) few (?:days|weeks)|ongoing|so far)\b", re.I)
# Words that place the news in the days before it is asked ("this week", "on Tuesday"): beside a past year
# ("the 2020 election ... this week") they say when it was reported, and the year says what it is about.
NOW = re.compile(r"\b(this (?:week|month)|recently|currently|right now|(?:past|last) few (?:days|weeks)|"
                 r"today|yesterday|tonight|(?:this past|last|past) (?:week|weekend)|"
                 rf"(?:on|last|this) (?:{'|'.join(WEEKDAYS)}))\b", re.I)
_RELATIVE = re.compile(
    r"\b(?P<word>today|yesterday|tonight)\b"
    r"|\b(?P<which>last|past|previous) (?P<unit>week|month|year|weekend)\b"
    r"|\bthis (?P<this>year|weekend)\b"
    rf"|\b(?:on|last|this past|this) (?P<wd>{'|'.join(WEEKDAYS)})\b"
    rf"|\b(?:in|during|since|early|late|mid-?) (?P<mon>{'|'.join(_MONTH_NAMES)})\b(?!\.?,?\s+\d)", re.I)
NEWS_LAG = 7  # days an article about a named time may appear after it


def relative_dates(text: str, as_of: dt.date) -> DateRange | None:
    """The range a relative time in a question means when asked on `as_of` ("last week", "in March"), or None.

    A range ends on as_of (what happened then is reported until now), except a month that ended more than
    NEWS_LAG days ago; "this week", "recently", "latest" set no range (they are RECENT words).
    """
    m = _RELATIVE.search(text)
    if not m:
        return None
    g = m.groupdict()
    if g["word"]:
        start = as_of - dt.timedelta(days=0 if g["word"].lower() != "yesterday" else 1)
        start = min(start, as_of - dt.timedelta(days=1))  # a day's slack: publishers' time zones
    elif g["unit"]:
        unit = g["unit"].lower()
        if unit in ("week", "weekend"):
            start = as_of - dt.timedelta(days=as_of.weekday() + 7 + (2 if unit == "weekend" else 0))
        elif unit == "month":
            first = as_of.replace(day=1)
            start = (first - dt.timedelta(days=1)).replace(day=1)
        else:
            start = dt.date(as_of.year - 1, 1, 1)
    elif g["this"]:
        start = dt.date(as_of.year, 1, 1) if g["this"].lower() == "year" else \
            as_of - dt.timedelta(days=(as_of.weekday() - 4) % 7 + 1)
    elif g["wd"]:
        back = (as_of.weekday() - WEEKDAYS.index(g["wd"].lower())) % 7
        start = as_of - dt.timedelta(days=back)
    else:
        month = MONTHS[g["mon"].lower()]
        year = as_of.year if month <= as_of.month else as_of.year - 1
        start = dt.date(year, month, 1)
        end = dt.date(year, month, calendar.monthrange(year, month)[1]) + dt.timedelta(days=NEWS_LAG)
        return DateRange(start, min(end, as_of), m.group(0).strip())
    return DateRange(start, as_of, m.group(0).strip())


def wants_recent(text: str) -> bool:
    """True when the question says it is about the latest events ("recently", "now", "this week")."""
    return bool(RECENT.search(text))
