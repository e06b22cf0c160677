"""qa.cli: exit codes and output of `python -m qa index|ask` with the hash encoder and tmp folders."""
from __future__ import annotations

import json

import pytest

from qa.cli import main


@pytest.fixture
def paths(corpus, tmp_path):
    """The common --corpus/--index/--model options."""
    return ["--corpus", str(corpus), "--index", str(tmp_path / "idx"), "--model", "hash"]


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_ask_json(paths, capsys):
    assert main(["ask", "How many people died in the Ha Giang floods?", "--json", "--k", "2", *paths]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["question"] == "How many people died in the Ha Giang floods?"
    assert len(data["passages"]) == 2
    assert data["passages"][0]["source"] == "floods.txt"
    assert {"answer", "confidence", "passages"} <= data.keys()


def test_ask_text(paths, capsys):
    assert main(["ask", "Which city opened a dragon bridge?", *paths]) == 0
    out = capsys.readouterr().out
    assert "bridge.txt" in out and "2021-03-15" in out


def test_index_command(paths, tmp_path, capsys):
    assert main(["index", *paths]) == 0
    assert "index ready" in capsys.readouterr().out
    assert (tmp_path / "idx" / "CURRENT").is_file()
    assert main(["index", "--rebuild", *paths]) == 0


@pytest.mark.parametrize("question, words", [("", "empty"), ("   ", "empty"), ("x" * 3000, "2000")])
def test_bad_question_exits_1(paths, capsys, question, words):
    assert main(["ask", question, *paths]) == 1
    captured = capsys.readouterr()
    assert words in one_error_line(captured.err)
    assert captured.out == ""


def test_bad_k_exits_1(paths, capsys):
    assert main(["ask", "Who resigned?", "--k", "x", *paths]) == 1
    assert "'x'" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [
    ["ask", "Who resigned?", "--bogus"],
    ["ask"],
    ["frobnicate"],
    [],
    ["index", "--k", "3"],
])
def test_bad_usage_exits_2(paths, capsys, argv):
    assert main(argv + paths if argv else argv) == 2
    one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", [["ask", "Who resigned?"], ["index"]])
def test_missing_corpus_exits_1(tmp_path, capsys, command):
    missing = tmp_path / "nope"
    assert main([*command, "--corpus", str(missing), "--index", str(tmp_path / "idx"), "--model", "hash"]) == 1
    assert str(missing) in one_error_line(capsys.readouterr().err)


def test_empty_corpus_exits_1(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["index", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "idx"),
                 "--model", "hash"]) == 1
    assert "no articles" in one_error_line(capsys.readouterr().err)


def test_unknown_model_exits_1(corpus, tmp_path, capsys):
    assert main(["ask", "Who?", "--corpus", str(corpus), "--index", str(tmp_path / "idx"), "--model", "gpt9"]) == 1
    assert "gpt9" in one_error_line(capsys.readouterr().err)


def test_help_exits_0(capsys):
    assert main(["ask", "--help"]) == 0
    assert "--json" in capsys.readouterr().out


def test_ask_rejects_a_bad_as_of(capsys):
    from qa.cli import main

    assert main(["ask", "Who won?", "--as-of", "yesterday-ish"]) == 2
    assert "as_of must be a date" in capsys.readouterr().err
