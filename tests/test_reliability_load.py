"""Reliability under load (issue 16): the chat server answers while its corpus changes, then equals a rebuild."""
from __future__ import annotations

import json

import pytest

from qa.cli import main
from qa.evaluation.churn import _masked, noted, overlaps, refresh_windows

pytest.importorskip("gradio_client")


def test_small_load_run_while_the_corpus_changes(capsys):
    code = main(["bench-load", "--requests", "24", "--concurrency", "3", "--articles", "8", "--model", "hash",
                 "--churn", "0.5", "--timeout", "300", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert (result["failures"], result["wrong_replies"]) == (0, 0)
    assert sum(result["changes"].values()) >= 1  # refreshes: as many as the checks (every 2 s) found changes
    assert (result["replies_unlike_a_clean_rebuild"], result["answers_unlike_a_clean_rebuild"]) == (0, 0)
    assert result["p95_ms_still_corpus"] > 0 and result["p95_ms_changing_corpus"] > 0


def test_refresh_windows_come_from_the_server_log():
    lines = ["INFO qa.index.live: refreshing the index in the background: corpus changed (added: x.txt)\n",
             "INFO qa.index: building index ...\n", "INFO qa.index.live: refreshed the index: 12 passages\n",
             "INFO qa.index.live: refreshing the index in the background: corpus changed (removed: x.txt)\n",
             "WARNING qa.index.live: the index could not be refreshed (Read-only file system); answering ...\n"]
    assert refresh_windows(lines, [1.0, 1.1, 1.5, 3.0, 3.2]) == [(1.0, 1.5), (3.0, 3.2)]
    assert overlaps(0.9, 200, [(1.0, 1.5)]) and not overlaps(0.5, 400, [(1.0, 1.5)])


def test_reply_checks():
    assert noted("<p>The index is being refreshed now (corpus changed ...)</p>") and not noted(None)
    assert _masked("x · score 0.763 · <strong>A</strong> · confidence 0.42") == "x · score # · <strong>A</strong> · confidence #"


def test_churn_is_bounded(capsys):
    assert main(["bench-load", "--churn", "0.1"]) == 1
    assert "--churn must be at least 0.5 seconds, got 0.1" in capsys.readouterr().err
