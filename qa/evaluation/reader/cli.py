"""The span reader tool's command line: train, eval and export subcommands."""
from __future__ import annotations

import argparse


from qa.evaluation.reader.common import BASE_MODEL, DEFAULT_RUN
from qa.evaluation.reader.export import cmd_eval, cmd_export
from qa.evaluation.reader.rescore import cmd_fit_rescore
from qa.evaluation.reader.train import cmd_train
from qa.read.base import BASES


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m qa.evaluation.reader",
                                 description="Train, evaluate and export the span reader (see qa.evaluation.reader).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train (resumes from the latest checkpoint in --run-dir)")
    t.add_argument("--run-dir", default=str(DEFAULT_RUN))
    t.add_argument("--base", default="", choices=["", *sorted(BASES)],
                   help="base encoder (qa.read.base): its package must be installed (default: the base of "
                        f"--init-artifact, else the run's when it resumes, else {BASE_MODEL})")
    t.add_argument("--max-len", type=int, default=192)
    t.add_argument("--stride", type=int, default=64, help="overlap in tokens between windows")
    t.add_argument("--max-q", type=int, default=64)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--epochs", type=float, default=2.0)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--warmup", type=float, default=0.06, help="fraction of steps")
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--lora-r", type=int, default=16)
    t.add_argument("--lora-alpha", type=int, default=32)
    t.add_argument("--lora-dropout", type=float, default=0.05)
    t.add_argument("--seed", type=int, default=13, help="seeds the holdout split, the head's init and the batch order")
    t.add_argument("--order-seed", type=int, default=None, help="batch order seed (default: --seed)")
    t.add_argument("--init-ckpt", default="", help="start from this checkpoint's weights (a fresh optimizer and schedule)")
    t.add_argument("--init-artifact", default="", help="start from an exported artifact's weights (e.g. qa/read/model)")
    t.add_argument("--news", choices=["", "even", "odd", "all"], default="",
                   help="add RealTimeQA dev questions at these positions (qa.evaluation.reader.news)")
    t.add_argument("--news-repeat", type=int, default=1, help="times each news passage is in an epoch")
    t.add_argument("--news-negatives", type=int, default=2, help="retrieved passages without the answer, a question")
    t.add_argument("--replay", type=float, default=1.0, help="share of the SQuAD-format questions kept")
    t.add_argument("--layers", type=int, default=0,
                   help="keep only the base's first N transformer layers (a faster student; 0: all)")
    t.add_argument("--teacher", default="", help="distil from this artifact's span logits (qa.evaluation.reader.distill)")
    t.add_argument("--kd-alpha", type=float, default=0.5, help="with --teacher: weight of the distillation loss")
    t.add_argument("--kd-temperature", type=float, default=2.0, help="with --teacher: softening temperature")
    t.add_argument("--ckpt-every", type=int, default=100)
    t.add_argument("--val-every", type=int, default=500, help="holdout validation (checkpoints kept) every N steps")
    t.add_argument("--val-limit", type=int, default=0, help="use only the first N holdout questions")
    t.add_argument("--log-every", type=int, default=10)
    t.add_argument("--max-steps", type=int, default=0, help="stop at this step (schedule unchanged)")
    t.add_argument("--bucket", type=int, default=50, help="sort windows by length within groups of N batches")
    t.add_argument("--threads", default="auto", help="torch threads: 1, 2 or auto (probe both, keep the faster)")
    e = sub.add_parser("eval", help="SQuAD v1.1 EM/F1 of a checkpoint or an artifact")
    e.add_argument("--file", required=True, help="SQuAD-format json (path, or a name under the datasets folder)")
    e.add_argument("--positions", default="", help="keep articles at i %% 4 in these, e.g. 2,3")
    e.add_argument("--limit", type=int, default=0, help="random sample (seeded) of N questions")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--ckpt", default="")
    e.add_argument("--run-dir", default=str(DEFAULT_RUN), help="latest checkpoint of this run if no --ckpt")
    e.add_argument("--artifact", default="", help="evaluate an exported artifact instead")
    e.add_argument("--onnx", choices=["", "fp32", "int8"], default="", help="with --artifact: run via ONNX")
    e.add_argument("--onnx-dir", default="", help="default: the reader cache's folder for this artifact")
    e.add_argument("--max-len", type=int, default=192)
    e.add_argument("--predictions", default="", help="write predictions json here")
    e.add_argument("--threads", type=int, default=2)
    x = sub.add_parser("export", help="write the shippable artifact (safetensors + json)")
    x.add_argument("--run-dir", default=str(DEFAULT_RUN))
    x.add_argument("--ckpt", default="", help="default: best holdout F1 checkpoint of --run-dir")
    x.add_argument("--latest", action="store_true", help="take the latest checkpoint, not the best")
    x.add_argument("--out", default=str(DEFAULT_RUN / "artifact"))
    x.add_argument("--onnx", action="store_true", help="also build fp32 + int8 ONNX")
    x.add_argument("--onnx-dir", default="", help="default: the reader cache's folder for this artifact")
    x.add_argument("--threads", type=int, default=2)
    r = sub.add_parser("fit-rescore", help="fit the answer-type re-scoring of the n-best spans (qa.read.rescore)")
    r.add_argument("--artifact", default="", help="artifact folder (default: the shipped qa/read/model)")
    r.add_argument("--out", default="", help="default: rescore.json in the artifact folder")
    r.add_argument("--l2", type=float, default=None,
                   help="the L2 penalty (default: chosen by 5-fold cross-validation on the fitting questions)")
    r.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    {"train": cmd_train, "eval": cmd_eval, "export": cmd_export, "fit-rescore": cmd_fit_rescore}[args.cmd](args)


if __name__ == "__main__":
    main()
