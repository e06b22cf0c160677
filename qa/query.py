"""Question understanding without an LLM: date constraints and follow-up context from the plain-text history."""
from __future__ import annotations

import datetime as dt
import re
from typing import Sequence

from qa.dates import YEAR as _YEAR
from qa.dates import NEWS_LAG, NOW, find_dates, relative_dates
from qa.types import Query, Turn

# Words that point back to an earlier turn. "that/this/these/those" and "there" are checked in context below.
_PRONOUNS = re.compile(r"\b(he|she|they|him|her|them|his|hers|their|theirs|it|its|the same|the other|else)\b",
                       re.I)
# Which words can stand for the previous answer, by the previous question's answer type.
_REFERS_TO_ANSWER = {"who": re.compile(r"\b(he|she|they|him|her|them|his|hers|their|theirs)\b", re.I),
                     "where": re.compile(r"\bthere\b", re.I),
                     "which": re.compile(r"\b(it|its|they|them|their|that|this|these|those)\b", re.I),
                     "what": re.compile(r"\b(it|its|they|them|their|that|this|these|those)\b", re.I)}
_PERSONAL = re.compile(r"\b(he|she|they|him|her|them|his|hers|their|theirs|it|its|there)\b", re.I)
_DEMONSTRATIVE = re.compile(r"\b(that|this|these|those)\b", re.I)
_THERE = re.compile(r"\bthere\b", re.I)
# A demonstrative after one of these (or first) points back ("was that agreement", "about this");
# after a noun it is a relative pronoun ("the bridge that breathes fire").
_POINTING_BEFORE = set("""what which who whom when where why how is was are were be been did does do has have had
in on at of for from about with after before during by to and but then also since until than like into over
under between against around said say tell me""".split())
_EXISTENTIAL = re.compile(r"\b(is|are|was|were|be|been)\s+there\s+\w", re.I)
_ELLIPSIS_START = re.compile(r"^\s*(and|but|what about|how about|and what about|also|then)\b", re.I)
_WH = re.compile(r"\b(who|whom|whose|what|which|when|where|why|how)\b", re.I)
MAX_CHAIN = 4  # earlier questions a chain of follow-ups may reach back to
_STOP = set("""a an the of to in on at for from by with and or but is are was were be been being do does did
who whom whose what which when where why how many much that this these those it its he she they him her them
his their there then also too else same other about as into than please tell me i you we us our your any some
""".split())
STOP_WORDS = frozenset(_STOP)  # also what the confidence's question coverage leaves out (qa.decide.question_cover)


def turn_kind(question: str) -> str:
    """What an earlier turn asked for, from its words: who, when, where, number, which, why, how, what.

    It decides which pronouns can stand for that turn's answer and what an elliptical follow-up asks;
    the question being asked is classified once, by the reader (qa.read.expected).
    """
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


def _points_back(question: str) -> bool:
    """A demonstrative used as a determiner or pronoun ("that meeting", "about this"), not a relative."""
    for m in _DEMONSTRATIVE.finditer(question):
        before = re.findall(r"[\w'-]+", question[:m.start()])
        if not before or before[-1].lower() in _POINTING_BEFORE:
            return True
    return False


def is_followup(question: str) -> bool:
    """True when the question refers back to an earlier turn (pronouns, "that X", ellipsis, very short)."""
    if _PRONOUNS.search(question) or _ELLIPSIS_START.search(question) or _points_back(question):
        return True
    if _THERE.search(question) and not _EXISTENTIAL.search(question):
        return True
    return len(content_words(question)) <= 1


def _chain(turns: Sequence[Turn]) -> list[Turn]:
    """The earlier turns a follow-up draws on, latest first, back to the last self-contained question."""
    chain = []
    for turn in reversed(turns[-MAX_CHAIN:]):
        chain.append(turn)
        if not is_followup(turn.question):
            break
    return chain


def _possessive(name: str, pronoun: str) -> str:
    """The name standing for a pronoun: "his" -> "Quang's", "there" -> "in Singapore"."""
    if pronoun.lower() == "there":
        return f"in {name}"
    return f"{name}'s" if pronoun.lower() in {"his", "her", "hers", "its", "their", "theirs"} else name


_PLACE = re.compile(r"\b(?:in|at|to)\s+((?:the\s+)?[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
_SUBJECT = re.compile(r"\b(the|a|an)\s+([\w'-]+(?:\s+[\w'-]+){0,7})", re.I)
_NAME_LINKS = {"on", "of", "for"}  # inside a name: "Conference on Cyber Security", "Ministry of Public Security"
_SUBJECT_END = set("""in on at to of for from by with during after before was were is are did do does has have
had been be that which who whom""".split())
_IT = re.compile(r"\b(it|its|they|them|their)\b", re.I)
_ITS_NOUN = re.compile(r"\b(its|their)\s+([a-z][\w-]*)\b(?=[\s?.!,]*$)")  # "its theme?" ending the question


def _place(question: str) -> str | None:
    """The place an earlier question names ("... to Singapore in 2023?" -> "Singapore"), if any."""
    m = _PLACE.search(question)
    return m.group(1) if m and not re.fullmatch(_YEAR, m.group(1)) else None


def _subject(question: str) -> str | None:
    """The first noun phrase an earlier question names ("Who designed the Riverton harbour bridge?" ->
    "the Riverton harbour bridge"), cut at the first preposition or verb-like word."""
    m = _SUBJECT.search(question)
    if not m:
        return None
    words: list[str] = []
    found, linked = m.group(2).split(), False
    for i, w in enumerate(found):
        nxt = found[i + 1] if i + 1 < len(found) else ""
        in_name = w.lower() in _NAME_LINKS and words and words[-1][:1].isupper() and nxt[:1].isupper()
        if linked and not (in_name or w[:1].isupper()):
            break  # past "on"/"of" inside a name, the name ends at its first lowercase word ("... Biology held")
        linked = linked or in_name
        if not in_name and (w.lower() in _SUBJECT_END or w.lower().endswith(("ed", "en")) and words):
            break
        words.append(w.rstrip("?.,"))
        if w[-1:] in "?.,":
            break
    return " ".join([m.group(1), *words]) if words else None


def _resolved(question: str, earlier: str, answer: str | None, names_answer: bool) -> str | None:
    """The follow-up as one sentence: "he" -> the earlier answer (when the words say so), "it"/"they" -> the
    earlier question's subject otherwise, "there" -> the place the earlier question names; None if nothing."""
    if _ELLIPSIS_START.search(question) and not _WH.search(question) and _WH.search(earlier):
        # "And in 2020?" after "Who was the minister in 2023?" -> "Who was the minister in 2020?"
        rest = _ELLIPSIS_START.sub("", question).strip(" ?")
        new, old = re.findall(_YEAR, rest), re.findall(_YEAR, earlier)
        if new and old:
            return earlier.replace(old[0], new[0])
        return f"{earlier.rstrip(' ?')} {rest}?" if rest else None
    text = question
    if names_answer and _PERSONAL.search(text):
        text = _PERSONAL.sub(lambda m: _possessive(answer, m.group(0)), text, count=1)
    elif not names_answer and (subject := _subject(earlier)) and _IT.search(text):
        if m := _ITS_NOUN.search(text):  # "What was its theme?" -> "What was the theme of the conference?"
            text = f"{text[:m.start()]}the {m.group(2)} of {subject}{text[m.end():]}"
        else:
            text = _IT.sub(lambda m: _possessive(subject, m.group(0)), text, count=1)
    if _THERE.search(text) and not _EXISTENTIAL.search(text) and (place := _place(earlier)):
        text = _THERE.sub(f"in {place}", text, count=1)
    return text if text != question else None


def _dates(text: str, as_of: dt.date | None):
    """The range a question names, absolute first ("in 2019"), else relative to as_of ("last week").

    A time that starts after as_of ("a 2024 White House bid", asked in 2022) names what the news is about,
    not when it was published (nothing published after as_of is read): it sets no range. So does a past
    year beside words for the last few days ("the 2020 election ... this week", asked in 2022): those say
    when it was reported (their own range, or none and the recency prior).
    """
    found = find_dates(text)
    if as_of is None:
        return found
    if found is not None and found.start > as_of:
        return None
    if found is not None and found.end < as_of - dt.timedelta(days=NEWS_LAG) and NOW.search(text):
        return relative_dates(text, as_of)
    return found if found is not None else relative_dates(text, as_of)


def understand(question: str, history: Sequence[Turn] = (), as_of: dt.date | None = None) -> Query:
    """Turn a question (and the chat so far, as plain turns) into a Query with dates and carried context.

    With `as_of` (the day it is asked), relative times resolve against it and, unless the question names
    another time, the query prefers recent articles (`recency`).
    """
    dates = _dates(question, as_of)
    turns = tuple(history or ())
    carried: list[str] = []
    names_answer, answer, refers, inherited, chain = False, None, None, None, []
    if turns and is_followup(question):
        chain = _chain(turns)
        own = {w.lower() for w in content_words(question)}
        answer, refers = chain[0].answer, _REFERS_TO_ANSWER.get(turn_kind(chain[0].question))
        # "he" is the person the last answer named: the answer stands in for the pronoun, and the earlier
        # question's own words (which found *that* passage) stay out, so they cannot outweigh the new ones.
        names_answer = bool(answer and refers and refers.search(question))
        if names_answer:
            carried += [w for w in content_words(answer) if w.lower() not in own]
        for q in (t.question for t in chain):
            if not names_answer:
                carried += [w for w in content_words(q) if w.lower() not in own and not re.fullmatch(_YEAR, w)]
            if dates is None:
                dates = _dates(q, as_of)
        if not _WH.search(question):  # "And in 2020?" asks what the earlier question asked
            inherited = next((turn_kind(t.question) for t in chain if _WH.search(t.question)), None)
    seen: set[str] = set()
    carried_words = tuple(w for w in carried if not (w.lower() in seen or seen.add(w.lower())))
    # "Who did he meet?" -> "Who did Luong Tam Quang meet?" for the encoder and the reader, which read a
    # sentence, not a word list (BM25 keeps the question and the carried words).
    resolved = _resolved(question, chain[0].question, answer, names_answer) if carried_words or names_answer \
        else None
    if resolved:
        search_text = resolved
    else:
        search_text = " ".join((question, *carried_words))
    recency = as_of is not None and (dates is None or dates.end >= as_of - dt.timedelta(days=1))
    return Query(question=question, search_text=search_text, dates=dates, carried=carried_words,
                 inherited_kind=inherited, as_of=as_of, recency=recency)
