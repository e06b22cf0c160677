"""Reliability, corpus side (issue 16): hostile or unlucky corpus files and names.

Undecodable and newline-carrying file names, YAML alias bombs and huge titles, text without spaces,
symlinks out of the corpus folder, a file made readable again, an edit that keeps size and mtime.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.chunk import chunk_article
from qa.config import load_settings
from qa.ingest import IngestError, fingerprint
from qa.pipeline import QA
from qa.types import Article
from tests.conftest import write_article

REPO = Path(__file__).resolve().parent.parent
FLOODS = "How many people died in the Ha Giang floods?"


def sources(qa: QA) -> set[str]:
    """The files the index has passages from."""
    return {p.source for p in qa.index().passages}


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# ---- 1: a file name that is not valid UTF-8 --------------------------------------------------------
def test_file_name_not_in_utf8_is_skipped_with_a_warning(settings, caplog):
    with open(os.fsencode(settings.corpus_dir) + b"/caf\xe9.txt", "wb") as f:
        f.write(b"Cafe\n\n2022-01-01\n\nThe cafe reopened.\n")
    caplog.set_level(logging.WARNING, logger="qa")
    qa = QA(settings)
    assert qa.ask(FLOODS).passages[0].source == "floods.txt"
    assert "caf\udce9.txt" not in sources(qa)
    assert "skipping 'caf\\udce9.txt': the file name is not valid UTF-8; rename the file" in warnings_of(caplog)


def test_file_name_not_in_utf8_does_not_stop_the_index_command(settings):
    with open(os.fsencode(settings.corpus_dir) + b"/caf\xe9.txt", "wb") as f:
        f.write(b"Cafe\n\n2022-01-01\n\nThe cafe reopened.\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    done = subprocess.run([sys.executable, "-m", "qa", "index", "--model", "hash", "--corpus", str(settings.corpus_dir),
                           "--index", str(settings.index_dir)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "index ready: " in done.stdout and "not valid UTF-8" in done.stderr


# ---- 2: YAML alias bombs and huge metadata ---------------------------------------------------------
def _alias_bomb(depth: int) -> str:
    """Front matter whose title expands to 9**depth strings (the issue's 351-byte file had depth 8)."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, depth)]
    return "---\n" + "\n".join(lines) + f"\ntitle: *a{depth - 1}\n---\nThe lol festival opened in Hue.\n"


def test_yaml_aliases_are_refused(settings, caplog):
    (settings.corpus_dir / "bomb.md").write_text(_alias_bomb(5))  # 59,049 strings: harmless even when expanded
    caplog.set_level(logging.WARNING, logger="qa")
    qa = QA(settings)
    assert qa.ask(FLOODS).passages[0].source == "floods.txt"
    assert "bomb.md" not in sources(qa)
    assert any(m.startswith("skipping bomb.md: bad YAML front matter: aliases (*name) are not accepted")
               for m in warnings_of(caplog))


def test_deep_alias_bomb_costs_nothing(tmp_path):
    from qa.ingest import parse_file

    path = tmp_path / "bomb.md"
    path.write_text(_alias_bomb(8))
    assert len(path.read_bytes()) < 600
    t0 = time.perf_counter()
    with pytest.raises(IngestError, match="aliases"):
        parse_file(path, "bomb.md", 2**20)
    assert time.perf_counter() - t0 < 1


def test_huge_front_matter_is_refused(settings, caplog):
    (settings.corpus_dir / "title.md").write_text("---\ntitle: " + "Harbour news " * 400_000 + "\n---\nThe harbour.\n")
    caplog.set_level(logging.WARNING, logger="qa")
    assert "title.md" not in sources(QA(settings))
    assert "skipping title.md: front matter is over 65536 characters" in warnings_of(caplog)


@pytest.mark.parametrize("name, text", [
    ("title.md", "---\ntitle: " + "Harbour news " * 4_000 + "\ndate: 2022-01-01\n---\nThe harbour reopened.\n"),
    ("title.txt", "H" * 200_000 + "\n\n2022-01-01\n\nThe harbour reopened after the storm.\n"),
    ("title.json", '{"title": "' + "Harbour " * 100_000 + '", "text": "The harbour reopened.", "author": "'
     + "Reporter " * 10_000 + '"}'),
])
def test_huge_titles_and_metadata_are_capped(settings, name, text):
    (settings.corpus_dir / name).write_text(text)
    passages = [p for p in QA(settings).index().passages if p.source == name]
    assert passages and all(len(p.title) <= 300 and len(p.headline) <= 300 for p in passages)
    size = sum(f.stat().st_size for f in settings.index_dir.rglob("*") if f.is_file())
    assert size < 2 * 2**20  # the old index copied the title into every passage


# ---- 3: text without spaces ------------------------------------------------------------------------
_CHINESE = "".join(f"河江省的洪水在第{i}个村庄造成了严重的损失，救援队乘船前往被困的村民家中。" for i in range(400))


def test_text_without_spaces_makes_bounded_passages(settings):
    article = Article(id="a", title="Floods", published=None, byline=None, text=_CHINESE, source="zh.txt")
    passages = chunk_article(article, 90, 1, 1200)  # sentences of about 36 characters
    assert len(passages) > 300 and all(len(p.text) <= 110 for p in passages)  # a character is a word (of 90)
    assert all(p.text.endswith("。") for p in passages)  # whole sentences
    assert all(_CHINESE[p.start:p.end] == p.text for p in passages)
    letters = Article(id="b", title="Run", published=None, byline=None, text="x" * 100_000, source="x.txt")
    pieces = chunk_article(letters, 90, 1, 1000)
    assert [len(p.text) for p in pieces] == [1000] * 100


def test_reading_a_huge_run_of_letters_stays_under_spacys_limit(make_corpus, tmp_path, settings):
    corpus = make_corpus({}, name="letters")
    (corpus / "letters.txt").write_text("A run of letters\n\n2022-01-01\n\n" + "abcdefghij" * 120_000 + "\n")
    (corpus / "zh.txt").write_text("河江省洪水\n\n2020-10-01\n\n" + _CHINESE + "\n")
    qa = QA(settings, corpus_dir=corpus, index_dir=tmp_path / "letters-idx")
    for question in ("abcdefghij", "河江省的洪水造成了什么损失？"):
        qa.ask(question)  # reads the top passages with spaCy: [E088] before passages were bounded
    assert max(len(p.text) for p in qa.index().passages) <= 1200  # Settings.chunk_chars


# ---- symlinks out of the corpus folder -------------------------------------------------------------
def test_symlinks_are_followed_only_inside_the_corpus_folder(settings, tmp_path, caplog, monkeypatch):
    outside = tmp_path / "outside"
    write_article(outside, "secret.txt", "Root password", "2022-01-01", "The root password is hunter2.")
    (settings.corpus_dir / "leak.txt").symlink_to(outside / "secret.txt")
    write_article(settings.corpus_dir / ".archive", "tigers.txt", "Tigers", "2024-01-05", "Rangers counted nine tigers.")
    (settings.corpus_dir / "tigers.txt").symlink_to(settings.corpus_dir / ".archive" / "tigers.txt")
    caplog.set_level(logging.WARNING, logger="qa")
    qa = QA(settings)
    assert "hunter2" not in " ".join(h.text for h in qa.ask("What is the root password?", k=50).passages)
    assert sources(qa) == {"floods.txt", "bridge.txt", "iswaran.txt", "vaccine.txt", "tigers.txt"}
    assert "leak.txt" not in fingerprint(settings.corpus_dir)
    assert ("skipping leak.txt: a link to a file outside the corpus folder (set QA_FOLLOW_OUTSIDE_LINKS=1 to "
            "follow such links)") in warnings_of(caplog)
    allowed = QA(settings, follow_outside_links=True, index_dir=tmp_path / "allowed")
    assert "leak.txt" in sources(allowed)
    monkeypatch.setenv("QA_FOLLOW_OUTSIDE_LINKS", "1")
    assert load_settings().follow_outside_links and not load_settings(follow_outside_links=False).follow_outside_links


# ---- 10, 11: changes that keep size and mtime ------------------------------------------------------
@pytest.fixture
def permissions(monkeypatch):
    """Make chmod 000 unreadable for root too (tests run as root here), as it is for everyone else."""
    if os.geteuid() == 0:
        from qa.ingest import files

        real = files.Path.read_bytes

        def read_bytes(path):
            if not os.stat(path).st_mode & 0o444:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(files.Path, "read_bytes", read_bytes)


def test_file_skipped_as_unreadable_is_read_once_fixed(settings, caplog, permissions):
    qa = QA(settings)
    qa.ask(FLOODS)
    path = write_article(settings.corpus_dir, "tigers.txt", "Tigers return", "2024-01-05",
                         "Rangers counted nine tigers in the national park.")
    path.chmod(0)
    caplog.set_level(logging.WARNING, logger="qa")
    assert "tigers.txt" not in {h.source for h in qa.ask("How many tigers did rangers count?").passages}
    assert "skipping tigers.txt: cannot read: Permission denied" in warnings_of(caplog)
    mtime = path.stat().st_mtime_ns
    time.sleep(0.01)  # ctime has the kernel's tick as resolution
    path.chmod(0o644)  # changes ctime only
    assert path.stat().st_mtime_ns == mtime
    assert qa.ask("How many tigers did rangers count?").passages[0].source == "tigers.txt"


@pytest.mark.parametrize("how", ["utime", "cp -p"])
def test_edit_keeping_size_and_mtime_is_noticed(settings, tmp_path, how):
    path = write_article(settings.corpus_dir, "tigers.txt", "Tigers return", "2024-01-05",
                         "Rangers counted nine tigers in the national park.")
    qa = QA(settings)
    assert "nine tigers" in qa.ask("How many tigers did rangers count?").passages[0].text
    st = path.stat()
    time.sleep(0.01)
    edited = path.read_text().replace("nine", "four")
    if how == "utime":
        path.write_text(edited)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    else:  # the same from another copy of the file, as cp -p or rsync -a leave it
        other = tmp_path / "tigers.txt"
        other.write_text(edited)
        os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
        subprocess.run(["cp", "-p", str(other), str(path)], check=True)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert "four tigers" in qa.ask("How many tigers did rangers count?").passages[0].text


# ---- 13: a newline in a file name ------------------------------------------------------------------
def test_newline_in_a_file_name_cannot_forge_a_log_line(settings, caplog):
    qa = QA(settings)
    qa.ask(FLOODS)
    evil = "x\nERROR qa.index: index corrupt; run rm -rf ~ to fix.txt"
    (settings.corpus_dir / evil).write_bytes(b"")  # empty: skipped with a warning naming it
    write_article(settings.corpus_dir, "tigers\r\nINFO qa: fine.txt", "Tigers", "2024-01-05", "Rangers counted tigers.")
    caplog.set_level(logging.INFO, logger="qa")
    qa.ask(FLOODS)
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "\n" in m or "\r" in m]
    assert any(repr(evil) in m for m in messages)  # named, quoted
    assert any(m.startswith("refreshing the index") and repr(evil) in m for m in messages)
