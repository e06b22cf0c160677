"""qa.read.neural: the trained span reader shipped as safetensors, run as cached int8 ONNX."""
from __future__ import annotations

import numpy as np
import pytest

from qa.read import neural, read_passages
from qa.query import understand

from test_read import DELEGATION, INTERNET, OFF_TOPIC, hit

pytestmark = pytest.mark.skipif(not neural.available(), reason="no span reader artifact shipped")


def test_the_artifact_is_small_safetensors_with_its_recipe():
    cfg = neural.config()
    assert (neural.MODEL_DIR / neural.ARTIFACT_WEIGHTS).stat().st_size < 8_000_000
    assert cfg["format"] == "qa-span-reader/v1" and "command" in cfg["training"]
    assert not any(neural.MODEL_DIR.glob("*.onnx"))  # the ONNX export is derived and cached, never shipped


def test_best_span_keeps_start_before_end_within_the_context_and_the_length_limit():
    start = np.array([9.0, 1.0, 0.0, 5.0, 0.0])
    end = np.array([9.0, 4.0, 0.0, 0.0, 6.0])
    score, a, b = neural.best_span(start, end, np.arange(1, 5), max_tokens=3)
    assert (a, b) == (3, 4) and score == 11.0  # never [CLS] (0), never end before start
    assert neural.best_span(start, end, np.arange(1, 5), max_tokens=1)[1:] in {(3, 3), (4, 4), (1, 1)}


def test_reads_a_span_of_the_passage_and_a_not_here_score():
    span = neural.reader().read("What percentage of the population uses the internet?", INTERNET)
    assert 0 <= span.start < span.end <= len(INTERNET) and "79" in INTERNET[span.start:span.end]
    off = neural.reader().read("What percentage of the population uses the internet?", OFF_TOPIC)
    assert span.score - span.null > off.score - off.null  # the passage that answers stands further above "not here"


def test_long_passages_are_read_in_windows():
    prefix = " ".join([OFF_TOPIC] * 30) + " "
    span = neural.reader().read("How many people in Vietnam use the internet?", prefix + INTERNET)
    assert span is not None and span.start >= len(prefix)  # found in the last window, offsets in the whole text


def test_read_passages_marks_the_answer_inside_its_sentence():
    p, = read_passages([hit(DELEGATION)], understand("Who did Quang meet from the Russian ministry?"), reader="neural")
    h = p.hit
    assert p.spanned and p.null is not None and p.features is None
    assert h.highlight_start <= h.answer_start < h.answer_end <= h.highlight_end
    assert p.answer == h.text[h.answer_start:h.answer_end] and p.answer.strip()


def test_sentence_around_finds_the_sentence_of_a_span():
    text = "First one here. Second has the answer 42 in it. Third."
    i = text.index("42")
    assert text[slice(*neural.sentence_around(text, i, i + 2))] == "Second has the answer 42 in it."
