"""Resumable embedding: staged chunks are reused by text, a killed encode resumes, copies encode once."""
import numpy as np
import pytest

from qa.embed.hashing import HashingEncoder
from qa.index.staging import StagedEncoder


class Counting(HashingEncoder):
    def __init__(self, fail_after=None):
        super().__init__()
        self.seen, self.fail_after = [], fail_after

    def encode(self, texts, batch_size=32, progress=False):
        if self.fail_after is not None and len(self.seen) + len(texts) > self.fail_after:
            raise KeyboardInterrupt("killed")
        self.seen += list(texts)
        return super().encode(texts, batch_size)


def test_killed_encode_resumes_where_it_stopped(tmp_path):
    texts = [f"passage number {i} about topic {i % 7}" for i in range(23)]
    first = Counting(fail_after=10)
    with pytest.raises(KeyboardInterrupt):
        StagedEncoder(first, tmp_path / "staging", chunk=5).encode(texts)
    assert len(first.seen) == 10  # two whole chunks saved
    second = Counting()
    out = StagedEncoder(second, tmp_path / "staging", chunk=5).encode(texts)
    assert len(second.seen) == 13 and second.seen == texts[10:]
    np.testing.assert_allclose(out, HashingEncoder().encode(texts), atol=1e-6)


def test_identical_texts_encode_once_and_clear_removes_folder(tmp_path):
    inner = Counting()
    staged = StagedEncoder(inner, tmp_path / "staging", chunk=2)
    out = staged.encode(["a b", "c d", "a b"], progress=True)
    assert inner.seen == ["a b", "c d"] and np.allclose(out[0], out[2])
    assert not list((tmp_path / "staging").glob(".*tmp*"))
    staged.clear()
    assert not (tmp_path / "staging").exists()


def test_many_texts_encode_in_a_worker_process_same_vectors(tmp_path, monkeypatch):
    import subprocess
    from pathlib import Path

    from qa.config import INT8_MODEL
    from qa.embed import get_encoder

    texts = [f"Minister {name} visited Hanoi on Monday." for name in ("Lam", "Teo", "Quang", "Ling", "Tran")]
    monkeypatch.setattr("qa.index.staging.WORKER_FROM", 2)
    monkeypatch.chdir(tmp_path)  # the worker finds the qa package and a relative staging folder wherever run from
    started, real = [], subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a[0]) or real(*a, **k))
    encoder = get_encoder(INT8_MODEL)
    out = StagedEncoder(encoder, Path("staging"), chunk=2).encode(texts)
    assert len(started) == 1 and "qa.index.encode_worker" in started[0]
    assert not list(Path("staging").glob("work-*"))  # the worker's texts and log are removed
    assert len(list(Path("staging").glob("chunk-*.npz"))) == 3  # saved a chunk at a time: a killed build resumes
    assert np.array_equal(out, encoder.encode(texts))  # the same vectors to the bit


def test_an_encoder_a_worker_cannot_load_by_name_encodes_here(tmp_path, monkeypatch):
    import subprocess

    monkeypatch.setattr("qa.index.staging.WORKER_FROM", 1)
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("no worker for an encoder given as an object"))
    inner = Counting()  # a test double, or any encoder not the process's shared one of a known model
    out = StagedEncoder(inner, tmp_path / "staging").encode(["a b", "c d"])
    assert inner.seen == ["a b", "c d"] and out.shape == (2, inner.dim)


def test_a_failing_encode_worker_leaves_the_rest_to_this_process(tmp_path, monkeypatch, caplog):
    import subprocess
    import sys

    monkeypatch.setattr("qa.index.staging.WORKER_FROM", 1)
    monkeypatch.setattr("qa.index.staging.by_name", lambda encoder: True)
    real = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda cmd, **k: real(
        [sys.executable, "-c", "import sys; sys.exit('no such model')"], **k))
    inner, texts = Counting(), ["a b", "c d", "e f"]
    with caplog.at_level("WARNING"):
        out = StagedEncoder(inner, tmp_path / "staging").encode(texts)
    assert "the embedding worker exited with code 1: no such model; encoding the rest in this process" in caplog.text
    assert inner.seen == texts
    np.testing.assert_allclose(out, HashingEncoder().encode(texts), atol=1e-6)


def test_an_encode_worker_runs_at_a_lower_priority_and_stops_without_its_build(tmp_path, monkeypatch):
    import json
    import os

    from qa.config import HASH_MODEL
    from qa.index import encode_worker

    texts = tmp_path / "texts.jsonl"
    texts.write_text("".join(json.dumps(f"passage {i}") + "\n" for i in range(3)), encoding="utf-8")
    niced = []
    monkeypatch.setattr(encode_worker.os, "nice", niced.append)  # not this test process's own priority
    assert encode_worker.main([str(texts), str(tmp_path / "staging"), "2", str(os.getppid()), HASH_MODEL, "8"]) == 0
    assert niced == [encode_worker.NICENESS] and encode_worker.NICENESS > 0
    assert len(list((tmp_path / "staging").glob("chunk-*.npz"))) == 2
    out = StagedEncoder(Counting(), tmp_path / "staging").encode([f"passage {i}" for i in range(3)])
    np.testing.assert_allclose(out, HashingEncoder().encode([f"passage {i}" for i in range(3)]), atol=1e-6)
    # a build process that is gone (another parent pid): the worker saves nothing more
    assert encode_worker.main([str(texts), str(tmp_path / "other"), "2", str(os.getppid() + 1), HASH_MODEL, "8"]) == 1
    assert not list((tmp_path / "other").glob("chunk-*.npz"))


def test_only_the_shared_encoder_of_a_known_model_counts_as_loadable_by_name():
    from qa.config import HASH_MODEL
    from qa.embed import get_encoder, is_shared
    from qa.embed.hashing import HashingEncoder
    from qa.index.staging import by_name

    shared = get_encoder(HASH_MODEL)
    assert is_shared(shared) and not is_shared(HashingEncoder()) and not is_shared(object())
    assert not by_name(shared)  # hashing is cheaper here than starting a worker
