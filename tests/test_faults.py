"""Faults: builds killed with SIGKILL, damaged or foreign index files, and two builders at once.

The kill tests run the real `python -m qa index --model hash` in a subprocess on a generated corpus big
enough that a build takes a couple of seconds, kill it at random moments, and check that what is left
loads, passes its checksums, and is entirely the old index or entirely the new one.
"""
from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa import index as index_mod
from qa.config import load_settings
from qa.embed import HashingEncoder
from qa.ingest import fingerprint

REPO = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("QA_FAULT_SEED", "20240611"))
OLD_ARTICLES, NEW_ARTICLES = 1200, 1350
_WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "ren", "tu", "vas", "zor", "bel") for b in
          ("den", "mar", "pol", "sik", "tan", "vor", "wel", "yun", "zap", "qua")]


def write_articles(folder: Path, start: int, stop: int, seed: int = 0) -> None:
    """Articles start..stop-1 of a deterministic generated corpus, about 200 words each."""
    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    for i in range(start, stop):
        paragraphs = [" ".join(rnd.choice(_WORDS) for _ in range(14)).capitalize() + "." for _ in range(14)]
        (folder / f"a{i:05d}.txt").write_text(f"Report number {i}\n\n2022-01-01\n\n" + "\n\n".join(paragraphs) + "\n")


def settings_for(corpus: Path, index_dir: Path):
    """The settings `python -m qa index --model hash --corpus C --index I` uses (QA_PARSE_PASSAGES=0: these
    thousands of passages are built dozens of times; the parse stage's own kill is in tests/test_parses.py)."""
    return load_settings(corpus_dir=corpus, index_dir=index_dir, model="hash", parse_passages=False)


def qa_index(corpus: Path, index_dir: Path) -> subprocess.Popen:
    """Start `python -m qa index` in a subprocess."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("QA_")}, "QA_PARSE_PASSAGES": "0"}
    return subprocess.Popen([sys.executable, "-m", "qa", "index", "--model", "hash", "--corpus", str(corpus),
                             "--index", str(index_dir)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def snapshot_of(index: index_mod.Index) -> tuple[int, dict]:
    return index.manifest["passages"], index.manifest["files"]


def check_whole(index_dir: Path) -> index_mod.Index:
    """Load with every checksum verified and check the parts belong together, not to two builds."""
    index = index_mod.load(index_dir, verify_checksums=True)
    m = index.manifest
    assert len(index) == m["passages"] == index.dense.ntotal == index.lexical.size == len(index.vectors)
    sources = {index.passages[i].source for i in range(len(index))}
    assert sources == set(m["files"])  # every generated file yields passages
    encoder = HashingEncoder()
    picks = sorted({0, len(index) // 2, len(index) - 1})
    expected = encoder.encode([index.passages[i].embed_text(m["embed_title"]) for i in picks])
    np.testing.assert_allclose(np.asarray(index.vectors[picks]), expected, rtol=1e-6)
    return index


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """An old corpus with its index, a new corpus (more files, one edited) and the new index's shape."""
    base = tmp_path_factory.mktemp("faults")
    old, new = base / "old", base / "new"
    write_articles(old, 0, OLD_ARTICLES)
    shutil.copytree(old, new)
    write_articles(new, OLD_ARTICLES, NEW_ARTICLES, seed=1)
    (new / "a00007.txt").write_text((new / "a00007.txt").read_text() + "\nAn added closing line.\n")
    old_index = base / "old-index"
    index_mod.ensure(settings_for(old, old_index), HashingEncoder())
    # one undisturbed update measures how long a build takes and what the new index looks like
    probe = base / "probe-index"
    shutil.copytree(old_index, probe)
    t0 = time.monotonic()
    proc = qa_index(new, probe)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    took = time.monotonic() - t0
    return {"old": old, "new": new, "old_index": old_index, "base": base, "seconds": took,
            "old_shape": snapshot_of(index_mod.load(old_index)), "new_shape": snapshot_of(check_whole(probe))}


def kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL the process after `delay` seconds; True if it finished by itself first."""
    try:
        proc.wait(delay)
        return True
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        return False
    finally:
        proc.communicate()


@pytest.mark.parametrize("trial", range(5))
def test_update_killed_at_a_random_moment_leaves_old_or_new(corpora, tmp_path, trial):
    rnd = random.Random(SEED + trial)
    delay = rnd.uniform(0.05, 1.15) * corpora["seconds"]
    index_dir = tmp_path / "index"
    shutil.copytree(corpora["old_index"], index_dir)
    finished = kill_after(qa_index(corpora["new"], index_dir), delay)
    shape = snapshot_of(check_whole(index_dir))
    left = "old" if shape == corpora["old_shape"] else "new" if shape == corpora["new_shape"] else "MIXED"
    print(f"seed {SEED + trial}: {'finished' if finished else 'killed'} at {delay:.2f}s of "
          f"{corpora['seconds']:.2f}s, left the {left} index")
    assert left != "MIXED"
    if finished:
        assert shape == corpora["new_shape"]
    # the next build (in this process) takes over cleanly: no stale lock, no leftovers
    settings = settings_for(corpora["new"], index_dir)
    recovered = index_mod.ensure(settings, HashingEncoder())
    assert snapshot_of(recovered) == corpora["new_shape"]
    assert not list(index_dir.glob(".tmp-*")) and len(list(index_dir.glob("gen-*"))) <= 2
    check_whole(index_dir)


@pytest.mark.parametrize("trial", range(2))
def test_first_build_killed_leaves_no_index_or_the_whole_one(corpora, tmp_path, trial):
    rnd = random.Random(SEED + 100 + trial)
    delay = rnd.uniform(0.05, 1.1) * corpora["seconds"]
    index_dir = tmp_path / "index"
    kill_after(qa_index(corpora["new"], index_dir), delay)
    try:
        shape = snapshot_of(check_whole(index_dir))
    except index_mod.IndexLoadError as exc:
        assert str(exc).startswith("no index in"), exc  # not a broken one
    else:
        assert shape == corpora["new_shape"]
    assert snapshot_of(index_mod.ensure(settings_for(corpora["new"], index_dir), HashingEncoder())) == \
        corpora["new_shape"]


def test_two_concurrent_builds_of_the_same_corpus_build_once(corpora, tmp_path):
    index_dir = tmp_path / "index"
    procs = [qa_index(corpora["new"], index_dir) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    n = corpora["new_shape"][0]
    assert all(f"index ready: {n} passages from {NEW_ARTICLES} articles" in out for out, _ in results)
    # the second waited on the lock, then found the first one's index fresh
    assert sum(err.count("building index") for _, err in results) == 1, results
    assert snapshot_of(check_whole(index_dir)) == corpora["new_shape"]
    assert len(list(index_dir.glob("gen-*"))) == 1


def test_two_concurrent_builds_of_different_corpora_leave_one_whole_index(corpora, tmp_path):
    index_dir = tmp_path / "index"
    procs = [qa_index(corpora["old"], index_dir), qa_index(corpora["new"], index_dir)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert snapshot_of(check_whole(index_dir)) in (corpora["old_shape"], corpora["new_shape"])
    assert not list(index_dir.glob(".tmp-*"))


# A child that runs `python -m qa index ...` but SIGKILLs itself right before or after one step of the
# write: every step of publishing a generation is hit exactly, not just where a random delay happens to land.
_KILL_AT = """
import os, signal, sys
import importlib
from qa.cli import main
owner, name, when = sys.argv[1:4]
target = importlib.import_module(owner)
real = getattr(target, name)
def step(*args, **kwargs):
    if name == "rename" and not os.path.basename(args[1]).startswith("gen-"):
        return real(*args, **kwargs)  # a staging chunk's rename: the generation's comes later
    if when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    result = real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
setattr(target, name, step)
sys.exit(main(sys.argv[4:]))
"""


@pytest.mark.parametrize("owner, name, when, left", [
    ("qa.index.build", "write_passages", "after", "old"),
    ("qa.index.generation", "_fsync_tree", "after", "old"),  # the new generation is complete in its temp folder
    ("os", "rename", "after", "old"),  # ... and renamed into place, but CURRENT still names the old one
    ("os", "replace", "before", "old"),  # the new CURRENT is written to a temp file, not yet swapped
    ("os", "replace", "after", "new"),
    ("qa.index.generation", "_remove_old_generations", "before", "new"),
])
def test_killed_at_each_step_of_the_write(corpus, tmp_path, owner, name, when, left):
    settings = settings_for(corpus, tmp_path / "index")
    first = index_mod.ensure(settings, HashingEncoder())
    old = snapshot_of(first)
    (corpus / "extra.txt").write_text("Extra report\n\n2024-02-02\n\nA new article arrived on Friday.\n")
    argv = [sys.executable, "-c", _KILL_AT, owner, name, when, "index", "--model", "hash", "--corpus", str(corpus),
            "--index", str(settings.index_dir)]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    shape = snapshot_of(check_whole(settings.index_dir))
    assert shape == (old if left == "old" else (old[0] + 1, fingerprint(corpus)))
    recovered = index_mod.ensure(settings, HashingEncoder())
    assert "extra.txt" in {p.source for p in recovered.passages}
    assert not list(settings.index_dir.glob(".tmp-*")) and len(list(settings.index_dir.glob("gen-*"))) <= 2
    if left == "old":  # the generation kept is the one replaced, never a stray one a killed build left
        assert {p.name for p in settings.index_dir.glob("gen-*")} == {first.path.name, recovered.path.name}


# ---- damaged or foreign index files (extends tests/test_index.py) -------------------------------
def _gen(settings) -> Path:
    return settings.index_dir / (settings.index_dir / "CURRENT").read_text().strip()


def _edit_manifest(settings, **changes):
    path = _gen(settings) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def _other_model(settings):
    _edit_manifest(settings, model="all-MiniLM-L6-v2")
    return "model changed ('all-MiniLM-L6-v2' -> 'hash')"


def _other_dim(settings):
    _edit_manifest(settings, dim=768)
    return "dim changed (768 -> 384)"


def _future_format(settings):
    _edit_manifest(settings, format_version=index_mod.FORMAT_VERSION + 1)
    return f"index format {index_mod.FORMAT_VERSION + 1} is not {index_mod.FORMAT_VERSION}"


def _manifest_not_an_object(settings):
    (_gen(settings) / "manifest.json").write_text("[1, 2, 3]")
    return f"index format None is not {index_mod.FORMAT_VERSION}"


def _manifest_truncated(settings):
    path = _gen(settings) / "manifest.json"
    path.write_bytes(path.read_bytes()[:40])
    return "manifest unreadable"


def _manifest_empty(settings):
    (_gen(settings) / "manifest.json").write_bytes(b"")
    return "manifest unreadable"


def _no_checksums(settings):
    _edit_manifest(settings, checksums={})
    return "lists no checksums"


def _passages_flipped_same_size(settings):
    path = _gen(settings) / "passages.jsonl"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return "passages.jsonl checksum mismatch"


def _offsets_truncated(settings):
    path = _gen(settings) / "passages.offsets.npy"
    path.write_bytes(path.read_bytes()[:-8])
    return "passages.offsets.npy is missing or truncated"


def _vectors_zeroed(settings):
    path = _gen(settings) / "vectors.npy"
    path.write_bytes(bytes(path.stat().st_size))
    return "vectors.npy checksum mismatch"


def _generation_emptied(settings):
    for p in _gen(settings).iterdir():
        if p.name != "manifest.json":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return "is missing or truncated"


def _current_binary(settings):
    (settings.index_dir / "CURRENT").write_bytes(b"\x00\xff\xfe garbage")
    return "names no generation"


def _current_empty(settings):
    (settings.index_dir / "CURRENT").write_bytes(b"")
    return "names no generation"


@pytest.mark.parametrize("damage", [_other_model, _other_dim, _future_format, _manifest_not_an_object,
                                    _manifest_truncated, _manifest_empty, _no_checksums,
                                    _passages_flipped_same_size, _offsets_truncated, _vectors_zeroed,
                                    _generation_emptied, _current_binary, _current_empty])
def test_damaged_or_foreign_index_is_detected_and_rebuilt_with_a_log_line(settings, caplog, damage):
    from test_index import CountingEncoder

    encoder = CountingEncoder()
    good = index_mod.ensure(settings, encoder)
    texts = [p.text for p in good.passages]
    why = damage(settings)
    caplog.set_level(logging.INFO, logger="qa")
    caplog.clear()
    encoder.seen.clear()
    rebuilt = index_mod.ensure(settings, encoder)
    assert [p.text for p in rebuilt.passages] == texts
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("building index")]
    assert len(lines) == 1 and why in lines[0], lines
    check_whole(settings.index_dir)
    if damage is _other_model:  # vectors from another model are never reused
        assert len(encoder.seen) == len(rebuilt)
