"""Load: a small run of `python -m qa bench-load` against the real chat server, and the benchmark's checks."""
from __future__ import annotations

import json

import pytest

from qa import QA, load_settings
from qa.cli import main
from qa.evaluation.load import Case, Result, _percentile, summarize, write_corpus

pytest.importorskip("gradio_client")


def test_small_load_run_through_the_server(capsys):
    code = main(["bench-load", "--requests", "40", "--concurrency", "4", "--articles", "20", "--model", "hash",
                 "--timeout", "240", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert (result["requests"], result["concurrency"], result["failures"], result["wrong_replies"]) == (40, 4, 0, 0)
    assert result["errors"] == [] and result["wrong"] == []
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["max_ms"]
    assert result["throughput_rps"] > 0 and result["model"] == "hash"


def test_every_generated_question_has_its_own_article(tmp_path):
    """The benchmark's notion of a correct reply holds for the pipeline itself."""
    cases = write_corpus(tmp_path / "corpus", 30)
    assert len({c.source for c in cases}) == len({c.question for c in cases}) == 30
    qa = QA(load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "idx", model="hash"))
    for case in cases:
        answer = qa.ask(case.question, k=3)
        assert answer.passages[0].source == case.source, case
        assert case.person in answer.passages[0].text


def test_summary_counts_failures_and_cross_talk():
    a, b = Case("q a", "bench-000.txt", "A"), Case("q b", "bench-001.txt", "B")
    results = [Result(a, 10.0, "bench-000.txt"), Result(b, 30.0, "bench-000.txt"),  # b got a's reply
               Result(a, None, error="TimeoutError: late"), Result(b, 20.0, "bench-001.txt")]
    summary = summarize(results, wall_s=2.0)
    assert (summary["requests"], summary["failures"], summary["wrong_replies"]) == (4, 1, 1)
    assert summary["errors"] == ["TimeoutError: late"]
    assert summary["wrong"] == ["'q b': got bench-000.txt, expected bench-001.txt"]
    assert (summary["p50_ms"], summary["p95_ms"], summary["max_ms"]) == (20.0, 30.0, 30.0)


@pytest.mark.parametrize("values, q, expected", [([5.0], 50, 5.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
                                                 (list(map(float, range(1, 101))), 95, 95.0), ([], 50, None)])
def test_percentile_is_nearest_rank(values, q, expected):
    assert _percentile(values, q) == expected


@pytest.mark.parametrize("argv, words", [(["--requests", "0"], "--requests must be between 1 and 10000, got 0"),
                                         (["--concurrency", "500"], "--concurrency must be between 1 and 64"),
                                         (["--articles", "1"], "--articles must be between 2"),
                                         (["--timeout", "0"], "--timeout must be positive")])
def test_bench_load_is_bounded(capsys, argv, words):
    assert main(["bench-load", *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and "\n" not in err
