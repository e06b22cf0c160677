"""RealTimeQA dev questions as reader training examples (distant labels), for the `train --news` option.

SOURCE.md allows fitting on RealTimeQA dev (a further, disjoint set of questions is kept aside as the unseen
check). Each question is asked through the bench index as on its date; among the passages retrieved:
- a passage of a gold (supporting) article holding an answer string is a positive, labelled at the first
  occurrence (the answer strings are distant labels: the gold article is one that contains the answer);
- up to `negatives` passages holding no answer string are negatives (labelled at [CLS], "not here");
- a passage of another article that holds the answer is left out (it may or may not say it).
Questions are split by parity of their position in questions-dev.jsonl, so a model trained on one half is
measured on the other (`--news even|odd`); `all` is for the shipped weights. The texts are the publishers':
the examples are written into the run folder (never into the repository).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from qa.evaluation.reader.common import log

HITS = 8


def parity_of(which: str) -> int | None:
    """even -> 0, odd -> 1, all -> None."""
    return {"even": 0, "odd": 1, "all": None}[which]


def _first(text: str, answers) -> tuple[str, int] | None:
    """(the answer as written, its start) of the earliest whole-word occurrence of any answer string."""
    best = None
    for a in filter(None, (a.strip() for a in answers)):
        m = re.search(r"(?<!\w)" + re.escape(a) + r"(?!\w)", text, flags=re.IGNORECASE)
        if m and (best is None or m.start() < best[1]):
            best = (m.group(0), m.start())
    return best


def build_examples(which: str, negatives: int = 2, datasets: Path | None = None) -> list[dict]:
    """Training examples (SQuAD-like dicts; `spans` empty for a negative) from the dev questions of a parity."""
    from qa.config import load_settings
    from qa.evaluation import realtimeqa as R
    from qa.pipeline import clean_question

    parity = parity_of(which)
    questions = R.load_questions(datasets)
    corpus = R.load_corpus(datasets)
    settings = R.bench_settings(load_settings())
    qa = R.build_index(settings, corpus, progress=False)
    out = []
    for i, q in enumerate(questions):
        if parity is not None and i % 2 != parity:
            continue
        text = clean_question(q.question, settings)
        found = qa.search(text, k=HITS, as_of=q.asked)
        neg = 0
        for j, h in enumerate(found.hits):
            gold = corpus.record_id.get(h.article_id, h.article_id) in q.supporting
            at = _first(h.text, q.answers)
            if at and gold:
                spans = [at]
            elif at is None and neg < negatives:
                spans, neg = [], neg + 1
            else:
                continue
            out.append({"id": f"rtqa-dev-{i}-{j}", "question": found.query.question, "context": h.text,
                        "answers": [a for a, _ in spans], "spans": spans, "para": f"realtimeqa-dev/{i}/{j}",
                        "source": "realtimeqa-dev"})
    return out


def examples(run_dir: Path, which: str, negatives: int = 2) -> list[dict]:
    """build_examples, cached in the run folder (so a resumed run trains on the same windows)."""
    path = run_dir / f"news-{which}-{negatives}.json"
    if path.is_file():  # JSON has no tuples: the (answer, start) pairs come back as the builder made them
        return [{**e, "spans": [tuple(s) for s in e["spans"]]} for e in json.loads(path.read_text())]
    exs = build_examples(which, negatives)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(exs))
    os.replace(tmp, path)
    pos = sum(1 for e in exs if e["spans"])
    log(f"news examples ({which}): {len(exs)} passages, {pos} with the answer, {len(exs) - pos} without",
        run_dir / "train.log")
    return exs
