"""The span reader's training tool: paths, constants and the log line (see qa.evaluation.reader)."""
from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATASETS = Path("/work/shared/datasets")
SQUAD_DEV = DATASETS / "squad-v1.1-dev" / "dev-v1.1.json"
TRAIN_FILES = (DATASETS / "squadshifts" / "reddit_v1.0.json",
               DATASETS / "squadshifts" / "amazon_reviews_v1.0.json")
FIT_POSITIONS = (0, 1)          # SQuAD dev articles usable for training
EVAL_POSITIONS = (2, 3)         # SQuAD dev articles NEVER used by train
FORBIDDEN = ("new_wiki", "realtimeqa")
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # the default base (qa.read.base.BASES names the others)
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


def base_model_path(name: str = BASE_MODEL) -> Path:
    """The folder transformers loads the base encoder `name` from (qa.read.base)."""
    from qa.read.base import base_dir

    return base_dir(name)
