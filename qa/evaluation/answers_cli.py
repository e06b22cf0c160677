"""`python -m qa bench-answers ...`: answer benchmarks and the fitting of the reader and confidence models."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from qa.config import REPO_ROOT

TASKS = ("squad-reader", "squad-open", "squad-abstain", "followups", "fit-reader", "fit-calibration")


def add_parser(sub, common) -> None:
    """Register the bench-answers subcommand on cli's subparsers."""
    p = sub.add_parser("bench-answers", help="answer EM/F1, abstention and follow-ups; fit the reader models")
    common(p)
    p.add_argument("task", choices=TASKS)
    p.add_argument("--split", default="test", choices=["test", "fit", "all"],
                   help="SQuAD articles scored: test (positions 2,3 mod 4; default), fit (0,1), all")
    p.add_argument("--limit", type=int, help="a reproducible sample of this many questions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--datasets", type=Path, help="datasets folder (default ../shared/datasets)")
    p.add_argument("--questions", type=Path, default=REPO_ROOT / "eval" / "seed.jsonl",
                   help="question set for followups")
    p.add_argument("--plot", type=Path, help="squad-abstain: write the threshold curve PNG here")
    p.add_argument("--answer-from", choices=["confident", "top"], default="confident",
                   help="answer with the most confident read passage's span (default, as ask() does) or the "
                        "top passage's")
    p.add_argument("--json", action="store_true")


def run(args, settings) -> int:
    """Run one bench-answers task and print its figures (JSON with --json)."""
    from qa.evaluation import answers as ev

    settings = settings.with_overrides(datasets_dir=args.datasets,
                                       choose_by_confidence=args.answer_from == "confident")
    progress = not args.json
    command = "python -m qa " + " ".join(sys.argv[1:])
    if args.task == "squad-reader":
        out = ev.squad_reader(settings, args.split, args.limit, args.seed, progress)
    elif args.task == "squad-open":
        out = ev.squad_open(settings, args.split, args.limit, args.seed, progress=progress)
    elif args.task == "squad-abstain":
        out = ev.squad_abstain(settings, args.split, args.limit, args.seed, progress, args.plot)
        if not args.json:
            out = {k: v for k, v in out.items() if k != "curve"}
    elif args.task == "followups":
        out = ev.followups(settings, args.questions)
    else:
        from qa.evaluation import fit as answer_fit

        fit = answer_fit.fit_reader if args.task == "fit-reader" else answer_fit.fit_calibration
        out = fit(settings, args.limit, progress, command)
    out = {"command": command, **out}
    print(json.dumps(out, indent=2, default=float))
    return 0
