"""The feature row of each candidate answer phrase: question-word overlap, distance, syntax and type."""
from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Sequence

import numpy as np

from qa.read.expected import Expected, phrase_role
from qa.read.candidates import Question, blocked_tokens, phrases, stem, trim


@dataclass(frozen=True)
class SpanFeatures:
    """The named features of one candidate span. Their field order is FEATURES: the columns of every
    feature array and of the weights in weights.json (which records the names it was fitted for)."""

    cover: float  # weighted share of the question's words in the span's sentence
    best_sent: float  # 1 when no sentence of the passage covers more
    cover_gap: float  # cover minus the passage's best
    bigram: float  # share of the question's word pairs found in the sentence
    verb_found: float  # the question's verb occurs in the sentence
    prox1: float  # question words near the span, weighted by distance (decay 1, 4 and 12 tokens)
    prox4: float
    prox12: float
    tree: float  # question words near the span in the dependency tree
    order: float  # question words on the same side of the span as of the wh-word in the question
    role: float  # the span fills the wh-phrase's role for the question's verb
    attached: float  # its head (or its preposition's head) is a question word
    appos: float  # in apposition with a question word
    typed: float  # its entity label is of the type asked for
    wrong_type: float  # it has an entity label, of another type than asked
    untyped: float  # the question asks for a type (person, date, number...) the span is not
    ent_free: float  # it has an entity label, and the question asks for no type
    number: float  # head part of speech: a number, a proper noun, a noun, an adjective
    propn: float
    noun: float
    adj: float
    verbal_fit: float  # a clause, where the question can take one (how, why, "what did X do")
    verbal: float  # a clause, where it cannot
    length: float  # tokens / 12, at most 1
    one_token: float
    focus: float  # its head is the noun the wh-word asks about ("team" in "which team")
    qword_share: float  # share of its tokens (before trimming) that repeat the question
    named: float  # follows "called/named/known as" and the question asks for a name
    quoted: float  # in quotes
    bracketed: float  # in or before brackets
    pp_fit: float  # object of a preposition that fits the kind asked ("in" for where, "on" for when)
    modifier: float  # modifies a question word
    role_inherited: float  # a noun above it in its phrase fills the wh-phrase's role
    contains_typed: float  # not typed itself but holds an entity of the asked type
    acronym: float  # a question word and the span explain each other in brackets
    primary_type: float  # its label is the usual one of the kind asked (PERSON for who...)
    sent_sim: float  # cosine of the question to the span's sentence
    sim_gap: float  # that minus the passage's best
    window_cover: float  # cover of the sentence together with the one before (anaphora)
    window_gap: float  # that minus the passage's best

    @classmethod
    def of(cls, row: np.ndarray) -> "SpanFeatures":
        """The named view of one feature-array row (values as the float32 array holds them)."""
        return cls(*map(float, row))


FEATURES = tuple(f.name for f in fields(SpanFeatures))
_VALUES = attrgetter(*FEATURES)


def to_array(rows: Sequence[SpanFeatures]) -> np.ndarray:
    """The (n, len(FEATURES)) float32 array of the rows, columns in FEATURES order."""
    return np.asarray([_VALUES(r) for r in rows], dtype=np.float32).reshape(len(rows), len(FEATURES))


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
    features: np.ndarray  # (n, len(FEATURES)) float32, see SpanFeatures

    def named(self, i: int) -> SpanFeatures:
        """The features of candidate i by name."""
        return SpanFeatures.of(self.features[i])


def _tree_distance(x, y) -> int:
    """Number of dependency edges between two tokens of one sentence."""
    up = {t.i: d for d, t in enumerate([x, *x.ancestors])}
    for d, t in enumerate([y, *y.ancestors]):
        if t.i in up:
            return d + up[t.i]
    return 20


def phrase_ancestors(tok, depth: int = 3):
    """Up to `depth` heads above a token within its noun phrase ("Minister of ... Luong Tam Quang")."""
    out = []
    while len(out) < depth and tok.dep_ in ("compound", "pobj", "prep", "appos", "nmod") and tok.head.i != tok.i:
        tok = tok.head
        if tok.pos_ in ("NOUN", "PROPN"):
            out.append(tok)
    return out


def role_match(root, exp: Expected, matched: set[int]) -> float:
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
         best_window: float, total: float) -> SpanFeatures:
    """The features of tokens [a, b) (before trimming [a0, b0))."""
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
    return SpanFeatures(
        cover=cover, best_sent=float(cover == best_cover), cover_gap=cover - best_cover, bigram=bigram,
        verb_found=verb_found, prox1=prox[0] / total, prox4=prox[1] / total, prox12=prox[2] / total,
        tree=tree / total, order=order / total,
        role=role_match(root, exp, idx),
        attached=float(head.i in idx or (head.dep_ in ("prep", "agent") and head.head.i in idx)),
        appos=float((root.dep_ == "appos" and head.i in idx) or any(c.dep_ == "appos" and c.i in idx
                                                                    for c in root.children)),
        typed=typed, wrong_type=float(bool(label) and bool(exp.labels) and not typed),
        untyped=float(bool(exp.labels) and not typed), ent_free=float(bool(label) and not exp.labels),
        number=float(root.pos_ == "NUM" or root.like_num), propn=float(root.pos_ == "PROPN"),
        noun=float(root.pos_ == "NOUN"), adj=float(root.pos_ == "ADJ"),
        verbal_fit=verbal * float(exp.verbal), verbal=verbal * float(not exp.verbal),
        length=min(b - a, 12) / 12.0, one_token=float(b - a == 1),
        focus=float(bool(exp.focus) and doc[a0:b0].root.lemma_.lower() == exp.focus),
        qword_share=sum(i in blocked for i in range(a0, b0)) / (b0 - a0),
        named=named * float(exp.naming), quoted=quoted, bracketed=bracketed,
        pp_fit=float(root.dep_ == "pobj" and head.lower_ in _PREPS.get(exp.kind, ())),
        modifier=float(root.dep_ in _MODIFIER_DEPS and head.i in idx),
        role_inherited=float(any(role_match(t, exp, idx) for t in phrase_ancestors(root))),
        contains_typed=float(not typed and any(e.label_ in exp.labels for e in doc[a:b].ents)),
        acronym=_acronym(doc, a, b, blocked), primary_type=float(bool(label) and label == _PRIMARY.get(exp.kind)),
        sent_sim=sim, sim_gap=sim - best_sim, window_cover=window, window_gap=window - best_window)


def _clean_end(text: str, start: int, end: int) -> tuple[int, int]:
    """Character offsets without trailing separators glued to the last token ("2018./." -> "2018")."""
    while end - start > 1 and (text[end - 1] in "/;:," or (text[end - 1] == "." and text[end - 2] in "./0123456789")):
        end -= 1
    return start, end


def candidates(doc, q: Question, sims: Sequence[float] | None = None) -> Candidates:
    """Every candidate span of a parsed passage with its features (see SpanFeatures).

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
    return Candidates(tuple(spans), tuple(sent_spans), to_array(rows))
