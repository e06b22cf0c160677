"""Reliability, serving side (issue 16, item 6): a refresh never holds questions up.

While the next generation is built, in this process's background thread or by another process holding the
build lock (here one suspended with SIGSTOP), questions are answered from the index as it was, with a note
saying so; the index switches once the refresh is done. A small change is still in the very next answer.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.config import Settings
from qa.embed import HashingEncoder
from qa.pipeline import QA
from qa.render import render_answer
from tests.conftest import write_article

TIGERS = "How many tigers did rangers count?"
WAIT = Settings().refresh_wait_s  # how long the chat's questions wait for a refresh (the tests' settings wait more)
FLOODS = "How many people died in the Ha Giang floods?"


class GatedEncoder(HashingEncoder):
    """The hash encoder, except that encoding any text with `marker` in it waits until the gate opens."""

    def __init__(self, marker: str):
        super().__init__()
        self.marker, self.gate, self.waiting = marker, threading.Event(), threading.Event()

    def encode(self, texts, batch_size=32, progress=False):
        if any(self.marker in t for t in texts):
            self.waiting.set()
            assert self.gate.wait(60), "the test never opened the gate"
        return super().encode(texts, batch_size, progress)


def add_tigers(settings) -> None:
    write_article(settings.corpus_dir, "tigers.txt", "Tigers return to the forest", "2024-01-05",
                  "Rangers counted nine tigers in the national park.")


def sources(answer) -> list[str]:
    return [h.source for h in answer.passages]


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def test_questions_are_answered_from_the_old_index_while_a_refresh_runs(settings):
    encoder = GatedEncoder("counted nine")
    qa = QA(settings, encoder=encoder, refresh_wait_s=WAIT)
    assert getattr(qa.ask(FLOODS), "index_note", None) is None
    first = qa.index()
    add_tigers(settings)
    answer = None
    try:
        answer = _ask_within(qa, TIGERS, 5)
        assert encoder.waiting.is_set() and answer is not None  # the refresh is stuck in its encoder, not the question
    finally:
        if answer is None:
            encoder.gate.set()
    assert "tigers.txt" not in sources(answer)
    assert answer.index_note.startswith("The index is being refreshed now (corpus changed (added: tigers.txt))")
    assert answer.to_dict()["index_note"] == answer.index_note
    assert "The index is being refreshed now" in render_answer(answer)
    with ThreadPoolExecutor(8) as pool:  # many at once, all answered at once
        answers = list(pool.map(lambda _: timed(qa.ask, FLOODS), range(16)))
    assert all(a.passages[0].source == "floods.txt" and a.index_note and t < 5 for a, t in answers)
    encoder.gate.set()
    deadline = time.monotonic() + 30
    while qa.refreshing and time.monotonic() < deadline:
        time.sleep(0.02)
    after = qa.ask(TIGERS)
    assert sources(after)[0] == "tigers.txt" and after.index_note is None
    refreshed = qa.index()
    assert refreshed.manifest["refresh"] == {"carried_rows": len(first), "new_rows": 1, "parsed_files": 1}


def test_a_change_refreshed_within_the_wait_is_in_the_next_answer(settings):
    qa = QA(settings, refresh_wait_s=2)  # this refresh takes 0.05-0.25 s here (WAIT is 0.5 s)
    qa.ask(FLOODS)
    add_tigers(settings)
    answer = qa.ask(TIGERS)
    assert sources(answer)[0] == "tigers.txt" and getattr(answer, "index_note", None) is None


@pytest.fixture
def suspend_indexer(settings):
    """Start another process that takes the index folder's build lock and is then suspended (Ctrl-Z)."""
    started = []

    def start() -> subprocess.Popen:
        code = ("import sys, time\nfrom filelock import FileLock\nlock = FileLock(sys.argv[1])\nlock.acquire()\n"
                "print('locked', flush=True)\ntime.sleep(600)\n")
        holder = subprocess.Popen([sys.executable, "-c", code, str(settings.index_dir / ".lock")],
                                  stdout=subprocess.PIPE, text=True)
        started.append(holder)
        assert holder.stdout.readline().strip() == "locked"
        os.kill(holder.pid, signal.SIGSTOP)
        return holder

    yield start
    for holder in started:
        holder.kill()  # SIGKILL ends a stopped process too; its lock goes with it
        holder.wait(10)


def _ask_within(qa: QA, question: str, seconds: float):
    """qa.ask(question) in a thread; the answer, or None if it did not come within `seconds`."""
    got = []
    worker = threading.Thread(target=lambda: got.append(qa.ask(question)), daemon=True)
    worker.start()
    worker.join(seconds)
    return got[0] if got else None


def test_a_suspended_indexer_holding_the_lock_blocks_no_one(settings, suspend_indexer):
    running = QA(settings, refresh_wait_s=WAIT)
    running.ask(FLOODS)
    indexer = suspend_indexer()
    add_tigers(settings)
    answer = _ask_within(running, TIGERS, 10)
    assert answer is not None, "a question waited for the suspended indexer's lock"
    assert "tigers.txt" not in sources(answer)
    assert answer.index_note.startswith("The index is being refreshed by another process")
    fresh = _ask_within(QA(settings, refresh_wait_s=WAIT), FLOODS, 10)  # a new process (the chat restarted) answers too
    assert fresh is not None and fresh.passages[0].source == "floods.txt" and fresh.index_note
    indexer.kill()  # the indexer is killed: its lock is released, the refresh goes on
    indexer.wait(10)
    deadline = time.monotonic() + 30
    while running.refreshing and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sources(running.ask(TIGERS))[0] == "tigers.txt"
