"""Encode throughput: our int8 ONNX encoder vs plain fp32 SentenceTransformer, and dense recall on SQuAD dev."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from qa.config import FP32_MODEL, INT8_MODEL, Settings
from qa.embed import get_encoder
from qa.evaluation.datasets import BENCHMARKS, load_benchmark
from qa.evaluation.speed.timing import Timer, median, rnd


def squad_sample(datasets: Path, paragraphs: int, questions: int, seed: int = 0):
    """The first `paragraphs` SQuAD dev paragraphs and a sample of questions about them (with gold index)."""
    articles, cases, _ = load_benchmark("squad", datasets)
    position = {a.source: i for i, a in enumerate(articles[:paragraphs])}
    qs = [(c.question, position[c.source]) for c in cases if c.source in position]
    return [a.text for a in articles[:paragraphs]], random.Random(seed).sample(qs, min(questions, len(qs)))


def bench_encode(settings: Settings, datasets: Path, cfg: dict, say) -> dict:
    """Throughput of our encoder vs plain SentenceTransformer.encode, and dense R@k over the same paragraphs."""
    path = Path(datasets) / BENCHMARKS["squad"]
    if not path.is_file():
        return {"skipped": f"SQuAD dev not found at {path} (set --datasets or QA_DATASETS_DIR)"}
    texts, qs = squad_sample(datasets, cfg["paragraphs"], cfg["questions"])
    ours = get_encoder(INT8_MODEL)
    from qa.embed import onnx as onnx_encoder

    cached = onnx_encoder.cached_model_path().is_file()
    with Timer() as t_load:
        ours.encode(["warm up"])
    plain = get_encoder(FP32_MODEL)  # SentenceTransformer.encode, fp32, normalised
    plain.encode(["warm up"])
    say(f"encode: {len(texts)} SQuAD dev paragraphs x {cfg['encode_repeats']} repeats, ours and plain fp32 alternating")
    rates, base_rates, ratios = [], [], []
    for r in range(cfg["encode_repeats"]):
        order = ("ours", "plain") if r % 2 == 0 else ("plain", "ours")
        got = {}
        for who in order:
            with Timer() as t:
                if who == "ours":
                    mine = ours.encode(texts, batch_size=settings.batch_size)
                else:
                    ref = plain.encode(texts, batch_size=32)
            got[who] = len(texts) / t.s
        rates.append(got["ours"])
        base_rates.append(got["plain"])
        ratios.append(got["ours"] / got["plain"])
        say(f"  repeat {r + 1}: ours {got['ours']:.1f}/s, plain fp32 {got['plain']:.1f}/s")
    cos = (mine * ref).sum(axis=1)
    q_texts = [q for q, _ in qs]
    gold = np.array([g for _, g in qs])
    recall = {}
    for who, vecs, qv in (("ours", mine, ours.encode(q_texts)),
                          ("plain", ref, plain.encode(q_texts, batch_size=32))):
        rank = (-(qv @ vecs.T)).argsort(axis=1)[:, :5]
        recall[who] = {"r@1": rnd((rank[:, 0] == gold).mean(), 4), "r@5": rnd((rank == gold[:, None]).any(1).mean(), 4)}
    tokens = _mean_tokens(texts)
    return {
        "what": f"{len(texts)} SQuAD dev paragraphs (mean {tokens:.0f} tokens), {cfg['encode_repeats']} repeats",
        "ours": f"{INT8_MODEL} (int8 ONNX, onnxruntime)", "baseline": "SentenceTransformer.encode fp32, batch 32",
        "throughput_per_s": rnd(median(rates), 1), "baseline_per_s": rnd(median(base_rates), 1),
        "ratio": rnd(median(ratios)), "ratios": [rnd(x) for x in ratios],
        "first_use_s": rnd(t_load.s), "export_was_cached": cached,
        "cosine_to_fp32": {"mean": rnd(cos.mean(), 4), "min": rnd(cos.min(), 4)},
        "dense_recall": {"questions": len(qs), "over": f"these {len(texts)} paragraphs", **recall,
                         "r@5_delta": rnd(recall["ours"]["r@5"] - recall["plain"]["r@5"], 4)},
    }


def _mean_tokens(texts) -> float:
    from tokenizers import Tokenizer

    from qa.embed.onnx import MAX_TOKENS, model_dir

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    return float(np.mean([len(e.ids) for e in tok.encode_batch(list(texts))]))
