"""Corpus churn for the load benchmark: articles edited, added and deleted while the clients ask.

Every `every_s` seconds one change is made in the benchmark's temporary corpus folder: a new article about
another town is added, an added one deleted, an asked-about article's closing paragraph rewritten (its
founder sentence, which the questions ask for, is kept), or a digit of such a paragraph changed with its
size and mtime kept (as `cp -p` leaves a file: only its ctime tells). The server's log says when each
refresh started and ended, so requests can be split into those that overlapped a refresh and the rest;
once the load is over and the server has settled, every question's reply is compared with the reply a
clean rebuild of the final corpus gives.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


MAX_CHANGES = 1000
_STARTED = "refreshing the index in the background"
_ENDED = ("refreshed the index", "the index could not be refreshed")
_NOTE = "The index is being refreshed"
_SYLLABLES = ["ka", "lo", "mi", "ren", "tu", "vas", "zor", "bel"]


@dataclass
class Churn:
    """A thread that changes the corpus every `every_s` seconds until stopped (at most MAX_CHANGES times)."""

    folder: Path
    sources: list[str]  # the files the questions ask about: edited, never deleted
    every_s: float
    seed: int = 0
    changes: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, what)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> "Churn":
        self._thread = threading.Thread(target=self._run, name="bench-churn", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        rnd, added, n = random.Random(self.seed), [], 0
        while not self._stop.wait(self.every_s) and len(self.changes) < MAX_CHANGES:
            kind = rnd.choice(["add", "add", "delete", "edit", "same-size edit"] if added else ["add"])
            if kind == "add":
                name = f"extra-{n:03d}.txt"
                town = "".join(rnd.choice(_SYLLABLES) for _ in range(3)).capitalize() + f"burg {n}"
                day = dt.date(2022, 1, 1) + dt.timedelta(days=n)
                (self.folder / name).write_text(
                    f"{town} opens a new market\n\n{day.isoformat()}\n\nThe market of {town} opened on Friday with "
                    f"{10 + n} stalls selling fish and vegetables from the river valley.\n", encoding="utf-8")
                added.append(name)
                n += 1
            elif kind == "delete":
                name = added.pop(rnd.randrange(len(added)))
                (self.folder / name).unlink()
            else:
                name = rnd.choice(self.sources)
                path = self.folder / name
                text = path.read_text(encoding="utf-8")
                head, _, tail = text.rpartition("\n\n")
                if kind == "edit":
                    tail = f"Residents said the cooperative would hire {rnd.randint(2, 99)} young workers this year.\n"
                    path.write_text(f"{head}\n\n{tail}", encoding="utf-8")
                else:
                    st = path.stat()
                    digits = [m.start() for m in re.finditer(r"\d", tail)] or [None]
                    at = rnd.choice(digits)
                    if at is None:
                        continue
                    tail = tail[:at] + str((int(tail[at]) + 1) % 10) + tail[at + 1:]
                    path.write_text(f"{head}\n\n{tail}", encoding="utf-8")
                    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
            self.changes.append((time.monotonic(), f"{kind} {name}"))


def refresh_windows(lines: list[str], times: list[float]) -> list[tuple[float, float]]:
    """(start, end) monotonic times of each background refresh the server logged (an open one ends now)."""
    windows, start = [], None
    for line, at in zip(lines, times):
        if _STARTED in line and start is None:
            start = at
        elif start is not None and any(e in line for e in _ENDED):
            windows.append((start, at))
            start = None
    if start is not None:
        windows.append((start, time.monotonic()))
    return windows


def overlaps(started: float, latency_ms: float, windows: list[tuple[float, float]]) -> bool:
    """True if the request [started, started + latency] overlapped a refresh."""
    end = started + latency_ms / 1e3
    return any(a < end and started < b for a, b in windows)


def noted(reply: str | None) -> bool:
    """True if a chat reply says it came from an index being refreshed."""
    return bool(reply) and _NOTE in reply


def settle(url: str, server, probe: str, k: int, interval_s: float, timeout: float) -> float:
    """Ask `probe` every refresh interval until a reply is not from an index being refreshed and no refresh
    runs: the index then matches the corpus. Returns the seconds that took."""
    from gradio_client import Client

    t0 = time.monotonic()
    client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    try:
        while time.monotonic() - t0 < timeout:
            time.sleep(interval_s + 0.2)  # so the probe's question checks the corpus again
            reply = client.predict(message=probe, k=k, api_name="/chat")
            windows = refresh_windows(server.output, server.times)
            if not noted(reply) and not (windows and windows[-1][1] >= time.monotonic() - 0.05):
                return time.monotonic() - t0
        raise TimeoutError(f"the server did not settle within {timeout:.0f}s")
    finally:
        client.close()


# The reader's probabilities vary in the fourth decimal with what else a process has parsed (measured on the
# old code too, with no corpus change at all), which moves the shown scores' last digit now and then.
_READER_NUMBERS = re.compile(r"(score|confidence) \d+\.\d+")


def _masked(reply: str) -> str:
    return _READER_NUMBERS.sub(r"\1 #", reply)


def compare_with_rebuild(url: str, questions: list[str], tmp: Path, model: str | None, k: int) -> dict:
    """How many questions get another answer from the served index than from a clean rebuild of the corpus.

    Two checks: the chat reply against the clean rebuild's reply (the reader's numbers masked), and, in
    this process, the served index's Answer against the clean one's, field by field (timings aside).
    """
    import shutil

    from gradio_client import Client

    from qa.config import load_settings
    from qa.pipeline import QA
    from qa.render import render_answer

    clean = QA(load_settings(corpus_dir=tmp / "corpus", index_dir=tmp / "clean-index", model=model))
    shutil.copytree(tmp / "index", tmp / "served-copy", ignore=shutil.ignore_patterns(".lock"))
    served = QA(load_settings(corpus_dir=tmp / "corpus", index_dir=tmp / "served-copy", model=model))
    replies, answers = [], []
    for question in questions:
        expected = clean.ask(question, k=k)
        client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
        try:  # a client of its own for each question: a session's earlier turns are context for the next
            if _masked(client.predict(message=question, k=k, api_name="/chat")) != _masked(render_answer(expected)):
                replies.append(question)
        finally:
            client.close()
        got = served.ask(question, k=k)
        if {**got.to_dict(), "timings_ms": {}} != {**expected.to_dict(), "timings_ms": {}}:
            answers.append(question)
    if served.index().manifest["files"] != clean.index().manifest["files"]:
        answers.append("(the served index's files differ from the corpus)")
    return {"replies_unlike_a_clean_rebuild": len(replies), "answers_unlike_a_clean_rebuild": len(answers),
            "unlike": (replies + answers)[:5]}
