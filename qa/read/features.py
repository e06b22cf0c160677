"""The feature row of each candidate answer phrase: question-word overlap, distance, syntax and type."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qa.read.expected import Expected, phrase_role
from qa.read.candidates import Question, blocked_tokens, phrases, stem, trim

FEATURES = ("cover", "best_sent", "cover_gap", "bigram", "verb_found", "prox1", "prox4", "prox12", "tree", "order",
            "role", "attached", "appos", "typed", "wrong_type", "untyped", "ent_free", "number", "propn", "noun",
            "adj", "verbal_fit", "verbal", "length", "one_token", "focus", "qword_share", "named", "quoted",
            "bracketed", "pp_fit", "modifier", "role_inherited", "contains_typed",
            "acronym", "primary_type", "sent_sim", "sim_gap", "window_cover",
            "window_gap")
_PREPS = {"where": {"in", "at", "on", "from", "into", "to", "near", "within", "inside", "across", "throughout"},
          "when": {"in", "on", "during", "since", "until", "before", "after", "by", "from", "at"}}
_PRIMARY = {"who": "PERSON", "when": "DATE", "where": "GPE"}  # the usual label of each answer kind
_MODIFIER_DEPS = {"amod", "compound", "nummod", "poss", "nmod", "quantmod"}
_NAMING = {"called", "named", "known", "termed", "as", "dubbed", "nicknamed", "titled", "entitled"}
_QUOTES = {'"', "'", "\u201c", "\u201d", "\u2018", "\u2019", "``", "''"}
# A role in the question and the roles that fill it in a passage sentence (passive and active swapped).
_COMPATIBLE = {"nsubj": {"nsubj", "agent"}, "nsubjpass": {"nsubjpass", "dobj"}, "dobj": {"dobj", "nsubjpass"},
               "attr": {"nsubj", "attr", "appos", "nsubjpass"}, "agent": {"nsubj", "agent"}}


@dataclass(frozen=True)
class Candidates:
    """Candidate spans of one passage: character offsets, sentence offsets and a feature row each."""

    spans: tuple[tuple[int, int], ...]  # (start, end) within the passage text
    sentences: tuple[tuple[int, int], ...]  # the sentence holding each span
    features: np.ndarray  # (n, len(FEATURES)) float32


def _tree_distance(x, y) -> int:
    """Number of dependency edges between two tokens of one sentence."""
    up = {t.i: d for d, t in enumerate([x, *x.ancestors])}
    for d, t in enumerate([y, *y.ancestors]):
        if t.i in up:
            return d + up[t.i]
    return 20


def _phrase_ancestors(tok, depth: int = 3):
    """Up to `depth` heads above a token within its noun phrase ("Minister of ... Luong Tam Quang")."""
    out = []
    while len(out) < depth and tok.dep_ in ("compound", "pobj", "prep", "appos", "nmod") and tok.head.i != tok.i:
        tok = tok.head
        if tok.pos_ in ("NOUN", "PROPN"):
            out.append(tok)
    return out


def _role_match(root, exp: Expected, matched: set[int]) -> float:
    """1 when the candidate fills the wh-phrase's role for the question's verb."""
    if not exp.role:
        return 0.0
    role, verb = phrase_role(root)
    verb_ok = (verb.i in matched or (exp.verb and stem(verb.lemma_.lower()) == stem(exp.verb))
               or (not exp.verb and verb.lemma_ == "be"))
    return 1.0 if verb_ok and role in _COMPATIBLE.get(exp.role, {exp.role}) else 0.0


def _context(doc, a: int, b: int) -> tuple[float, float, float]:
    """(named, quoted, bracketed): the phrase follows "called/named/known as", sits in quotes or brackets."""
    before = {t.lower_ for t in doc[max(0, a - 2):a]}
    named = float(bool(before & _NAMING))
    left, right = (doc[a - 1].text if a > 0 else ""), (doc[b].text if b < len(doc) else "")
    quoted = float(left in _QUOTES and right in _QUOTES)
    bracketed = float(left == "(" or right == "(")
    return named, quoted, bracketed


def _acronym(doc, a: int, b: int, blocked: set[int]) -> float:
    """1 when the phrase and a question word explain each other in brackets: "X (QED)" or "QED (X)"."""
    after = doc[b:b + 3]
    before = doc[max(0, a - 2):a]
    if len(after) == 3 and after[0].text == "(" and after[1].i in blocked and after[2].text == ")":
        return 1.0
    return float(len(before) == 2 and before[0].i in blocked and before[1].text == "(" and
                 b < len(doc) and doc[b].text == ")")


def _sentence_stats(doc, q: Question, total: float):
    """Per sentence: matched (token index, weight) pairs, weighted coverage, bigram share, verb found, and
    the coverage of the sentence together with the one before it ("X opened. It was founded by Y")."""
    verb = stem(q.exp.verb) if q.exp.verb else None
    out = []
    before: set = set()
    for sent in doc.sents:
        keys = [q.key(t.lower_) or stem(t.lower_) for t in sent]
        matched = [(t.i, q.weights[k]) for t, k in zip(sent, keys) if k in q.weights]
        found = {k for k in keys if k in q.weights}
        cover = sum(q.weights[k] for k in found) / total
        window = sum(q.weights[k] for k in found | before) / total
        bigram = sum((x, y) in q.bigrams for x, y in zip(keys, keys[1:])) / max(1, len(q.bigrams))
        verb_found = float(verb is not None and any(stem(t.lemma_.lower()) == verb for t in sent))
        out.append((sent, matched, cover, bigram, verb_found, window))
        before = found
    return out


def _row(doc, a, b, a0, b0, label, q: Question, stats, best_cover, blocked, sim: float, best_sim: float,
         best_window: float, total: float) -> tuple:
    """The feature row of tokens [a, b) (before trimming [a0, b0)) in FEATURES order."""
    sent, matched, cover, bigram, verb_found, window = stats
    exp = q.exp
    idx = {i for i, _ in matched}
    root = doc[a:b].root
    prox = [0.0, 0.0, 0.0]
    tree = order = 0.0
    center = (a + b - 1) / 2
    wh = exp.wh_index if exp.wh_index is not None else -1
    for i, w in matched:
        if a <= i < b:
            continue
        d = a - i - 1 if i < a else i - b
        for j, tau in enumerate((1.0, 4.0, 12.0)):
            prox[j] += w / (1.0 + d / tau)
        tree += w / (1.0 + _tree_distance(root, doc[i]))
        order += w if (q.positions.get(q.key(doc[i].lower_), wh) > wh) == (i > center) else 0.0
    typed = float(bool(label) and label in exp.labels)
    named, quoted, bracketed = _context(doc, a, b)
    head = root.head
    verbal = float(root.pos_ in ("VERB", "AUX"))
    return (cover, float(cover == best_cover), cover - best_cover, bigram, verb_found,
            prox[0] / total, prox[1] / total, prox[2] / total, tree / total, order / total,
            _role_match(root, exp, idx),
            float(head.i in idx or (head.dep_ in ("prep", "agent") and head.head.i in idx)),
            float((root.dep_ == "appos" and head.i in idx) or any(c.dep_ == "appos" and c.i in idx
                                                                  for c in root.children)),
            typed, float(bool(label) and bool(exp.labels) and not typed), float(bool(exp.labels) and not typed),
            float(bool(label) and not exp.labels), float(root.pos_ == "NUM" or root.like_num),
            float(root.pos_ == "PROPN"), float(root.pos_ == "NOUN"), float(root.pos_ == "ADJ"),
            verbal * float(exp.verbal), verbal * float(not exp.verbal),
            min(b - a, 12) / 12.0, float(b - a == 1),
            float(bool(exp.focus) and doc[a0:b0].root.lemma_.lower() == exp.focus),
            sum(i in blocked for i in range(a0, b0)) / (b0 - a0),
            named * float(exp.naming), quoted, bracketed,
            float(root.dep_ == "pobj" and head.lower_ in _PREPS.get(exp.kind, ())),
            float(root.dep_ in _MODIFIER_DEPS and head.i in idx),
            float(any(_role_match(t, exp, idx) for t in _phrase_ancestors(root))),
            float(not typed and any(e.label_ in exp.labels for e in doc[a:b].ents)),
            _acronym(doc, a, b, blocked), float(bool(label) and label == _PRIMARY.get(exp.kind)),
            sim, sim - best_sim, window, window - best_window)


def _clean_end(text: str, start: int, end: int) -> tuple[int, int]:
    """Character offsets without trailing separators glued to the last token ("2018./." -> "2018")."""
    while end - start > 1 and (text[end - 1] in "/;:," or (text[end - 1] == "." and text[end - 2] in "./0123456789")):
        end -= 1
    return start, end


def candidates(doc, q: Question, sims: Sequence[float] | None = None) -> Candidates:
    """Every candidate span of a parsed passage with its feature row (see FEATURES).

    `sims`: the question's cosine similarity to each sentence of the passage (zeros when not given).
    """
    blocked = blocked_tokens(doc, q)
    total = sum(q.weights.values()) or 1.0  # question-word weight, the denominator of every share
    stats = _sentence_stats(doc, q, total)
    best_cover = max((s[2] for s in stats), default=0.0)
    best_window = max((s[5] for s in stats), default=0.0)
    sims = list(sims) if sims is not None else [0.0] * len(stats)
    best_sim = max(sims, default=0.0)
    spans, sent_spans, rows = [], [], []
    for st, sim in zip(stats, sims):
        sent = st[0]
        done: set[tuple[int, int]] = set()
        for (a0, b0), label in phrases(sent, q.exp.verbal).items():
            a, b = trim(doc, a0, b0, blocked)
            if a >= b or (a, b) in done or all(t.is_punct or (t.is_stop and not t.like_num) for t in doc[a:b]):
                continue
            done.add((a, b))
            rows.append(_row(doc, a, b, a0, b0, label, q, st, best_cover, blocked, sim, best_sim, best_window, total))
            spans.append(_clean_end(doc.text, doc[a].idx, doc[b - 1].idx + len(doc[b - 1])))
            sent_spans.append((sent.start_char, sent.end_char))
    features = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(FEATURES))
    return Candidates(tuple(spans), tuple(sent_spans), features)
