"""One story, one card: the index's near-duplicate story table, built at index time from the stored passages,
and the filter retrieval calls to keep one card per story (its most recent version) with the others listed.

Files of a generation (no vector is touched; an index without them simply shows every copy):
    stories.rows.npy   int32 per passage row: its article's number
    stories.json       per article: id, date, site, source, url, first row, row count, story number (-1: alone)
    stories.sigs.npy   uint64 (articles, permutations): each article's MinHash signature, carried over by a
                       refresh for the articles of unchanged files so only new articles are hashed
The grouping rule is qa.ingest.stories's (MinHash/LSH, Jaccard >= 0.7, shared paragraphs, 30 days).
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from pathlib import Path

import numpy as np

from qa.index.passages import PassageStore
from qa.ingest import stories as rule
from qa.types import Article

logger = logging.getLogger(__name__)

ROWS_FILE, TABLE_FILE, SIGS_FILE = "stories.rows.npy", "stories.json", "stories.sigs.npy"
SAME_PASSAGE = 0.9  # cosine of two rows that are the same passage in two versions of one story


def _text(store: PassageStore, first: int, count: int) -> str:
    """An article's text put back together from its passages (overlapping sentences written once)."""
    out, end = [], 0
    for row in range(first, first + count):
        p = store[row]
        if p.end <= end:
            continue
        if p.start >= end:
            out.append(("\n\n" if p.start - end >= 2 else " ") if out else "")
            out.append(p.text)
        else:
            out.append(p.text[end - p.start:])
        end = p.end
    return "".join(out)


class _Lazy:
    """Articles by number for the grouping rule, their text read from the passage store only when needed."""

    def __init__(self, table: list[dict], store: PassageStore):
        self.table, self.store = table, store

    def __len__(self) -> int:
        return len(self.table)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - lives only as long as one build
    def __getitem__(self, i: int) -> Article:
        a = self.table[i]
        day = dt.date.fromisoformat(a["date"]) if a["date"] else None
        return Article(a["id"], "", day, None, _text(self.store, a["row"], a["rows"]), a["source"])


def write_stories(folder: Path, old_rows: np.ndarray, previous: Path | None = None) -> np.ndarray:
    """Group the articles of the generation in `folder` (passages already written) into stories; return each
    row's article number (what stories.rows.npy holds).

    `old_rows` maps each row to the previous generation's row it copies (-1: new); the signatures of
    articles copied whole from `previous` are reused, the others hashed from their passages.
    """
    store = PassageStore(folder)
    try:
        old = _load(previous) if previous is not None else None
        table, row_article, sigs, todo = [], np.zeros(len(store), dtype=np.int32), [], []
        row = 0
        while row < len(store):
            p = store[row]
            stop = row + 1
            while stop < len(store) and store[stop].article_id == p.article_id:
                stop += 1
            row_article[row:stop] = len(table)
            table.append({"id": p.article_id, "date": p.published.isoformat() if p.published else None,
                          "site": p.site, "source": p.source, "url": p.url, "title": p.title, "row": row,
                          "rows": stop - row, "story": -1})
            sig = None
            if old is not None and old_rows[row] >= 0:
                before = old["articles"][int(old["rows"][old_rows[row]])]
                if before["id"] == p.article_id and before["rows"] == stop - row \
                        and old_rows[stop - 1] == old_rows[row] + stop - row - 1:
                    sig = old["sigs"][int(old["rows"][old_rows[row]])]
            if sig is None:
                todo.append(len(table) - 1)
            sigs.append(sig)
            row = stop
        if todo:
            fresh = rule.signatures([_text(store, table[i]["row"], table[i]["rows"]) for i in todo])
            for i, s in zip(todo, fresh):
                sigs[i] = np.asarray(s.hashvalues, dtype=np.uint64)
        matrix = np.stack(sigs) if sigs else np.zeros((0, rule.NUM_PERM), dtype=np.uint64)
        groups = rule.group(_Lazy(table, store), sigs=_lean(matrix)) if len(table) > 1 else []
        for number, members in enumerate(groups):
            for i in members:
                table[i]["story"] = number
        logger.info("%d articles: %d near-duplicate stories holding %d of them (%d hashed, %d carried over)",
                    len(table), len(groups), sum(map(len, groups)), len(todo), len(table) - len(todo))
    finally:
        store.close()
    np.save(folder / ROWS_FILE, row_article, allow_pickle=False)
    np.save(folder / SIGS_FILE, matrix, allow_pickle=False)
    (folder / TABLE_FILE).write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")))
    return row_article


def _lean(matrix: np.ndarray) -> list:
    from datasketch import LeanMinHash

    return [LeanMinHash(seed=1, hashvalues=h, scheme="affine32") for h in matrix]  # MinHash.bulk's defaults


def _load(folder: Path | None) -> dict | None:
    """The story table of a generation folder, or None (an index built before stories were kept)."""
    try:
        table = json.loads((folder / TABLE_FILE).read_text())
        rows = np.load(folder / ROWS_FILE, mmap_mode="r", allow_pickle=False)
        sigs = np.load(folder / SIGS_FILE, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, TypeError):
        return None
    members: dict[int, list[int]] = {}
    for i, a in enumerate(table):
        if a["story"] >= 0:
            members.setdefault(a["story"], []).append(i)
    return {"articles": table, "rows": rows, "sigs": sigs, "members": members}


@functools.lru_cache(maxsize=4)
def _cached(folder: str) -> dict | None:
    return _load(Path(folder))  # a generation folder never changes once published


def one_card(index, rows: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """The first `k` positions of `order` (ranked positions into `rows`) keeping one card per story.

    A story's card sits at the rank of its best passage and shows the same passage in the story's most
    recent version among the candidates (the candidates are already within the question's dates, if any).
    """
    table = _cached(str(index.path))
    if table is None or not table["members"]:
        return order[:k]
    story = [table["articles"][int(table["rows"][rows[i]])]["story"] for i in order.tolist()]
    kept, seen = [], set()
    for n, i in enumerate(order.tolist()):
        s = story[n]
        if s < 0:
            kept.append(i)
        elif s not in seen:
            seen.add(s)
            same = [j for m, j in enumerate(order.tolist()) if story[m] == s
                    and float(index.vectors[rows[j]] @ index.vectors[rows[i]]) >= SAME_PASSAGE]
            kept.append(max(same, key=lambda j: (_date(table, rows[j]), -same.index(j))))
        if len(kept) == k:
            break
    return np.asarray(kept, dtype=order.dtype)


def article_numbers(index) -> np.ndarray | None:
    """Each passage row's article number (rows of one article are consecutive), or None for an older index."""
    table = _cached(str(index.path))
    return None if table is None or len(table["rows"]) != len(index) else table["rows"]


def article_first_row(index, row: int) -> int | None:
    """The first passage row of the article the passage at `row` belongs to (the table's "row"), or None for an
    older index."""
    numbers = article_numbers(index)
    if numbers is None or not 0 <= row < len(numbers):
        return None
    return int(_cached(str(index.path))["articles"][int(numbers[row])]["row"])


def _date(table: dict, row: int) -> str:
    return table["articles"][int(table["rows"][row])]["date"] or ""


def also(index, row: int) -> tuple[str, ...]:
    """The other versions of the story the passage at `row` belongs to: "site or file, date[, url]" each."""
    table = _cached(str(index.path))
    if table is None:
        return ()
    me = int(table["rows"][row])
    members = table["members"].get(table["articles"][me]["story"], ())
    others = sorted((table["articles"][i] for i in members if i != me), key=lambda a: a["date"] or "", reverse=True)
    return tuple(", ".join(x for x in (a["site"] or a["source"], a["date"] or "undated", a["url"]) if x)
                 for a in others)
