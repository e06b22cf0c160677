"""qa.once.made_once: built once, moved in whole, nothing half-made left by a crash."""
from pathlib import Path

import pytest

from qa.once import made_once


def _write(text: str):
    calls = []

    def make(tmp: Path) -> Path:
        calls.append(tmp)
        (tmp / "out.bin").write_text(text)
        return tmp / "out.bin"

    return make, calls


def test_builds_a_file_once(tmp_path):
    dest = tmp_path / "cache" / "model.onnx"
    make, calls = _write("v1")
    assert made_once(dest, make) == dest and dest.read_text() == "v1"
    again, calls2 = _write("v2")
    made_once(dest, again)
    assert dest.read_text() == "v1" and not calls2 and len(calls) == 1
    assert [p.name for p in dest.parent.iterdir() if p.name.startswith(".tmp-")] == []


def test_a_crash_leaves_nothing_half_made(tmp_path):
    dest = tmp_path / "model.onnx"

    def broken(tmp: Path) -> Path:
        (tmp / "out.bin").write_text("half")
        raise RuntimeError("killed mid-build")

    with pytest.raises(RuntimeError):
        made_once(dest, broken)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_a_folder_replaces_an_unfinished_one(tmp_path):
    dest = tmp_path / "base"
    dest.mkdir()
    (dest / "stale.txt").write_text("left by an older layout")

    def make(tmp: Path) -> Path:
        (tmp / "config.json").write_text("{}")
        return tmp

    made_once(dest, make, ready=(dest / "config.json").is_file)
    assert sorted(p.name for p in dest.iterdir()) == ["config.json"]
