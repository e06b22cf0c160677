"""The bench figures as (figure, ours, baseline, goal) rows for the terminal."""
from __future__ import annotations


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
        rows.append(("HNSW recall@10 on the corpus's real vectors", f"{c['real_vectors_hnsw']['recall@10']}",
                     "1.0 (exact)", ""))
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
