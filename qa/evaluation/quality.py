"""Retrieval quality on a public benchmark: plain baselines and our pipeline, from one run."""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from qa.config import Settings
from qa.embed import get_encoder
from qa.evaluation.datasets import bench_index_dir, load_benchmark
from qa.evaluation.primed import PrimedEncoder
from qa.ingest import ArticlesSource
from qa.evaluation.questions import misses, prime_cases, run, summarize
from qa.pipeline import QA
from qa.retrieve import Ranking

logger = logging.getLogger(__name__)

# Plain components as in the published baselines: whole documents, no title, one vector each.
PLAIN = dict(chunk_words=100_000, chunk_chars=10**9, chunk_overlap_sentences=0, embed_title=False)
PLAIN_RANKING = Ranking(recency_weight=0.0, article_terms=0.0, article_bm25=0.0, topical_weight=0.0)  # the fused score alone
RUNS = (  # (row name, plain index?, mode, fusion)
    ("BM25 (plain)", True, "bm25", "rrf"),
    ("dense (plain)", True, "dense", "rrf"),
    ("RRF (plain)", True, "hybrid", "rrf"),
    ("ours: BM25", False, "bm25", None),
    ("ours: dense", False, "dense", None),
    ("ours: hybrid", False, "hybrid", None),
)
PUBLISHED = {
    "squad": {"BM25 (published here)": {"hit@1": 0.749, "hit@5": 0.908, "hit@20": 0.958},
              "dense (published here)": {"hit@1": 0.625, "hit@5": 0.864, "hit@20": 0.952},
              "RRF (published here)": {"hit@1": 0.722, "hit@5": 0.933, "hit@20": 0.985}},
    "nfcorpus": {"BM25 (Anserini, BEIR paper)": {"ndcg@10": 0.325},
                 "all-MiniLM-L6-v2 (MTEB)": {"ndcg@10": 0.316}},
}


def bench_quality(name: str, settings: Settings, explicit_index: Path | None = None, limit: int | None = None,
                  seed: int = 0, k: int = 20, progress: bool = True,
                  datasets: Path | None = None) -> tuple[dict, list, dict]:
    """Rows of metrics per run, the misses of our pipeline, and run facts (sizes, sample)."""
    articles, cases, fingerprint = load_benchmark(name, datasets, limit, seed)
    files = {name: [len(articles), fingerprint]}
    # Every run retrieves with the same model: the question vectors are encoded once, in batches.
    encoder = PrimedEncoder(get_encoder(settings.model))
    prime_cases(encoder, cases, settings)
    rows: dict[str, dict] = {}
    missed: list = []
    for label, plain, mode, fusion in RUNS:
        s = settings.with_overrides(**PLAIN) if plain else settings
        s = replace(s, fusion=fusion or settings.fusion,
                    index_dir=(explicit_index / ("plain" if plain else "ours")) if explicit_index
                    else bench_index_dir(name, s))
        qa = QA(s, encoder=encoder, source=ArticlesSource(articles, files),
                ranking=PLAIN_RANKING if plain else None)
        results = run(qa, cases, k=k, mode=mode, read=False, progress=progress, label=label)
        rows[label] = summarize(results, read=False)
        if label == "ours: hybrid":
            missed = misses(results, read=False)
    rows.update(PUBLISHED.get(name, {}))
    extra = {"benchmark": name, "model": settings.model, "documents": len(articles), "questions": len(cases),
             "sample": f"{limit} questions, seed {seed}" if limit else "all questions",
             "latency": "retrieval only; question vectors batch-encoded beforehand"}
    return rows, missed, extra
