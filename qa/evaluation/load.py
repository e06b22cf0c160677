"""Load benchmark: run the chat server on loopback, ask from concurrent gradio clients, check every reply.

`python -m qa bench-load --requests 500 --concurrency 16` writes a generated corpus (one distinctive
article per question) to a temporary folder, starts `app.py` on 127.0.0.1 at a free port, sends the
questions through `gradio_client` to the `/chat` endpoint and reports failures, wrong replies (a reply
must name its own question's article first, so answers crossing between concurrent users show up) and
latency percentiles. Everything stays on this machine and is bounded in count and time.
"""
from __future__ import annotations

import contextlib
import logging
import os
import queue
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from qa.config import load_settings
from qa.render import reply_sources
from qa.evaluation.load_corpus import Case, _percentile, _round, write_corpus

logger = logging.getLogger(__name__)

APP = Path(__file__).resolve().parents[2] / "app.py"
MAX_REQUESTS = 10_000
MAX_CONCURRENCY = 64
_URL = re.compile(r"Running on local URL:\s*(http://\S+)")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running `app.py` subprocess and the output it has printed so far."""

    process: subprocess.Popen
    url: str = ""
    output: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # when each line of output arrived (monotonic)
    started_s: float = 0.0

    def log(self) -> str:
        """Everything the server printed (stdout and stderr), as one string."""
        return "".join(self.output)


@contextlib.contextmanager
def serve(corpus_dir: Path, index_dir: Path, model: str | None = None, timeout: float = 300,
          env: dict | None = None) -> Iterator[Server]:
    """Start `python app.py` on a free loopback port, wait until it serves, and stop it afterwards.

    `env` adds to (or, with None values, removes from) the server's environment.
    """
    run_env = {**os.environ, "QA_CORPUS_DIR": str(corpus_dir), "QA_INDEX_DIR": str(index_dir),
               "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(free_port()),
               "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    if model:
        run_env["QA_MODEL"] = model
    for key, value in (env or {}).items():
        if value is None:
            run_env.pop(key, None)
        else:
            run_env[key] = value
    t0 = time.monotonic()
    process = subprocess.Popen([sys.executable, str(APP)], cwd=APP.parent, env=run_env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, bufsize=1)
    server = Server(process)
    found = threading.Event()

    def pump():  # keep reading so the server never blocks on a full pipe
        for line in process.stdout:
            server.times.append(time.monotonic())
            server.output.append(line)
            if not found.is_set() and (m := _URL.search(line)):
                server.url = m.group(1).rstrip("/") + "/"
                found.set()
        found.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        found.wait(timeout)
        if not server.url:
            state = f"exited with status {process.poll()}" if process.poll() is not None else \
                f"did not start within {timeout:.0f}s"
            raise ChildProcessError(f"chat server {state}: {' | '.join(server.log().strip().splitlines()[-5:])}")
        server.started_s = time.monotonic() - t0
        logger.info("chat server ready at %s after %.1fs", server.url, server.started_s)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)
        reader.join(5)


@dataclass(frozen=True)
class Result:
    """What happened to one request."""

    case: Case
    latency_ms: float | None
    reply_source: str | None = None
    error: str | None = None
    started: float | None = None  # monotonic time the request was sent
    reply: str | None = None

    @property
    def ok(self) -> bool:
        """Answered, and the first article the reply names is the question's own."""
        return self.error is None and self.reply_source == self.case.source


def run_load(url: str, cases: list[Case], concurrency: int, k: int = 3, timeout: float = 600) -> list[Result]:
    """Send every case once through `concurrency` gradio clients (one session each, one request at a time)."""
    # gradio_client starts a telemetry thread unless this is "False" (its own argument cannot turn it off)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from gradio_client import Client

    deadline = time.monotonic() + timeout
    clients: queue.Queue = queue.Queue()
    for _ in range(concurrency):
        clients.put(Client(url, verbose=False, download_files=False, analytics_enabled=False))

    def one(case: Case) -> Result:
        client = clients.get()
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Result(case, None, error="not sent: time limit reached")
            t0, started = time.perf_counter(), time.monotonic()
            try:
                reply = client.submit(message=case.question, k=k, api_name="/chat").result(timeout=remaining)
            except Exception as exc:  # a failed request is a result to count, not a crash
                return Result(case, None, error=" ".join(f"{type(exc).__name__}: {exc}".split())[:300],
                              started=started)
            latency = (time.perf_counter() - t0) * 1e3
            if not isinstance(reply, str):
                return Result(case, latency, error=f"reply is {type(reply).__name__}, not text", started=started)
            shown = reply_sources(reply)  # the passages the reply shows, best first
            return Result(case, latency, reply_source=shown[0].get("source") if shown else None, started=started,
                          reply=reply)
        finally:
            clients.put(client)

    try:
        with ThreadPoolExecutor(concurrency, thread_name_prefix="bench-client") as pool:
            return list(pool.map(one, cases))
    finally:
        while not clients.empty():
            with contextlib.suppress(Exception):
                clients.get_nowait().close()


def summarize(results: list[Result], wall_s: float) -> dict:
    """Counts and latency figures of a run."""
    latencies = [r.latency_ms for r in results if r.error is None and r.latency_ms is not None]
    failed = [r for r in results if r.error is not None]
    wrong = [r for r in results if r.error is None and not r.ok]
    return {
        "requests": len(results), "failures": len(failed), "wrong_replies": len(wrong),
        "p50_ms": _round(_percentile(latencies, 50)), "p95_ms": _round(_percentile(latencies, 95)),
        "max_ms": _round(max(latencies, default=None)),
        "mean_ms": _round(sum(latencies) / len(latencies) if latencies else None),
        "wall_s": round(wall_s, 2), "throughput_rps": round(len(latencies) / wall_s, 2) if wall_s else None,
        "errors": sorted({r.error for r in failed})[:5],
        "wrong": [f"{r.case.question!r}: got {r.reply_source}, expected {r.case.source}" for r in wrong[:5]],
    }


def bench_load(requests: int = 500, concurrency: int = 16, articles: int = 50, k: int = 3,
               model: str | None = None, timeout: float = 600, seed: int = 0, churn_s: float | None = None) -> dict:
    """Run the whole benchmark in a temporary folder and return its summary.

    `churn_s`: change the corpus every this many seconds while the clients ask (see qa.evaluation.churn).
    """
    if not 1 <= requests <= MAX_REQUESTS:
        raise ValueError(f"--requests must be between 1 and {MAX_REQUESTS}, got {requests}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"--concurrency must be between 1 and {MAX_CONCURRENCY}, got {concurrency}")
    if not 2 <= articles <= 16**3:
        raise ValueError(f"--articles must be between 2 and {16**3}, got {articles}")
    if not timeout > 0:
        raise ValueError(f"--timeout must be positive, got {timeout}")
    if churn_s is not None and not churn_s >= 0.5:
        raise ValueError(f"--churn must be at least 0.5 seconds, got {churn_s}")
    with tempfile.TemporaryDirectory(prefix="qa-bench-load-") as tmp:
        cases = write_corpus(Path(tmp) / "corpus", articles)
        rnd = random.Random(seed)
        plan = [cases[i % len(cases)] for i in range(requests)]
        rnd.shuffle(plan)
        churned = {}
        with serve(Path(tmp) / "corpus", Path(tmp) / "index", model=model, timeout=timeout) as server:
            t0 = time.monotonic()
            if churn_s is None:
                results = run_load(server.url, plan, concurrency, k=k, timeout=timeout)
            else:  # half the requests on a still corpus, half while it changes: same server, same machine load
                from qa.evaluation import churn

                quiet = run_load(server.url, plan[:requests // 2], concurrency, k=k, timeout=timeout)
                with churn.Churn(Path(tmp) / "corpus", [c.source for c in cases], churn_s, seed) as changes:
                    busy = run_load(server.url, plan[requests // 2:], concurrency, k=k, timeout=timeout)
                results = quiet + busy
            wall = time.monotonic() - t0
            if churn_s is not None:
                churned = _churn_summary(quiet, busy, server, changes, cases, Path(tmp), model, k, timeout)
        return {"model": model or load_settings().model, "concurrency": concurrency, "articles": articles, "k": k,
                "server_start_s": round(server.started_s, 1), **summarize(results, wall), **churned}


def _churn_summary(quiet: list[Result], busy: list[Result], server: Server, changes, cases: list[Case], tmp: Path,
                   model: str | None, k: int, timeout: float) -> dict:
    """Changes made, p95 on the still and on the changing corpus, and the replies once the server settled."""
    from qa.evaluation import churn

    windows = churn.refresh_windows(server.output, server.times)
    answered = [r for r in busy if r.error is None and r.latency_ms is not None]
    still = [r.latency_ms for r in quiet if r.error is None and r.latency_ms is not None]
    settled_s = churn.settle(server.url, server, cases[0].question, k, load_settings().refresh_interval_s, timeout)
    compared = churn.compare_with_rebuild(server.url, [c.question for c in cases], tmp, model, k)
    kinds = [what.split(" ")[0] for _, what in changes.changes]
    durations = sorted(b - a for a, b in windows) or [None]
    return {"churn_every_s": changes.every_s, "changes": {kind: kinds.count(kind) for kind in sorted(set(kinds))},
            "refreshes": len(windows), "refresh_s_median": _round(durations[len(durations) // 2]),
            "refresh_s_max": _round(durations[-1]), "p95_ms_still_corpus": _round(_percentile(still, 95)),
            "p95_ms_changing_corpus": _round(_percentile([r.latency_ms for r in answered], 95)),
            "requests_overlapping_a_refresh": sum(churn.overlaps(r.started, r.latency_ms, windows) for r in answered),
            "replies_noting_a_refresh": sum(churn.noted(r.reply) for r in answered), "settled_s": round(settled_s, 1),
            **compared}
