"""What an acronym stands for, read off the passages that define it.

News defines an acronym once, beside its long form: "the Singapore International Cyber Security Week 2023
(SICW 2023)" or "the AMMTC (ASEAN Ministerial Meeting on Transnational Crime) mechanism". Asked "What does
SICW stand for?", the answer is that long form, found by the letters it is made of (Schwartz and Hearst's
matching: the acronym's letters appear in order in the long form, the first at a word's start, right to left,
the long form no more words than the acronym has letters plus five), not by the span reader, which rarely
ends such a phrase at the bracket.
"""
from __future__ import annotations

import re
from typing import Sequence

_ASKED = re.compile(
    r"\bwhat\s+(?:does|do|did)\s+(?:the\s+)?(?:acronym\s+|abbreviation\s+|letters\s+|initials\s+)?"
    r"(?P<a>[\w&.-]+)\s+(?:stand\s+for|abbreviate|mean\s*\??\s*$)"
    r"|\bwhat\s+(?:is|was)\s+(?:the\s+)?(?P<b>[\w&.-]+)\s+(?:short\s+for|an?\s+(?:acronym|abbreviation)\s+for)\b"
    r"|\bwhat\s+(?:is|was)\s+the\s+(?:full\s+(?:name|form)|long\s+form|expansion)\s+of\s+(?:the\s+)?(?P<c>[\w&.-]+)"
    r"|\b(?P<d>[\w&.-]+)\s+(?:stands|is\s+short)\s+for\s+what\b", re.IGNORECASE)
_WORD = re.compile(r"[\w'\u2019&-]+")
YEAR = re.compile(r"\s+(?:19|20)\d\d$")
# How sure an expansion is: a long form whose letters spell the acronym, beside it in brackets, is what the
# acronym stands for (a fixed rating; no question set has enough acronym questions to fit one).
CONFIDENCE = 0.9


def asked(question: str) -> str | None:
    """The acronym a question asks the long form of ("SICW" of "What does SICW stand for?"), else None."""
    m = _ASKED.search(question)
    if not m:
        return None
    word = next(g for g in m.groups() if g).strip(".")
    letters = re.sub(r"[^A-Za-z]", "", word)
    # an acronym is written mostly in capitals ("SICW", "NaCl" is not asked here); "what does it mean" is not one
    return word if len(letters) >= 2 and sum(c.isupper() for c in letters) >= 2 else None


def _spells(short: str, long: str) -> bool:
    """Schwartz and Hearst: the short form's letters and digits, right to left, found in order in the long
    form, the first of them at the start of a word of it."""
    chars = [c.lower() for c in short if c.isalnum()]
    text = long.lower()
    i = len(text) - 1
    for k in range(len(chars) - 1, -1, -1):
        c = chars[k]
        while i >= 0 and (text[i] != c or (k == 0 and i > 0 and text[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return False
        i -= 1
    return True


def _long_before(text: str, end: int, short: str) -> tuple[int, int] | None:
    """The shortest run of words ending at `end` that spells `short` (its first word starting with the
    acronym's first letter), within len(short) + 5 words."""
    words = list(_WORD.finditer(text, max(0, end - 400), end))
    letters = [c for c in short if c.isalnum()]
    for n in range(1, min(len(words), len(letters) + 5) + 1):
        first = words[-n]
        if first.group()[0].lower() != letters[0].lower():
            continue
        span = text[first.start():end]
        if "\n" not in span and _spells(short, span):
            return first.start(), words[-1].end()
    return None


def expansion(text: str, short: str) -> tuple[int, int] | None:
    """(start, end) in `text` of the long form the text gives `short`: "Long Form (SHORT)" or "SHORT (Long Form)";
    a year after both ("... Week 2023 (SICW 2023)") is left out. None when the text does not define it."""
    name = re.escape(short)
    # Long Form (SHORT) or Long Form 2023 (SHORT 2023)
    for m in re.finditer(r"(\s+(?:19|20)\d\d)?\s*\(\s*" + name + r"(?:\s+(?:19|20)\d\d)?\s*\)", text):
        found = _long_before(text, m.start(), short)
        if found:
            return found
    # SHORT (Long Form)
    for m in re.finditer(r"\b" + name + r"\s*\(([^()\n]{3,200})\)", text):
        inner = YEAR.sub("", m.group(1).strip())
        start = m.start(1) + m.group(1).index(inner[:1]) if inner else m.start(1)
        if inner and inner[0].lower() == short[0].lower() and _spells(short, inner):
            return start, start + len(inner)
    return None


def find(short: str, texts: Sequence[str]) -> tuple[int, int, int] | None:
    """(index of the text, start, end) of the first text that defines `short`, in the order given."""
    for i, text in enumerate(texts):
        found = expansion(text, short)
        if found:
            return i, *found
    return None
