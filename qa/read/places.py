"""Which country, which state: a question asking for one is answered by a span that names one.

spaCy tags cities, regions and countries alike as GPE, so "Kyiv" answers "to which country did he travel?" and
"West Coast" answers "which state was drenched?". The names come from pycountry (ISO 3166 countries with their
common and official names; ISO 3166-2 states, provinces and territories), with the everyday names ISO does not
use ("Russia", "Turkey", "Britain", "the U.S."). `asked(question)` says which of the two a question asks for,
`names(kind)` the names that answer it (qa.read.rescore keeps the passage's spans that are such a name, when it
has any). Asked "which country's ...", a country's demonym answers too ("Russian" of "the Russian Ministry of
Foreign Affairs"; the demonyms come from countryinfo's country data).
"""
from __future__ import annotations

import functools
import re

# Everyday names of countries that ISO 3166 spells otherwise, and the United Kingdom's nations (asked which
# country, "Scotland" is an answer).
_COUNTRY_ALIASES = ("Russia", "Turkey", "Britain", "Great Britain", "UK", "U.K.", "England", "Scotland", "Wales",
                    "Northern Ireland", "US", "U.S.", "USA", "U.S.A.", "America", "Czech Republic", "Ivory Coast",
                    "Vatican", "Vatican City", "Holland", "Burma", "Swaziland", "Macedonia", "Cape Verde",
                    "East Timor", "DR Congo", "DRC", "Democratic Republic of Congo", "Republic of Congo", "Kosovo",
                    "Brunei")
# ISO 3166-2 subdivision types a "which state" question may be asking for.
# (Every US subdivision counts, the District of Columbia and the outlying areas included.)
_STATE_TYPES = frozenset({"State", "Province", "Territory", "Land", "Federal district", "Federal territory",
                          "Union territory", "Autonomous community"})
# Words that make "country" or "state" part of another noun: "which country singer", "which state senator",
# "which state-owned company" ask for a person or a company, not a place.
_COMPOUNDS = ("music|singer|singers|star|stars|artist|song|songs|album|band|club|radio|western|house|road|"
              "senator|senators|lawmaker|lawmakers|legislator|legislature|official|officials|department|agency|"
              "media|police|trooper|troopers|court|judge|attorney|prosecutor|representative|governor|leader|"
              "leaders|university|college|school|park|fair|prison|employee|employees|funeral|dinner|visit|secret|"
              "secrets|broadcaster|television|tv|newspaper|company|firm|bank|parliament|assembly|election|"
              "elections|capital|highway|team")
_ASKED = re.compile(r"\b(?:which|what)\s+(?:(?:u\.?\s?s\.?|us|american|australian|indian|mexican|canadian|"
                    r"german|brazilian|nigerian)\s+)?(country|nation|state|province)\b"
                    r"(?![-\u2010-\u2014]|\s+(?:of|" + _COMPOUNDS + r")\b)", re.IGNORECASE)
_CONDITION = re.compile(r"\bwhat\s+state\s+(?:is|are|was|were)\b.*\bin\W*$", re.IGNORECASE)  # "... the economy in?"
_LEAD = re.compile(r"^(?:the\s+)", re.IGNORECASE)
_TAIL = re.compile(r"(?:['\u2019]s?|[.,;:])$")
_KEEP_DOT = frozenset({"U.S.", "U.K.", "U.S.A."})  # a final dot that is the name's


_POSSESSIVE = re.compile(r"['\u2019]s\b")


def asked(question: str) -> str | None:
    """ "country" or "state" when the question asks which one ("Which country ...?", "in which U.S. state",
    "from what nation"), "country's" when it asks whose ("which country's ministry"), else None. "Which state of
    matter", "What state is the economy in?" are not."""
    m = _ASKED.search(question)
    if not m or _CONDITION.search(question):
        return None
    if m.group(1).lower() not in ("country", "nation"):
        return "state"
    return "country's" if _POSSESSIVE.match(question, m.end()) else "country"


@functools.lru_cache(maxsize=3)
def names(kind: str) -> frozenset[str]:
    """The names that answer a question asking for a `kind` ("country", "country's" or "state")."""
    import pycountry

    out: set[str] = set()
    if kind == "country's":
        from countryinfo import CountryInfo

        out.update(names("country"))
        for country in CountryInfo.all().values():
            out.update(d.strip() for d in re.split(r"[,/]", country.get("demonym") or "") if d.strip())
    elif kind == "country":
        for c in pycountry.countries:
            for field in ("name", "common_name", "official_name"):
                name = getattr(c, field, None)
                if name:
                    out.add(name)
                    out.add(name.split(",")[0])  # "Korea, Republic of" -> "Korea"
        out.update(_COUNTRY_ALIASES)
    elif kind == "state":
        for s in pycountry.subdivisions:
            if s.country_code == "US" or s.type in _STATE_TYPES:
                out.add(s.name)
    else:
        raise ValueError(f"unknown place kind {kind!r}")
    return frozenset(out)


def name_of(text: str) -> str:
    """The text as a place's name: spacing normalised, without a leading "the" or a trailing "'s"."""
    words = _LEAD.sub("", " ".join(text.split()))
    return _TAIL.sub("", words) if _TAIL.search(words) and words not in _KEEP_DOT else words


def is_named(text: str, kind: str) -> bool:
    """True when the text is a `kind` ("the United States", "Ukraine's", "Texas")."""
    return name_of(text) in names(kind)


def named_in(question: str, kind: str) -> frozenset[str]:
    """The `kind`s the question itself names ("Ukraine" of "... alongside Ukraine?"): not its answer."""
    words = re.findall(r"[A-Z][\w.'\u2019-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w.'\u2019-]*)*", question)
    found = set()
    for w in words:  # every run of capitalised words, and each word of it ("Biden Ukraine" -> "Ukraine")
        for part in (w, *w.split()):
            if is_named(part, kind):
                found.add(name_of(part))
    return frozenset(found)
