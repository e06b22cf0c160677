"""What kind of phrase a question asks for: the wh-word, its focus noun, and the entity labels that fit."""
from __future__ import annotations

from dataclasses import dataclass, replace

WH_WORDS = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how"}
PERSON, ORG, NORP, GPE, LOC, FAC = "PERSON", "ORG", "NORP", "GPE", "LOC", "FAC"
NUMBERS = frozenset({"CARDINAL", "QUANTITY", "PERCENT", "MONEY"})
DATES = frozenset({"DATE", "TIME"})
PLACES = frozenset({GPE, LOC, FAC})

# Head nouns of "which X" / "what X" / "the name of the X" and the entity labels that answer them.
_FOCUS = {
    frozenset({"DATE"}): "year date day month century decade era period season week birthday anniversary",
    frozenset({"TIME"}): "time hour",
    frozenset({"PERCENT"}): "percentage percent proportion share fraction",
    frozenset({GPE, LOC}): "country city state nation town village province region place location area "
                           "continent island county capital district territory kingdom republic borough "
                           "neighborhood neighbourhood port",
    frozenset({LOC, FAC}): "river mountain lake sea ocean building stadium bridge airport street road venue "
                           "hotel park church temple palace museum",
    frozenset({ORG}): "company team organization organisation university college school club party agency "
                      "group band firm institution network newspaper government ministry department airline "
                      "league corporation council committee bank court army navy force union station "
                      "channel publisher brand manufacturer body",
    frozenset({PERSON}): "person man woman president king queen leader minister official player actor actress "
                         "author writer scientist ruler emperor general coach founder director chancellor pope "
                         "artist composer architect engineer son daughter father mother wife husband brother "
                         "sister singer poet philosopher explorer inventor governor mayor senator chief "
                         "commander captain owner ceo chairman secretary reporter journalist people individual",
    frozenset({NORP, "LANGUAGE"}): "nationality religion ethnicity language tribe dynasty",
    frozenset({"MONEY"}): "cost price fee salary budget revenue",
    frozenset({"EVENT"}): "war battle event game tournament championship election festival conference",
    frozenset({"WORK_OF_ART"}): "book film song album movie novel painting poem opera show series",
    frozenset({"LAW"}): "law act treaty amendment constitution",
}
FOCUS_LABELS = {w: labels for labels, words in _FOCUS.items() for w in words.split()}
_HOW = {"many": NUMBERS, "much": NUMBERS, "long": DATES | NUMBERS, "old": DATES | NUMBERS,
        "far": NUMBERS, "large": NUMBERS, "big": NUMBERS, "tall": NUMBERS, "high": NUMBERS,
        "often": DATES | NUMBERS, "wide": NUMBERS, "deep": NUMBERS, "heavy": NUMBERS, "fast": NUMBERS}
_NAMING = {"call", "name", "know", "term", "stand", "short", "refer", "nickname", "title", "abbreviation"}
_GENERIC = {"name", "kind", "type", "sort", "form", "part", "one", "term", "word", "example"}


@dataclass(frozen=True)
class Expected:
    """The expected answer: coarse kind, entity labels that fit (empty: any noun phrase), the focus noun."""

    kind: str  # who | when | where | number | which | what | why | how
    labels: frozenset = frozenset()
    focus: str | None = None  # lemma of the noun the wh-word asks about ("team" in "which team")
    wh_index: int | None = None  # token index of the wh-word in the question doc
    role: str = ""  # the wh-phrase's relation to its verb: nsubj, dobj, nsubjpass, attr, pobj:<prep>, ...
    verb: str = ""  # lowercased governing verb of the wh-phrase ("" if none or a copula)
    verbal: bool = False  # a clause may answer: how, why, "what did X do"
    naming: bool = False  # asks for a name: "called", "known as", "stand for", "term"


def phrase_role(tok):
    """(role, governing verb token) of a phrase's head, looking through prepositions ("by" -> agent)."""
    role, head = tok.dep_, tok.head
    if role == "pobj" and head.dep_ in ("prep", "agent"):
        role = "agent" if head.dep_ == "agent" or head.lower_ == "by" else f"pobj:{head.lower_}"
        head = head.head
    while head.pos_ not in ("VERB", "AUX") and head.head.i != head.i:
        head = head.head
    return role, head


def wh_role(tok) -> tuple[str, str]:
    """(role, verb lemma) of the phrase a wh-token heads or modifies, e.g. ("nsubj", "lead") for "who led"."""
    phrase = tok.head if tok.dep_ in ("det", "amod", "advmod") and tok.head.pos_ in ("NOUN", "PROPN") else tok
    if tok.dep_ == "poss":
        phrase = tok
    role, head = phrase_role(phrase)
    verb = "" if head.lemma_ == "be" or head.pos_ not in ("VERB", "AUX") else head.lemma_.lower()
    return role, verb


KIND_LABELS = {"who": frozenset({PERSON, ORG, NORP, GPE}), "when": DATES, "where": PLACES | {ORG},
               "number": NUMBERS}


def _from_kind(kind: str) -> Expected:
    """The expected answer for a coarse answer type alone (a follow-up such as "And in 2020?")."""
    return Expected(kind, KIND_LABELS.get(kind, frozenset()))


def _focus_noun(tok):
    """The noun a determiner wh-word modifies, looking through "name/kind of X"."""
    noun = tok.head if tok.dep_ == "det" and tok.head.pos_ in ("NOUN", "PROPN") else None
    if noun is None and tok.dep_ in ("nsubj", "attr", "dobj", "nsubjpass"):
        # "What is the name of the bridge": the focus is the subject/attribute of the copula
        verb = tok.head
        others = [c for c in verb.children if c.dep_ in ("nsubj", "attr", "nsubjpass") and c.i != tok.i]
        noun = others[0] if others and others[0].pos_ in ("NOUN", "PROPN") and verb.lemma_ == "be" else None
        if noun is not None and noun.lemma_.lower() not in _GENERIC and noun.lemma_.lower() not in FOCUS_LABELS:
            noun = None
    if noun is not None and noun.lemma_.lower() in _GENERIC:
        inner = [g for c in noun.children if c.dep_ == "prep" and c.lower_ == "of"
                 for g in c.children if g.dep_ == "pobj"]
        noun = inner[0] if inner else noun
    return noun


def expected(qdoc, inherited: str | None = None) -> Expected:
    """Expected answer of a parsed question (spaCy Doc): the one classification of what a question asks.

    A question without a wh-word asks for `inherited`, the kind an earlier turn asked for, when given.
    """
    wh = next((t for t in qdoc if t.lower_ in WH_WORDS), None)
    if wh is None:
        return _from_kind(inherited) if inherited else Expected("what")
    role, verb = wh_role(wh)
    exp = _expected(qdoc, wh)
    lemmas = {t.lemma_.lower() for t in qdoc}
    verbal = exp.kind in ("how", "why") or (wh.lower_ == "what" and "do" in lemmas and verb in ("do", ""))
    return replace(exp, role=role, verb=verb, verbal=verbal, naming=bool(lemmas & _NAMING))


def _expected(qdoc, wh) -> Expected:
    """Kind, labels and focus from the wh-word and, for "what/which", the noun it asks about."""
    w = wh.lower_
    if w == "how":
        nxt = qdoc[wh.i + 1] if wh.i + 1 < len(qdoc) else None
        if nxt is not None and nxt.lower_ in _HOW:
            return Expected("number", _HOW[nxt.lower_], nxt.lower_, wh.i)
        return Expected("how", frozenset(), None, wh.i)
    if w in ("who", "whom", "whose", "when", "where", "why"):
        kind = "who" if w in ("who", "whom", "whose") else w
        return Expected(kind, KIND_LABELS.get(kind, frozenset()), None, wh.i)
    noun = _focus_noun(wh)
    focus = noun.lemma_.lower() if noun is not None else None
    labels = FOCUS_LABELS.get(focus, frozenset()) if focus else frozenset()
    if focus in ("number", "amount", "total", "population", "size", "score"):
        labels = NUMBERS
    kind = ("when" if labels & DATES and not labels - DATES else "where" if labels and labels <= PLACES
            else "who" if PERSON in labels else "number" if labels and labels <= NUMBERS else w)
    return Expected(kind, labels, focus, wh.i)
