"""Evaluating checkpoints or artifacts of the span reader, and exporting the shipped artifact and ONNX."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from qa.evaluation.reader.common import (ARTIFACT_CONFIG, ARTIFACT_WEIGHTS, DATASETS, INPUTS, LORA_TARGET,
                                         base_model_path)
from qa.evaluation.reader.data import featurize, load_squad
from qa.evaluation.reader.model import build_reader, checkpoints, load_checkpoint_model, to_artifact_tensors
from qa.read.neural import artifact_sha256, base_of
from qa.evaluation.reader.predict import predict_onnx, predict_torch, score_predictions


def pick_checkpoint(run_dir: Path, best: bool) -> Path:
    ck = checkpoints(run_dir)
    if not ck:
        raise SystemExit(f"no checkpoint in {run_dir}")
    if best and (run_dir / "val.jsonl").is_file():
        recs = [json.loads(l) for l in (run_dir / "val.jsonl").read_text().splitlines() if l.strip()]
        have = {s: p for s, p in ck}
        recs = [r for r in recs if r["step"] in have]
        if recs:
            return have[max(recs, key=lambda r: (r["f1"], r["step"]))["step"]]
    return ck[-1][1]


def cmd_eval(args) -> None:
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    positions = tuple(int(x) for x in args.positions.split(",")) if args.positions else None
    path = Path(args.file)
    if not path.is_file():
        path = next((p for p in DATASETS.rglob(args.file)), path)
    examples = load_squad(path, positions)
    if args.limit and args.limit < len(examples):
        pick = np.sort(np.random.default_rng(args.seed).choice(len(examples), args.limit, replace=False))
        examples = [examples[i] for i in pick]
    ckpt = None if args.artifact else Path(args.ckpt) if args.ckpt else pick_checkpoint(Path(args.run_dir), best=False)
    cfg = json.loads((Path(args.artifact) / ARTIFACT_CONFIG).read_text() if args.artifact else
                     (ckpt.parent.parent / "run.json").read_text())
    tok = AutoTokenizer.from_pretrained(str(base_model_path(base_of(cfg))))
    max_len = args.max_len
    t0 = time.time()
    if args.artifact:
        max_len = cfg["max_len"]
        feats = featurize(tok, examples, max_len, cfg["stride"], cfg["max_q"])
        if args.onnx:
            fp32, int8 = export_onnx(Path(args.artifact), onnx_dir(args.onnx_dir, Path(args.artifact)))
            st, en = predict_onnx(int8 if args.onnx == "int8" else fp32, feats, args.threads)
            what = f"{args.artifact} onnx {args.onnx}"
        else:
            st, en = predict_torch(build_reader(Path(args.artifact)), feats)
            what = f"{args.artifact} torch (merged)"
    else:
        model, st_cfg = load_checkpoint_model(ckpt)
        feats = featurize(tok, examples, st_cfg["max_len"], st_cfg["stride"], st_cfg["max_q"])
        st, en = predict_torch(model, feats)
        what = str(ckpt)
    res = score_predictions(examples, feats, st, en)
    out = {"model": what, "file": str(path), "positions": args.positions, "limit": args.limit,
           "n": res["n"], "windows": len(feats["input_ids"]), "em": res["em"], "f1": res["f1"],
           "seconds": round(time.time() - t0, 1)}
    print(json.dumps(out))
    if args.predictions:
        Path(args.predictions).write_text(json.dumps(res["predictions"], indent=1))


def export_artifact(ckpt: Path, out: Path) -> Path:
    from safetensors.torch import save_file

    model, st = load_checkpoint_model(ckpt)
    tensors = to_artifact_tensors(model, st["lora_alpha"], st["lora_r"])
    out.mkdir(parents=True, exist_ok=True)
    val = {}
    vj = ckpt.parent.parent / "val.jsonl"
    if vj.is_file():
        for l in vj.read_text().splitlines():
            if l.strip() and json.loads(l)["step"] == int(ckpt.name.split("-")[1]):
                val = json.loads(l)
    from qa.read.base import spec

    base = base_of(st)
    cfg = {"format": "qa-span-reader/v1", "base_model": base, "base_package": spec(base).package,
           "max_len": st["max_len"], "stride": st["stride"], "max_q": st["max_q"], "max_answer_tokens": 30,
           "inputs": list(INPUTS), "outputs": ["start_logits", "end_logits"],
           "no_answer": "[CLS] (token 0) logits score 'answer not in this passage'",
           "lora": {"r": st["lora_r"], "alpha": st["lora_alpha"], "merged": False,
                    "targets": LORA_TARGET, "weights": "W += (alpha/r) * lora_B @ lora_A"},
           "trained_layernorms": True, "head": "qa_outputs: Linear(384, 2) -> start, end",
           **({"layers": st["layers"]} if st.get("layers") else {}),
           "training": {"command": st["command"], "data": st["data"], "steps": int(ckpt.name.split("-")[1]),
                        "total_steps": st["total_steps"], "train_questions": st["train_questions"],
                        "train_windows": st["train_windows"], "batch": st["batch"], "lr": st["lr"],
                        "epochs": st["epochs"], "holdout_validation": val, "checkpoint": str(ckpt)}}
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-artifact-", dir=out))
    try:
        save_file(tensors, str(tmp / ARTIFACT_WEIGHTS), metadata={"format": "qa-span-reader/v1"})
        (tmp / ARTIFACT_CONFIG).write_text(json.dumps(cfg, indent=2))
        for name in (ARTIFACT_WEIGHTS, ARTIFACT_CONFIG):
            os.chmod(tmp / name, 0o644)
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def onnx_dir(given: str, artifact_dir: Path) -> Path:
    """Where `--onnx` writes the artifact's ONNX: `given`, else the folder the runtime caches this artifact's int8
    reader in (qa.read.neural.cached_path), keyed by its bytes. Not beside the artifact: that put 150 MB inside the
    source tree, one folder shared by every artifact there."""
    from qa.read.neural import cached_path

    return Path(given) if given else cached_path(artifact_dir).parent


def export_onnx(artifact_dir: Path, out_dir: Path, force: bool = False) -> tuple[Path, Path]:
    """The artifact's fp32 and int8 ONNX in `out_dir` (qa.read.neural.export_onnx), rebuilt when it changed."""
    from qa.read.neural import export_onnx as export_reader_onnx

    out_dir.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out_dir / "reader.onnx", out_dir / "reader-int8.onnx"
    stamp = artifact_sha256(Path(artifact_dir))[:16]
    stamp_file = out_dir / "artifact.sha256"
    if not force and fp32.is_file() and int8.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return fp32, int8
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-onnx-", dir=out_dir))
    try:
        made = export_reader_onnx(build_reader(Path(artifact_dir)), tmp)
        for path, dest in zip(made, (fp32, int8)):
            os.replace(path, dest)
        stamp_file.write_text(stamp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return fp32, int8


def cmd_export(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    ckpt = Path(args.ckpt) if args.ckpt else pick_checkpoint(Path(args.run_dir), best=not args.latest)
    out = export_artifact(ckpt, Path(args.out))
    sizes = {p.name: p.stat().st_size for p in out.iterdir() if p.is_file()}
    print(json.dumps({"checkpoint": str(ckpt), "artifact": str(out), "bytes": sizes}))
    if args.onnx:
        fp32, int8 = export_onnx(out, onnx_dir(args.onnx_dir, out), force=True)
        print(json.dumps({"onnx_fp32": str(fp32), "fp32_bytes": fp32.stat().st_size,
                          "onnx_int8": str(int8), "int8_bytes": int8.stat().st_size}))
