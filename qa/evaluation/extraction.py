"""Body extraction on the article-extraction benchmark (181 real pages with their true body text).

Scored as the benchmark's SOURCE.md describes its authors' evaluation: `\\w+` tokens, a multiset of
4-token shingles per text, per-page TP/FP/FN normalised to sum 1, precision and recall averaged over
pages (a page with no predicted, resp. no true, shingles left out), F1 of the two averages, and 95%
intervals as 1.96 standard deviations over 1,000 bootstrap resamples of the pages. Our HTML reader
(`qa.ingest.html`, reading each `.html.gz` file as the corpus walk would) is scored next to plain
`trafilatura.extract` with the settings the benchmark's own runner uses, on the same pages in the
same run.

    python -m qa.evaluation.extraction [--datasets DIR] [--worst 10] [--embed] [--json]
"""
from __future__ import annotations

import argparse
import gzip
import json
import logging
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from qa.evaluation.datasets import datasets_dir

logger = logging.getLogger(__name__)
FOLDER = "article-extraction"
_TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter:
    """The multiset of n-token shingles of `text` (a shorter text is one shingle of all its tokens)."""
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i:i + n])


def page_counts(true: str, pred: str) -> tuple[float, float, float]:
    """Shared, only-predicted and only-true shingle counts of one page, normalised to sum 1."""
    t, p = shingles(true), shingles(pred)
    tp = sum((t & p).values())
    fp, fn = sum((p - t).values()), sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else 0.0 if tp == fn == 0 else tp / (tp + fn)


def scores(counts: list[tuple[float, float, float]]) -> dict[str, float]:
    """Averaged precision and recall over pages and the F1 of those averages."""
    p = statistics.mean([_precision(*c) for c in counts if c[0] + c[1] > 0] or [0.0])
    r = statistics.mean([_recall(*c) for c in counts if c[0] + c[2] > 0] or [0.0])
    return {"f1": 2 * p * r / (p + r) if p + r else 0.0, "precision": p, "recall": r}


def bootstrap(counts: list[tuple[float, float, float]], n: int = 1000, seed: int = 0) -> dict[str, float]:
    """Half-widths of 95% intervals (1.96 standard deviations over `n` resamples of the pages)."""
    rng, samples = random.Random(seed), {}
    for _ in range(n):
        drawn = scores([counts[rng.randrange(len(counts))] for _ in counts])
        for key, value in drawn.items():
            samples.setdefault(key, []).append(value)
    return {f"{key}_ci": 1.96 * statistics.stdev(values) for key, values in samples.items()}


def load_pages(datasets: Path | None = None) -> list[dict]:
    """The benchmark's pages: id, path of the gzipped HTML, true body and URL, in id order."""
    folder = datasets_dir(datasets) / FOLDER
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    return [{"id": key, "path": folder / "html" / f"{key}.html.gz", "true": value.get("articleBody") or "",
             "url": value.get("url")} for key, value in sorted(truth.items())]


def plain_trafilatura(path: Path, url: str | None = None) -> str:
    """Body text from `trafilatura.extract` as the benchmark's own trafilatura runner calls it."""
    import trafilatura

    with gzip.open(path, "rt", encoding="utf-8") as f:
        return trafilatura.extract(f.read(), include_comments=False) or ""


def ours(path: Path, url: str | None = None) -> str:
    """Body text of every article our HTML reader finds in the page file, as the index would get it."""
    from qa.ingest.errors import IngestError
    from qa.ingest.html import read_html

    try:
        return "\n\n".join(a.text for a in read_html(path, path.name, 64 * 2**20))
    except IngestError as e:
        logger.info("%s", e)
        return ""


EXTRACTORS = {"ours": ours, "trafilatura": plain_trafilatura}


def warc_speed(pages: list[dict]) -> dict:
    """Pages per CPU second through the WARC reader: the pages written as one gzipped WARC, read back."""
    import io
    import tempfile

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from qa.ingest.warc import read_warc

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pages.warc.gz"
        with path.open("wb") as f:
            writer = WARCWriter(f, gzip=True)
            for page in pages:
                with gzip.open(page["path"], "rb") as g:
                    body = g.read()
                headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                           protocol="HTTP/1.1")
                writer.write_record(writer.create_warc_record(page["url"], "response", payload=io.BytesIO(body),
                                                              http_headers=headers))
        started = time.process_time()
        found = sum(1 for _ in read_warc(path, path.name, 64 * 2**20))
        cpu = time.process_time() - started
    return {"records": len(pages), "articles": found, "pages_per_cpu_second": len(pages) / cpu if cpu else float("inf")}


def embed_share(pages: list[dict], model: str | None = None) -> dict:
    """Reading the pages against chunking and embedding the same articles (the default encoder), in CPU s."""
    from qa.chunk import chunk_articles
    from qa.config import Settings
    from qa.embed import get_encoder
    from qa.ingest.html import read_html

    settings = Settings()
    started = time.process_time()
    articles = [a for page in pages for a in _safe_read(read_html, page["path"])]
    read = time.process_time() - started
    encoder = get_encoder(model or settings.model)
    encoder.encode(["warm up"])  # model loading is not per-article work
    started = time.process_time()
    passages = chunk_articles(articles, settings.chunk_words, settings.chunk_overlap_sentences)
    encoder.encode([p.embed_text(settings.embed_title) for p in passages])
    embed = time.process_time() - started
    return {"model": model or settings.model, "articles": len(articles), "passages": len(passages),
            "read_cpu_s": round(read, 1), "chunk_embed_cpu_s": round(embed, 1),
            "read_share": round(read / (read + embed), 3) if read + embed else 0.0}


def _safe_read(reader, path: Path) -> list:
    from qa.ingest.errors import IngestError

    try:
        return reader(path, path.name, 64 * 2**20)
    except IngestError:
        return []


def _why(true: str, pred: str, counts: tuple[float, float, float]) -> str:
    """A short automatic diagnosis of one page's error; the report adds the reading by eye."""
    t_words, p_words = len(_TOKEN.findall(true)), len(_TOKEN.findall(pred))
    if not p_words:
        return "nothing extracted"
    p, r = _precision(*counts), _recall(*counts)
    kind = "missed text" if r < p else "extra text"
    return f"{kind}: P {p:.2f} R {r:.2f}, {p_words} words extracted vs {t_words} true"


def evaluate(datasets: Path | None = None, names=("ours", "trafilatura"), worst: int = 10,
             n_bootstrap: int = 1000, limit: int | None = None, embed: bool = False) -> dict:
    """Scores, intervals, pages/s and the worst pages (by per-page F1 of the first extractor)."""
    pages = load_pages(datasets)[:limit]
    report, per_page = {"pages": len(pages)}, {}
    for name in names:
        extract, counts, started = EXTRACTORS[name], [], time.process_time()
        for page in pages:
            pred = extract(page["path"], page["url"])
            per_page.setdefault(page["id"], {})[name] = pred
            counts.append(page_counts(page["true"], pred))
        cpu = time.process_time() - started
        report[name] = {**scores(counts), **bootstrap(counts, n_bootstrap),
                        "pages_per_cpu_second": len(pages) / cpu if cpu else float("inf")}
        per_page_counts = dict(zip((p["id"] for p in pages), counts))
        if name == names[0]:
            first_counts = per_page_counts
    rows = []
    for page in pages:
        c = first_counts[page["id"]]
        p, r = _precision(*c), _recall(*c)
        rows.append({"id": page["id"], "url": page["url"], "f1": 2 * p * r / (p + r) if p + r else 0.0,
                     "why": _why(page["true"], per_page[page["id"]][names[0]], c)})
    report["worst"] = sorted(rows, key=lambda row: row["f1"])[:worst]
    report["warc"] = warc_speed(pages)
    if embed:
        report["embed"] = embed_share(pages)
    return report


def options(parser) -> None:
    """The command line options of the benchmark (python -m qa bench-extraction)."""
    parser.add_argument("--datasets", type=Path,
                        help="datasets folder (default: $QA_DATASETS_DIR, else ../shared/datasets)")
    parser.add_argument("--worst", type=int, default=10, help="list this many worst pages")
    parser.add_argument("--limit", type=int, help="score only the first N pages, a quick check (default: all)")
    parser.add_argument("--embed", action="store_true", help="also time chunking + embedding the same articles")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")


def main(argv: list[str] | None = None) -> int:
    """Print the benchmark figures for our reader and plain trafilatura."""
    parser = argparse.ArgumentParser(prog="python -m qa.evaluation.extraction", description=__doc__.split("\n")[0])
    options(parser)
    return run(parser.parse_args(argv))


def run(args) -> int:
    """Run the benchmark with parsed options and print its figures."""
    args.datasets = datasets_dir(args.datasets)
    if not (args.datasets / FOLDER / "ground-truth.json").is_file():
        print(f"error: no {FOLDER}/ground-truth.json under {args.datasets}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR)
    report = evaluate(args.datasets, worst=args.worst, limit=args.limit, embed=args.embed)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"article-extraction benchmark, {report['pages']} pages")
    for name in EXTRACTORS:
        m = report[name]
        print(f"  {name:<12} F1 {m['f1']:.3f} ± {m['f1_ci']:.3f}  P {m['precision']:.3f} ± {m['precision_ci']:.3f}"
              f"  R {m['recall']:.3f} ± {m['recall_ci']:.3f}  {m['pages_per_cpu_second']:.1f} pages/s per core")
    w = report["warc"]
    print(f"  WARC reader: {w['records']} records -> {w['articles']} articles, "
          f"{w['pages_per_cpu_second']:.1f} pages/s per core")
    if e := report.get("embed"):
        print(f"  indexing share: reading {e['read_cpu_s']} s vs chunking + embedding ({e['model']}, {e['passages']} "
              f"passages) {e['chunk_embed_cpu_s']} s CPU: reading is {100 * e['read_share']:.0f}% of the two")
    print("worst pages (ours):")
    for row in report["worst"]:
        print(f"  {row['f1']:.3f}  {row['id'][:12]}  {row['url']}  {row['why']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
