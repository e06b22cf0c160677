"""QA_READER=fast: a second span reader artifact (qa/read/model-fast) with its own re-scoring and calibration."""
import json
import shutil

import pytest

from qa import decide
from qa.read import best_span, neural, reader_name, rescore


@pytest.fixture
def fast_dir(tmp_path, monkeypatch):
    """The shipped artifact copied as the fast one, with a copy of the calibration as its own."""
    folder = tmp_path / "model-fast"
    shutil.copytree(neural.MODEL_DIR, folder)
    monkeypatch.setitem(neural.ARTIFACTS, "fast", folder)
    calibration = tmp_path / "calibration-fast.json"
    shutil.copy(decide.CALIBRATION_FILE, calibration)
    monkeypatch.setitem(decide.CALIBRATION_FILES, "fast", calibration)
    decide._model.cache_clear()
    yield folder
    decide._model.cache_clear()


def test_the_fast_reader_reads_its_own_artifact_with_its_own_fitted_files(fast_dir, monkeypatch, hash_qa):
    seen = []
    real = neural._reader_at
    monkeypatch.setattr(neural, "_reader_at", lambda d: seen.append(d) or real(d))
    question = "Who designed the lighting for the bridge?"
    shipped = hash_qa.ask(question)
    monkeypatch.setenv("QA_READER", "fast")
    assert reader_name() == "fast" and neural.artifact_dir() == fast_dir
    (fast_dir / "rescore.json").write_text((neural.MODEL_DIR / "rescore.json").read_text())
    assert rescore.weights().tolist() == rescore.weights(neural.MODEL_DIR / "rescore.json").tolist()
    fast = hash_qa.ask(question + " ")  # a new string: not the cached answer
    assert seen[-1] == fast_dir
    assert decide.model()["coef"].tolist() == decide._model("neural")["coef"].tolist()
    assert (fast.answer, round(fast.confidence, 6)) == (shipped.answer, round(shipped.confidence, 6))


def test_a_reader_named_in_the_call_is_the_one_read(fast_dir, monkeypatch):
    seen = []
    real = neural._reader_at
    monkeypatch.setattr(neural, "_reader_at", lambda d: seen.append(d) or real(d))
    text = "The final was won by Mira Patel of Leeds."
    assert best_span("Who won the final?", text, reader="fast") == best_span("Who won the final?", text)
    assert seen == [fast_dir, neural.MODEL_DIR]


def test_asking_for_the_fast_reader_where_none_is_shipped_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(neural.ARTIFACTS, "fast", tmp_path / "absent")
    monkeypatch.setenv("QA_READER", "fast")
    with pytest.raises(ValueError, match="fast reader is not installed"):
        reader_name()


def test_reader_latency_times_both_span_readers(fast_dir, settings, tmp_path):
    from qa.evaluation.answers import reader_latency

    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "Who designed the lighting for the bridge?", "answers": ["Engineers"]}\n')
    out = reader_latency(settings, questions, readers=("neural", "fast"), rounds=1, at_once=("neural",))
    assert out["questions"] == 1 and set(out) >= {"neural", "fast", "neural, all at once"}
    assert all(out[r]["p50_ms"] > 0 for r in ("neural", "fast", "neural, all at once"))


def test_each_artifact_is_rescored_with_its_own_weights(tmp_path):
    other = tmp_path / "other"
    shutil.copytree(neural.MODEL_DIR, other)
    own = json.loads((other / "rescore.json").read_text())
    (other / "rescore.json").write_text(json.dumps({**own, "weights": [2 * w for w in own["weights"]]}))
    shipped = rescore.weights()
    with neural.reading_with(other):
        assert rescore.weights().tolist() == (2 * shipped).tolist()
    assert rescore.weights().tolist() == shipped.tolist()
