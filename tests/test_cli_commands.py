"""qa.cli's table of subcommands: lazy evaluation commands, help text with defaults, usage, --version, --k."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

import qa
from qa.cli import COMMANDS, build_parser, main

REPO = Path(__file__).resolve().parent.parent


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each subcommand's parser, by name."""
    action, = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_table_lists_every_subcommand_and_only_those():
    assert list(subparsers(build_parser())) == list(COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_command_loads_only_its_own_module(command):
    names = set(subparsers(build_parser(command)))
    assert command in names
    assert names == {name for name, module in COMMANDS.items() if module == COMMANDS[command]}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_argument_has_help_that_shows_its_default(command):
    parser = subparsers(build_parser(command))[command]
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        assert action.help, f"{command} {action.dest}: no help"
        shown = formatter._get_help_string(action)
        assert action.required or "default" in shown, f"{command} {action.dest}: default not shown: {shown}"


def test_ask_runs_without_importing_evaluation(corpus, tmp_path):
    code = ("import sys; from qa.cli import main; code = main(sys.argv[1:]); "
            "assert not [m for m in sys.modules if m.startswith('qa.evaluation')], 'qa.evaluation imported'; "
            "sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", code, "ask", "Who resigned?", "--corpus", str(corpus),
                          "--index", str(tmp_path / "idx"), "--model", "hash", "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert '"question": "Who resigned?"' in out.stdout


def test_no_command_points_at_the_help(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and err.endswith("(see python -m qa --help)")


def test_a_subcommand_error_points_at_its_help(capsys):
    assert main(["ask"]) == 2
    assert capsys.readouterr().err.strip().endswith("(see python -m qa ask --help)")


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"python -m qa {qa.__version__}"


@pytest.mark.parametrize("k", ["2.5", "-0.5", "1e-3"])
def test_ask_k_that_is_not_whole_is_named_not_cut(corpus, tmp_path, capsys, k):
    argv = ["ask", "Who resigned?", f"--k={k}", "--corpus", str(corpus), "--index", str(tmp_path / "idx"),
            "--model", "hash"]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == f"error: k must be a whole number, not {k!r}\n"
    assert not (tmp_path / "idx").exists()  # refused by the parser, before any work


@pytest.mark.parametrize("k, n", [("3", 3), ("2.0", 2)])
def test_ask_k_that_is_whole_is_taken(k, n):
    assert build_parser("ask").parse_args(["ask", "Who?", "--k", k]).k == n
