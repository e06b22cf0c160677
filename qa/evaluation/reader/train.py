"""Training the span reader (resumable from RUN_DIR/checkpoints): thread tuning and the loop."""
from __future__ import annotations

import collections
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from qa.evaluation.reader.common import BASE_MODEL, FIT_POSITIONS, SQUAD_DEV, TRAIN_FILES, base_model_path, log
from qa.evaluation.reader.data import collate, epoch_batches, featurize, fingerprint, training_data
from qa.evaluation.reader.model import checkpoints, load_trainable, new_training_model, save_checkpoint
from qa.read.neural import base_of, config
from qa.evaluation.reader.predict import predict_torch, score_predictions


class ThreadTuner:
    """Picks 1 or 2 torch threads: on a shared machine 2 threads can be much slower than 1 (others'
    processes preempt one of the two synchronised workers). In every `period` steps of this process,
    after `warm` steps with the preferred count, `probe` steps run with the other count; if that is
    faster per token by more than 10%, it becomes the preferred count."""

    def __init__(self, spec: str, period: int = 200, warm: int = 10, probe: int = 6):
        self.fixed = None if spec == "auto" else int(spec)
        self.pref = self.fixed or min(2, os.cpu_count() or 1)
        self.period, self.warm, self.probe = period, warm, probe
        self.k = 0  # steps run by this process
        self.times = {1: collections.deque(maxlen=30), 2: collections.deque(maxlen=30)}
        self.probe_times = []

    def threads(self) -> int:
        if self.fixed or (os.cpu_count() or 1) < 2:
            return self.pref
        return 3 - self.pref if self.warm <= self.k % self.period < self.warm + self.probe else self.pref

    def record(self, threads: int, seconds: float, tokens: int) -> str | None:
        phase = self.k % self.period
        self.k += 1
        if self.fixed:
            return None
        per = seconds / max(tokens, 1)
        (self.times[threads] if threads == self.pref else self.probe_times).append(per)
        if phase != self.warm + self.probe - 1:
            return None
        probe_times, self.probe_times = self.probe_times[1:], []  # the first probe step warms the pool
        if not probe_times or len(self.times[self.pref]) < 3:
            return None
        probe, cur = float(np.median(probe_times)), float(np.median(self.times[self.pref]))
        if probe < 0.9 * cur:
            old, self.pref = self.pref, 3 - self.pref
            self.times[self.pref].clear()
            self.times[self.pref].extend(probe_times)
            return f"threads {old} -> {self.pref} ({cur * 1e3:.2f} vs {probe * 1e3:.2f} ms/token)"
        return f"threads stay {self.pref} ({cur * 1e3:.2f} vs {probe * 1e3:.2f} ms/token with {3 - self.pref})"



def training_base(base: str, init_artifact: str, run: dict | None) -> str:
    """The base encoder a run trains on: `base` when given, else the one the --init-artifact sits on, else the
    one the run being resumed recorded (`run`, its run.json), else MiniLM-L6. An artifact's LoRA factors fit only
    its own base."""
    if init_artifact:
        own = base_of(config(Path(init_artifact)))
        if base and base != own:
            raise SystemExit(f"error: {init_artifact} sits on {own}, not on --base {base}")
        return own
    return base or (base_of(run) if run is not None else BASE_MODEL)


def cmd_train(args) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    tuner = ThreadTuner(args.threads)
    torch.set_num_threads(tuner.pref)
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    logf = run_dir / "train.log"
    settings = {k: getattr(args, k) for k in ("max_len", "stride", "max_q", "batch", "epochs", "lr",
                                              "warmup", "weight_decay", "lora_r", "lora_alpha",
                                              "lora_dropout", "seed", "ckpt_every", "val_every", "bucket",
                                              "order_seed", "init_ckpt", "init_artifact", "news", "news_repeat",
                                              "news_negatives", "replay", "layers", "teacher", "kd_alpha",
                                              "kd_temperature")}
    run_json = run_dir / "run.json"
    old = json.loads(run_json.read_text()) if run_json.is_file() else None
    args.base = training_base(args.base, args.init_artifact, old)
    if args.teacher and base_of(config(Path(args.teacher))) != args.base:  # before the data is prepared
        raise SystemExit(f"error: the teacher {args.teacher} reads with {base_of(config(Path(args.teacher)))}'s "
                         f"tokenizer, not {args.base}'s")
    if old is not None:
        added = {"order_seed": None, "init_ckpt": "", "init_artifact": "", "news": "", "news_repeat": 1,
                 "news_negatives": 2, "replay": 1.0, "layers": 0, "teacher": "", "kd_alpha": 0.5,
                 "kd_temperature": 2.0}  # settings newer than some runs: their defaults
        diff = {k: (old.get(k, added.get(k)), v) for k, v in settings.items() if old.get(k, added.get(k)) != v}
        if base_of(old) != args.base:
            diff["base_model"] = (base_of(old), args.base)
        if diff and checkpoints(run_dir):
            raise SystemExit(f"settings differ from the run in {run_dir}: {diff}")
    settings.update(base_model=args.base, base_path=str(base_model_path(args.base)),
                    command="python -m qa.evaluation.reader " + " ".join(sys.argv[1:]),
                    data={"train_files": [str(p) for p in TRAIN_FILES],
                          "squad_dev": str(SQUAD_DEV), "squad_dev_positions_mod4": list(FIT_POSITIONS),
                          "holdout": "whole paragraphs: ~400 questions SQuAD fit half + ~200 reddit/amazon"})

    tok = AutoTokenizer.from_pretrained(settings["base_path"])
    t0 = time.time()
    train_ex, hold_ex = training_data(seed=args.seed)
    if args.replay < 1.0:  # a seeded share of the SQuAD-format training questions (kept in their order)
        keep = np.random.default_rng(args.seed).random(len(train_ex)) < args.replay
        train_ex = [e for e, k in zip(train_ex, keep) if k]
    if args.news:
        from qa.evaluation.reader.news import examples as news_examples

        news = news_examples(run_dir, args.news, args.news_negatives)
        train_ex = train_ex + news * args.news_repeat
        settings["data"]["realtimeqa_dev"] = (f"questions at {args.news} positions: {len(news)} passages "
                                              f"(x{args.news_repeat}), {args.news_negatives} negatives a question")
    feats = featurize(tok, train_ex, args.max_len, args.stride, args.max_q, train=True)
    hold_ex = hold_ex[:args.val_limit] if args.val_limit else hold_ex
    hold_feats = featurize(tok, hold_ex, args.max_len, args.stride, args.max_q)
    fp = fingerprint(feats)
    n = len(feats["input_ids"])
    neg = sum(1 for s in feats["start"] if s == 0)
    steps_per_epoch = n // args.batch
    total = int(math.ceil(args.epochs * steps_per_epoch))
    settings.update(train_questions=len(train_ex), train_windows=n, negative_windows=neg,
                    holdout_questions=len(hold_ex), steps_per_epoch=steps_per_epoch, total_steps=total,
                    data_fingerprint=fp)
    if not run_json.is_file() or not checkpoints(run_dir):
        tmp = run_json.with_suffix(".tmp")
        tmp.write_text(json.dumps(settings, indent=2))
        os.replace(tmp, run_json)
    log(f"data: {len(train_ex)} questions -> {n} windows ({neg} labeled [CLS]); holdout {len(hold_ex)} "
        f"questions; {steps_per_epoch} steps/epoch, {total} steps; prep {time.time() - t0:.0f}s", logf)

    soft = None
    if args.teacher:  # distillation: the teacher's logits of every window, read once (cached in the run)
        from qa.evaluation.reader.distill import kd_loss, padded, teacher_logits

        soft = teacher_logits(run_dir, Path(args.teacher), feats, fp, tuner.pref)
    model = new_training_model(args.lora_r, args.lora_alpha, args.lora_dropout, args.seed, args.base, args.layers)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if ("LayerNorm" in name or name.endswith("bias")) else decay).append(p)
    n_train = sum(p.numel() for p in decay + no_decay)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    warm = max(1, int(args.warmup * total))

    def lr_at(step):  # step = number of optimizer steps done
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)

    step = 0
    ck = checkpoints(run_dir)
    if ck:
        s, path = ck[-1]
        state = torch.load(str(path / "state.pt"), weights_only=True)
        if state.get("data_fingerprint") != fp:
            raise SystemExit(f"data changed since {path}: {state.get('data_fingerprint')} != {fp}")
        load_trainable(model, load_file(str(path / "trainable.safetensors")))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        step = int(state["step"])
        log(f"resumed from {path} at step {step}", logf)
    elif args.init_artifact:
        from qa.evaluation.reader.model import from_artifact_tensors

        art = Path(args.init_artifact) / "reader.safetensors"
        load_trainable(model, from_artifact_tensors(model, load_file(str(art)), args.layers))
        log(f"fresh schedule from the artifact {art}: {n_train} trainable parameters, lr {args.lr}, "
            f"warmup {warm} steps", logf)
    elif args.init_ckpt:
        load_trainable(model, load_file(str(Path(args.init_ckpt) / "trainable.safetensors")))
        log(f"fresh schedule from the weights of {args.init_ckpt}: {n_train} trainable parameters, lr {args.lr}, "
            f"warmup {warm} steps", logf)
    else:
        log(f"fresh start: {n_train} trainable parameters, lr {args.lr}, warmup {warm} steps", logf)

    def validate(at):
        t = time.time()
        st, en = predict_torch(model, hold_feats)
        res = score_predictions(hold_ex, hold_feats, st, en)
        model.train()
        rec = {"step": at, "em": res["em"], "f1": res["f1"], "n": res["n"], "seconds": round(time.time() - t, 1)}
        with open(run_dir / "val.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        log(f"validation step {at}: EM {res['em']} F1 {res['f1']} (n={res['n']}, {rec['seconds']}s)", logf)

    done_val = set()
    if (run_dir / "val.jsonl").is_file():
        done_val = {json.loads(l)["step"] for l in (run_dir / "val.jsonl").read_text().splitlines() if l.strip()}
    if step and step % args.val_every == 0 and step not in done_val:
        validate(step)  # the previous process was killed between saving and validating

    model.train()
    stop = min(total, args.max_steps) if args.max_steps else total
    window_loss, window_t, window_n = 0.0, time.time(), 0
    lengths = np.array([len(x) for x in feats["input_ids"]])
    order_seed = args.seed if args.order_seed is None else args.order_seed
    order_epoch, order = -1, None
    while step < stop:
        epoch, b = divmod(step, steps_per_epoch)
        if epoch != order_epoch:
            order_epoch, order = epoch, epoch_batches(lengths, args.batch, order_seed, epoch, args.bucket)
        idx = order[b].tolist()
        threads = tuner.threads()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        t_step = time.time()
        bt = collate(feats, idx)
        mask = bt["attention_mask"].bool()
        s, e = model(bt["input_ids"], bt["attention_mask"], bt["token_type_ids"])
        s = s.masked_fill(~mask, -1e4)
        e = e.masked_fill(~mask, -1e4)
        loss = (torch.nn.functional.cross_entropy(s, bt["start"]) + torch.nn.functional.cross_entropy(e, bt["end"])) / 2
        if soft is not None:
            width = s.shape[1]
            kd = (kd_loss(s, padded(soft[0], idx, width), mask, args.kd_temperature) +
                  kd_loss(e, padded(soft[1], idx, width), mask, args.kd_temperature)) / 2
            loss = (1 - args.kd_alpha) * loss + args.kd_alpha * kd
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        window_loss += loss.item()
        window_n += 1
        note = tuner.record(threads, time.time() - t_step, int(bt["input_ids"].numel()))
        if note:
            log(note, logf)
        if step % args.log_every == 0 or step == stop:
            sps = (time.time() - window_t) / window_n
            eta = (total - step) * sps / 3600
            log(f"step {step}/{total} epoch {step / steps_per_epoch:.3f} loss {window_loss / window_n:.4f} "
                f"lr {scheduler.get_last_lr()[0]:.2e} s/step {sps:.2f} threads {tuner.pref} eta {eta:.2f}h", logf)
            window_loss, window_t, window_n = 0.0, time.time(), 0
        if step % args.ckpt_every == 0 or step == stop:
            p = save_checkpoint(run_dir, model, optimizer, scheduler, step, {"data_fingerprint": fp},
                                keep_every=args.val_every)
            log(f"checkpoint {p}", logf)
            if step % args.val_every == 0 or step == total:
                validate(step)
            window_t = time.time()
    if step >= total:
        log(f"finished: {total} steps", logf)
