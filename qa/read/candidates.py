"""Question words to look for, and the candidate answer phrases of a parsed passage."""
from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass

from qa.read.expected import WH_WORDS, Expected
from qa.index.bm25 import stemmer

_CONTENT_POS = {"NOUN", "PROPN", "NUM", "VERB", "ADJ", "ADV", "X"}
_POS_WEIGHT = {"PROPN": 1.5, "NUM": 1.5, "NOUN": 1.0, "ADJ": 0.8, "VERB": 0.7, "ADV": 0.5, "X": 1.0}
_HEAD_POS = {"NOUN", "PROPN", "NUM", "ADJ"}
_VERBAL_DEPS = {"xcomp", "advcl", "pcomp", "ccomp", "conj", "relcl", "acl"}  # clauses that can answer how/why
_EDGE_DROP = {"DET", "ADP", "CCONJ", "PART", "PUNCT", "SCONJ"}
_TAIL_DROP = {"VERB", "AUX", "ADV", "PRON"}  # a phrase does not end in these after its head
MAX_SPAN_TOKENS = 10
_NAMES = {"PERSON", "GPE", "LOC", "NORP", "FAC"}  # a partly repeated name is the question's own referent
CARRIED_WEIGHT = 0.5  # weight of words carried from earlier turns, relative to the question's own


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball stem of a lowercased word (cached)."""
    plain = unicodedata.normalize("NFKD", word.lower())
    return stemmer().stemWord("".join(c for c in plain if not unicodedata.combining(c)))


@dataclass(frozen=True)
class Question:
    """A parsed question ready for matching: expected answer, weighted content stems, positions."""

    exp: Expected
    weights: dict  # stem -> weight
    positions: dict  # stem -> token index in the question
    bigrams: frozenset  # adjacent content-stem pairs
    text: str = ""  # the question as the sentence encoder reads it (a follow-up's pronoun resolved)

    def key(self, word: str) -> str | None:
        """The question stem a passage word matches ("Russian" matches "Russia"), or None."""
        k = stem(word)
        if k in self.weights:
            return k
        for qk in self.weights:
            short, long = (qk, k) if len(qk) <= len(k) else (k, qk)
            if len(short) >= 5 and long.startswith(short) and len(long) - len(short) <= 2:
                return qk
        return None


def question(qdoc, exp: Expected, carried: tuple[str, ...] = (), text: str = "") -> Question:
    """Content stems of the question with part-of-speech weights (wh-words and stopwords left out).

    `carried` words from earlier turns count at half weight: they steer the sentence choice and are
    never returned as the answer.
    """
    weights: dict[str, float] = {stem(w): CARRIED_WEIGHT for w in carried}
    positions: dict[str, int] = {}
    keys = []
    for t in qdoc:
        if t.is_punct or t.is_stop or t.lower_ in WH_WORDS or t.pos_ not in _CONTENT_POS or t.i == exp.wh_index:
            continue
        if exp.kind == "number" and t.i == (exp.wh_index or 0) + 1:  # "many" in "how many"
            continue
        key = stem(t.lower_)
        weights[key] = max(weights.get(key, 0.0), _POS_WEIGHT.get(t.pos_, 0.5))
        positions.setdefault(key, t.i)
        keys.append(key)
    return Question(exp, weights, positions, frozenset(zip(keys, keys[1:])), text or qdoc.text)


def with_idf(q: Question, docs) -> Question:
    """Scale each term's weight by its inverse sentence frequency across the given docs."""
    sents = [{stem(t.lower_) for t in s} for d in docs for s in d.sents]
    n = len(sents)
    weights = {k: w * math.log((n + 1) / (sum(1 for s in sents if k in s) + 0.5)) for k, w in q.weights.items()}
    return Question(q.exp, weights, q.positions, q.bigrams, q.text)


def phrases(sent, verbal: bool) -> dict[tuple[int, int], str]:
    """(start_token, end_token) -> entity label ('' for none): entities, noun chunks, short subtrees."""
    seen: dict[tuple[int, int], str] = {(e.start, e.end): e.label_ for e in sent.ents}
    for chunk in sent.noun_chunks:
        seen.setdefault((chunk.start, chunk.end), "")
    heads = _HEAD_POS | {"VERB"} if verbal else _HEAD_POS
    for t in sent:
        if t.pos_ in heads and t.dep_ != "compound" and (t.pos_ != "VERB" or t.dep_ in _VERBAL_DEPS):
            a, b = t.left_edge.i, t.right_edge.i + 1
            if b - a <= MAX_SPAN_TOKENS and a >= sent.start and b <= sent.end:
                seen.setdefault((a, b), "")
    for a, b in quoted(sent):
        seen.setdefault((a, b), "")
    return seen


_OPEN = {'"': '"', "\u201c": "\u201d", "``": "''"}


def quoted(sent, limit: int = 2 * MAX_SPAN_TOKENS) -> list[tuple[int, int]]:
    """Token spans inside quotation marks: titles, themes and slogans, often longer than a phrase."""
    out, start, close = [], None, None
    for t in sent:
        if start is None and t.text in _OPEN:
            start, close = t.i + 1, _OPEN[t.text]
        elif start is not None and t.text == close:
            if 0 < t.i - start <= limit:
                out.append((start, t.i))
            start = None
    return out


def trim(doc, a: int, b: int, blocked: set[int]) -> tuple[int, int]:
    """Drop function words and question-word tokens from the edges of tokens [a, b)."""
    root = doc[a:b].root.i
    while a < b and (doc[a].pos_ in _EDGE_DROP or a in blocked):
        a += 1
    while b > a and (doc[b - 1].pos_ in _EDGE_DROP or b - 1 in blocked or
                     (b - 1 > root and doc[b - 1].pos_ in _TAIL_DROP)):
        b -= 1
    return a, b


def blocked_tokens(doc, q: Question) -> set[int]:
    """Tokens that repeat the question: its words, and entities that are half made of them ("Mike Tolbert")."""
    blocked = {t.i for t in doc if q.key(t.lower_) is not None}
    for ent in doc.ents:
        if ent.label_ in _NAMES and 2 * sum(i in blocked for i in range(ent.start, ent.end)) >= ent.end - ent.start:
            blocked.update(range(ent.start, ent.end))
    return blocked
