"""Speed and scale code paths: index type by size, HNSW updates and date filter, incremental refresh,
BM25 from stored term counts, the int8 ONNX encoder (slow) and the benchmark helpers."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.index import refresh as inc
from qa import index as index_mod
from qa.index import dense as vec
from qa.chunk import chunk_articles
from qa.embed import HashingEncoder
from qa.ingest import corpus as ingest_corpus
from qa.ingest import FolderSource, fingerprint, load_corpus
from qa.index.bm25 import Lexical, tokenize
from qa.retrieve import retrieve
from qa.index.passages import PassageStore, write_passages
from qa.types import DateRange

from conftest import write_article
from test_index import CountingEncoder

REPO = Path(__file__).resolve().parent.parent


def unit_vectors(n, dim=32, seed=0):
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def exact_top(v, q, k, rows=None):
    rows = np.arange(len(v)) if rows is None else np.asarray(rows)
    return rows[np.argsort(-(v[rows] @ q), kind="stable")[:k]]


# ---- vectors: kind by size, HNSW search, updates, persistence ------------------------------------------

@pytest.mark.parametrize("n, kind", [(0, "flat"), (1, "flat"), (vec.FLAT_LIMIT - 1, "flat"),
                                     (vec.FLAT_LIMIT, "hnsw"), (10 * vec.FLAT_LIMIT, "hnsw")])
def test_kind_follows_size(n, kind):
    assert vec.choose_kind(n) == kind


@pytest.fixture(scope="module")
def hnsw_data():
    v = unit_vectors(3000)
    return v, vec.build(v, "hnsw"), unit_vectors(40, seed=1)


def test_hnsw_recall_against_exact(hnsw_data):
    v, dense, queries = hnsw_data
    assert dense.kind == "hnsw" and dense.ntotal == len(v) and dense.dead == 0
    recall = np.mean([len(set(vec.search(dense, v, q, 10)[1].tolist()) & set(exact_top(v, q, 10).tolist())) / 10
                      for q in queries])
    assert recall >= 0.95
    scores, rows = vec.search(dense, v, queries[0], 10)
    np.testing.assert_allclose(scores, v[rows] @ queries[0], rtol=1e-5)  # re-scored exactly
    assert list(scores) == sorted(scores, reverse=True)


@pytest.mark.parametrize("exact_limit", [50_000, 0], ids=["exact-scan", "faiss-selector"])
def test_hnsw_subset_search_keeps_to_the_subset(hnsw_data, monkeypatch, exact_limit):
    v, dense, queries = hnsw_data
    monkeypatch.setattr(vec, "EXACT_SUBSET_LIMIT", exact_limit)
    subset = np.flatnonzero(np.arange(len(v)) % 7 == 3).astype(np.int64)
    hits = 0
    for q in queries[:10]:
        _, rows = vec.search(dense, v, q, 10, subset=subset)
        assert set(rows.tolist()) <= set(subset.tolist()) and len(rows) == 10
        hits += len(set(rows.tolist()) & set(exact_top(v, q, 10, subset).tolist()))
    assert hits / 100 >= 0.9
    _, rows = vec.search(dense, v, queries[0], 50, subset=np.array([5, 9], dtype=np.int64))
    assert sorted(rows.tolist()) == [5, 9]  # fewer allowed rows than k: no padding comes back


def test_hnsw_update_appends_and_marks_removed_rows_dead():
    v = unit_vectors(400)
    dense = vec.build(v, "hnsw")
    graph = dense.index
    # new generation: drop old rows 10..19, keep the rest in order, append 5 new vectors
    kept = np.concatenate([np.arange(10), np.arange(20, 400)])
    new_v = unit_vectors(5, seed=3)
    old_rows = np.concatenate([kept, np.full(5, -1)])
    all_v = np.concatenate([v[kept], new_v])
    vec.FLAT_LIMIT, saved = 100, vec.FLAT_LIMIT
    try:
        updated = vec.update(dense, all_v, old_rows)
    finally:
        vec.FLAT_LIMIT = saved
    assert updated.index is graph  # extended in place, not rebuilt
    assert updated.index.ntotal == 405 and updated.dead == 10 and updated.ntotal == len(all_v)
    for q in np.concatenate([new_v, v[[0, 15, 200]]]):
        scores, rows = vec.search(updated, all_v, q, 5)
        assert rows.tolist() == exact_top(all_v, q, 5).tolist()
        assert (rows >= 0).all() and (rows < len(all_v)).all()


def test_hnsw_update_rebuilds_when_many_rows_are_gone(monkeypatch):
    monkeypatch.setattr(vec, "FLAT_LIMIT", 10)
    v = unit_vectors(200)
    dense = vec.build(v, "hnsw")
    keep = np.arange(100)  # half the rows gone
    updated = vec.update(dense, v[keep], keep)
    assert updated.index is not dense.index and updated.dead == 0 and updated.ntotal == 100


def test_update_switches_kind_when_the_size_crosses_the_limit(monkeypatch):
    monkeypatch.setattr(vec, "FLAT_LIMIT", 50)
    small = vec.build(unit_vectors(40), "flat")
    grown = vec.update(small, unit_vectors(60), np.concatenate([np.arange(40), np.full(20, -1)]))
    assert grown.kind == "hnsw" and grown.ntotal == 60


def test_save_load_round_trip_keeps_the_slot_map(tmp_path, monkeypatch):
    monkeypatch.setattr(vec, "FLAT_LIMIT", 10)
    v = unit_vectors(100)
    updated = vec.update(vec.build(v, "hnsw"), v[5:], np.arange(5, 100))
    vec.save(updated, tmp_path / "dense.faiss")
    assert (tmp_path / "dense.rows.npy").is_file()
    loaded = vec.load(tmp_path / "dense.faiss")
    assert loaded.kind == "hnsw" and loaded.ntotal == 95 and loaded.dead == 5
    np.testing.assert_array_equal(loaded.rows, updated.rows)
    vec.save(vec.build(v, "flat"), tmp_path / "flat.faiss")
    assert not (tmp_path / "flat.rows.npy").exists() and vec.load(tmp_path / "flat.faiss").kind == "flat"


# ---- the index: type recorded, date filter on HNSW, incremental refresh --------------------------------

@pytest.fixture
def hnsw_settings(settings, monkeypatch):
    """The default test corpus, indexed with HNSW (the size limit lowered to a handful of passages)."""
    monkeypatch.setattr(vec, "FLAT_LIMIT", 3)
    return settings


def test_index_type_is_chosen_by_size_and_recorded(settings, encoder, monkeypatch):
    assert index_mod.ensure(settings, encoder).manifest["index_type"] == "flat"
    monkeypatch.setattr(vec, "FLAT_LIMIT", 3)
    built = index_mod.ensure(settings, encoder, force=True)
    assert built.manifest["index_type"] == "hnsw" and built.dense.kind == "hnsw"
    assert index_mod.load(settings.index_dir).dense.kind == "hnsw"


@pytest.mark.parametrize("exact_limit", [50_000, 0], ids=["exact-scan", "faiss-selector"])
def test_date_filter_on_hnsw(hnsw_settings, encoder, monkeypatch, exact_limit):
    import datetime as dt

    index = index_mod.ensure(hnsw_settings, encoder)
    assert index.manifest["index_type"] == "hnsw"
    monkeypatch.setattr(vec, "EXACT_SUBSET_LIMIT", exact_limit)
    q = encoder.encode(["bridge dragon river"])[0]
    in_2020 = DateRange(dt.date(2020, 1, 1), dt.date(2020, 12, 31), "2020")
    found = retrieve(index, q, "bridge dragon river", 10, in_2020, mode="dense")
    assert found.date_applied and found.rows
    assert {index.passages[r].published.year for r in found.rows} == {2020}
    expected = [i for i, p in enumerate(index.passages) if p.published.year == 2020]
    assert sorted(found.rows) == expected
    found = retrieve(index, q, "bridge dragon river", 1, None, mode="dense")
    assert index.passages[found.rows[0]].source == "bridge.txt"


def test_refresh_extends_the_hnsw_graph_instead_of_rebuilding(hnsw_settings, monkeypatch):
    monkeypatch.setattr(vec, "MAX_DEAD", 0.5)  # the tiny corpus loses a quarter of its passages below
    counting = CountingEncoder()
    first = index_mod.ensure(hnsw_settings, counting)
    slots = first.manifest["dense_slots"]["total"]
    counting.seen.clear()
    write_article(hnsw_settings.corpus_dir, "new.txt", "Tigers return", "2024-01-05", "Rangers counted nine tigers.")
    second = index_mod.ensure(hnsw_settings, counting)
    new = [p for p in second.passages if p.source == "new.txt"]
    assert counting.seen == [p.embed_text(hnsw_settings.embed_title) for p in new]
    assert second.manifest["dense_slots"] == {"total": slots + len(new), "dead": 0}
    assert second.manifest["refresh"]["parsed_files"] == 1
    (hnsw_settings.corpus_dir / "floods.txt").unlink()
    third = index_mod.ensure(hnsw_settings, counting)
    gone = sum(p.source == "floods.txt" for p in second.passages)
    assert third.manifest["dense_slots"] == {"total": slots + len(new), "dead": gone}
    q = HashingEncoder().encode(["Rangers counted nine tigers"])[0]
    _, rows = vec.search(third.dense, third.vectors, q, 3)
    assert third.passages[int(rows[0])].source == "new.txt"
    assert all(third.passages[int(r)].source != "floods.txt" for r in rows)


def _contents(index):
    q_words = ["floods", "bridge", "measles", "minister", "tigers", "aid"]
    return ([dataclasses.astuple(p) for p in index.passages], np.asarray(index.vectors).copy(),
            [index.lexical.scores(w).tolist() for w in q_words], index.manifest["articles"])


def _dup(corpus):
    (corpus / "copy.txt").write_text((corpus / "bridge.txt").read_text())


def _dup_removed(corpus):
    (corpus / "bridge.txt").unlink()  # copy.txt (a duplicate until now) must come in


def _bad(corpus):
    (corpus / "bad.json").write_text("{not json")


def _edit(corpus):
    p = corpus / "floods.txt"
    p.write_text(p.read_text() + "\nThe government sent emergency aid.\n")


def _sub(corpus):
    write_article(corpus / "2024", "tigers.txt", "Tigers return", "2024-01-05", "Rangers counted nine tigers.")


def _early(corpus):  # sorts first and repeats a later file: the later one becomes the duplicate
    (corpus / "aaa.txt").write_text((corpus / "vaccine.txt").read_text())


def test_refresh_equals_a_rebuild_through_a_series_of_changes(settings, tmp_path):
    """After each change, the carried-over index holds exactly what a from-scratch build holds."""
    encoder = HashingEncoder()
    index_mod.ensure(settings, encoder)
    scratch = dataclasses.replace(settings, index_dir=tmp_path / "scratch")
    for change in (_dup, _bad, _edit, _sub, _dup_removed, _early):
        change(settings.corpus_dir)
        carried = index_mod.ensure(settings, encoder)
        assert carried.manifest["refresh"]["carried_rows"] > 0, change.__name__
        rebuilt = index_mod.ensure(scratch, encoder, force=True)
        a, b = _contents(carried), _contents(rebuilt)
        assert a[0] == b[0], change.__name__
        np.testing.assert_array_equal(a[1], b[1])
        assert a[2] == b[2] and a[3] == b[3], change.__name__
        # and both equal what ingest + chunk give for the folder
        expected = chunk_articles(load_corpus(settings.corpus_dir), settings.chunk_words,
                                  settings.chunk_overlap_sentences)
        assert [dataclasses.astuple(p) for p in expected] == a[0], change.__name__


def test_refresh_parses_only_changed_files(settings, encoder, monkeypatch):
    index_mod.ensure(settings, encoder)
    parsed = []
    real = ingest_corpus.parse_file
    monkeypatch.setattr(ingest_corpus, "parse_file", lambda path, source, *rest: parsed.append(source) or
                        real(path, source, *rest))
    _edit(settings.corpus_dir)
    index_mod.ensure(settings, encoder)
    assert parsed == ["floods.txt"]
    parsed.clear()
    index_mod.ensure(settings, encoder, force=True)
    assert sorted(parsed) == sorted(fingerprint(settings.corpus_dir))


class RereadAll(FolderSource):
    """The corpus folder parsed whole on every refresh, as the speed benchmark's baseline does."""

    def read(self, unchanged=None):
        return super().read(None)


def test_a_source_that_rereads_every_file_carries_nothing_over(settings):
    from qa.evaluation.speed.updates import _no_record_carry as no_record_carry

    counting = CountingEncoder()
    index_mod.ensure(settings, counting)
    _sub(settings.corpus_dir)
    counting.seen.clear()
    with no_record_carry():  # the bench's baseline: files read again keep none of their rows either
        index = index_mod.ensure(settings, counting, source=RereadAll.from_settings(settings))
    assert index.manifest["refresh"]["carried_rows"] == 0
    assert index.manifest["refresh"]["parsed_files"] == len(index.manifest["files"])
    assert counting.seen == [p.embed_text(settings.embed_title) for p in index.passages
                             if p.source == "2024/tigers.txt"]  # vectors are still reused by text


def test_files_read_again_unchanged_keep_their_rows(settings, encoder):
    first = index_mod.ensure(settings, encoder)
    write_article(settings.corpus_dir, "storm.txt", "Storm hits coast", "2024-01-02", "A storm named Bella hit.")
    index = index_mod.ensure(settings, encoder, source=RereadAll.from_settings(settings))
    assert index.manifest["refresh"]["carried_rows"] == len(first)  # each file's records as they were


def test_old_index_without_tables_is_refreshed_in_full(settings, encoder):
    old = index_mod.ensure(settings, encoder)
    (old.path / inc.SOURCES_FILE).unlink()  # as written before per-file tables existed
    manifest = json.loads((old.path / "manifest.json").read_text())
    del manifest["checksums"][inc.SOURCES_FILE]
    (old.path / "manifest.json").write_text(json.dumps(manifest))
    _sub(settings.corpus_dir)
    index = index_mod.ensure(settings, encoder)
    assert index.manifest["refresh"]["carried_rows"] == 0 and "2024/tigers.txt" in index.manifest["files"]


# ---- BM25 from stored term counts, passages copied by bytes -------------------------------------------

TEXTS = ["The minister resigned on Friday after a bribery investigation.",
         "Floods and landslides hit the province; twelve people died.",
         "A dragon bridge over the river breathes fire at night.",
         "the of and", "",
         "Rescue teams reached the flooded villages by boat on Friday."]
QUERIES = ["minister friday", "floods villages", "dragon", "the", "nothing-known"]


def test_bm25_matches_bm25s_own_index(tmp_path):
    """Our scores are those of bm25s's public BM25.index, and each reads the folder the other saves."""
    import bm25s

    ours = Lexical.build(TEXTS)
    (tmp_path / "ours").mkdir()
    ours.save(tmp_path / "ours")
    theirs = bm25s.BM25()
    theirs.index(tokenize(TEXTS), show_progress=False)
    theirs.save(str(tmp_path / "theirs"), allow_pickle=False, show_progress=False)
    ours_by_bm25s = bm25s.BM25.load(str(tmp_path / "ours"), allow_pickle=False)
    theirs_by_us = Lexical.load(tmp_path / "theirs")
    for q in QUERIES:
        known = [t for t in tokenize([q])[0] if t in theirs.vocab_dict]
        expected = theirs.get_scores(known) if known else np.zeros(len(TEXTS), np.float32)
        np.testing.assert_array_equal(ours.scores(q), expected)
        np.testing.assert_array_equal(theirs_by_us.scores(q), expected)
        np.testing.assert_array_equal(ours_by_bm25s.get_scores(known) if known else expected, expected)
    assert theirs_by_us.size == ours_by_bm25s.scores["num_docs"] == len(TEXTS)


def test_bm25_refuses_a_folder_of_another_bm25(tmp_path):
    Lexical.build(TEXTS).save(tmp_path)
    params = json.loads((tmp_path / "params.index.json").read_text())
    (tmp_path / "params.index.json").write_text(json.dumps({**params, "method": "bm25+"}))
    with pytest.raises(ValueError, match="not the BM25 scored here"):
        Lexical.load(tmp_path)


def test_bm25_rebuild_from_counts_equals_a_fresh_build(tmp_path):
    old = Lexical.build(TEXTS)
    old.save(tmp_path)
    loaded = Lexical.load(tmp_path)
    old_rows = np.array([5, -1, 0, 2, -1])  # reorder, drop rows 1, 3, 4, add two
    new = ["Measles vaccination reached mountain schools.", "A second bribery case on Friday."]
    rebuilt = Lexical.rebuild(loaded, old_rows, new)
    fresh = Lexical.build([TEXTS[5], new[0], TEXTS[0], TEXTS[2], new[1]])
    assert rebuilt.size == 5
    for q in QUERIES + ["measles", "bribery", "landslides"]:
        np.testing.assert_allclose(rebuilt.scores(q), fresh.scores(q), rtol=1e-6)
    with pytest.raises(ValueError, match="new rows"):
        Lexical.rebuild(loaded, old_rows, new[:1])


def test_bm25_with_no_vocabulary_keeps_rows():
    lex = Lexical.build(["the of", "and"])
    assert lex.size == 2 and lex.scores("the").tolist() == [0.0, 0.0]


def test_write_passages_copies_old_records(settings, encoder, tmp_path):
    index = index_mod.ensure(settings, encoder)
    old = index.passages
    rows = np.array([3, 4, -1, 0, -1, 1], dtype=np.int64)
    fresh = [old[2], old[len(old) - 1]]
    (tmp_path / "a").mkdir()
    write_passages(fresh, tmp_path / "a", old, rows)
    (tmp_path / "b").mkdir()
    write_passages([old[3], old[4], old[2], old[0], old[len(old) - 1], old[1]], tmp_path / "b")
    for name in ("passages.jsonl", "passages.offsets.npy", "passages.dates.npy"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert list(PassageStore(tmp_path / "a"))[2] == old[2]


# ---- the int8 ONNX encoder -----------------------------------------------------------------------------

def test_int8_model_is_known_and_lazy():
    from qa.embed import INT8_MODEL, KNOWN_MODELS, get_encoder

    assert INT8_MODEL in KNOWN_MODELS
    from qa.embed.onnx import OnnxInt8Encoder

    assert isinstance(get_encoder(INT8_MODEL), OnnxInt8Encoder)
    enc = OnnxInt8Encoder()  # a fresh one: the shared encoder may already be loaded by other tests
    assert enc.name == INT8_MODEL and enc.dim == 384 and enc._session is None  # nothing loaded yet
    assert enc.encode([]).shape == (0, 384)


def test_cache_key_follows_versions(monkeypatch, tmp_path):
    from qa.embed import onnx as ox

    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    before = ox.cached_model_path()
    assert before.parent.parent == tmp_path / "onnx"
    monkeypatch.setattr(ox, "_version", lambda package: "9.9" if package == "onnxruntime" else "1.0")
    assert ox.cached_model_path() != before


@pytest.mark.slow
def test_int8_encoder_close_to_fp32_deterministic_and_torch_free():
    from qa.embed import INT8_MODEL, get_encoder
    from qa.embed.onnx import cached_model_path

    texts = ["Who led the Vietnamese delegation in 2023?",
             "Senior Lieutenant General Luong Tam Quang led the delegation to Singapore. " * 8,
             "Floods killed twelve people in Ha Giang province."]
    ours = get_encoder(INT8_MODEL).encode(texts)
    assert cached_model_path().is_file()
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    again = get_encoder(INT8_MODEL).encode(texts[::-1])[::-1]  # other neighbours, same vectors
    np.testing.assert_array_equal(ours, again)
    fp32 = get_encoder("all-MiniLM-L6-v2").encode(texts)
    assert ((ours * fp32).sum(axis=1) > 0.97).all()
    code = ("import sys; from qa.embed import get_encoder; get_encoder('all-MiniLM-L6-v2-int8').encode(['x']);"
            "print(','.join(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0 and out.stdout.strip() == "", out.stderr


@pytest.mark.slow
def test_int8_encoder_side_by_side_gives_each_text_the_vector_it_gets_alone_on_two_threads():
    import onnxruntime as ort

    from qa.embed import INT8_MODEL
    from qa.embed.onnx import OnnxInt8Encoder, cached_model_path

    texts = [f"Passage {i}: the delegation met the minister of state on day {i}. " * (1 + i % 4) for i in range(9)]
    enc = OnnxInt8Encoder(INT8_MODEL, threads=2)
    side = enc.encode(texts)  # side by side, one thread each
    _, tokenizer = enc._load()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2  # how every vector was made before the sixteenth session
    two = ort.InferenceSession(str(cached_model_path()), opts, providers=["CPUExecutionProvider"])
    for text, v in zip(texts, side):
        ids = np.asarray([tokenizer.encode(text).ids], dtype=np.int64)
        h = two.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                           "token_type_ids": np.zeros_like(ids)})[0][0].mean(axis=0)
        np.testing.assert_array_equal(v, h / max(float(np.linalg.norm(h)), 1e-12))  # to the bit: old indexes hold
    np.testing.assert_array_equal(OnnxInt8Encoder(INT8_MODEL, threads=1).encode(texts), side)


# ---- benchmark helpers ---------------------------------------------------------------------------------

def test_synthetic_vectors_are_unit_and_reproducible():
    from qa.evaluation.speed import synthetic_vectors

    x, q = synthetic_vectors(2000, dim=16)
    assert x.shape == (2000, 16) and q.shape[1] == 16
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(x, synthetic_vectors(2000, dim=16)[0])


def test_bench_vectors_reports_recall_and_baseline(tmp_path, monkeypatch):
    from qa.evaluation.speed import bench_vectors, summary_rows

    monkeypatch.setattr(vec, "FLAT_LIMIT", 1000)
    row = bench_vectors(3000, {"queries": 20}, tmp_path, say=lambda m: None)
    assert row["index_type"] == "hnsw" and row["recall@10"] >= 0.9 and row["baseline_exact_p50_ms"] > 0
    assert "synthetic" in row["data"] and row["date_filter"]["recall@10"] >= 0.9
    rows = summary_rows({"vector_search": [row]})
    assert any("3,000 synthetic" in r[0] for r in rows)


# ---- IVF-PQ (tens of millions of vectors): chosen by size, re-scored exactly, date filter, updates --------

def test_ivfpq_is_chosen_above_the_ivf_limit():
    assert vec.choose_kind(vec.IVF_LIMIT - 1) == "hnsw" and vec.choose_kind(vec.IVF_LIMIT) == "ivfpq"
    assert vec.ivf_lists(10_000_000) == 4096 and vec.ivf_lists(100) == 64


@pytest.fixture(scope="module")
def ivf_data():
    from qa.evaluation.speed.vectors import synthetic_vectors

    v, queries = synthetic_vectors(5000)
    return v, vec.build(v, "ivfpq"), queries[:30]


def test_ivfpq_recall_filter_and_round_trip(ivf_data, tmp_path):
    v, dense, queries = ivf_data
    assert dense.kind == "ivfpq" and dense.ntotal == len(v)
    recall = np.mean([len(set(vec.search(dense, v, q, 10)[1].tolist()) & set(exact_top(v, q, 10).tolist())) / 10
                      for q in queries])
    assert recall >= 0.95
    scores, rows = vec.search(dense, v, queries[0], 10)
    np.testing.assert_allclose(scores, v[rows] @ queries[0], rtol=1e-5)  # re-scored exactly
    subset = np.arange(0, len(v), 3, dtype=np.int64)  # a third of the rows: FAISS's selector, not a scan
    _, rows = vec.search(dense, v, queries[1], 10, subset=subset)
    assert set(rows.tolist()) <= set(subset.tolist()) and len(rows) == 10
    vec.save(dense, tmp_path / "d.faiss")
    assert vec.load(tmp_path / "d.faiss").kind == "ivfpq"


def test_ivfpq_update_appends_new_rows(monkeypatch):
    from qa.evaluation.speed.vectors import synthetic_vectors

    monkeypatch.setattr(vec, "FLAT_LIMIT", 500)
    monkeypatch.setattr(vec, "IVF_LIMIT", 1000)
    v, _ = synthetic_vectors(3000)
    dense = vec.build(v[:2000], "ivfpq")
    lists = dense.index
    updated = vec.update(dense, v, np.concatenate([np.arange(2000), np.full(1000, -1)]))
    assert updated.index is lists and updated.kind == "ivfpq" and updated.ntotal == 3000
    assert vec.search(updated, v, v[2500], 1)[1].tolist() == [2500]


def test_scale_bench_streams_the_synthetic_vectors_and_keeps_the_exact_top(tmp_path):
    from qa.evaluation.speed import scale

    q, chunks = scale.synthetic_chunks(2500, 5, dim=16)
    parts = list(chunks)
    assert [len(p) for p in parts] == [2500] and np.allclose(np.linalg.norm(parts[0], axis=1), 1, atol=1e-5)
    x = parts[0]
    best = (np.full((5, 10), -np.inf, np.float32), np.zeros((5, 10), np.int64))
    for start in range(0, len(x), 700):  # chunk by chunk, as the 10M run does
        best = scale._merge_top(*best, q @ x[start:start + 700].T, start)
    assert best[1].tolist() == [exact_top(x, qq, 10).tolist() for qq in q]


def test_scale_bench_trains_on_several_chunks_and_finds_the_true_neighbours(tmp_path, monkeypatch):
    from qa.evaluation.speed import scale

    monkeypatch.setattr(scale, "CHUNK", 2_000)  # the training sample (64 a list) spans several chunks
    out = scale.bench_scale(12_000, 20, tmp_path, lambda msg: None, nprobes=(32,))
    assert out["vectors"] == 12_000 and out["train_s"] >= 0
    row = out["by_nprobe"][0]
    assert row["recall@10"] >= 0.95 and row["date_filter"]["recall@10"] >= 0.9
    again = scale.bench_scale(12_000, 20, tmp_path, lambda msg: None, nprobes=(32,))  # reuses the saved index
    assert "train_s" not in again and again["by_nprobe"][0]["recall@10"] == row["recall@10"]


@pytest.mark.parametrize("share", [0.3, 0.01], ids=["post-filtered", "bitmap"])
def test_ivfpq_date_filter_paths_keep_to_the_subset_and_find_its_top(ivf_data, monkeypatch, share):
    v, dense, queries = ivf_data
    monkeypatch.setattr(vec, "EXACT_SUBSET_LIMIT", 0)  # no exact scan: FAISS's paths only
    subset = np.flatnonzero(np.random.default_rng(2).random(len(v)) < share).astype(np.int64)
    recall = []
    for q in queries[:10]:
        _, rows = vec.search(dense, v, q, 10, subset=subset)
        assert set(rows.tolist()) <= set(subset.tolist())
        recall.append(len(set(rows.tolist()) & set(exact_top(v, q, 10, subset).tolist())) / 10)
    assert np.mean(recall) >= 0.9
    _, rows = vec.search(dense, v, queries[0], 10, subset=subset[::-1].copy())  # unsorted: the bitmap
    assert set(rows.tolist()) <= set(subset.tolist())
