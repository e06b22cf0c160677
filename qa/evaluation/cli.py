"""Evaluation's subcommands for `python -m qa`: eval, bench-quality, bench, bench-load, bench-answers,
bench-extraction, bench-duplicates and screenshots."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from qa.cli import common_options, settings_from
from qa.config import INT8_MODEL, REPO_ROOT

ANSWER_TASKS = ("squad-reader", "shifts-reader", "squad-open", "squad-abstain", "followups", "fit-reader", "fit-calibration")
DATASETS_HELP = "datasets folder (default: $QA_DATASETS_DIR, else ../shared/datasets)"


def _metric_options(p, k: int) -> None:
    """--k, --json and --report of the commands that print retrieval metrics (see _emit)."""
    p.add_argument("--k", type=int, default=k, help="cut-off for the retrieval metrics")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--report", type=Path, help="write a Markdown report (and a PNG plot beside it) "
                                               "(default: no report)")


def _sample_options(p) -> None:
    """--limit and --seed: a reproducible sample of a benchmark's questions."""
    p.add_argument("--limit", type=int, help="score a reproducible sample of this many questions "
                                             "(default: all of them)")
    p.add_argument("--seed", type=int, default=0, help="seed of the --limit sample")


def register(sub) -> None:
    """Add evaluation's subcommands to cli's subparsers."""
    p = sub.add_parser("eval", help="score question sets (JSONL or CSV)")
    common_options(p)
    p.add_argument("files", nargs="+", type=Path, help="question sets, JSONL or CSV (see DESIGN.md)")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25", "all"],
                   help="retrieval mode; all: each of the three")
    _metric_options(p, k=10)
    p.set_defaults(run=_cmd_eval)

    p = sub.add_parser("bench-quality", help="retrieval quality on a public benchmark")
    common_options(p)
    p.add_argument("name", choices=["squad", "squadshifts", "nfcorpus", "realtimeqa"], help="the benchmark")
    p.add_argument("--datasets", type=Path, help=DATASETS_HELP)
    _sample_options(p)
    _metric_options(p, k=20)
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25"],
                   help="realtimeqa: our retrieval mode (default hybrid)")
    p.add_argument("--no-read", dest="read", action="store_false",
                   help="realtimeqa: retrieval only (no answers, EM/F1 or abstention)")
    p.add_argument("--news-readers", default="auto",
                   help="realtimeqa: who answers each dev question. auto: the fold readers kept in eval/readers/ "
                        "when they stand for the reader in use (each question answered by the one not trained on "
                        "it: the honest figure for a reader trained on RealTimeQA dev), else the reader in use; "
                        "none: the reader in use (in sample); EVEN_DIR,ODD_DIR: two reader artifacts fine-tuned "
                        "without the even and without the odd dev questions")
    p.set_defaults(run=_cmd_bench_quality)

    p = sub.add_parser("bench", help="speed and scale figures, each next to its baseline")
    common_options(p)
    p.add_argument("--quick", action="store_true", help="reduced sizes (100k vectors, not 1M): a few minutes")
    p.add_argument("--json", action="store_true", help="print every figure as JSON")
    p.add_argument("--datasets", type=Path, help=DATASETS_HELP)
    p.add_argument("--only", nargs="+", choices=["encode", "ask", "corpus", "vectors", "cold", "ray", "scale"],
                   help="run only these sections (default: every section but ray and scale, the heavy ones)")
    p.add_argument("--work", type=Path, help="keep the benchmark's corpora and indexes in this folder "
                                             "(default: a temporary folder, removed afterwards)")
    p.set_defaults(run=_cmd_bench)

    p = sub.add_parser("bench-load", help="latency and correctness of the chat server under concurrent clients")
    p.add_argument("--requests", type=int, default=500, help="questions to send in all")
    p.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    p.add_argument("--articles", type=int, default=50, help="generated articles, one question each")
    p.add_argument("--k", type=int, default=3, help="passages per reply")
    p.add_argument("--model", help=f"encoder (default: $QA_MODEL, else {INT8_MODEL})")
    p.add_argument("--timeout", type=float, default=600, help="stop after this many seconds")
    p.add_argument("--churn", type=float, metavar="SECONDS",
                   help="edit, add or delete an article every SECONDS while the second half of the requests "
                        "is asked; report p95 latency of each half and compare every reply with a clean rebuild's "
                        "(default: no churn)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    p.set_defaults(run=_cmd_bench_load)

    p = sub.add_parser("bench-answers", help="answer EM/F1, abstention and follow-ups; fit the reader models")
    common_options(p)
    p.add_argument("task", choices=ANSWER_TASKS, help="what to score, or which model to fit")
    p.add_argument("--split", default=None, choices=["test", "fit", "all", "holdout"],
                   help="SQuAD articles scored: test (positions 2,3 mod 4; the default), fit (0,1), all, or holdout "
                        "(the fitting split's paragraphs the neural reader never trained on; fit-calibration's default "
                        "for the neural reader, fit otherwise)")
    _sample_options(p)
    p.add_argument("--datasets", type=Path, help=DATASETS_HELP)
    p.add_argument("--questions", type=Path, default=REPO_ROOT / "eval" / "seed.jsonl",
                   help="question set for followups (default: eval/seed.jsonl)")
    p.add_argument("--plot", type=Path, help="squad-abstain: write the threshold curve PNG here (default: none)")
    p.add_argument("--news", action="store_true",
                   help="fit-calibration: fit only the news model, on the RealTimeQA dev questions (date given), "
                        "and add it to the shipped calibration: it rates answers from dated passages (the base "
                        "model and its threshold stay; refit the news model after any base refit)")
    p.add_argument("--news-readers", default="auto",
                   help="fit-calibration --news: auto (the fold readers kept in eval/readers/ when they stand for "
                        "the reader in use, else the reader in use), none, or EVEN_DIR,ODD_DIR: reader artifacts "
                        "trained without the even and the odd dev questions (`python -m qa.evaluation.reader train "
                        "--news odd|even`): each question is read by the one not trained on it (needed when the "
                        "shipped reader trained on RealTimeQA dev)")
    p.add_argument("--answer-from", choices=["confident", "top"], default="confident",
                   help="answer with the most confident read passage's span (as ask() does) or the top "
                        "passage's")
    p.add_argument("--json", action="store_true", help="no progress bars, and keep squad-abstain's threshold curve "
                                                       "(the figures are JSON either way)")
    p.set_defaults(run=_cmd_bench_answers)

    p = sub.add_parser("bench-extraction",
                       help="body extraction of saved web pages on the article-extraction benchmark")
    from qa.evaluation import extraction
    extraction.options(p)
    p.set_defaults(run=extraction.run)

    p = sub.add_parser("bench-duplicates", help="near-duplicate story groups in a JSONL corpus (default: RealTimeQA)")
    from qa.evaluation import duplicates
    duplicates.options(p)
    p.set_defaults(run=duplicates.run)

    p = sub.add_parser("screenshots", help="save the chat page's states at desktop and phone sizes "
                                           "(Playwright + /usr/bin/chromium)")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "docs", help="folder for the PNGs (default: docs/)")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="encoder the served chat uses")
    p.set_defaults(run=_cmd_screenshots)


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
    from qa.pipeline import QA

    qa = QA(settings_from(args))
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


def _readers(spec: str):
    """--news-readers as two paths (qa.evaluation.folds.resolve); None without fold readers (the reason printed to
    stderr); False (error printed) when malformed."""
    from qa.evaluation.folds import resolve

    try:
        folds = resolve(spec)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    if folds.readers is None:
        print(f"note: {folds.note}: the reader in use answers every RealTimeQA question (in sample if it trained "
              "on them)", file=sys.stderr)
        return None
    return list(folds.readers)


def _cmd_bench_quality(args) -> int:
    from qa.evaluation.quality import bench_quality

    if args.name == "realtimeqa":
        from qa.evaluation.realtimeqa import bench_realtimeqa

        readers = _readers(args.news_readers) if args.read else None  # retrieval only: no one answers
        if readers is False:
            return 2
        rows, extra = bench_realtimeqa(settings_from(args), explicit_index=args.index, limit=args.limit,
                                       mode=args.mode, read=args.read, progress=not args.json,
                                       datasets=args.datasets, readers=readers)
        _emit(args, "Benchmark: realtimeqa", rows, {}, [], extra)
        return 0

    rows, missed, extra = bench_quality(args.name, settings_from(args), explicit_index=args.index,
                                        limit=args.limit, seed=args.seed, k=args.k, progress=not args.json,
                                        datasets=args.datasets)
    _emit(args, f"Benchmark: {args.name}", rows, {}, missed, extra)
    return 0


def _cmd_bench(args) -> int:
    from qa.evaluation.speed import run_bench, summary_rows

    if not args.verbose:
        logging.getLogger("qa").setLevel(logging.WARNING)
    result = run_bench(settings_from(args), quick=args.quick, say=lambda m: print(m, file=sys.stderr, flush=True),
                       work=args.work, only=set(args.only or ()) or None, datasets=args.datasets)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        rows = [("figure", "ours", "baseline", "goal"), *summary_rows(result)]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        print(result["note"])
    return 1 if result.get("errors") else 0


def _cmd_screenshots(args) -> int:
    from qa.evaluation.screenshots import take

    for path in take(args.out, model=args.model):
        print(path)
    return 0


def _cmd_bench_load(args) -> int:
    from qa.evaluation.load import bench_load

    result = bench_load(requests=args.requests, concurrency=args.concurrency, articles=args.articles, k=args.k,
                        model=args.model, timeout=args.timeout, churn_s=args.churn)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['requests']} requests from {result['concurrency']} concurrent clients "
              f"({result['model']}, {result['articles']} articles, k={result['k']}): "
              f"{result['failures']} failed, {result['wrong_replies']} wrong; p50 {result['p50_ms']} ms, "
              f"p95 {result['p95_ms']} ms, max {result['max_ms']} ms; {result['throughput_rps']} req/s")
        if args.churn is not None:
            print(f"churn every {args.churn}s (the second half of the requests): {result['changes']}, "
                  f"{result['refreshes']} refreshes; p95 {result['p95_ms_changing_corpus']} ms while the corpus "
                  f"changed, {result['p95_ms_still_corpus']} ms before; settled in {result['settled_s']}s, "
                  f"then {result['replies_unlike_a_clean_rebuild']} replies and "
                  f"{result['answers_unlike_a_clean_rebuild']} answers unlike a clean rebuild's")
        for line in result["errors"] + result["wrong"] + result.get("unlike", []):
            print(f"  {line}")
    unlike = result.get("replies_unlike_a_clean_rebuild", 0) + result.get("answers_unlike_a_clean_rebuild", 0)
    return 0 if result["failures"] == result["wrong_replies"] == unlike == 0 else 1


def _cmd_bench_answers(args) -> int:
    """Run one bench-answers task and print its figures as JSON."""
    from qa.evaluation import answers as ev

    settings = settings_from(args).with_overrides(choose_by_confidence=args.answer_from == "confident")
    progress, datasets = not args.json, args.datasets
    command = "python -m qa " + " ".join(sys.argv[1:])
    if args.task == "squad-reader":
        out = ev.squad_reader(settings, args.split or "test", args.limit, args.seed, progress, datasets=datasets)
    elif args.task == "shifts-reader":  # SQuADShifts new_wiki: never trained or tuned on
        out = ev.squad_reader(settings, "all", args.limit, args.seed, progress, datasets, "squadshifts")
    elif args.task == "squad-open":
        out = ev.squad_open(settings, args.split or "test", args.limit, args.seed, progress=progress, datasets=datasets)
    elif args.task == "squad-abstain":
        out = ev.squad_abstain(settings, args.split or "test", args.limit, args.seed, progress, args.plot, datasets)
        if not args.json:
            out = {k: v for k, v in out.items() if k != "curve"}
    elif args.task == "followups":
        out = ev.followups(settings, args.questions)
    else:
        from qa.evaluation import fit as answer_fit

        if args.split in ("test", "all"):
            print(f"error: {args.task} fits on SQuAD dev's fitting split only (--split fit or holdout)", file=sys.stderr)
            return 2
        if args.task == "fit-reader":
            out = answer_fit.fit_reader(settings, args.limit, progress, command, datasets)
        else:
            from qa.read import reader_name

            part = args.split or ("holdout" if reader_name() != "features" else "fit")
            readers = _readers(args.news_readers) if args.news else None
            if readers is False:
                return 2
            out = answer_fit.fit_calibration(settings, args.limit, progress, command, datasets, part, args.news,
                                             readers)
    out = {"command": command, **out}
    print(json.dumps(out, indent=2, default=float))
    return 0
