"""The trained span reader (a BERT encoder + LoRA + span head) run as int8 ONNX: best span and "not here" score.

The shipped artifact (qa/read/model/: reader.safetensors with the LoRA factors, LayerNorms and head, and
reader.json) is merged into the packaged weights of the base encoder reader.json names (qa.read.base:
the 12-layer ms-marco-MiniLM-L-12-v2 for the shipped reader, all-MiniLM-L6-v2 for the fast one in qa/read/model-fast/),
exported to ONNX and quantized to int8 once (torch needed only then); the result is
cached under qa.embed.onnx.cache_dir(), keyed by the artifact's hash, so later processes run it with
onnxruntime and tokenizers alone.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.embed.onnx import SideBySide, _version, cache_dir
from qa.read import base as bases

logger = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).with_name("model")
# The smaller, faster reader QA_READER=fast reads, with its own re-scoring and calibration (qa/calibration-fast.json).
FAST_DIR = Path(__file__).with_name("model-fast")
ARTIFACTS = {"neural": MODEL_DIR, "fast": FAST_DIR}
ARTIFACT_WEIGHTS, ARTIFACT_CONFIG = "reader.safetensors", "reader.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
RECIPE = "span-reader/merged-lora/torchscript-opset17/qdq-dynamic-int8-perchannel-matmul/v1"
MAX_ANSWER_TOKENS = 30
NBEST = 10  # spans per passage offered to the answer-type re-scoring (qa.read.rescore)
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class Span:
    """The best span of one passage: character offsets, its logit score and the [CLS] "not here" score."""

    start: int
    end: int
    score: float  # start logit + end logit of the span
    null: float  # start + end logit at [CLS]: the model's "the answer is not in this passage"


def available(directory: Path = MODEL_DIR) -> bool:
    """True when a trained artifact is shipped."""
    return (directory / ARTIFACT_WEIGHTS).is_file() and (directory / ARTIFACT_CONFIG).is_file()


def config(directory: Path = MODEL_DIR) -> dict:
    """The artifact's reader.json."""
    return json.loads((directory / ARTIFACT_CONFIG).read_text(encoding="utf-8"))


def artifact_sha256(directory: Path = MODEL_DIR) -> str:
    """sha256 of the artifact's weights: what a fitted re-scoring or calibration records as the reader it is for."""
    return hashlib.sha256((directory / ARTIFACT_WEIGHTS).read_bytes()).hexdigest()


def cache_key(directory: Path = MODEL_DIR) -> str:
    """Key of the cached export: the artifact's bytes, the recipe, the base package and library versions."""
    h = hashlib.sha256((directory / ARTIFACT_WEIGHTS).read_bytes())
    cfg = config(directory)
    for part in (RECIPE, bases.version(base_of(cfg)), _version("torch"), _version("onnxruntime")):
        h.update(part.encode())
    if cfg.get("layers"):  # a student (older artifacts keep their keys)
        h.update(f"layers={cfg['layers']}".encode())
    return h.hexdigest()[:16]


def base_of(cfg: dict) -> str:
    """The base encoder an artifact's reader.json says its LoRA factors sit on (qa.read.base); artifacts before
    the field: MiniLM-L6."""
    return cfg.get("base_model") or bases.MINILM_L6


def cached_path(directory: Path = MODEL_DIR) -> Path:
    """Where the int8 ONNX reader for this artifact lives (may not exist yet)."""
    return cache_dir() / "onnx" / f"span-reader-{cache_key(directory)}" / "reader-int8.onnx"


def int8_onnx(directory: Path = MODEL_DIR) -> Path:
    """The artifact's int8 ONNX reader, exported first when it is not cached yet."""
    path = cached_path(directory)
    if not path.is_file():
        export_int8(directory, path)
    return path



def span_reader_class():
    """The span reader as a torch module class: encoder + linear span head -> (start_logits, end_logits)."""
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


def keep_layers(encoder, layers: int):
    """The encoder with only its first `layers` transformer layers (all of them when 0): a student reader."""
    if layers:
        if not 0 < layers <= encoder.config.num_hidden_layers:
            raise ValueError(f"cannot keep {layers} of {encoder.config.num_hidden_layers} layers")
        encoder.encoder.layer = encoder.encoder.layer[:layers]
        encoder.config.num_hidden_layers = layers
    return encoder


def build_torch(directory: Path = MODEL_DIR, base: Path | None = None):
    """The fp32 reader as a torch module: base weights with the artifact's LoRA merged in (no peft)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    cfg = config(directory)
    enc = AutoModel.from_pretrained(str(base or bases.base_dir(base_of(cfg))), attn_implementation="eager")
    enc = keep_layers(enc, int(cfg.get("layers", 0)))  # a student: the base's first N layers

    model = span_reader_class()(enc, enc.config.hidden_size)
    tensors = load_file(str(directory / ARTIFACT_WEIGHTS))
    scale = cfg["lora"]["alpha"] / cfg["lora"]["r"]
    params = dict(enc.named_parameters())
    used = set()
    with torch.no_grad():
        for key, t in tensors.items():
            if key.endswith(".lora_A"):
                mod = key[:-len(".lora_A")]
                params[mod + ".weight"].add_(scale * (tensors[mod + ".lora_B"] @ t))
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


def export_onnx(model, folder: Path) -> tuple[Path, Path]:
    """Export a torch span reader to `folder`: (fp32 ONNX path, its int8 quantisation's path)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder.mkdir(parents=True, exist_ok=True)
    fp32, int8 = folder / "reader.onnx", folder / "reader-int8.onnx"
    example = tuple(torch.ones(1, 16, dtype=torch.long) for _ in INPUTS)
    axes = {n: {0: "batch", 1: "tokens"} for n in (*INPUTS, "start_logits", "end_logits")}
    with torch.no_grad():
        torch.onnx.export(model, example, str(fp32), dynamo=False, input_names=list(INPUTS),
                          output_names=["start_logits", "end_logits"], dynamic_axes=axes, opset_version=17)
    # Per-channel MatMul weights only: what kept the encoder's int8 export within 0.005 R@5 of fp32.
    quantize_dynamic(str(fp32), str(int8), per_channel=True, op_types_to_quantize=["MatMul"],
                     weight_type=QuantType.QInt8)
    return fp32, int8


def export_int8(directory: Path, dest: Path) -> Path:
    """Merge, export to ONNX and quantize to int8 at `dest` (atomic, under a file lock; needs torch once)."""
    from qa.once import made_once

    def make(tmp: Path) -> Path:
        logger.info("preparing the answer reader, once (under a minute): exporting it to int8 ONNX in %s",
                    dest.parent)
        from qa.embed.onnx import quiet_exporters

        with quiet_exporters():  # torch's tracer warnings are expected here, not the user's concern
            return export_onnx(build_torch(directory), tmp)[1]

    return made_once(dest, make, ".export.lock")


def top_spans(start: np.ndarray, end: np.ndarray, context: np.ndarray, n: int = 1,
              max_tokens: int = MAX_ANSWER_TOKENS) -> list[tuple[float, int, int]]:
    """The `n` best (score, first token, last token) spans of `context` token positions, best first."""
    s, e = start[context], end[context]
    scores = s[:, None] + e[None, :]
    i, j = np.indices(scores.shape)
    ok = (context[j] >= context[i]) & (context[j] - context[i] < max_tokens)
    flat = np.where(ok, scores, -np.inf).ravel()
    k = max(1, min(n, int(ok.sum())))
    pick = np.argpartition(-flat, k - 1)[:k]
    pick = pick[np.argsort(-flat[pick], kind="stable")]
    return [(float(flat[x]), int(context[x // len(context)]), int(context[x % len(context)])) for x in pick]


def best_span(start: np.ndarray, end: np.ndarray, context: np.ndarray,
              max_tokens: int = MAX_ANSWER_TOKENS) -> tuple[float, int, int]:
    """(score, first token, last token) of the best span of `context` token positions (start <= end)."""
    return top_spans(start, end, context, 1, max_tokens)[0]


@dataclass(frozen=True)
class Window:
    """The reader's logits over one window: start and end logit per token, the first context token's
    position, and each context token's (start, end) characters in the passage."""

    start: np.ndarray
    end: np.ndarray
    first: int
    offsets: np.ndarray  # (tokens, 2)

    @property
    def null(self) -> float:
        """The [CLS] "not here" score of this window."""
        return float(self.start[0] + self.end[0])


def nbest_of(windows: Sequence[Window], text: str, n: int = NBEST) -> list[Span]:
    """The `n` best spans over `windows` of `text`, best first; spans of punctuation alone are dropped."""
    found: dict[tuple[int, int], float] = {}
    null = max((w.null for w in windows), default=-np.inf)
    for w in windows:
        for score, a, b in top_spans(w.start, w.end, np.arange(w.first, w.first + len(w.offsets)), n + 2):
            c0, c1 = int(w.offsets[a - w.first, 0]), int(w.offsets[b - w.first, 1])
            if _WORD.search(text, c0, c1) and score > found.get((c0, c1), -np.inf):
                found[(c0, c1)] = score
    best = sorted(found.items(), key=lambda kv: -kv[1])[:n]
    return [Span(c0, c1, score, null) for (c0, c1), score in best]


def spans_at(windows: Sequence[Window], chars: Sequence[tuple[int, int]],
             max_tokens: int = MAX_ANSWER_TOKENS) -> list[Span]:
    """The reader's score of given character spans (each the best over the windows holding it whole); a span
    whose ends do not fall on token boundaries in any window is left out."""
    null = max((w.null for w in windows), default=-np.inf)
    out = []
    for c0, c1 in chars:
        best = -np.inf
        for w in windows:
            a = np.flatnonzero(w.offsets[:, 0] == c0)
            b = np.flatnonzero(w.offsets[:, 1] == c1)
            if len(a) and len(b) and 0 <= b[-1] - a[0] < max_tokens:
                best = max(best, float(w.start[w.first + a[0]] + w.end[w.first + b[-1]]))
        if best > -np.inf:
            out.append(Span(int(c0), int(c1), best, null))
    return out


class SpanReader:
    """The int8 ONNX span reader; each window runs alone (dynamic int8 scales activations per call), so a
    window's logits never depend on what else is read. Each window runs on one thread, and a question's windows
    run side by side, one thread each: int8 GEMMs of one ~190-token window do not keep two cores busy. On 2 cores,
    3 windows of 150-190 tokens take 64.8 ms side by side against 76.3 ms one after another on two threads each
    (2 windows 41.0 / 53.7, 5 windows 105.6 / 135.4; one window alone 35 ms against 26; scratch
    /work/tools/thr16b.py, sixteenth session). The logits are the same to the bit whatever the threads
    (test_neural)."""

    def __init__(self, directory: Path = MODEL_DIR, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        cfg = config(directory)
        self.max_len, self.stride, self.max_q = cfg["max_len"], cfg["stride"], cfg["max_q"]
        path = int8_onnx(directory)
        self.threads = max(1, threads or min(2, os.cpu_count() or 1))  # cores the windows share
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # On one thread the session has no thread pool to spin (the sixth session's two-thread session had to be
        # told not to: its spinning threads starved the Python work after each run on 2 cores); kept explicit.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._side = SideBySide(self.threads, "qa-reader")
        self.tokenizer = Tokenizer.from_file(str(bases.base_dir(base_of(cfg)) / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.cls, self.sep = self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")

    def _question(self, question: str) -> list[int]:
        return self.tokenizer.encode(question.strip(), add_special_tokens=False).ids[:self.max_q]

    def _windows(self, question: str | list[int], text: str):
        q = self._question(question) if isinstance(question, str) else question
        c = self.tokenizer.encode(text, add_special_tokens=False)
        room = max(8, self.max_len - len(q) - 3)
        ids, offs = c.ids, c.offsets
        step = max(1, room - self.stride)
        for w0 in range(0, max(1, len(ids)), step):
            part = slice(w0, w0 + room)
            seq = [self.cls, *q, self.sep, *ids[part], self.sep]
            types = [0] * (len(q) + 2) + [1] * (len(ids[part]) + 1)
            yield np.asarray(seq, dtype=np.int64), np.asarray(types, dtype=np.int64), len(q) + 2, offs[part]
            if w0 + room >= len(ids):
                break

    def _text_windows(self, q: list[int], text: str) -> list[tuple]:
        """The windows of `text` for the question's token ids `q` that hold some of the text."""
        return [w for w in self._windows(q, text) if w[3]]

    def _run(self, window: tuple, options=None):
        ids, types = window[0], window[1]
        return self.session.run(None, {"input_ids": ids[None], "attention_mask": np.ones_like(ids)[None],
                                       "token_type_ids": types[None]}, options)

    def _run_all(self, windows: Sequence[tuple]) -> list:
        """(start, end) logits of each (ids, types, ...) window."""
        if self.threads == 1 or len(windows) < 2:
            return [self._run(w) for w in windows]
        return list(self._side.pool().map(self._run, windows))

    def logits_many(self, question: str, texts: Sequence[str]) -> list[list[Window]]:
        """logits() of each text, the windows of all of them run together (see the class). Inside `one_question()`
        a text this reader already read (or is reading ahead) for the same question is not read again, and when
        none of these texts has a span its "not here" score leaves far behind, the texts the block may read next
        start on the pool (`one_question(ahead=...)`)."""
        q = self._question(question)  # tokenized once for all the texts
        scope = _MEMO.get()
        memo = scope.memo if scope is not None else {}
        keys = [(self, tuple(q), t) for t in texts]  # the reader itself: kept alive, its id never reused
        todo = {key: t for key, t in zip(keys, texts) if key not in memo}
        windows = [self._text_windows(q, t) for t in todo.values()]
        runs = iter(self._run_all([w for ws in windows for w in ws]))
        for key, ws in zip(todo, windows):
            memo[key] = [_window(w, next(runs)) for w in ws]
        if scope is not None and scope.ahead and self.threads > 1 and todo \
                and _margin([(memo[key], t) for key, t in zip(keys, texts) if isinstance(memo[key], list)]) < scope.below:
            scope.start(self, q, [t for t in scope.ahead if (self, tuple(q), t) not in memo])
        for key in keys:  # read ahead: wait for it
            if isinstance(memo[key], _Ahead):
                memo[key] = memo[key].result()
        return [memo[key] for key in keys]

    def logits(self, question: str, text: str) -> list[Window]:
        """The reader's start/end logits over each window of `text` (windows with no text left out)."""
        return self.logits_many(question, [text])[0]

    def nbest(self, question: str, text: str, n: int = NBEST) -> list[Span]:
        """The `n` best spans of `text` over its windows, best first, each with the highest window's "not
        here" score (a span two windows share keeps its better score)."""
        return nbest_of(self.logits(question, text), text, n)

    def read(self, question: str, text: str) -> Span | None:
        """The best span of `text` over its windows, with the highest window's "not here" score."""
        spans = self.nbest(question, text, 1)
        return spans[0] if spans else None

    def read_all(self, question: str, texts: Sequence[str]) -> list[Span | None]:
        """read() of each text."""
        return [(nbest_of(w, t, 1) or [None])[0] for w, t in zip(self.logits_many(question, texts), texts)]


def _window(w: tuple, logits) -> Window:
    """The Window of one (ids, types, first, offsets) input from its run's (start, end) logits."""
    s, e = logits
    return Window(s[0], e[0], w[2], np.asarray(w[3], dtype=np.int64).reshape(-1, 2))


def _margin(read: Sequence[tuple[list, str]]) -> float:
    """The most any text's best span (nbest_of) beats its "not here" score, in logits, over (windows, text) pairs;
    -inf when none has a span."""
    best = -np.inf
    for windows, text in read:
        top = nbest_of(windows, text, 1)
        if top:
            best = max(best, top[0].score - top[0].null)
    return best


class _Ahead:
    """A text's windows running on the reader's pool before they are asked for (one_question's `ahead`)."""

    def __init__(self, reader: "SpanReader", windows: list):
        import onnxruntime as ort

        self.windows, self.options = windows, [ort.RunOptions() for _ in windows]
        self.futures = [reader._side.pool().submit(reader._run, w, o) for w, o in zip(windows, self.options)]

    def result(self) -> list[Window]:
        return [_window(w, f.result()) for w, f in zip(self.windows, self.futures)]

    def stop(self) -> None:
        """Drop what was not asked for: runs not started never start, running ones end at their next node."""
        for f, o in zip(self.futures, self.options):
            if not f.cancel():
                o.terminate = True


class _Question:
    """What one question's reading keeps (`one_question`): its texts' windows, read (a list) or being read ahead
    (an _Ahead, until asked for)."""

    def __init__(self, ahead: Sequence[str], below: float):
        self.memo: dict = {}
        self.ahead, self.below = tuple(ahead), below

    def start(self, reader: "SpanReader", q: list[int], texts: Sequence[str]) -> None:
        for t in texts:
            self.memo[(reader, tuple(q), t)] = _Ahead(reader, reader._text_windows(q, t))

    def pending(self) -> list[_Ahead]:
        """What was read ahead and not asked for."""
        return [v for v in self.memo.values() if isinstance(v, _Ahead)]

    def close(self) -> None:
        for job in self.pending():
            job.stop()


# What one question's reading keeps (`one_question`): reading more of its passages after the first ones does not
# read those again; None outside such a block (nothing is kept between questions).
_MEMO: contextvars.ContextVar[_Question | None] = contextvars.ContextVar("qa_reader_windows", default=None)


@contextlib.contextmanager
def one_question(ahead: Sequence[str] = (), below: float = 1.0):
    """Within the block (one ask()), a passage read once for a question is not read again for it: ask() reads its
    first passages, and the next ones only when unsure (qa.pipeline). `ahead`: the passages it may read next. When
    no passage read first has a span that beats its "not here" score by `below` logits or more, the answer will
    likely be too unsure and they will be read: their windows start on the reader's pool at once, on the core the
    answer-type parse (spaCy, holding the interpreter lock) leaves free, and are dropped at the block's end if not
    asked for. Its own memo in each thread and block."""
    scope = _Question(ahead, below)
    token = _MEMO.set(scope)
    try:
        yield
    finally:
        _MEMO.reset(token)
        scope.close()


_OVERRIDE: list[Path] = []  # evaluation only (`reading_with`): another artifact read in place of the shipped one


@functools.lru_cache(maxsize=4)
def _reader_at(directory: Path) -> SpanReader:
    return SpanReader(directory)


def artifact_dir() -> Path:
    """The artifact reader() reads: the one `reading_with` put in place, else the one $QA_READER names ("fast":
    FAST_DIR), else the shipped MODEL_DIR."""
    if _OVERRIDE:
        return _OVERRIDE[-1]
    return ARTIFACTS.get(os.environ.get("QA_READER") or "neural", MODEL_DIR)


def reader() -> SpanReader:
    """The span reader in use (artifact_dir()), loaded once per process."""
    return _reader_at(artifact_dir())


@contextlib.contextmanager
def reading_with(directory: Path | None):
    """Within the block, reader() is the artifact in `directory`; None leaves the one in use (QA_READER's, or an
    outer block's). For evaluation code that reads each question with a reader not trained on it (cross-fitting,
    None when not cross-fitting); not thread-safe."""
    if directory is None:
        yield
        return
    _OVERRIDE.append(Path(directory))
    try:
        yield
    finally:
        _OVERRIDE.pop()


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets of the sentence(s) holding text[start:end] (a plain punctuation rule; no parser)."""
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    s0 = max((b for b in bounds if b <= start), default=0)
    s1 = min((b for b in bounds if b >= end and b > s0), default=len(text))
    return s0, len(text[:s1].rstrip())
