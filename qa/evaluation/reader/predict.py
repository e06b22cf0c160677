"""SQuAD metrics, span decoding and prediction with torch or ONNX for the span reader."""
from __future__ import annotations

import collections
import re
import string
from pathlib import Path

import numpy as np

from qa.evaluation.reader.data import collate


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
