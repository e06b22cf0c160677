"""Reliability, index side (issue 16): files of the live index truncated under a running process, manifests
of the wrong shape, a read-only index folder, and the leftovers of a build killed before its switch.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qa import index as index_mod
from qa.index.manifest import checksums
from qa.pipeline import QA
from tests.conftest import write_article

REPO = Path(__file__).resolve().parent.parent
FLOODS = "How many people died in the Ha Giang floods?"


def live(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text().strip()


# ---- 4: a file of the live index truncated under a running process ---------------------------------
_SERVER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from qa.config import Settings
    from qa.pipeline import QA

    corpus, index_dir, target = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    qa = QA(Settings(corpus_dir=corpus, index_dir=index_dir, model="hash", chunk_words=30, refresh_interval_s=3600))
    questions = ["How many people died in the Ha Giang floods?", "Who resigned in 2023?"]
    before = [qa.ask(q).passages[0].source for q in questions]
    os.truncate(index_dir / (index_dir / "CURRENT").read_text().strip() / target, 0)
    after = [qa.ask(q).passages[0].source for q in questions]
    print(before, after, flush=True)
""")


@pytest.mark.parametrize("target", ["passages.jsonl", "vectors.npy", "bm25/data.csc.index.npy",
                                    "bm25/indices.csc.index.npy", "bm25/indptr.csc.index.npy"])
def test_truncating_a_live_index_file_does_not_kill_the_process(settings, target):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    done = subprocess.run([sys.executable, "-c", _SERVER, str(settings.corpus_dir), str(settings.index_dir), target],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (signal.Signals(-done.returncode).name if done.returncode < 0 else done.stderr)
    expected = "['floods.txt', 'iswaran.txt']"
    assert done.stdout.strip() == f"{expected} {expected}"
    index_mod.load(settings.index_dir, verify_checksums=True)  # whole again


def test_a_read_past_a_truncation_is_an_error_not_a_crash(settings):
    from qa.index.ondisk import IndexDamaged

    index = QA(settings).index()
    os.truncate(index.path / "passages.jsonl", 10)
    assert index.damaged() == f"passages.jsonl shrank from {index.passages.offsets[-1]} to 10 bytes"
    with pytest.raises(IndexDamaged, match="passages.jsonl was truncated"):
        index.passages[len(index) - 1]
    os.truncate(index.path / "bm25" / "data.csc.index.npy", 200)
    with pytest.raises(IndexDamaged):
        index.lexical.scores("floods Giang rescue monsoon heavy rain")


@pytest.mark.parametrize("rows", [[3, 0, 2], [], [1, 1, 1], slice(1, 3), np.arange(4) % 2 == 0])
def test_disk_array_reads_what_numpy_would(tmp_path, rows):
    from qa.index.ondisk import DiskArray

    data = np.arange(40, dtype=np.float32).reshape(10, 4)
    np.save(tmp_path / "a.npy", data, allow_pickle=False)
    disk = DiskArray(tmp_path / "a.npy")
    assert disk.shape == (10, 4) and len(disk) == 10 and disk[-1].tolist() == data[-1].tolist()
    want = data[:4][rows] if isinstance(rows, np.ndarray) and rows.dtype == bool else data[rows]
    np.testing.assert_array_equal(disk[:4][rows] if isinstance(rows, np.ndarray) else disk[rows], want)
    np.testing.assert_array_equal(np.asarray(disk), data)


# ---- 5: a manifest of valid JSON with the wrong types --------------------------------------------
def _set_checksum_number(m):
    m["checksums"]["vectors.npy"] = 5


def _files_as_list(m):
    m["files"] = sorted(m["files"])


def _checksums_as_list(m):
    m["checksums"] = [[name, *value] for name, value in m["checksums"].items()]


def _short_checksum(m):
    m["checksums"]["vectors.npy"] = m["checksums"]["vectors.npy"][:1]


def _fingerprint_as_number(m):
    m["files"]["floods.txt"] = 5


@pytest.mark.parametrize("damage", [_set_checksum_number, _files_as_list, _checksums_as_list, _short_checksum,
                                    _fingerprint_as_number])
def test_manifest_with_wrong_types_is_corrupt_and_rebuilt(settings, caplog, damage):
    QA(settings).index()
    path = live(settings.index_dir) / "manifest.json"
    manifest = json.loads(path.read_text())
    damage(manifest)
    path.write_text(json.dumps(manifest))
    caplog.set_level(logging.INFO, logger="qa")
    for _ in range(2):  # every process, not only the first, answers
        assert QA(settings).ask(FLOODS).passages[0].source == "floods.txt"
    assert "manifest in" in caplog.text and "is corrupt" in caplog.text
    index_mod.load(settings.index_dir, verify_checksums=True)


def test_sources_table_with_wrong_types_carries_nothing(settings):
    QA(settings).index()
    gen = live(settings.index_dir)
    sources = json.loads((gen / "sources.json").read_text())
    sources["floods.txt"]["rows"] = "0-2"
    (gen / "sources.json").write_text(json.dumps(sources))
    manifest = json.loads((gen / "manifest.json").read_text())  # whoever damaged it fixed the checksums too
    manifest["checksums"] = checksums(gen)
    (gen / "manifest.json").write_text(json.dumps(manifest))
    write_article(settings.corpus_dir, "tigers.txt", "Tigers", "2024-01-05", "Rangers counted nine tigers.")
    index = QA(settings).index()
    assert index.manifest["refresh"]["carried_rows"] == 0 and "tigers.txt" in index.manifest["files"]


# ---- 7: a read-only index folder ----------------------------------------------------------------
@pytest.fixture
def read_only(monkeypatch):
    """make(folder): no file or folder can be created or written under `folder` (for root too)."""
    made = []

    def make(folder: Path):
        for p in [folder, *folder.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                made.append((p, p.stat().st_mode))
                p.chmod(0o555)
        real_open, real_mkdir, top = os.open, os.mkdir, str(folder)

        def inside(path) -> bool:
            return os.path.abspath(os.fspath(path)).startswith(top)

        def fake_open(path, flags, *args, **kwargs):
            if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                raise PermissionError(errno.EROFS, "Read-only file system", os.fspath(path))
            return real_open(path, flags, *args, **kwargs)

        def fake_mkdir(path, *args, **kwargs):
            if inside(path):
                raise PermissionError(errno.EROFS, "Read-only file system", os.fspath(path))
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "mkdir", fake_mkdir)

    yield make
    for p, mode in made:
        p.chmod(mode)


def test_read_only_index_folder_answers_from_the_index_it_has(settings, caplog, read_only):
    QA(settings).index()
    before = live(settings.index_dir)
    write_article(settings.corpus_dir, "tigers.txt", "Tigers return", "2024-01-05", "Rangers counted nine tigers.")
    read_only(settings.index_dir)
    caplog.set_level(logging.WARNING, logger="qa")
    qa = QA(settings)
    answer = qa.ask(FLOODS)
    assert answer.passages[0].source == "floods.txt"
    assert answer.index_note.startswith("The index could not be refreshed (") and "Read-only" in answer.index_note
    assert [r.levelname for r in caplog.records if "could not be refreshed" in r.getMessage()] == ["WARNING"]
    assert qa.ask(FLOODS).index_note == answer.index_note  # not retried at once: one warning, the same note
    assert live(settings.index_dir) == before
    with pytest.raises(OSError, match="Read-only"):  # asked to bring the index up to date, it says it cannot
        qa.index()


# ---- 12: a build killed just before its switch ---------------------------------------------------
_KILLED = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from qa import index
    from qa.config import Settings
    from qa.embed import HashingEncoder
    from qa.index import generation

    real = os.replace

    def replace(src, dst):
        if Path(dst).name == "CURRENT":
            os.kill(os.getpid(), signal.SIGKILL)  # the moment before the switch
        return real(src, dst)

    generation.os.replace = replace
    index.ensure(Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]), model="hash", chunk_words=30),
                 HashingEncoder())
""")


def test_leftovers_of_a_build_killed_before_its_switch_are_removed(settings):
    qa = QA(settings)
    qa.index()
    before = live(settings.index_dir)
    write_article(settings.corpus_dir, "tigers.txt", "Tigers", "2024-01-05", "Rangers counted nine tigers.")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    done = subprocess.run([sys.executable, "-c", _KILLED, str(settings.corpus_dir), str(settings.index_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL
    strays = list(settings.index_dir.glob(".CURRENT.*"))
    assert len(strays) == 1 and live(settings.index_dir) == before
    assert "tigers.txt" in {p.source for p in qa.index().passages}
    assert not list(settings.index_dir.glob(".CURRENT.*")) and not list(settings.index_dir.glob(".tmp-*"))
