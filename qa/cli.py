"""`python -m qa ...`: the table of subcommands, the runtime's own (index, ask), and main(). Only cli and app print."""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import textwrap
from pathlib import Path

from qa import __version__
from qa.config import FP32_MODEL, HASH_MODEL, INT8_MODEL, Settings, load_settings
from qa.ingest import CorpusError

# The one table of subcommands: each name and the module whose register(subparsers) adds its parser and
# handler. qa.evaluation.cli is imported only when one of its subcommands runs or the whole help is shown,
# so `python -m qa ask` never loads evaluation code.
COMMANDS = {
    "index": "qa.cli",
    "ask": "qa.cli",
    "eval": "qa.evaluation.cli",
    "bench-quality": "qa.evaluation.cli",
    "bench": "qa.evaluation.cli",
    "bench-load": "qa.evaluation.cli",
    "bench-answers": "qa.evaluation.cli",
    "bench-extraction": "qa.evaluation.cli",
    "bench-duplicates": "qa.evaluation.cli",
    "screenshots": "qa.evaluation.cli",
}
# Long runs whose progress lines (qa's INFO logs) the user wants; other commands show qa's warnings only,
# plus the index's own progress when a command has to build it first.
PROGRESS_COMMANDS = {"index", "bench", "bench-quality", "bench-load", "bench-answers", "screenshots"}


class BadValue(Exception):
    """A well-formed command line with an unusable value: exit status 1, as for any bad input.

    Not a ValueError, which argparse would turn into a usage error (status 2) with its own wording.
    """


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless its help already says it in words."""

    def _get_help_string(self, action):
        if "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line and exit status 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise SystemExit(_fail(f"{message} (see {self.prog} --help)", 2))


def _fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def whole_number(name: str):
    """An argparse type: the value as an int; BadValue naming it if it is not a whole number ("2.5", "x")."""

    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not value.is_integer():  # nan, inf and 2.5 alike
            raise BadValue(f"{name} must be a whole number, not {text!r}")
        return int(value)

    parse.__name__ = "whole number"
    return parse


def common_options(p: argparse.ArgumentParser) -> None:
    """--corpus, --index, --model and --verbose, which every subcommand over a corpus takes."""
    p.add_argument("--corpus", type=Path, help="folder of articles (default: $QA_CORPUS_DIR, else corpus/)")
    p.add_argument("--index", type=Path, help="index folder (default: $QA_INDEX_DIR, else .qa-index/)")
    p.add_argument("--model", help=f"encoder: {INT8_MODEL}, {FP32_MODEL} (fp32) or {HASH_MODEL} (tests) "
                                   f"(default: $QA_MODEL, else {INT8_MODEL})")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")


def settings_from(args) -> Settings:
    """Settings from the environment, with the command line's --corpus, --index and --model over them."""
    return load_settings(corpus_dir=args.corpus, index_dir=args.index, model=args.model)


def register(sub) -> None:
    """Add the runtime's subcommands, index and ask."""
    p = sub.add_parser("index", help="build or refresh the index")
    common_options(p)
    p.add_argument("--rebuild", action="store_true", help="rebuild from scratch")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="parse and embed on a Ray cluster at ADDRESS (no address: a local Ray with this "
                        "machine's CPUs; default: $QA_RAY, else in this process)")
    p.set_defaults(run=_cmd_index)
    p = sub.add_parser("ask", help="answer one question")
    common_options(p)
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--k", type=whole_number("k"), default=5, help="number of passages (clamped to 1-50)")
    p.add_argument("--json", action="store_true", help="print Answer.to_dict() as JSON")
    p.add_argument("--as-of", dest="as_of", type=as_of_date, default=None,
                   help="the day the question is asked, YYYY-MM-DD (default today): \"last week\" is relative to it "
                        "and later articles are not used")
    p.set_defaults(run=_cmd_ask)


def as_of_date(value: str):
    """argparse type for --as-of: an ISO day, with the bad value named."""
    import argparse

    from qa.dates import as_of_day

    try:
        return as_of_day(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _qa(args):
    from qa.pipeline import QA

    return QA(settings_from(args))


def _cmd_index(args) -> int:
    from qa.ingest import FolderSource
    from qa.ingest.formats import Tally
    from qa.pipeline import QA

    settings, tally = settings_from(args).with_overrides(ray_address=args.ray), Tally()
    index = QA(settings, source=FolderSource.from_settings(settings, tally)).index(progress=True, force=args.rebuild)
    m = index.manifest
    print(f"index ready: {m['passages']} passages from {m['articles']} articles "
          f"({len(m['files'])} files) in {index.path}")
    for line in tally.lines():  # per format: files, articles read, files skipped and why
        print(f"  {line}")
    if not tally.files:
        print("  (up to date: no file read)")
    return 0


def _format_answer(answer) -> str:
    lines = []
    if answer.abstained:
        lines.append("The articles don't answer this" + (f" ({answer.reason})." if answer.reason else ".")
                     + " Closest passages:")
    else:
        lines.append(f"Answer: {answer.answer}  (confidence {answer.confidence:.2f})")
    if answer.date_filter:
        lines.append(f"Limited to articles from {answer.date_filter}.")
    if answer.reason and not answer.abstained:
        lines.append(f"Note: {answer.reason}.")
    if answer.index_note:
        lines.append(f"Note: {answer.index_note}")
    for i, h in enumerate(answer.passages, 1):
        lines.append("")
        lines.append(f"[{i}] {h.title} | {h.date or 'undated'} | {h.url or h.source} | score {h.score:.3f}")
        lines.append(textwrap.fill(h.text, width=100, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


def _cmd_ask(args) -> int:
    qa = _qa(args)
    answer = qa.ask(args.question, k=args.k, as_of=args.as_of)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(_format_answer(answer))
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: with a known `command`, only its module's subcommands; otherwise all of them."""
    parser = Parser(prog="python -m qa", description="Ask questions of a folder of news articles.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, help="what to do")
    modules = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand; returns the exit status (0 ok, 1 bad input or failure, 2 bad usage)."""
    from qa.pipeline import QuestionError

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        # The top level has no option that takes a value: the first word, if not an option, is the command.
        args = build_parser(argv[0] if argv else None).parse_args(argv)
    except BadValue as exc:
        return _fail(str(exc))
    except SystemExit as exc:
        return int(exc.code or 0)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    progress = args.command in PROGRESS_COMMANDS
    logging.getLogger("qa").setLevel(logging.DEBUG if verbose else logging.INFO if progress else logging.WARNING)
    if not verbose and not progress:  # building an index or the int8 encoder takes minutes: say so
        for name in ("qa.index", "qa.embed.onnx"):
            logging.getLogger(name).setLevel(logging.INFO)
    try:
        return args.run(args)
    except (QuestionError, CorpusError, ValueError, OSError) as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
