"""Training and evaluation data for the span reader: SQuAD-format files, holdout, windows, batches."""
from __future__ import annotations

import collections
import hashlib
import json
from pathlib import Path

import numpy as np

from qa.evaluation.reader.common import FIT_POSITIONS, FORBIDDEN, SQUAD_DEV, TRAIN_FILES


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
            if train and ex["spans"]:  # a passage without the answer (news negatives) stays at [CLS]
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
