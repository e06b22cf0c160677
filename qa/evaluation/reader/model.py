"""The span reader as a torch module: LoRA training model, artifact tensors, and checkpoints."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path


from qa.evaluation.reader.common import BASE_MODEL, LORA_TARGET, base_model_path
from qa.read.neural import base_of  # a run's settings name its base as an artifact's reader.json does


def make_reader_class():
    """The runtime's span reader class (qa.read.neural), trained here."""
    from qa.read.neural import span_reader_class

    return span_reader_class()


def new_training_model(r: int = 16, alpha: int = 32, dropout: float = 0.05, seed: int = 13, base: str = BASE_MODEL,
                       layers: int = 0):
    """Base encoder `base` (qa.read.base) with LoRA (peft) + trainable LayerNorms + a fresh span head; with
    `layers`, only the base's first `layers` transformer layers (a faster student of a deeper reader)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    from qa.read.neural import keep_layers

    torch.manual_seed(seed)
    enc = keep_layers(AutoModel.from_pretrained(str(base_model_path(base))), layers)
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


def from_artifact_tensors(model, tensors: dict, layers: int = 0) -> dict:
    """The inverse of to_artifact_tensors: the training model's trainable state from an artifact's tensors.
    With `layers`, the tensors of the artifact's deeper layers are left out (a student keeps the first ones)."""
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    out = {}
    for name, t in tensors.items():
        deep = re.search(r"encoder\.layer\.(\d+)\.", name)
        if layers and deep and int(deep.group(1)) >= layers:
            continue
        m = re.match(r"(.*)\.lora_([AB])$", name)
        key = (name if name.startswith("qa_outputs.") else
               f"encoder.base_model.model.{m.group(1)}.lora_{m.group(2)}.default.weight" if m else
               f"encoder.base_model.model.{name}")
        if key not in names:
            raise ValueError(f"artifact tensor {name} has no place in the training model ({key})")
        out[key] = t
    return out


def build_reader(artifact_dir: Path, base_path: Path | None = None, attn_implementation: str = "eager"):
    """The full fp32 reader (torch module) from base weights + artifact, LoRA merged; no peft needed.

    The runtime's own builder (qa.read.neural.build_torch), so what is evaluated here is what ships.
    """
    from qa.read.neural import build_torch

    return build_torch(Path(artifact_dir), base_path)


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
    model = new_training_model(st["lora_r"], st["lora_alpha"], st["lora_dropout"], st["seed"], base_of(st),
                               st.get("layers", 0))
    load_trainable(model, load_file(str(ckpt / "trainable.safetensors")))
    return model.eval(), st
