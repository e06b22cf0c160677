"""`python -m qa ...`: index, ask, eval and benchmarks. Only this module and app.py print."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from pathlib import Path

from qa.config import load_settings
from qa.ingest import CorpusError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line and exit status 2."""

    def error(self, message):
        raise SystemExit(_fail(f"{message} (see python -m qa {self.prog.split()[-1]} --help)", 2))


def _fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, help="folder of articles (default: corpus/ or $QA_CORPUS_DIR)")
    p.add_argument("--index", type=Path, help="index folder (default: .qa-index/ or $QA_INDEX_DIR)")
    p.add_argument("--model", help="encoder: all-MiniLM-L6-v2-int8 (default), all-MiniLM-L6-v2 (fp32) "
                                   "or hash (tests)")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(prog="python -m qa", description="Ask questions of a folder of news articles.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("index", help="build or refresh the index")
    _common(p)
    p.add_argument("--rebuild", action="store_true", help="rebuild from scratch")
    p = sub.add_parser("ask", help="answer one question")
    _common(p)
    p.add_argument("question")
    p.add_argument("--k", default=5, help="number of passages (1-50)")
    p.add_argument("--json", action="store_true", help="print Answer.to_dict() as JSON")
    p = sub.add_parser("eval", help="score question sets (JSONL or CSV)")
    _common(p)
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--k", type=int, default=10, help="cut-off for the retrieval metrics")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25", "all"])
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--report", type=Path, help="write a Markdown report (and a PNG plot beside it)")
    p = sub.add_parser("bench-quality", help="retrieval quality on a public benchmark")
    _common(p)
    p.add_argument("name", choices=["squad", "squadshifts", "nfcorpus"])
    p.add_argument("--datasets", type=Path, help="datasets folder (default ../shared/datasets)")
    p.add_argument("--limit", type=int, help="score a reproducible sample of this many questions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.add_argument("--report", type=Path)
    p = sub.add_parser("bench", help="speed and scale figures, each next to its baseline")
    _common(p)
    p.add_argument("--quick", action="store_true", help="reduced sizes (100k vectors, not 1M): a few minutes")
    p.add_argument("--json", action="store_true", help="print every figure as JSON")
    p.add_argument("--datasets", type=Path, help="datasets folder (default ../shared/datasets)")
    p.add_argument("--only", nargs="+", choices=["encode", "ask", "corpus", "vectors", "cold"],
                   help="run only these sections")
    p.add_argument("--work", type=Path, help="keep the benchmark's corpora and indexes in this folder")
    p = sub.add_parser("bench-load", help="latency and correctness of the chat server under concurrent clients")
    p.add_argument("--requests", type=int, default=500, help="questions to send in all (default 500)")
    p.add_argument("--concurrency", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("--articles", type=int, default=50, help="generated articles, one question each")
    p.add_argument("--k", type=int, default=3, help="passages per reply")
    p.add_argument("--model", help="encoder (default: all-MiniLM-L6-v2 or $QA_MODEL)")
    p.add_argument("--timeout", type=float, default=600, help="stop after this many seconds (default 600)")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    from qa.evaluation.answers_cli import add_parser as add_answer_parser

    add_answer_parser(sub, _common)
    return parser


def _settings(args):
    return load_settings().with_overrides(corpus_dir=args.corpus, index_dir=args.index, model=args.model)


def _qa(args):
    from qa.pipeline import QA

    return QA(_settings(args))


def _cmd_index(args) -> int:
    qa = _qa(args)
    index = qa.index(progress=True, force=args.rebuild)
    m = index.manifest
    print(f"index ready: {m['passages']} passages from {m['articles']} articles "
          f"({len(m['files'])} files) in {index.path}")
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
    for i, h in enumerate(answer.passages, 1):
        lines.append("")
        lines.append(f"[{i}] {h.title} | {h.date or 'undated'} | {h.source} | score {h.score:.3f}")
        lines.append(textwrap.fill(h.text, width=100, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


def _cmd_ask(args) -> int:
    qa = _qa(args)
    answer = qa.ask(args.question, k=args.k)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(_format_answer(answer))
    return 0


def _emit(args, title: str, rows: dict, categories: dict, missed: list, extra: dict | None = None) -> None:
    from qa.evaluation.report import table, write_report

    if args.json:
        print(json.dumps({**(extra or {}), "results": rows, "by_category": categories}, indent=2))
    else:
        print(table(rows))
        if categories:
            print()
            print(table(categories))
    if args.report:
        write_report(args.report, title, rows, categories, missed, "python -m qa " + " ".join(sys.argv[1:]))
        print(f"report written to {args.report}", file=sys.stderr)


def _cmd_eval(args) -> int:
    from qa.evaluation.datasets import load_questions
    from qa.evaluation.questions import by_category, misses, run, summarize

    qa = _qa(args)
    modes = ["hybrid", "dense", "bm25"] if args.mode == "all" else [args.mode]
    rows, categories, missed = {}, {}, []
    for path in args.files:
        cases = load_questions(path)
        for mode in modes:
            results = run(qa, cases, k=args.k, mode=mode, progress=not args.json, label=f"{path.name} {mode}")
            name = path.name if len(modes) == 1 else f"{path.name} [{mode}]"
            rows[name] = summarize(results)
            if mode == modes[0]:
                categories.update({f"{path.name}: {c}" if len(args.files) > 1 else c: v
                                   for c, v in by_category(results).items()})
                missed += misses(results)
    _emit(args, "Evaluation", rows, categories, missed)
    return 0


def _cmd_bench_quality(args) -> int:
    from qa.evaluation.quality import bench_quality

    settings = _settings(args).with_overrides(datasets_dir=args.datasets)
    rows, missed, extra = bench_quality(args.name, settings, explicit_index=args.index, limit=args.limit,
                                        seed=args.seed, k=args.k, progress=not args.json)
    _emit(args, f"Benchmark: {args.name}", rows, {}, missed, extra)
    return 0


def _cmd_bench_load(args) -> int:
    from qa.evaluation.load import bench_load

    result = bench_load(requests=args.requests, concurrency=args.concurrency, articles=args.articles, k=args.k,
                        model=args.model, timeout=args.timeout)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['requests']} requests from {result['concurrency']} concurrent clients "
              f"({result['model']}, {result['articles']} articles, k={result['k']}): "
              f"{result['failures']} failed, {result['wrong_replies']} wrong; p50 {result['p50_ms']} ms, "
              f"p95 {result['p95_ms']} ms, max {result['max_ms']} ms; {result['throughput_rps']} req/s")
        for line in result["errors"] + result["wrong"]:
            print(f"  {line}")
    return 0 if result["failures"] == result["wrong_replies"] == 0 else 1


COMMANDS = {"index": _cmd_index, "ask": _cmd_ask, "eval": _cmd_eval, "bench-quality": _cmd_bench_quality,
            "bench-load": _cmd_bench_load}


def _cmd_bench(args) -> int:
    from qa.evaluation.speed import run_bench, summary_rows

    if not args.verbose:
        logging.getLogger("qa").setLevel(logging.WARNING)
    settings = _settings(args).with_overrides(datasets_dir=args.datasets)
    result = run_bench(settings, quick=args.quick, say=lambda m: print(m, file=sys.stderr, flush=True),
                       work=args.work, only=set(args.only or ()) or None)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        rows = [("figure", "ours", "baseline", "goal"), *summary_rows(result)]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        print(result["note"])
    return 1 if result.get("errors") else 0


COMMANDS["bench"] = _cmd_bench


def _cmd_bench_answers(args) -> int:
    from qa.evaluation.answers_cli import run

    return run(args, _settings(args))


COMMANDS["bench-answers"] = _cmd_bench_answers


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand; returns the exit status (0 ok, 1 bad input or failure, 2 bad usage)."""
    from qa.pipeline import QuestionError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("qa").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return COMMANDS[args.command](args)
    except (QuestionError, CorpusError, ValueError, OSError) as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
