"""The index a running QA answers from, kept fresh without making questions wait on a refresh.

Every `refresh_interval_s` a question compares the corpus fingerprint with the index's. When they differ, a
refresh (qa.index.ensure: only new and changed files parsed and embedded) starts in a background thread,
which may have to wait for another process's build lock, and questions keep being answered from the index
as it was, with a note saying so. A question that finds a refresh running waits for it at most
`refresh_wait_s` from the refresh's start: a small change is in the very next answer, a big one (or a
suspended indexer holding the lock) never stalls anyone for longer. The index switches as soon as the
refresh is done. A refresh that fails (a read-only index folder) leaves the old index serving, with a
warning and a note, and is retried after `refresh_retry_s` or when the corpus changes again.

Waiting is different only where nothing has been answered yet: the first call waits for the refresh to
finish (a new process answers from the corpus as it is now, as it always has), unless another process
holds the build lock and there is an index to answer from; and with no usable index at all every call waits.
Before each use the files the index reads on demand are checked for truncation (qa.index.ondisk); a
damaged index is loaded again, or rebuilt.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

from qa.config import Settings
from qa.embed import Encoder
from qa.index.manifest import IndexLoadError, stale_reason, upgrade_reason
from qa.index.store import Index, try_load
from qa.ingest import CorpusError, CorpusSource

logger = logging.getLogger(__name__)

_POLL_S = 0.05  # how often a first call waiting for a refresh looks whether it is blocked by another process


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


class _Refresh:
    """One refresh running in a background thread."""

    def __init__(self, reason: str, files: dict | None, upgrade: bool = False):
        self.reason, self.files = reason, files
        self.started = time.monotonic()
        self.done = threading.Event()
        self.blocked = False  # waiting for another process's build lock
        self.upgrade = upgrade  # adds only what a servable index lacks: nobody waits for it
        self.index: Index | None = None
        self.error: BaseException | None = None

    def run(self, build: Callable[[Callable[[], None]], Index], finish: Callable[["_Refresh"], None]) -> None:
        """Build in a new daemon thread (a build cut short at exit leaves only a temp folder, removed later).

        The thread keeps its normal priority: lowered, it would be descheduled while holding the GIL and hold
        up every question (measured: p95 3.5x during refreshes on a busy machine).
        """

        def work():
            try:
                self.index = build(self._on_blocked)
            except BaseException as exc:  # reported to whoever waits, and kept for the note
                self.error = exc
            finally:
                finish(self)
                self.done.set()

        threading.Thread(target=work, name="qa-refresh", daemon=True).start()

    def _on_blocked(self) -> None:
        self.blocked = True


@dataclass(frozen=True)
class _Failure:
    files: dict | None  # the corpus fingerprint the failed refresh was for
    error: BaseException
    at: float


class LiveIndex:
    """The current Index of one QA, refreshed in the background; safe to share between threads."""

    def __init__(self, settings: Settings, encoder: Callable[[], Encoder], source: CorpusSource):
        self.settings, self._encoder, self.source = settings, encoder, source
        self._lock = threading.Lock()
        self._index: Index | None = None
        self._job: _Refresh | None = None
        self._failed: _Failure | None = None
        self._checked = -math.inf
        self._served = False

    @property
    def refreshing(self) -> bool:
        """True while a refresh is running."""
        return self._job is not None

    def get(self, wait: float | None = None, progress: bool = False) -> tuple[Index, str | None]:
        """The index to answer from, and a note when it may not match the corpus (else None).

        `wait` None waits for any refresh the corpus needs, and raises its error if it failed; a number of
        seconds waits at most that long from the refresh's start (see the module docstring for the first call).
        """
        strict = wait is None
        wait = None if wait is not None and math.isinf(wait) else wait
        with self._lock:
            if self._index is not None and (why := self._index.damaged()):
                logger.warning("the index in %s changed under this process (%s); loading it again",
                               self._index.path, why)
                self._index = None
            if self._index is None and self._job is None:
                self._adopt_disk()
            job = self._job
            if job is None and (self._index is None or time.monotonic() - self._checked
                                >= self.settings.refresh_interval_s):
                job = self._check(progress)
            first, has_index = not self._served, self._index is not None
        if job is not None:
            self._wait(job, None if not has_index else wait, first)
        with self._lock:
            if self._index is None:
                raise job.error if job is not None and job.error is not None else IndexLoadError("no index")
            error = job.error if job is not None and job.done.is_set() else None
            if strict and job is None and self._failed is not None:
                error = self._failed.error  # not retried yet: still the reason the index is stale
            # an unusable corpus is the user's to hear, as before; index() wants the corpus as it is now
            if error is not None and (strict or isinstance(error, CorpusError)):
                raise error
            self._served = True
            return self._index, self._note()

    def rebuild(self, progress: bool = False) -> Index:
        """Build the index from nothing (after any refresh running now) and switch to it."""
        while True:
            with self._lock:
                running = self._job
                if running is None:
                    self._checked = time.monotonic()
                    job = self._start("rebuild requested", None, progress, force=True)
                    break
            running.done.wait()
        job.done.wait()
        if job.error is not None:
            raise job.error
        with self._lock:
            self._served = True
            return self._index

    def _adopt_disk(self) -> None:
        """Serve the index on disk if it was built with these settings, even for an older corpus."""
        index, _ = try_load(self.settings.index_dir)
        if index is not None and stale_reason(index.manifest, self.settings, self._encoder().dim, soft=False) is None:
            self._index, self._checked = index, -math.inf

    def _check(self, progress: bool) -> _Refresh | None:
        """Compare the corpus with the index; start a refresh if they differ (and none failed just now)."""
        now = self._checked = time.monotonic()
        files = self.source.fingerprint()  # CorpusError (a missing folder) goes to the caller, as before
        if self._index is None:
            return self._start("no usable index", files, progress)
        why = stale_reason(self._index.manifest, self.settings, self._encoder().dim, files)
        if why is None:
            self._failed = None
            return None
        # only what a build adds to a servable index (its parses): no question waits for it, the first neither
        upgrade = stale_reason(self._index.manifest, self.settings, self._encoder().dim, files, soft=False) is None
        if upgrade:
            logger.info("upgrading the index in the background: %s", why)
            why = upgrade_reason(self._index.manifest, self.settings, self._encoder().dim)
        failed = self._failed
        if failed is not None and failed.files == files and now - failed.at < self.settings.refresh_retry_s:
            if isinstance(failed.error, CorpusError):
                raise failed.error
            return None  # answer from the index as it is; the note says why
        return self._start(why, files, progress, upgrade=upgrade)

    def _start(self, reason: str, files: dict | None, progress: bool, force: bool = False,
               upgrade: bool = False) -> _Refresh:
        from qa import index as index_mod

        job = self._job = _Refresh(reason, files, upgrade)
        if self._index is not None:
            logger.info("refreshing the index in the background: %s", reason)
        current = self._index
        job.run(lambda on_blocked: index_mod.ensure(self.settings, self._encoder(), self.source, progress=progress,
                                                   force=force, on_blocked=on_blocked, current=current),
                self._finish)
        return job

    def _finish(self, job: _Refresh) -> None:
        with self._lock:
            self._job = None
            if job.error is None:
                if self._index is not None:
                    logger.info("refreshed the index: %d passages", len(job.index))
                self._index, self._failed = job.index, None
                return
            self._failed = _Failure(job.files, job.error, time.monotonic())
            if self._index is not None:
                logger.warning("the index could not be refreshed (%s); answering from the index as it was",
                               _one_line(job.error))

    def _wait(self, job: _Refresh, wait: float | None, first: bool) -> None:
        if job.upgrade and wait is not None:
            return
        if wait is None:
            job.done.wait()
        elif first:  # nothing answered yet: answer from the corpus as it is, unless another process blocks
            while not job.done.wait(_POLL_S):
                if job.blocked:
                    return
        elif (remaining := job.started + wait - time.monotonic()) > 0:
            job.done.wait(remaining)

    def _note(self) -> str | None:
        """What an answer given now should say about the index (called with the lock held)."""
        if self._job is not None and self._job.upgrade and not self._job.blocked:
            return (f"The index is being upgraded in the background ({self._job.reason}); this answer comes from the "
                    f"index as it is.")
        if self._job is not None:
            who = "by another process" if self._job.blocked else "now"
            return (f"The index is being refreshed {who} ({self._job.reason}); this answer comes from the index "
                    f"as it was before.")
        if self._failed is not None:
            return (f"The index could not be refreshed ({_one_line(self._failed.error)}); this answer comes "
                    f"from the last index built.")
        return None
