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
