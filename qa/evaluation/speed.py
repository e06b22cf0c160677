"""`python -m qa bench`: speed and scale figures, each next to a baseline measured in the same run.

Every figure is a median over repeats, measured in this process (or in child processes for cold start)
on whatever else the machine is doing; compare a figure with its baseline, not with other runs.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa import index as index_mod
from qa.index import dense as vec
from qa.evaluation.corpus import docs_for, sample_questions, write_docs
from qa.config import REPO_ROOT, Settings
from qa.embed import INT8_MODEL, get_encoder
from qa.ingest import FolderSource

logger = logging.getLogger(__name__)

FP32_MODEL = "all-MiniLM-L6-v2"
SQUAD = "squad-v1.1-dev/dev-v1.1.json"
FULL = dict(paragraphs=2000, questions=1000, encode_repeats=3, corpus_passages=10_000, asks=100,
            vector_sizes=(100_000, 1_000_000), queries=200, cold_repeats=5, add_repeats=3)
QUICK = dict(paragraphs=150, questions=300, encode_repeats=3, corpus_passages=1_000, asks=30,
             vector_sizes=(100_000,), queries=100, cold_repeats=2, add_repeats=2)


def _median(xs) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def _pct(xs, q: float) -> float:
    return float(np.percentile(xs, q)) if len(xs) else float("nan")


def _r(x: float, nd: int = 2) -> float:
    return round(float(x), nd)


class Timer:
    """Wall-clock seconds of a with-block."""

    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.s = time.perf_counter() - self.t


# ---- encoding -------------------------------------------------------------------------------------------

def squad_sample(datasets_dir: Path, paragraphs: int, questions: int, seed: int = 0):
    """The first `paragraphs` SQuAD dev paragraphs and a sample of questions about them (with gold index)."""
    import random

    data = json.loads((Path(datasets_dir) / SQUAD).read_text(encoding="utf-8"))["data"]
    texts, qs = [], []
    for a in data:
        for p in a["paragraphs"]:
            if len(texts) >= paragraphs:
                break
            qs += [(q["question"], len(texts)) for q in p["qas"]]
            texts.append(p["context"])
    return texts, random.Random(seed).sample(qs, min(questions, len(qs)))


def bench_encode(settings: Settings, cfg: dict, say) -> dict:
    """Throughput of our encoder vs plain SentenceTransformer.encode, and dense R@k over the same paragraphs."""
    path = Path(settings.datasets_dir) / SQUAD
    if not path.is_file():
        return {"skipped": f"SQuAD dev not found at {path} (set --datasets or QA_DATASETS_DIR)"}
    texts, qs = squad_sample(settings.datasets_dir, cfg["paragraphs"], cfg["questions"])
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
        recall[who] = {"r@1": _r((rank[:, 0] == gold).mean(), 4), "r@5": _r((rank == gold[:, None]).any(1).mean(), 4)}
    tokens = _mean_tokens(texts)
    return {
        "what": f"{len(texts)} SQuAD dev paragraphs (mean {tokens:.0f} tokens), {cfg['encode_repeats']} repeats",
        "ours": f"{INT8_MODEL} (int8 ONNX, onnxruntime)", "baseline": "SentenceTransformer.encode fp32, batch 32",
        "throughput_per_s": _r(_median(rates), 1), "baseline_per_s": _r(_median(base_rates), 1),
        "ratio": _r(_median(ratios)), "ratios": [_r(x) for x in ratios],
        "first_use_s": _r(t_load.s), "export_was_cached": cached,
        "cosine_to_fp32": {"mean": _r(cos.mean(), 4), "min": _r(cos.min(), 4)},
        "dense_recall": {"questions": len(qs), "over": f"these {len(texts)} paragraphs", **recall,
                         "r@5_delta": _r(recall["ours"]["r@5"] - recall["plain"]["r@5"], 4)},
    }


def _mean_tokens(texts) -> float:
    from tokenizers import Tokenizer

    from qa.embed.onnx import MAX_TOKENS, model_dir

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    return float(np.mean([len(e.ids) for e in tok.encode_batch(list(texts))]))


# ---- ask latency, updates, index size ------------------------------------------------------------------

def _ask_latency(qa, questions: list[str], n: int) -> list[float]:
    for q in questions[:3]:
        qa.ask(q)  # warm
    times = []
    for i in range(n):
        with Timer() as t:
            qa.ask(questions[i % len(questions)])
        times.append(t.s * 1e3)
    return times


def _latency_row(ours: list[float], base: list[float], what: str) -> dict:
    return {"what": what, "p50_ms": _r(_median(ours), 1), "p95_ms": _r(_pct(ours, 95), 1),
            "baseline_p50_ms": _r(_median(base), 1), "baseline_p95_ms": _r(_pct(base, 95), 1),
            "baseline": "same pipeline and index, question and highlight encoding with plain fp32 "
                        "SentenceTransformer", "asks": len(ours)}


def bench_seed_ask(settings: Settings, cfg: dict, work: Path, say) -> dict:
    """Warm ask() latency on the seed corpus, ours vs the fp32 encoder."""
    from qa.evaluation.datasets import load_questions
    from qa.pipeline import QA

    questions = [c.question for c in load_questions(REPO_ROOT / "eval" / "seed.jsonl") if not c.turns]
    s = replace(settings, model=INT8_MODEL, index_dir=work / "seed-index")
    what = f"seed corpus ({len(QA(s).index())} passages)"
    return _ask_vs_fp32(s, None, questions, cfg["asks"], what, say)


def _ask_vs_fp32(s: Settings, encoder, questions: list[str], asks: int, what: str, say) -> dict:
    """Warm ask() latency of our encoder vs the plain fp32 one, same pipeline and index."""
    from qa.pipeline import QA

    ours = QA(s, encoder=encoder) if encoder is not None else QA(s)
    ours.warm_up()
    base = QA(s, encoder=get_encoder(FP32_MODEL))
    base.warm_up()
    say(f"ask: {what}, {asks} asks each")
    t_base = _ask_latency(base, questions, asks)
    t_ours = _ask_latency(ours, questions, asks)
    return _latency_row(t_ours, t_base, what)


def _folder_bytes(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in path.rglob("*"):
        if p.is_file():
            part = p.relative_to(path).parts[0]
            out[part] = out.get(part, 0) + p.stat().st_size
    return out


class _RereadAll(FolderSource):
    """The corpus folder parsed whole on every refresh (vectors still reused by text): the no-carry-over baseline."""

    def read(self, unchanged=None):
        return super().read(None)


def bench_corpus(settings: Settings, cfg: dict, work: Path, say) -> dict:
    """Build a news-like corpus index, then time one-article updates against rebuilding, and ask latency."""
    target = cfg["corpus_passages"]
    docs = docs_for(settings.datasets_dir, target + 10_000)  # the tail supplies articles to add
    if not docs:
        return {"skipped": f"no datasets in {settings.datasets_dir}"}
    corpus_docs = docs_for(settings.datasets_dir, target)
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
            index_mod.ensure(s, encoder, source=_RereadAll.from_settings(s))
        olds.append(t.s)
        (corpus / doc.name).unlink()
        index_mod.ensure(s, encoder)
        say(f"  add one article: {adds[-1]:.2f} s, delete it: {deletes[-1]:.2f} s, "
            f"add without carry-over: {olds[-1]:.2f} s")
    questions = sample_questions(corpus_docs, 200)
    ask_row = _ask_vs_fp32(s, encoder, questions, cfg["asks"], f"{n}-passage corpus", say)
    total = sum(sizes.values())
    return {
        "passages": n, "articles": len(corpus_docs), "index_type": index.manifest["index_type"],
        "full_build_s": _r(t_full.s), "full_build_note": "every passage parsed, embedded (ours) and indexed",
        "add_one_article_s": _r(_median(adds), 3), "delete_one_article_s": _r(_median(deletes), 3),
        "add_without_carry_over_s": _r(_median(olds), 3),
        "add_vs_full_build": f"{100 * _median(adds) / t_full.s:.2f}%",
        "add_vs_without_carry_over": f"{100 * _median(adds) / _median(olds):.1f}%",
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
    return {"vectors": len(vectors), "queries": len(q), "recall@10": _r(np.mean(rec), 4)}


# ---- vector search at scale ----------------------------------------------------------------------------

def synthetic_vectors(n: int, dim: int = 384, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered unit vectors (topics > sub-topics > points) and 'queries' drawn the same way, not stored.

    Sub-topics of about 50 points make a query's ten nearest neighbours near-ties within one sub-topic:
    hard for an approximate index, yet structured like embeddings of text (uniform random vectors, with
    no neighbourhoods at all, would be unlike any corpus).
    """
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((max(1, n // 1000), dim)).astype(np.float32)
    subs = topics[rng.integers(0, len(topics), max(1, n // 50))]
    subs += 0.8 * rng.standard_normal(subs.shape).astype(np.float32)
    x = np.empty((n, dim), dtype=np.float32)
    for i in range(0, n, 100_000):
        m = min(n, i + 100_000) - i
        x[i:i + m] = subs[rng.integers(0, len(subs), m)] + 0.9 * rng.standard_normal((m, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = subs[rng.integers(0, len(subs), 1000)] + 0.9 * rng.standard_normal((1000, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, q


def bench_vectors(n: int, cfg: dict, work: Path, say) -> dict:
    """Our index for n vectors vs exact flat search: latency, recall@10, build time, bytes, date filter."""
    x, queries = synthetic_vectors(n)
    q = queries[: cfg["queries"]]
    kind = vec.choose_kind(n)
    say(f"vectors: {n:,} synthetic 384-d vectors; exact flat baseline vs {kind}")
    flat = vec.build(x, "flat")
    exact_scores, exact = flat.index.search(q, 10)
    with Timer() as t_build:
        ours = vec.build(x, kind)
    path = work / f"dense-{n}.faiss"
    vec.save(ours, path)
    size = path.stat().st_size
    path.unlink()
    rng = np.random.default_rng(1)
    dates = rng.integers(0, 3650, n)  # ten years of days: a one-year filter keeps about 10%
    t_flat, t_ours, rec, t_filt, rec_filt = [], [], [], [], []
    for i, qq in enumerate(q):
        with Timer() as t:
            vec.search(flat, x, qq, 10)  # exact, one thread per query as ours
        t_flat.append(t.s * 1e3)
        with Timer() as t:
            _, ids = vec.search(ours, x, qq, 10)
        t_ours.append(t.s * 1e3)
        rec.append(len(set(ids.tolist()) & set(exact[i].tolist())) / 10)
    year = rng.integers(0, 9)
    subset = np.flatnonzero((dates >= 365 * year) & (dates < 365 * (year + 1))).astype(np.int64)
    sub_vecs = x[subset]
    for qq in q[: min(50, len(q))]:
        with Timer() as t:
            _, ids = vec.search(ours, x, qq, 10, subset=subset)
        t_filt.append(t.s * 1e3)
        truth = subset[np.argsort(-(sub_vecs @ qq))[:10]]
        rec_filt.append(len(set(ids.tolist()) & set(truth.tolist())) / 10)
    return {
        "vectors": n, "data": "synthetic clustered unit vectors (not embeddings of text)", "index_type": kind,
        "p50_ms": _r(_median(t_ours), 3), "p95_ms": _r(_pct(t_ours, 95), 3),
        "baseline_exact_p50_ms": _r(_median(t_flat), 3), "baseline_exact_p95_ms": _r(_pct(t_flat, 95), 3),
        "recall@10": _r(np.mean(rec), 4), "queries": len(q), "build_s": _r(t_build.s, 1),
        "index_bytes_per_vector": round(size / n), "baseline_bytes_per_vector": 384 * 4,
        "date_filter": {"rows": len(subset), "p50_ms": _r(_median(t_filt), 3), "recall@10": _r(np.mean(rec_filt), 4)},
        "params": ({"M": vec.HNSW_M, "efConstruction": vec.HNSW_EF_CONSTRUCTION, "efSearch": vec.HNSW_EF_SEARCH,
                    "codes": "int8 (SQ8)", "rerank": f"{vec.RERANK}k candidates re-scored exactly"}
                   if kind == "hnsw" else {}),
    }


# ---- cold start ----------------------------------------------------------------------------------------

# `python -m qa ARGS` as __main__ runs it, then a report of what it imported and its peak RSS (VmHWM:
# unlike ru_maxrss, not inflated by the parent's memory at fork time).
_PROBE = """
import json, re, sys
from qa.cli import main
code = main(sys.argv[1:])
heavy = [m for m in ("torch", "sentence_transformers", "gradio", "transformers", "spacy") if m in sys.modules]
hwm = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"code": code, "heavy_imports": heavy, "peak_rss_kb": hwm}), file=sys.stderr)
sys.exit(code)
"""


def _run_child(args: list[str], env: dict) -> tuple[float, dict]:
    """Wall seconds of `python -m qa ARGS` in a new process, and its report (imports, peak RSS)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=REPO_ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"python -m qa {' '.join(args[:2])} ... failed: {proc.stderr.strip()[-300:]}")
    return took, json.loads(proc.stderr.strip().splitlines()[-1])


def bench_cold_start(settings: Settings, cfg: dict, work: Path, say) -> dict:
    """`python -m qa ask` in a new process (index already built), ours vs the fp32 model."""
    from qa.pipeline import QA

    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["HF_HUB_OFFLINE"] = "1"
    question = "who led the 2023 delegation?"
    out = {}
    for label, model in (("ours", INT8_MODEL), ("baseline", FP32_MODEL)):
        index_dir = work / f"cold-{model}"
        QA(replace(settings, model=model, index_dir=index_dir)).index()  # built beforehand, not timed
        args = ["ask", question, "--corpus", str(settings.corpus_dir), "--index", str(index_dir), "--model", model]
        repeats = cfg["cold_repeats"]
        say(f"cold start: python -m qa ask ... --model {model}, {repeats} runs")
        runs = [_run_child(args, env) for _ in range(repeats)]
        out[label] = {"model": model, "median_s": _r(_median([r[0] for r in runs])),
                      "runs_s": [_r(r[0]) for r in runs],
                      "peak_rss_mb": _r(_median([r[1]["peak_rss_kb"] for r in runs]) / 1024, 0),
                      "heavy_imports": runs[-1][1]["heavy_imports"]}
    big = work / "corpus-index"  # left by the corpus section, when it ran
    if (big / "CURRENT").is_file():
        args = ["ask", "Which year did the study start?", "--corpus", str(work / "corpus"), "--index", str(big),
                "--model", INT8_MODEL]
        runs = [_run_child(args, env) for _ in range(cfg["cold_repeats"])]
        out["ours_on_corpus"] = {"index": str(big.name), "median_s": _r(_median([r[0] for r in runs])),
                                 "peak_rss_mb": _r(_median([r[1]["peak_rss_kb"] for r in runs]) / 1024, 0)}
    return {"command": f'python -m qa ask "{question}" (seed corpus, index built)', **out,
            "speedup": _r(out["baseline"]["median_s"] / out["ours"]["median_s"])}


# ---- driver --------------------------------------------------------------------------------------------

SECTIONS = ("encode", "ask", "corpus", "vectors", "cold")


def run_bench(settings: Settings, quick: bool = False, say=lambda msg: None, work: Path | None = None,
              only: set[str] | None = None) -> dict:
    """Every figure with its baseline; `quick` uses reduced sizes (and says so); `only` picks sections."""
    only = set(only or SECTIONS)
    cfg = QUICK if quick else FULL
    own = work is None
    work = Path(work or tempfile.mkdtemp(prefix="qa-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result: dict = {"mode": "quick" if quick else "full", "cores": os.cpu_count(),
                    "load_average_at_start": _r(os.getloadavg()[0]),
                    "sizes": {k: cfg[k] for k in ("paragraphs", "corpus_passages", "vector_sizes")},
                    "note": ("quick: reduced sizes (150 paragraphs, a 1,000-passage corpus, 100k vectors, no 1M, "
                             "fewer repeats); run without --quick for the full sizes") if quick else
                            "full sizes: 2,000 paragraphs, a 10,000-passage corpus, 100k and 1M vectors"}
    try:
        steps = (("encode", "encode", lambda: bench_encode(settings, cfg, say)),
                 ("ask", "ask_seed", lambda: bench_seed_ask(settings, cfg, work, say)),
                 ("corpus", "corpus", lambda: bench_corpus(settings, cfg, work, say)),
                 ("vectors", "vector_search", lambda: [bench_vectors(n, cfg, work, say) for n in cfg["vector_sizes"]]),
                 ("cold", "cold_start", lambda: bench_cold_start(settings, cfg, work, say)))
        for section, key, step in steps:
            if section in only:
                try:
                    result[key] = step()
                except Exception as exc:  # one broken section must not lose the others' figures
                    logger.exception("bench section %s failed", section)
                    result.setdefault("errors", {})[section] = f"{type(exc).__name__}: {exc}"
                    say(f"{section}: failed: {exc}")
        import resource

        result["peak_rss_mb_this_process"] = _r(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    result["elapsed_s"] = _r(time.perf_counter() - started, 1)
    result["load_average_at_end"] = _r(os.getloadavg()[0])
    return result


def summary_rows(result: dict) -> list[tuple[str, str, str, str]]:
    """(figure, ours, baseline, goal) rows for a readable table."""
    rows = []
    e = result.get("encode", {})
    if "ratio" in e:
        rows.append(("encode throughput (SQuAD paragraphs/s)", f"{e['throughput_per_s']}",
                     f"{e['baseline_per_s']} (plain fp32)", f"ratio {e['ratio']}x (goal >= 2.0)"))
        d = e["dense_recall"]
        rows.append((f"dense R@5 over {d['over']}", f"{d['ours']['r@5']}", f"{d['plain']['r@5']}",
                     f"delta {d['r@5_delta']:+} (goal >= -0.01)"))
    elif e:
        rows.append(("encode throughput", "skipped", e.get("skipped", ""), ""))
    for key in ("ask_seed",):
        a = result.get(key)
        if a:
            rows.append((f"warm ask() p50 / p95 ms, {a['what']}", f"{a['p50_ms']} / {a['p95_ms']}",
                         f"{a['baseline_p50_ms']} / {a['baseline_p95_ms']}", ""))
    c = result.get("corpus", {})
    if "passages" in c:
        a = c["ask"]
        rows.append((f"warm ask() p50 / p95 ms, {a['what']}", f"{a['p50_ms']} / {a['p95_ms']}",
                     f"{a['baseline_p50_ms']} / {a['baseline_p95_ms']}", ""))
        rows.append((f"add one article to {c['passages']} passages (s)", f"{c['add_one_article_s']}",
                     f"{c['full_build_s']} (full build)", f"{c['add_vs_full_build']} (goal <= 5%)"))
        rows.append(("  same, without carrying files over (s)", f"{c['add_without_carry_over_s']}", "", ""))
        rows.append(("index bytes per passage", f"{c['index_bytes_per_passage']}", "", ""))
        rows.append(("HNSW recall@10 on the corpus's real vectors", f"{c['real_vectors_hnsw']['recall@10']}", "1.0 (exact)", ""))
    for v in result.get("vector_search", []):
        rows.append((f"vector search p50 ms, {v['vectors']:,} synthetic ({v['index_type']})", f"{v['p50_ms']}",
                     f"{v['baseline_exact_p50_ms']} (exact flat)", "goal <= 5 ms at 1M"))
        rows.append((f"  recall@10 vs exact, {v['vectors']:,}", f"{v['recall@10']}", "1.0",
                     "goal >= 0.95 at 1M"))
        rows.append((f"  with a date filter ({v['date_filter']['rows']:,} rows)",
                     f"{v['date_filter']['p50_ms']} ms, recall {v['date_filter']['recall@10']}", "", ""))
        rows.append((f"  index bytes per vector, {v['vectors']:,}", f"{v['index_bytes_per_vector']}",
                     f"{v['baseline_bytes_per_vector']} (flat fp32)", ""))
    for section, error in result.get("errors", {}).items():
        rows.append((f"{section}: FAILED", error[:80], "", ""))
    cs = result.get("cold_start")
    if cs:
        rows.append(("cold start, python -m qa ask (s)", f"{cs['ours']['median_s']}",
                     f"{cs['baseline']['median_s']} (fp32 model, torch)", "goal <= 3 s"))
        rows.append(("  peak RSS of that process (MB)", f"{cs['ours']['peak_rss_mb']}",
                     f"{cs['baseline']['peak_rss_mb']}", ""))
        if "ours_on_corpus" in cs:
            rows.append((f"  same on the {result.get('corpus', {}).get('passages', 'benchmark')}-passage corpus "
                         "(s, MB)", f"{cs['ours_on_corpus']['median_s']}, {cs['ours_on_corpus']['peak_rss_mb']}",
                         "", ""))
    return rows
