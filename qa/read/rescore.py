"""Re-scoring the neural reader's n-best spans with the answer type asked for and spaCy's entities and phrases.

The span reader knows where the answer is but not always what it is: "77 million" for a share, an agency for
a person, a title cut off inside a name. Each of its n-best spans gets its logit plus a few fitted weights on
whether spaCy tags it with a label of the type the question asks for (qa.read.expected), and whether its ends
fall on entity and noun-phrase boundaries. The weights (model/rescore.json) are fitted on SQuAD dev's fitting
half by `python -m qa.evaluation.reader fit-rescore`; without the file the reader's own best span stands.
Rules that need no fitting: a dateline is never an answer (`undated`), nor a span across a blank line
(`unbroken`), nor the person a question names or their
title (`unasked`), nor, asked who acted, what the question's verb acts on (`unacted`); a person asked for is
answered by name without the title (`named`), with the initials (`initialed`) and the first names the span cut
off (`joined`); a span starting a quotation is the whole quotation (`completed`); asked which country or state,
a span that names one answers (`of_place`), and asked what share or percentage, a span that is one
(`of_percent`); asked which company, airline, ministry or agency, a place's name is not the answer
(`of_company`); asked how old, the age without "-year-old" (`aged`); no answer holds half a bracket
(`bracketed`).
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.read import neural, places
from qa.read.candidates import stem
from qa.read.expected import Expected, phrase_role
from qa.read.features import phrase_ancestors, role_match
from qa.read.lru import LRU

WEIGHTS_FILE = neural.MODEL_DIR / "rescore.json"
FEATURES = ("typed", "primary", "wrong_type", "untyped", "cuts_entity", "cuts_chunk", "whole_phrase", "in_question",
            "entities", "unbalanced", "clause", "length", "typed_entity", "added", "quotation", "role", "role_inherited")
EXTRA = 10  # at most this many entities and noun phrases added to a passage's n-best (see `phrases`)
# spaCy parses the sentences of a passage's best few spans only (`regions`): the spans below them are rarely
# chosen, and their features read blank text. On the reader's 403 SQuAD holdout questions 10 / 5 / 3 spans give
# EM 0.645 / 0.650 / 0.650, F1 0.737 / 0.739 / 0.739; on RealTimeQA dev (date given) right 0.534 for all three,
# warm ask() p50 101.7 / 96.5 / 96.4 ms (one quiet run each, scratch /work/tools/rtqa_preds.py).
REGION_SPANS = 5
_PAIRS = ("()", "[]", '""')
_PRIMARY = {"who": "PERSON", "when": "DATE", "where": "GPE"}  # the usual label of each answer kind
_QUOTE = re.compile(r'"([^"\n]{2,300})"|\u201c([^\u201d\n]{2,300})\u201d')  # "..." or curly quotes
# A news dateline at a line's start: "WASHINGTON —", "NEW YORK (AP) -", "GENEVA, Switzerland —", or the agency's
# name in capitals or camel case ("PSNews -", "VnExpress —")
_DATELINE = re.compile(r"^[ \t]*((?:[A-Z][A-Z.'\u2019-]*(?: [A-Z][A-Z.'\u2019-]*)*|[A-Z][a-z]*[A-Z][A-Za-z]*)"
                       r"(?:, [A-Z][A-Za-z. ]{1,30})?)"
                       r"(?: \([A-Za-z.& ]{1,20}\))?[ \t]*[\u2014\u2013\u2212-]+[ \t]", re.MULTILINE)


def weights(path: Path | None = None) -> np.ndarray | None:
    """The fitted feature weights (added to the span logit), or None when none are shipped. By default those of
    the artifact in use (neural.artifact_dir()), else the shipped reader's (a fold reader has none of its own)."""
    if path is None:
        own = neural.artifact_dir() / WEIGHTS_FILE.name
        path = own if own.is_file() else WEIGHTS_FILE
    return _weights_at(path)


@functools.lru_cache(maxsize=4)
def _weights_at(path: Path) -> np.ndarray | None:
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{path.name} was fitted for other features; refit it with {data['command']!r}")
    return np.asarray(data["weights"], dtype=np.float64)


def _cuts(spans, start: int, end: int) -> bool:
    """True when an end of [start, end) falls strictly inside one of the (start_char, end_char) spans."""
    return any(a < start < b or a < end < b for a, b in spans)


@dataclass(frozen=True)
class Layout:
    """What the features need of a parsed passage, gathered once for all its spans."""

    ents: tuple  # (start_char, end_char, label) of each entity
    chunks: tuple  # (start_char, end_char) of each noun phrase
    starts: np.ndarray  # each token's first and end character
    ends: np.ndarray
    words: tuple  # each token's lowercased text when a content word, else ""
    verbs: np.ndarray  # each token is a verb or auxiliary
    quotes: tuple  # (start_char, end_char) of each quotation's content, without its quote marks
    text: str  # the passage (spaCy rebuilds Doc.text from its tokens on every access)
    ent_bounds: np.ndarray  # `ents` as an (entities, 2) array, for rows()
    chunk_bounds: np.ndarray  # `chunks` likewise


_layouts = LRU(1024)  # the Layouts of the passages read last (about 12 KB each), as qa.read.nlp caches parses


def layout(doc) -> Layout:
    """The Layout of a parsed passage."""
    starts, ends, words, verbs = [], [], [], []
    for t in doc:  # one pass: each token access builds a Python object
        starts.append(t.idx)
        ends.append(t.idx + len(t))
        words.append(t.lower_ if t.is_alpha and not t.is_stop else "")
        verbs.append(t.pos_ in ("VERB", "AUX"))
    text = doc.text
    ents = tuple((e.start_char, e.end_char, e.label_) for e in doc.ents)
    chunks = tuple((c.start_char, c.end_char) for c in doc.noun_chunks) if doc.has_annotation("DEP") else ()
    return Layout(ents, chunks, np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64), tuple(words),
                  np.array(verbs, dtype=bool), quotations(text), text, _bounds([e[:2] for e in ents]), _bounds(chunks))


def _bounds(pairs) -> np.ndarray:
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def quotations(text: str) -> tuple:
    """(start_char, end_char) of the content of each quotation in text ("..." or curly quotes)."""
    return tuple((m.start(g), m.end(g)) for m in _QUOTE.finditer(text) for g in (1, 2) if m.group(g))


def span_features(doc, exp: Expected, start: int, end: int, question_words: frozenset = frozenset(),
                  lay: Layout | None = None) -> np.ndarray:
    """The FEATURES row of the span doc.text[start:end] for a question expecting `exp`."""
    lay = lay or layout(doc)
    touched = {(a, b, lab) for a, b, lab in lay.ents if a < end and b > start}
    inside = {lab for *_, lab in touched}
    asks = bool(exp.labels)
    typed = asks and bool(inside & exp.labels)
    within = np.flatnonzero((lay.starts >= start) & (lay.ends <= end))
    words = [lay.words[i] for i in within if lay.words[i]]
    text = lay.text[start:end]
    return np.array([
        typed,
        _PRIMARY.get(exp.kind) in inside,
        asks and bool(inside) and not typed,  # an entity, of another type than asked
        asks and not inside,  # the question asks for a type the span has no entity of
        _cuts([(a, b) for a, b, _ in lay.ents], start, end),
        _cuts(lay.chunks, start, end),
        any((a, b) == (start, end) for a, b, *_ in (*lay.ents, *lay.chunks)),
        bool(words) and all(w in question_words for w in words),  # only repeats the question
        min(len({(a, b) for a, b, _ in touched}), 3) / 3,  # several names: a clause
        any(text.count(o) != text.count(c) if o != c else text.count(o) % 2 for o, c in _PAIRS),
        bool(lay.verbs[within].any()) or "," in text or ";" in text,
        min(len(within), 20) / 20,
        any((a, b) == (start, end) and lab in exp.labels for a, b, lab in lay.ents),  # exactly a name of the type
        False,  # set by rows() for spans the n-best did not hold (`phrases`)
        any(a - 1 <= start <= a and b <= end <= b + 1 for a, b in lay.quotes),  # a whole quotation
        *_roles(doc, exp, start, end),
    ], dtype=np.float64)


def _roles(doc, exp: Expected, start: int, end: int) -> tuple[bool, bool]:
    """Whether the span's head fills the wh-phrase's role for the question's verb ("by X" for "who led"),
    and whether a noun above it in its phrase does ("Luong Tam Quang" under "by Deputy Minister ...")."""
    span = doc.char_span(start, end, alignment_mode="expand") if exp.role else None
    if span is None or not len(span):
        return False, False
    root = span.root
    return bool(role_match(root, exp, set())), any(role_match(t, exp, set()) for t in phrase_ancestors(root))


def rows(doc, exp: Expected, spans: Sequence[neural.Span], question_words: frozenset = frozenset(),
         added: int = 0, lay: Layout | None = None) -> np.ndarray:
    """The FEATURES rows of a passage's spans (doc: the parsed passage, lay: its Layout if at hand); the last
    `added` are `phrases`."""
    if not spans:
        return np.zeros((0, len(FEATURES)))
    lay = lay or layout(doc)
    x = _rows(doc, exp, spans, question_words, lay)
    if added:
        x[-added:, FEATURES.index("added")] = 1.0
    return x


def _rows(doc, exp: Expected, spans: Sequence[neural.Span], question_words: frozenset, lay: Layout) -> np.ndarray:
    """span_features() of every span at once: the entity, noun-phrase and token tests as arrays over the spans
    (the same rows; about 47 spans a question, where one span at a time cost ~3 ms of a warm ask; seventeenth
    session, tests/test_neural.py)."""
    start = np.array([s.start for s in spans], dtype=np.int64)[:, None]
    end = np.array([s.end for s in spans], dtype=np.int64)[:, None]
    ea, eb = lay.ent_bounds[:, 0][None], lay.ent_bounds[:, 1][None]
    labels = [lab for *_, lab in lay.ents]
    touched = (ea < end) & (eb > start)  # (spans, entities)
    asks = bool(exp.labels)
    of_type = np.array([lab in exp.labels for lab in labels], dtype=bool)
    typed = asks & (touched & of_type).any(1)
    primary = (touched & np.array([lab == _PRIMARY.get(exp.kind) for lab in labels], dtype=bool)).any(1)
    some = touched.any(1)

    def cuts(bounds: np.ndarray) -> np.ndarray:
        a, b = bounds[:, 0][None], bounds[:, 1][None]
        return (((a < start) & (start < b)) | ((a < end) & (end < b))).any(1)

    exact = {(a, b) for a, b, *_ in (*lay.ents, *lay.chunks)}
    exact_typed = {(a, b) for a, b, lab in lay.ents if lab in exp.labels}
    within = (lay.starts[None] >= start) & (lay.ends[None] <= end)  # (spans, tokens)
    x = np.zeros((len(spans), len(FEATURES)), dtype=np.float64)
    x[:, 0], x[:, 1], x[:, 2], x[:, 3] = typed, primary, asks & some & ~typed, asks & ~some
    x[:, 4], x[:, 5] = cuts(lay.ent_bounds), cuts(lay.chunk_bounds)
    x[:, 8] = np.minimum(touched.sum(1), 3) / 3
    x[:, 11] = np.minimum(within.sum(1), 20) / 20
    verbs = (within & lay.verbs[None]).any(1)
    for i, s in enumerate(spans):
        text = lay.text[s.start:s.end]
        words = [lay.words[j] for j in np.flatnonzero(within[i]) if lay.words[j]]
        x[i, 6] = (s.start, s.end) in exact
        x[i, 7] = bool(words) and all(w in question_words for w in words)
        x[i, 9] = any(text.count(o) != text.count(c) if o != c else text.count(o) % 2 for o, c in _PAIRS)
        x[i, 10] = bool(verbs[i]) or "," in text or ";" in text
        x[i, 12] = (s.start, s.end) in exact_typed
        x[i, 14] = any(a - 1 <= s.start <= a and b <= s.end <= b + 1 for a, b in lay.quotes)
        x[i, 15:17] = _roles(doc, exp, s.start, s.end)
    return x


def phrases(doc, spans: Sequence[neural.Span], limit: int = EXTRA, lay: Layout | None = None
            ) -> list[tuple[int, int]]:
    """Entities, quotations and noun phrases the reader's n-best comes near but does not hold as spans: those
    inside an n-best span ("Luong Tam Quang" in "Deputy Minister ... Luong Tam Quang") and those an n-best span
    cuts (a name or a quoted theme a span starts or ends inside), best n-best span first."""
    lay = lay or layout(doc)
    have = {(s.start, s.end) for s in spans}
    units = [(a, b) for a, b, _ in lay.ents] + list(lay.quotes) + list(lay.chunks)
    out: list[tuple[int, int]] = []
    for s in spans:
        for a, b in units:
            near = (s.start <= a and b <= s.end) or (a < s.end and b > s.start)
            if near and (a, b) not in have and (a, b) not in out:
                out.append((a, b))
                if len(out) >= limit:
                    return out
    return out


def question_words(qdoc) -> frozenset:
    """The question's lowercased content words (a span made only of them answers nothing)."""
    return frozenset(t.lower_ for t in qdoc if t.is_alpha and not t.is_stop)


def rescored(spans: Sequence[neural.Span], feature_rows: np.ndarray, w: np.ndarray | None) -> neural.Span | None:
    """The best of a passage's n-best spans by logit + w . features, its score replaced by that sum."""
    if not spans:
        return None
    if w is None:
        return spans[0]
    total = np.array([s.score for s in spans]) + feature_rows @ w
    i = int(np.argmax(total))
    s = spans[i]
    return neural.Span(s.start, s.end, float(total[i]), s.null)


def candidates(question: str, texts: Sequence[str], inherited_kind: str | None = None,
               n: int = neural.NBEST, reader: neural.SpanReader | None = None
               ) -> list[tuple[list[neural.Span], np.ndarray]]:
    """Each text's n-best spans from `reader` (default: the shipped one), with their FEATURES rows."""
    return _candidates(question, texts, inherited_kind, n, reader)[2]


def _candidates(question: str, texts: Sequence[str], inherited_kind: str | None = None,
                n: int = neural.NBEST, reader: neural.SpanReader | None = None):
    """(the answer expected, each text's parse, `candidates`)."""
    from qa.read.expected import expected
    from qa.read.nlp import has_stored, parse

    reader = reader or neural.reader()
    windows = reader.logits_many(question, texts)
    nbest = [neural.nbest_of(w, t, n) for w, t in zip(windows, texts)]
    # A passage whose parse the index stored is read in that whole parse. Otherwise spaCy parses only the sentences
    # the n-best lies in (36% of the time of the whole passage on SQuAD's paragraphs), the same whether or not the
    # passage was read before, so an answer never depends on what was asked earlier; the parse is cached per
    # question's sentences. The question is parsed in the same batch.
    shown = [t if has_stored(t) else regions(t, b[:REGION_SPANS]) for t, b in zip(texts, nbest)]
    qdoc, *docs = parse([question, *shown])
    exp, qwords = expected(qdoc, inherited_kind), question_words(qdoc)
    by_text = dict(zip(shown, docs))
    found = _layouts.get_many(shown, lambda missing: [layout(by_text[t]) for t in missing])
    place = places.asked(question)
    out = []
    for text, seen, doc, w, best in zip(texts, shown, docs, windows, nbest):
        spans = _kept(doc, exp, qwords, text, best)
        lay = found[seen]
        near = phrases(doc, spans, lay=lay) if spans else []
        if place and spans:  # every country (state) the read sentences name is a candidate
            near += [(e.start_char, e.end_char) for e in doc.ents if places.is_named(e.text, place)
                     and (e.start_char, e.end_char) not in near]
        if exp.labels == PERCENT and spans:  # and every percentage, asked for one
            near += [m.span() for m in _PERCENT.finditer(seen) if m.span() not in near]
        more = _kept(doc, exp, qwords, text, neural.spans_at(w, near)) if near else []
        out.append((spans + more, rows(doc, exp, spans + more, qwords, len(more), lay)))
    return exp, docs, out


def of_place(question: str, text: str, spans: Sequence[neural.Span], x: np.ndarray
             ) -> tuple[Sequence[neural.Span], np.ndarray]:
    """Asked which country (or state), the spans that name one the question does not ("Which country was
    recommended alongside Ukraine?"), when the passage's candidates hold any; else all of them (qa.read.places)."""
    place = places.asked(question)
    if not place or not spans:
        return spans, x
    named = places.named_in(question, place)
    keep = [i for i, s in enumerate(spans) if places.is_named(text[s.start:s.end], place)
            and places.name_of(text[s.start:s.end]) not in named]
    return ([spans[i] for i in keep], x[keep]) if keep else (spans, x)


PERCENT = frozenset({"PERCENT"})
# A percentage: "79%", "51.3 percent", "12 per cent", "3 percentage points"
_PERCENT = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*\s?(?:%|percent\b|per cent\b|percentage points?\b)", re.IGNORECASE)
PERCENT_WORDS = 6  # a span of more words is a clause holding a percentage, not one


def of_percent(exp: Expected, text: str, spans: Sequence[neural.Span], x: np.ndarray
               ) -> tuple[Sequence[neural.Span], np.ndarray]:
    """Asked for a share or a percentage ("What share of Vietnamese people are online?"), the spans that are one
    ("79%", "about 79% of the population"), when the passage's candidates hold any; else all of them."""
    if exp.labels != PERCENT or not spans:
        return spans, x
    keep = [i for i, s in enumerate(spans) if len(_PERCENT.findall(text, s.start, s.end)) == 1
            and len(text[s.start:s.end].split()) <= PERCENT_WORDS]
    return ([spans[i] for i in keep], x[keep]) if keep else (spans, x)


# Nouns of "which X" asking for a business or an organisation: a place's name does not answer them ("Which coffee
# chain ...?" is not "Massachusetts", "Which ministry ...?" not "Vietnam"). Teams, schools and clubs are left out: a
# city, a state or a country names those ("Georgia" won, "which national team" -> "Netherlands"); so are
# departments (France's are places) and governments.
COMPANIES = frozenset("company chain brand retailer automaker carmaker airline carrier firm maker manufacturer "
                      "startup bank corporation restaurant app platform insurer conglomerate supermarket "
                      "business ministry agency organization organisation party committee newspaper network "
                      "broadcaster studio publisher regulator union".split())
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})


def of_company(doc, exp: Expected, text: str, spans: Sequence[neural.Span], x: np.ndarray
               ) -> tuple[Sequence[neural.Span], np.ndarray]:
    """Asked which company, chain, airline, ministry or agency, the spans that are not only a place's name (a
    country, a state, or a place spaCy tags: "Singapore" is not the airline, "Singapore Airlines" is), when any is
    left; else all."""
    if exp.focus not in COMPANIES or not spans:
        return spans, x
    where = {(e.start_char, e.end_char) for e in doc.ents if e.label_ in _PLACE_LABELS}

    def place(s: neural.Span) -> bool:
        name = text[s.start:s.end]
        lead = len(name) - len(name.lstrip()) + (4 if name.lstrip().lower().startswith("the ") else 0)
        return ((s.start + lead, s.end) in where or (s.start, s.end) in where
                or any(places.is_named(name, kind) for kind in ("country", "state")))

    keep = [i for i, s in enumerate(spans) if not place(s)]
    return ([spans[i] for i in keep], x[keep]) if keep else (spans, x)


def _kept(doc, exp: Expected, qwords: frozenset, text: str, spans: Sequence[neural.Span]) -> list[neural.Span]:
    """The spans no rule rules out (`unbroken`, `undated`, `unasked`, `unacted`)."""
    return unacted(doc, exp, unasked(doc, exp, qwords, undated(text, unbroken(text, spans))))


_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


def unbroken(text: str, spans: Sequence[neural.Span]) -> list[neural.Span]:
    """The spans that do not run across a blank line: "25,000\n\n50,000\n\n91,000" is a quiz's options, a
    list or two paragraphs, not an answer (RealTimeQA dev: 6 such answers, 1 right)."""
    return [s for s in spans if not _BLANK_LINE.search(text, s.start, s.end)]


def regions(text: str, spans: Sequence[neural.Span]) -> str:
    """The text with every sentence that holds none of `spans` blanked to spaces: the same length and offsets,
    so spaCy's parse of it serves the spans as the whole text's would, at a fraction of the cost."""
    if not spans:
        return text
    keep = sorted(neural.sentence_around(text, s.start, s.end) for s in spans)
    out, at = [], 0
    for a, b in keep:
        if a > at:
            out.append(re.sub(r"[^\n]", " ", text[at:a]))
        a = max(a, at)
        if b > a:
            out.append(text[a:b])
        at = max(at, b)
    out.append(re.sub(r"[^\n]", " ", text[at:]))
    return "".join(out)


def datelines(text: str) -> list[tuple[int, int]]:
    """(start_char, end_char) of each dateline's place ("WASHINGTON" of "WASHINGTON (AP) — The House ..."): where
    the story was filed, not what it says, so never an answer."""
    return [m.span(1) for m in _DATELINE.finditer(text)]


def undated(text: str, spans: Sequence[neural.Span]) -> list[neural.Span]:
    """The spans that do not touch a dateline ("PSNews - General" of "PSNews - General To Lam, Minister ...")."""
    lines = datelines(text)
    return [s for s in spans if not any(a < s.end and s.start < b for a, b in lines)] if lines else list(spans)


_TITLE_RUN = re.compile(r"(?:\s|[A-Z][\w.'\u2019-]*|of|the|and|for|in|charge)*")


def unasked(doc, exp: Expected, question_words: frozenset, spans: Sequence[neural.Span]) -> list[neural.Span]:
    """The spans that are not the person the question names, nor that person's title: asked "Who did Luong Tam
    Quang meet?", neither "Deputy Minister Quang" nor the "Deputy Minister ... General" before "Luong Tam Quang"
    answers. Only for a question asking for a person with a verb other than "be" ("Who is Luong Tam Quang?"
    asks for the title); a span that also names someone else is kept."""
    if "PERSON" not in exp.labels or not exp.verb or not question_words:
        return list(spans)
    people = [e for e in doc.ents if e.label_ == "PERSON"]
    asked = [(e.start_char, e.end_char) for e in people
             if all(t.lower_ in question_words for t in e if t.is_alpha and not t.is_stop)]
    if not asked:
        return list(spans)
    others = [(e.start_char, e.end_char) for e in people if (e.start_char, e.end_char) not in asked]
    text = doc.text
    kept = []
    for s in spans:
        if any(s.start <= a and b <= s.end for a, b in others):
            kept.append(s)
            continue
        names = any(a < s.end and s.start < b for a, b in asked)
        titles = any(s.end <= a and _TITLE_RUN.fullmatch(text, s.end, a) for a, b in asked)
        if not (names or titles):
            kept.append(s)
    return kept


def _patient(root, verb: str) -> bool:
    """Whether a phrase's head is what the verb acts on: the noun its passive participle modifies ("the
    delegation" of "the delegation led by S. Iswaran"), or its object or passive subject."""
    if any(c.dep_ == "acl" and c.tag_ == "VBN" and stem(c.lemma_.lower()) == verb for c in root.children):
        return True
    role, head = phrase_role(root)
    return role in ("dobj", "nsubjpass") and head.pos_ in ("VERB", "AUX") and stem(head.lemma_.lower()) == verb


def unacted(doc, exp: Expected, spans: Sequence[neural.Span]) -> list[neural.Span]:
    """The spans that are not what the question's verb acts on when the question asks who acts: asked "Who led
    Singapore's side?", "the Singaporean delegation" of "the Singaporean delegation led by S. Iswaran" is the side
    led (the question's own object, in other words), not who led it. Only for a person asked for: with "what", a
    verb such as "match" goes both ways (on the reader's 403 holdout questions, the one answer it changed for
    "what" got worse; for "who" none changed)."""
    if "PERSON" not in exp.labels or exp.role not in ("nsubj", "agent") or not exp.verb or not spans:
        return list(spans)
    verb = stem(exp.verb)
    kept = []
    for s in spans:
        span = doc.char_span(s.start, s.end, alignment_mode="expand")
        if span is None or not len(span) or not _patient(span.root, verb):
            kept.append(s)
    return kept


def completed(text: str, span: neural.Span | None) -> neural.Span | None:
    """The span, or the whole quotation it cuts when it holds one of that quotation's marks or starts where
    the quotation starts: '"Regional efforts' of '"Regional efforts in fighting ... threats"' is that quotation,
    without its marks (and a comma or full stop written inside them). On the reader's 403 SQuAD holdout
    questions no chosen span holds a quote mark and three start a quotation, each its whole content already: EM
    and F1 unchanged (0.643 / 0.735). On the seed set it answers a quoted theme whole."""
    if span is None:
        return None
    for a, b in quotations(text):
        holds_open = span.start <= a - 1 < span.end < b
        holds_close = a < span.start < b < span.end
        opens = span.start == a and span.end < b  # its first words: '"Cooperation' of a quoted theme
        if holds_open or holds_close or opens:
            while b > a + 1 and text[b - 1] in ",.;:":  # "Cambaluc," (a comma inside the quotes)
                b -= 1
            return neural.Span(a, b, span.score, span.null)
    return span


_BRACKETS = (("(", ")"), ("[", "]"))
_CLOSES_WITHIN = 24  # characters after the span in which a bracket it opened may close


def _unmatched(piece: str, opening: str, closing: str) -> tuple[int | None, int | None]:
    """The first opening bracket `piece` does not close and the first closing one it did not open (offsets)."""
    opened, lone_close = [], None
    for i, c in enumerate(piece):
        if c == opening:
            opened.append(i)
        elif c == closing:
            if opened:
                opened.pop()
            elif lone_close is None:
                lone_close = i
    return (opened[0] if opened else None), lone_close


def bracketed(text: str, span: neural.Span | None) -> neural.Span | None:
    """The span without half a bracket: "(MCI" -> "MCI", "MCI)" -> "MCI"; "Communications and Information (MCI"
    ends with the ")" that closes a few characters on, else stops before the "(" it opened. Word pieces make the
    reader end a span inside an acronym's brackets; no word is added or dropped when the bracket closes right after
    it, so EM and F1 are unchanged there."""
    if span is None:
        return None
    start, end = span.start, span.end
    for opening, closing in _BRACKETS:
        if text.startswith(opening, start) and _unmatched(text[start:end], opening, closing)[0] == 0:
            start += 1
        if end - 1 > start and text[end - 1] == closing and _unmatched(text[start:end], opening, closing)[1] \
                == end - 1 - start:
            end -= 1
        first_open, _ = _unmatched(text[start:end], opening, closing)
        if first_open is None:
            continue
        close = text.find(closing, end, end + _CLOSES_WITHIN)
        if close != -1 and opening not in text[end:close] and not re.search(r"[.!?]\s", text[end:close]):
            end = close + 1
        else:
            end = start + first_open
            while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:-"):
                end -= 1
    while start < end and text[start].isspace():
        start += 1
    if end <= start:
        return span
    return span if (start, end) == (span.start, span.end) else neural.Span(start, end, span.score, span.null)


_HOW_OLD = re.compile(r"\bhow old\b", re.IGNORECASE)
_AGE = re.compile(r"(?P<n>[\w.]+?)(?:-| )years?(?:(?:-| )olds?)?\W*\Z", re.IGNORECASE)


def aged(question: str, text: str, span: neural.Span | None) -> neural.Span | None:
    """Asked how old, the age without its unit: "Sixteen" of "Sixteen-year-old" or of "16 years old" (the reader's
    word pieces end "Sixteen-year" at the hyphen)."""
    if span is None or not _HOW_OLD.search(question):
        return span
    m = _AGE.fullmatch(text, span.start, span.end)
    return neural.Span(span.start, m.end("n"), span.score, span.null) if m else span


_LISTING = frozenset({"and", "or", "&", ",", ";", "/"})
_HONORIFICS = frozenset("mr mrs ms miss dr prof professor rev sir dame lord lady st saint gen lt col sgt capt "
                        "gov sen rep deputy vice senior junior acting former elect".split())


def _titled(token) -> bool:
    """The word just before a name is a title, a common noun or the end of an organisation's or a place's name
    ("General", "Mr.", "linebacker", "... Ministry of Foreign Affairs"), not a part of the name spaCy left out
    ("Sun" of "Sun Xue Ling")."""
    from qa.read.expected import FOCUS_LABELS

    word = token.lower_.rstrip(".")
    return (token.is_lower or word in _HONORIFICS or FOCUS_LABELS.get(word) == frozenset({"PERSON"})
            or token.ent_type_ in ("ORG", "GPE", "NORP"))


def named(doc, exp: Expected, span: neural.Span | None) -> neural.Span | None:
    """For a question asking for a person, the name a "title + name" span ends with: "Luong Tam Quang" of
    "Deputy Minister of Public Security Senior Lieutenant General Luong Tam Quang" (the title stays in the
    highlighted sentence). Spans naming several people or listing anything, or whose word before the name is not
    a title (spaCy's "Xue Ling" of "Sun Xue Ling"), are kept whole. It hardly moves the scores (scratch
    /work/tools/trim_exp2.py, rtqa_trim.py): on the reader's 403 holdout questions 3 answers change (EM 0.640 ->
    0.643, F1 0.7340 -> 0.7346: "Emperor Gegeen Khan" -> "Gegeen Khan" gained, "Rev. Paul T. Stallsworth" lost),
    on RealTimeQA dev 2 of 648 (EM and right equal); it makes the answer the name a user asked for."""
    if span is None or "PERSON" not in exp.labels:
        return span
    people = [e for e in doc.ents if e.label_ == "PERSON" and span.start <= e.start_char < e.end_char <= span.end]
    if len(people) != 1 or people[0].end_char != span.end or people[0].start_char == span.start:
        return span
    before = list(doc.char_span(span.start, people[0].start_char, alignment_mode="expand") or ())
    words = [t for t in before if not t.is_punct]
    if not words or any(t.lower_ in _LISTING for t in before) or not _titled(words[-1]):
        return span
    return neural.Span(people[0].start_char, people[0].end_char, span.score, span.null)


def joined(doc, exp: Expected, span: neural.Span | None, most: int = 2) -> neural.Span | None:
    """For a question asking for a person, the span with the capitalised words of the name it cut off before it:
    "To Lam" of "Minister To Lam" (the reader's word pieces start at "Lam"; spaCy tags "To" a preposition),
    "Sun Xue Ling" of "... of Singapore Sun Xue Ling" (spaCy's person is "Xue Ling"). At most `most` words, none
    starting the sentence, none a title or part of an organisation's or place's name, and only when a title,
    a place, an organisation or a lower-case word stands just before them, so the words are the name's first
    ones and not a headline's ("Trump Fired Comey" stays "Comey")."""
    if span is None or "PERSON" not in exp.labels:
        return span
    first = doc.char_span(span.start, span.end, alignment_mode="expand")
    if first is None or not len(first) or not first[0].is_title:
        return span
    i, start = first[0].i, None
    for j in range(i - 1, max(i - 1 - most, -1), -1):
        t = doc[j]
        if not t.is_title or t.is_sent_start or _titled(t) or t.ent_type_ not in ("", "PERSON") \
                or t.whitespace_ != " ":
            break
        start = j
    if start is None or start == 0:
        return span
    before = doc[start - 1]
    if before.is_sent_end or not (_titled(before) or before.is_punct and before.text in ",;:("):
        return span
    return neural.Span(doc[start].idx, span.end, span.score, span.null)


_INITIALS = re.compile(r"(?:[A-Z]\.\s?)+")


def initialed(doc, span: neural.Span | None) -> neural.Span | None:
    """The span with the initials it left off a name: "S. Iswaran", not "Iswaran" (the reader's word pieces
    rarely start an answer at a one-letter initial)."""
    if span is None:
        return None
    for e in doc.ents:
        if e.label_ == "PERSON" and e.start_char < span.start < e.end_char <= span.end \
                and _INITIALS.fullmatch(doc.text, e.start_char, span.start):
            return neural.Span(e.start_char, span.end, span.score, span.null)
    return span


def read(question: str, texts: Sequence[str], inherited_kind: str | None = None) -> list[neural.Span | None]:
    """Each text's answer span: the reader's n-best re-scored by answer type (its best span if unfitted),
    completed to the quotation it cuts, a person's title left out (`named`), no half bracket (`bracketed`)."""
    w = weights()
    if w is None:
        return [bracketed(t, completed(t, s)) for t, s in zip(texts, neural.reader().read_all(question, texts))]
    exp, docs, found = _candidates(question, texts, inherited_kind)
    return [bracketed(t, aged(question, t, joined(doc, exp, named(doc, exp, initialed(
        doc, completed(t, rescored(*of_company(doc, exp, t, *of_place(question, t, *of_percent(exp, t, spans, x))),
                                   w)))))))
        for t, doc, (spans, x) in zip(texts, docs, found)]
