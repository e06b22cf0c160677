"""How many near-duplicate story groups a JSONL corpus has (default: RealTimeQA's 10,482 articles), and
pairs at the threshold's edge to check by eye.

    python -m qa.evaluation.duplicates [--file articles.jsonl] [--threshold 0.7] [--edge 20] [--json]

Prints titles, dates and URLs only, never article text (the articles are their publishers' copyright).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from qa.evaluation.datasets import datasets_dir
from qa.ingest import stories
from qa.types import Article

REALTIMEQA = "realtimeqa/articles.jsonl"


def load(path: Path) -> list[Article]:
    """Articles from JSONL records {id, title, date, text, url}."""
    articles = []
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                day = dt.date.fromisoformat(r["date"][:10]) if r.get("date") else None
                articles.append(Article(id=r["id"], title=r.get("title") or "", published=day, byline=None,
                                        text=r["text"], source=path.name, url=r.get("url")))
    return articles


def measure(articles: list[Article], threshold: float = stories.THRESHOLD, edge: int = 20, seed: int = 0) -> dict:
    """Group counts at `threshold` and `edge` sampled candidate pairs within 0.05 of it (with the rule's verdict)."""
    started = time.process_time()
    sigs = stories.signatures([a.text for a in articles])
    signed = time.process_time()
    groups = stories.group(articles, threshold, sigs)
    grouped = time.process_time()
    near = [(i, j, jac) for i, j, jac in stories.candidate_pairs(sigs, threshold) if abs(jac - threshold) <= 0.05]
    random.Random(seed).shuffle(near)
    rows = []
    for i, j, jac in near[:edge]:
        a, b = articles[i], articles[j]
        rows.append({"jaccard": round(jac, 3), "same_story": stories.same_story(a, b, jac, threshold),
                     "shared_paragraphs": round(min(stories.shared_paragraphs(a.text, b.text),
                                                    stories.shared_paragraphs(b.text, a.text)), 2),
                     "a": {"title": a.title, "date": str(a.published), "url": a.url},
                     "b": {"title": b.title, "date": str(b.published), "url": b.url}})
    sizes = Counter(len(g) for g in groups)
    # Groups whose texts are all the same (a page saved twice, or a scraper's stand-in text such as a sign-up
    # form kept instead of the article): the corpus walk's exact-duplicate rule already drops all but one.
    identical = sum(len({" ".join(articles[i].text.split()) for i in g}) == 1 for g in groups)
    return {"articles": len(articles), "threshold": threshold, "groups": len(groups),
            "identical_text_groups": identical,
            "articles_in_groups": sum(len(g) for g in groups), "cards": len(articles) - sum(len(g) - 1 for g in groups),
            "group_sizes": dict(sorted(sizes.items())), "signature_cpu_s": round(signed - started, 1),
            "grouping_cpu_s": round(grouped - signed, 1), "edge_pairs": rows}


def main(argv: list[str] | None = None) -> int:
    """Print the near-duplicate figures for a JSONL corpus."""
    parser = argparse.ArgumentParser(prog="python -m qa.evaluation.duplicates", description=__doc__.split("\n")[0])
    options(parser)
    return run(parser.parse_args(argv))


def options(parser) -> None:
    """The command line options of the measurement (python -m qa bench-duplicates)."""
    parser.add_argument("--file", type=Path, help=f"a JSONL corpus (default: {REALTIMEQA} in the datasets folder)")
    parser.add_argument("--datasets", type=Path,
                        help="datasets folder (default: $QA_DATASETS_DIR, else ../shared/datasets)")
    parser.add_argument("--threshold", type=float, default=stories.THRESHOLD, help="Jaccard threshold")
    parser.add_argument("--edge", type=int, default=20, help="pairs at the threshold's edge to print")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")


def run(args) -> int:
    """Measure the near-duplicate groups with parsed options and print them."""
    args.file = args.file or datasets_dir(getattr(args, "datasets", None)) / REALTIMEQA
    if not args.file.is_file():
        print(f"error: no such file: {args.file}", file=sys.stderr)
        return 2
    report = measure(load(args.file), args.threshold, args.edge)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(f"{report['articles']} articles, threshold {report['threshold']}: {report['groups']} near-duplicate groups "
          f"({report['identical_text_groups']} of identical texts) "
          f"holding {report['articles_in_groups']} articles -> {report['cards']} cards; sizes {report['group_sizes']}; "
          f"{report['signature_cpu_s']} s signatures, {report['grouping_cpu_s']} s grouping (CPU)")
    for k, row in enumerate(report["edge_pairs"], 1):
        print(f"{k:2}. J={row['jaccard']:.2f} paragraphs={row['shared_paragraphs']:.2f} "
              f"{'SAME' if row['same_story'] else 'apart'}"
              f"\n    {row['a']['date']} {row['a']['title']}  {row['a']['url']}"
              f"\n    {row['b']['date']} {row['b']['title']}  {row['b']['url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
