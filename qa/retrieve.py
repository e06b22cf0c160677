"""Dense + BM25 retrieval, fused, restricted to the question's dates and to what existed on its as-of day.

With an as-of day, articles published after it are never used (they did not exist yet); a recency prior on
an article's age (as_of - published) is added to the fused score unless the question names another time; a
past year named is a preference over what was published from then to as_of (Ranking.named_year_bonus);
passage scores are aggregated per article and the best passage of each article is shown.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from qa.config import Settings
from qa.index import dense as vec
from qa.index import Index
from qa.index.stories import also, article_first_row, article_numbers, one_card
from qa.types import DateRange, Hit, Retrieval

MODES = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Ranking:
    """How fused passage scores become the ranking: recency prior and per-article aggregation."""

    # Fitted on the RealTimeQA dev questions (BM25 mode, each asked on its date; 2-fold cross-validated and
    # then on all 648: `python -m qa.evaluation.realtimeqa_fit`, README). An article scores its best passage
    # + article_damp * (its next 3 passages) + the prior + its article-level evidence:
    # prior = recency_weight * exp(-age_days / recency_days), unless the question names another time;
    recency_weight: float = 1.5
    recency_days: float = 90.0
    article_damp: float = 0.1
    # + article_terms * (the BM25 of all its passages, summed) + article_bm25 * (BM25 over the whole article),
    # each divided by the best candidate article's, so both lie in [0, 1] like the fused score.
    article_terms: float = 0.1
    article_bm25: float = 0.4
    per_article: bool = True  # one hit per article (its best passage)
    # (Ranking(recency_weight=0, article_terms=0, article_bm25=0, topical_weight=0): plain fused scores, as
    # baselines want)
    # with the prior on, each retriever also brings its best candidates from the last recent_pool_days (the
    # prior can only promote what was retrieved; years of same-topic articles crowd recent ones out)
    recent_pool_days: int = 60
    # A past year the question names ("the 2020 election", asked in 2023) is a preference, not a filter: what
    # was published from its start up to the day asked may be about it; articles from within the year gain
    # named_year_bonus (0.15-0.5 score alike on RealTimeQA dev, 1.0 lower; README). 0: the year is a filter.
    named_year_bonus: float = 0.3
    # "Latest" within the topic: beside the prior on age at as_of, articles gain topical_weight * exp(-days
    # older than the newest of the topic's best articles / topical_days), the topic's best being the first
    # topical_top articles by content scoring within topical_margin of the first. So when the day asked is long
    # after a topic's coverage (an archive, or the day unknown) its latest articles still come first. Chosen on
    # RealTimeQA dev (scratch grid, README): date unknown hit@1 0.631 -> 0.673 (halves 0.670 / 0.676), date
    # given unchanged (0.861); weights 0.15-0.3 alike. 0: off.
    topical_weight: float = 0.2
    topical_days: float = 90.0
    topical_top: int = 3
    topical_margin: float = 0.2


def as_of_subset(index: Index, as_of: dt.date | None, rows: np.ndarray | None) -> np.ndarray | None:
    """`rows` (None: all) without passages published after as_of; None when that removes nothing."""
    if as_of is None:
        return rows
    d = index.passages.dates
    keep = (d <= as_of.toordinal()) if rows is None else (d[rows] <= as_of.toordinal())
    if keep.all():
        return rows
    return np.flatnonzero(keep).astype(np.int64) if rows is None else rows[keep]


def recency_prior(index: Index, rows: np.ndarray, as_of: dt.date, ranking: Ranking) -> np.ndarray:
    """The prior of each row: a smooth decay with its article's age in days (undated: none)."""
    d = index.passages.dates[rows].astype(np.float64)
    age = np.maximum(as_of.toordinal() - d, 0.0)
    prior = ranking.recency_weight * np.exp(-age / max(ranking.recency_days, 1e-9))
    return np.where(d > 0, prior, 0.0).astype(np.float32)


def topical_prior(index: Index, articles: list, rows: np.ndarray, fused: np.ndarray, evidence: np.ndarray,
                  ranking: Ranking) -> np.ndarray:
    """Each row's gain for being no older than the newest of the topic's best articles by content (fused scores
    and article evidence, no prior; see Ranking.topical_*), decaying with the days it is older (undated: none)."""
    order, scores = by_article(articles, rows, fused, ranking.article_damp, evidence)
    top = order[:ranking.topical_top]
    top = top[scores[top] >= scores[top[0]] - ranking.topical_margin]
    best = index.passages.dates[rows[top]]
    best = best[best > 0]
    if not len(best):
        return np.zeros(len(rows), np.float32)
    d = index.passages.dates[rows].astype(np.float64)
    gain = ranking.topical_weight * np.exp(-np.maximum(float(best.max()) - d, 0.0) / max(ranking.topical_days, 1e-9))
    return np.where(d > 0, gain, 0.0).astype(np.float32)


def soft_year(dates: DateRange | None, as_of: dt.date | None, ranking: Ranking) -> bool:
    """True when `dates` is whole years that ended before as_of and the ranking prefers rather than filters."""
    return (ranking.named_year_bonus > 0 and dates is not None and as_of is not None and dates.end < as_of
            and (dates.start.month, dates.start.day, dates.end.month, dates.end.day) == (1, 1, 12, 31))


def date_subset(index: Index, dates: DateRange | None) -> np.ndarray | None:
    """Rows of passages published within the range (None when there is no range)."""
    if dates is None:
        return None
    d = index.passages.dates
    return np.flatnonzero((d >= dates.start.toordinal()) & (d <= dates.end.toordinal())).astype(np.int64)


def _top(scores: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(rows))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return rows[part[np.argsort(-scores[part], kind="stable")]]


def _once(rows: np.ndarray) -> np.ndarray:
    """Rows in order of first appearance, each once."""
    return np.fromiter(dict.fromkeys(rows.tolist()), dtype=np.int64, count=-1)


def fuse_rrf(rankings: list[np.ndarray], rrf_k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion: sum of 1 / (rrf_k + rank) over the rankings that hold a row."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking.tolist(), start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (rrf_k + rank)
    return fused


def fuse_linear(dense: np.ndarray, bm25: np.ndarray, weight: float) -> np.ndarray:
    """Convex combination of cosine and max-normalised BM25 scores of the same candidates."""
    top = float(bm25.max()) if len(bm25) else 0.0
    lexical = bm25 / top if top > 0 else np.zeros_like(bm25)
    return weight * dense + (1.0 - weight) * lexical


def retrieve(index: Index, query_vector: np.ndarray | None, search_text: str, k: int,
             dates: DateRange | None = None, mode: str = "hybrid", settings: Settings | None = None,
             as_of: dt.date | None = None, recency: bool = False, ranking: Ranking | None = None) -> Retrieval:
    """Top-k passage rows for a question, by dense, BM25 or fused scores (candidates and fusion from settings).

    `as_of` drops what was published after it; `recency` adds the prior on age; see Ranking.
    """
    settings, ranking = settings or Settings(), ranking or Ranking()
    if mode not in MODES:
        raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
    subset = date_subset(index, dates)
    date_applied = subset is None or len(subset) > 0
    if subset is not None and len(subset) == 0:
        subset = None  # nothing published then: search everything rather than nothing
    preferred = None
    if subset is not None and soft_year(dates, as_of, ranking):
        wider = date_subset(index, DateRange(dates.start, as_of, dates.label))
        if len(wider) > len(subset):  # later articles exist: the year is preferred among them
            subset, preferred = wider, dates
    subset = as_of_subset(index, as_of, subset)
    if subset is not None and len(subset) == 0:
        return Retrieval((), (), (), (), date_applied)
    n = max(k, settings.candidates)
    dense_rows = np.zeros(0, dtype=np.int64)
    if mode != "bm25":
        _, dense_rows = vec.search(index.dense, index.vectors, query_vector, n, subset)
    bm25_all = index.lexical.scores(search_text) if mode != "dense" else None
    bm25_rows = np.zeros(0, dtype=np.int64)
    if bm25_all is not None:
        pool = subset if subset is not None else np.arange(len(bm25_all), dtype=np.int64)
        scores = bm25_all[pool]
        bm25_rows = _top(scores[scores > 0], pool[scores > 0], n)
    if recency and as_of is not None and ranking.recent_pool_days > 0:
        d = index.passages.dates if subset is None else index.passages.dates[subset]
        lo = as_of.toordinal() - ranking.recent_pool_days
        recent = np.flatnonzero((d >= lo) & (d <= as_of.toordinal())).astype(np.int64)
        recent = recent if subset is None else subset[recent]
        if 0 < len(recent) < len(d):
            if mode != "bm25":
                _, more = vec.search(index.dense, index.vectors, query_vector, n, recent)
                dense_rows = np.concatenate([dense_rows, more])
            if bm25_all is not None:
                scores = bm25_all[recent]
                bm25_rows = np.concatenate([bm25_rows, _top(scores[scores > 0], recent[scores > 0], n)])
            dense_rows, bm25_rows = _once(dense_rows), _once(bm25_rows)
    rows = np.unique(np.concatenate([dense_rows, bm25_rows])) if mode == "hybrid" else (
        np.unique(dense_rows) if mode == "dense" else np.unique(bm25_rows))
    if len(rows) == 0:
        return Retrieval((), (), (), (), date_applied)
    dense_scores = (np.asarray(index.vectors[rows] @ query_vector, dtype=np.float32)
                    if query_vector is not None else np.zeros(len(rows), np.float32))
    bm25_scores = bm25_all[rows] if bm25_all is not None else np.zeros(len(rows), np.float32)
    if mode == "dense":
        fused = dense_scores
    elif mode == "bm25":
        top = float(bm25_scores.max())
        fused = bm25_scores / top if top > 0 else bm25_scores  # on [0, 1], as the prior expects
    elif settings.fusion == "rrf":
        table = fuse_rrf([dense_rows, bm25_rows], settings.rrf_k)
        fused = np.array([table[r] for r in rows.tolist()], dtype=np.float32)
        fused = fused / fused.max()  # on [0, 1] like the other fusions, as the prior and article evidence expect
    else:
        fused = fuse_linear(dense_scores, bm25_scores, settings.dense_weight)
    fused = np.asarray(fused, dtype=np.float32)
    prior = (recency_prior(index, rows, as_of, ranking) if recency and as_of is not None and ranking.recency_weight
             else None)
    if preferred is not None:
        d = index.passages.dates[rows]
        within = (d >= preferred.start.toordinal()) & (d <= preferred.end.toordinal())
        prior = (0.0 if prior is None else prior) + np.where(within, ranking.named_year_bonus, 0.0).astype(np.float32)
    if ranking.per_article:
        numbers = article_numbers(index)
        articles = (numbers[rows].tolist() if numbers is not None
                    else [index.passages[int(r)].article_id for r in rows])
        evidence = np.zeros(len(rows), np.float32)
        if bm25_all is not None and numbers is not None:
            terms, whole = article_evidence(index, numbers, rows, search_text, bm25_all)
            evidence = (ranking.article_terms * terms + ranking.article_bm25 * whole).astype(np.float32)
        if recency and as_of is not None and ranking.topical_weight:
            topical = topical_prior(index, articles, rows, fused, evidence, ranking)
            prior = topical if prior is None else prior + topical
        bonus = evidence if prior is None else evidence + prior
        order, fused = by_article(articles, rows, fused, ranking.article_damp, bonus)
    else:
        fused = fused if prior is None else fused + prior
        order = np.lexsort((rows, -fused))  # ties broken by row for determinism
    order = one_card(index, rows, order, k)  # one card per story (near-duplicate articles), the latest shown
    lead = opening(index, int(rows[order[0]]), query_vector, bm25_all) if len(order) else None
    return Retrieval(tuple(int(r) for r in rows[order]), tuple(float(s) for s in fused[order]),
                     tuple(float(s) for s in dense_scores[order]),
                     tuple(float(s) for s in bm25_scores[order]), date_applied, preferred is not None, lead)


def opening(index: Index, row: int, query_vector: np.ndarray | None,
            bm25_all: np.ndarray | None) -> tuple[int, float, float] | None:
    """(row, dense cosine, BM25) of the first passage of the article the passage at `row` belongs to, when that is
    another passage; None when it is the same or the index has no article table (an older index).

    News states a story's key facts in its first sentences (the lede), whatever words the question matched further
    down: on RealTimeQA dev (648 questions, date given) the answer string is in the first retrieved passage for 0.650
    of the questions, in one of the 3 read (one per article) for 0.787, in those or the first article's opening 700
    characters for 0.880 (README, "Twenty-seventh session")."""
    first = article_first_row(index, row)
    if first is None or first == row:
        return None
    dense = float(index.vectors[first] @ query_vector) if query_vector is not None else 0.0
    bm25 = float(bm25_all[first]) if bm25_all is not None else 0.0
    return first, dense, bm25


def lead_hit(index: Index, found: Retrieval) -> Hit | None:
    """The Hit of found.lead, scored as its article (the first hit's score): None without one."""
    if found.lead is None or not found.rows:
        return None
    row, dense, bm25 = found.lead
    return to_hits(index, Retrieval((row,), (found.scores[0],), (dense,), (bm25,), found.date_applied))[0]


def _unit(x: np.ndarray) -> np.ndarray:
    top = float(x.max()) if len(x) else 0.0
    return (x / top).astype(np.float32) if top > 0 else np.zeros(len(x), np.float32)


def article_evidence(index: Index, numbers: np.ndarray, rows: np.ndarray, search_text: str,
                     bm25_all: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate row, its article's summed passage BM25 and whole-article BM25, each on [0, 1] over the rows."""
    arts = np.asarray(numbers[rows], dtype=np.int64)
    n = int(numbers[-1]) + 1 if len(numbers) else 0
    terms = np.bincount(numbers, weights=bm25_all, minlength=n)[arts]
    whole = np.zeros(len(rows))
    if index.articles is not None and index.articles.size == n:
        whole = index.articles.scores(search_text)[arts]
    return _unit(terms), _unit(whole)


def by_article(articles: list, rows: np.ndarray, fused: np.ndarray, damp: float,
               bonus: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rank articles by max + damp * (sum of their next 3 passages' scores) + the best passage's bonus (the
    article's own evidence: the same for each of its rows): (order of rows, scores).

    The order holds each article's best passage, best article first (scored as its article), then the
    other passages by score (capped at the last article's), so a corpus of few articles still fills k hits.
    """
    groups: dict[str, list[int]] = {}
    for i in np.lexsort((rows, -fused)).tolist():  # by score, ties by row
        groups.setdefault(articles[i], []).append(i)
    extra = bonus if bonus is not None else np.zeros(len(rows), np.float32)
    scored = [(fused[m[0]] + damp * float(sum(fused[i] for i in m[1:4])) + float(extra[m[0]]), m[0], m[1:])
              for m in groups.values()]
    scored.sort(key=lambda t: (-t[0], int(rows[t[1]])))
    out = np.asarray(fused, dtype=np.float32).copy()
    for score, first, _ in scored:
        out[first] = score
    # the other passages carry their article's bonus too, so within an article the gaps stay those of the
    # passages' own scores (the reader's re-ranking weighs a passage's answer against them)
    rest = sorted((i for _, _, others in scored for i in others), key=lambda i: (-(fused[i] + extra[i]), int(rows[i])))
    floor = min(t[0] for t in scored)
    for i in rest:  # ranked after every article's best passage, so scored no higher than the last of them
        out[i] = min(float(fused[i] + extra[i]), floor)
    return np.asarray([t[1] for t in scored] + rest, dtype=np.int64), out


def to_hits(index: Index, found: Retrieval) -> list[Hit]:
    """Hits (passage text, title, date, source, scores) for the retrieved rows."""
    hits = []
    for row, score, dense, bm25 in zip(found.rows, found.scores, found.dense, found.bm25):
        p = index.passages[row]
        hits.append(Hit(passage_id=p.id, text=p.text, title=p.title,
                        date=p.published.isoformat() if p.published else None, source=p.source,
                        score=round(score, 4), dense_score=round(dense, 4), bm25_score=round(bm25, 4),
                        start=p.start, article_id=p.article_id, url=p.url, author=p.author, site=p.site,
                        also=also(index, row)))
    return hits
