"""Incremental updates on a news-like corpus: one article added or deleted vs a full build; its index size.

Also warm ask() latency on that corpus and HNSW recall on its real vectors, while the index is at hand.
"""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa import index as index_mod
from qa.config import INT8_MODEL, Settings
from qa.embed import get_encoder
from qa.evaluation.corpus import docs_for, sample_questions, write_docs
from qa.evaluation.speed.ask import ask_vs_fp32
from qa.evaluation.speed.timing import Timer, median, rnd
from qa.index import dense as vec
from qa.ingest import FolderSource


class _RereadAll(FolderSource):
    """The corpus folder parsed whole on every refresh (vectors and parses still reused by text): the no-carry-over
    baseline, used inside `_no_record_carry()`."""

    def read(self, unchanged=None):
        return super().read(None)


def _no_record_carry():
    """Within it, a file read again keeps none of its rows (qa.index.refresh.record_spans), so the baseline carries
    nothing over."""
    from unittest import mock

    return mock.patch("qa.index.refresh.record_spans", side_effect=lambda old, records: ([None] * len(records), True))


def _folder_bytes(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in path.rglob("*"):
        if p.is_file():
            part = p.relative_to(path).parts[0]
            out[part] = out.get(part, 0) + p.stat().st_size
    return out


def bench_corpus(settings: Settings, datasets: Path, cfg: dict, work: Path, say) -> dict:
    """Build a news-like corpus index, then time one-article updates against rebuilding, and ask latency."""
    target = cfg["corpus_passages"]
    docs = docs_for(datasets, target + 10_000)  # the tail supplies articles to add
    if not docs:
        return {"skipped": f"no datasets in {datasets}"}
    corpus_docs = docs_for(datasets, target)
    extra = docs[len(corpus_docs):][: 2 * cfg["add_repeats"]]
    corpus = work / "corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    write_docs(corpus_docs, corpus)
    s = replace(settings, model=INT8_MODEL, corpus_dir=corpus, index_dir=work / "corpus-index")
    shutil.rmtree(s.index_dir, ignore_errors=True)
    encoder = get_encoder(INT8_MODEL)
    say(f"corpus: {len(corpus_docs)} articles from SQuAD dev / SQuADShifts / NFCorpus; building the index")
    with Timer() as t_full:
        index = index_mod.ensure(s, encoder)
    n = len(index)
    say(f"  full build: {n} passages in {t_full.s:.1f} s")
    sizes = _folder_bytes(index.path)
    adds, deletes, olds = [], [], []
    for i in range(cfg["add_repeats"]):
        doc = extra[i]
        with Timer() as t:
            (corpus / doc.name).write_text(doc.file_text(), encoding="utf-8")
            index_mod.ensure(s, encoder)
        adds.append(t.s)
        with Timer() as t:
            (corpus / doc.name).unlink()
            index_mod.ensure(s, encoder)
        deletes.append(t.s)
        doc = extra[cfg["add_repeats"] + i]  # baseline: the same update without carrying files over
        with Timer() as t:
            (corpus / doc.name).write_text(doc.file_text(), encoding="utf-8")
            with _no_record_carry():
                index_mod.ensure(s, encoder, source=_RereadAll.from_settings(s))
        olds.append(t.s)
        (corpus / doc.name).unlink()
        index_mod.ensure(s, encoder)
        say(f"  add one article: {adds[-1]:.2f} s, delete it: {deletes[-1]:.2f} s, "
            f"add without carry-over: {olds[-1]:.2f} s")
    questions = sample_questions(corpus_docs, 200)
    ask_row = ask_vs_fp32(s, encoder, questions, cfg["asks"], f"{n}-passage corpus", say)
    total = sum(sizes.values())
    return {
        "passages": n, "articles": len(corpus_docs), "index_type": index.manifest["index_type"],
        "full_build_s": rnd(t_full.s), "full_build_note": "every passage parsed, embedded (ours) and indexed",
        "add_one_article_s": rnd(median(adds), 3), "delete_one_article_s": rnd(median(deletes), 3),
        "add_without_carry_over_s": rnd(median(olds), 3),
        "add_vs_full_build": f"{100 * median(adds) / t_full.s:.2f}%",
        "add_vs_without_carry_over": f"{100 * median(adds) / median(olds):.1f}%",
        "ask": ask_row,
        "index_bytes_per_passage": round(total / max(n, 1)),
        "index_bytes_by_part": {k: round(v / max(n, 1)) for k, v in sorted(sizes.items())},
        "real_vectors_hnsw": _hnsw_on_real(index, encoder, questions, cfg),
    }


def _hnsw_on_real(index, encoder, questions: list[str], cfg: dict) -> dict:
    """HNSW recall@10 against exact search on the corpus's real vectors with real questions (a realism check)."""
    vectors = np.ascontiguousarray(index.vectors, dtype=np.float32)
    hnsw = vec.build(vectors, "hnsw")
    q = encoder.encode(questions[: cfg["queries"]])
    exact = (-(q @ vectors.T)).argsort(axis=1)[:, :10]
    rec = [len(set(vec.search(hnsw, vectors, qq, 10)[1].tolist()) & set(e.tolist())) / 10
           for qq, e in zip(q, exact)]
    return {"vectors": len(vectors), "queries": len(q), "recall@10": rnd(np.mean(rec), 4)}
