"""Distillation: a deeper reader's span logits as soft targets for a smaller student (`train --teacher`).

The teacher (an exported artifact, run as the int8 ONNX the bot runs) reads every training window once; its
start/end logits are cached in the run folder, keyed by the teacher's weights and the windows' fingerprint, so a
resumed run does not read them again. The loss mixes the labels' cross-entropy with the KL divergence from the
teacher's softened distributions (Hinton et al., 2015), both over the window's real tokens.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from qa.evaluation.reader.common import log


def cache_file(run_dir: Path, teacher: Path, fingerprint: str) -> Path:
    from qa.read.neural import artifact_sha256

    return run_dir / f"teacher-{artifact_sha256(teacher)[:12]}-{fingerprint}.npz"


def teacher_logits(run_dir: Path, teacher: Path, feats: dict, fingerprint: str, threads: int = 2
                   ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The teacher's (start logits, end logits) of each training window, read once and cached (atomic write)."""
    path = cache_file(run_dir, teacher, fingerprint)
    lengths = np.array([len(x) for x in feats["input_ids"]], dtype=np.int64)
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            if np.array_equal(z["lengths"], lengths):
                return _split(z["start"], z["end"], lengths)
        log(f"teacher cache {path} does not fit these windows: reading again", run_dir / "train.log")
    from qa.evaluation.reader.predict import predict_onnx
    from qa.read.neural import int8_onnx

    t0 = time.time()
    starts, ends = predict_onnx(int8_onnx(teacher), feats, threads)
    log(f"teacher {teacher} read {len(lengths)} windows in {time.time() - t0:.0f}s", run_dir / "train.log")
    flat_s = np.concatenate(starts).astype(np.float16)
    flat_e = np.concatenate(ends).astype(np.float16)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-teacher-", suffix=".npz", dir=run_dir)
    os.close(fd)
    try:
        np.savez(tmp, start=flat_s, end=flat_e, lengths=lengths)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return _split(flat_s, flat_e, lengths)


def _split(flat_s: np.ndarray, flat_e: np.ndarray, lengths: np.ndarray):
    cut = np.cumsum(lengths)[:-1]
    return np.split(flat_s.astype(np.float32), cut), np.split(flat_e.astype(np.float32), cut)


def padded(rows: list[np.ndarray], idx, width: int):
    """The teacher logits of windows `idx` as a (len(idx), width) tensor (padding -1e4, as the student's)."""
    import torch

    out = np.full((len(idx), width), -1e4, dtype=np.float32)
    for r, i in enumerate(idx):
        out[r, :len(rows[i])] = rows[i]
    return torch.from_numpy(out)


def kd_loss(student, teacher, mask, temperature: float):
    """T^2 * KL(softmax(teacher / T) || softmax(student / T)) per window, mean over windows; positions outside
    `mask` take no part."""
    import torch.nn.functional as F

    s = student.masked_fill(~mask, -1e4) / temperature
    t = teacher.masked_fill(~mask, -1e4) / temperature
    p = F.log_softmax(t, dim=-1)
    q = F.log_softmax(s, dim=-1)
    kl = (p.exp() * (p - q)).masked_fill(~mask, 0.0).sum(-1)
    return kl.mean() * temperature ** 2
