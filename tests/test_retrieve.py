"""qa.retrieve and qa.index.dense: fusion against brute-force references, modes, date filter, subsets."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from qa import index as index_mod
from qa.index import dense as vec
from qa.config import Settings
from qa.embed import HashingEncoder
from qa.retrieve import Ranking, fuse_linear, fuse_rrf, lead_hit, opening, retrieve, to_hits
from qa.types import DateRange

from conftest import ARTICLES, write_article


def year(y: int) -> DateRange:
    return DateRange(dt.date(y, 1, 1), dt.date(y, 12, 31), str(y))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(index, encoder) over the default corpus, built once for this module (read-only)."""
    root = tmp_path_factory.mktemp("retrieve")
    for name, (title, date, paragraphs) in ARTICLES.items():
        write_article(root / "corpus", name, title, date, *paragraphs)
    encoder = HashingEncoder()
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "idx", model="hash", chunk_words=30)
    return index_mod.ensure(settings, encoder), encoder


PASSAGES = Ranking(per_article=False)  # passage-level: what the brute-force references compute


def run(tiny, text, k=5, dates=None, mode="hybrid", ranking=PASSAGES, as_of=None, recency=False, **settings):
    index, encoder = tiny
    return retrieve(index, encoder.encode([text])[0], text, k, dates, mode, Settings(**settings), as_of=as_of,
                    recency=recency, ranking=ranking)


# --- fusion -----------------------------------------------------------------------------------------

def rrf_reference(rankings: list[list[int]], rrf_k: int) -> dict[int, float]:
    docs = {d for r in rankings for d in r}
    return {d: sum(1.0 / (rrf_k + r.index(d) + 1) for r in rankings if d in r) for d in docs}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("rrf_k", [1, 60])
def test_fuse_rrf_matches_brute_force(seed, rrf_k):
    rng = np.random.default_rng(seed)
    rankings = [rng.permutation(40)[: rng.integers(0, 30)].tolist() for _ in range(rng.integers(1, 4))]
    fused = fuse_rrf([np.array(r, dtype=np.int64) for r in rankings], rrf_k)
    expected = rrf_reference(rankings, rrf_k)
    assert fused.keys() == expected.keys()
    for d in expected:
        assert fused[d] == pytest.approx(expected[d])


def test_fuse_rrf_empty():
    assert fuse_rrf([np.zeros(0, np.int64), np.zeros(0, np.int64)]) == {}


@pytest.mark.parametrize("dense, bm25, weight, expected", [
    ([0.5, 0.2], [2.0, 1.0], 0.5, [0.75, 0.35]),
    ([0.5, 0.2], [2.0, 1.0], 1.0, [0.5, 0.2]),
    ([0.5, 0.2], [2.0, 1.0], 0.0, [1.0, 0.5]),
    ([0.5, 0.2], [0.0, 0.0], 0.5, [0.25, 0.1]),  # no lexical match: no division by zero
    ([], [], 0.5, []),
])
def test_fuse_linear(dense, bm25, weight, expected):
    out = fuse_linear(np.array(dense, np.float32), np.array(bm25, np.float32), weight)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


# --- modes --------------------------------------------------------------------------------------------

QUESTION = "dragon bridge over the Han river"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
@pytest.mark.parametrize("fusion", ["linear", "rrf"])
def test_modes_find_the_matching_article(tiny, mode, fusion):
    index, _ = tiny
    found = run(tiny, QUESTION, k=3, mode=mode, fusion=fusion)
    assert 0 < len(found.rows) <= 3
    assert len(set(found.rows)) == len(found.rows)
    assert list(found.scores) == sorted(found.scores, reverse=True)
    assert index.passages[found.rows[0]].source == "bridge.txt"
    assert found.date_applied
    assert len(found.scores) == len(found.dense) == len(found.bm25) == len(found.rows)


def test_dense_mode_equals_brute_force(tiny):
    index, encoder = tiny
    q = encoder.encode([QUESTION])[0]
    found = retrieve(index, q, QUESTION, 4, mode="dense", ranking=PASSAGES)
    scores = np.asarray(index.vectors) @ q
    order = np.argsort(-scores, kind="stable")[:4]
    assert set(found.rows) == set(order.tolist())
    np.testing.assert_allclose(found.scores, np.sort(scores)[::-1][:4], rtol=1e-5)


def test_bm25_mode_returns_only_lexical_matches(tiny):
    index, _ = tiny
    found = run(tiny, "measles", k=10, mode="bm25")
    assert found.rows and all(s > 0 for s in found.scores)
    assert {index.passages[r].source for r in found.rows} == {"vaccine.txt"}
    assert run(tiny, "the of and", k=10, mode="bm25").rows == ()  # stopwords only


def test_hybrid_linear_scores_are_the_fusion_of_the_parts(tiny):
    found = run(tiny, QUESTION, k=50, mode="hybrid", dense_weight=0.3)
    expected = fuse_linear(np.array(found.dense), np.array(found.bm25), 0.3)
    np.testing.assert_allclose(found.scores, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k", [1, 2, 1000])
def test_k_limits_results(tiny, k):
    index, _ = tiny
    assert len(run(tiny, QUESTION, k=k).rows) == min(k, len(index))


def test_unknown_mode_raises(tiny):
    with pytest.raises(ValueError, match="sparse"):
        run(tiny, QUESTION, mode="sparse")


def test_to_hits(tiny):
    index, _ = tiny
    hits = to_hits(index, run(tiny, QUESTION, k=3))
    assert len(hits) == 3
    for h in hits:
        p = next(p for p in index.passages if p.id == h.passage_id)
        assert (h.text, h.title, h.source, h.start) == (p.text, p.title, p.source, p.start)
        assert h.date == p.published.isoformat()


# --- date filter ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
@pytest.mark.parametrize("y, source", [(2020, "floods.txt"), (2023, "iswaran.txt"), (2021, "bridge.txt")])
def test_date_filter_restricts_to_the_year(tiny, mode, y, source):
    index, _ = tiny
    # the question is about the bridge, but only passages from year y may come back
    found = run(tiny, QUESTION + " minister floods", k=10, dates=year(y), mode=mode)
    assert found.date_applied
    assert found.rows
    for r in found.rows:
        assert index.passages[r].published.year == y
        assert index.passages[r].source == source


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_date_filter_falls_back_to_all_dates(tiny, mode):
    index, _ = tiny
    found = run(tiny, QUESTION, k=3, dates=year(1999), mode=mode)
    assert not found.date_applied
    assert index.passages[found.rows[0]].source == "bridge.txt"
    assert found.rows == run(tiny, QUESTION, k=3, mode=mode).rows


def test_date_filter_through_the_faiss_selector(tiny, monkeypatch):
    index, _ = tiny
    monkeypatch.setattr(vec, "EXACT_SUBSET_LIMIT", 0)
    found = run(tiny, QUESTION, k=50, dates=year(2020), mode="dense")
    in_2020 = [i for i, p in enumerate(index.passages) if p.published.year == 2020]
    assert sorted(found.rows) == in_2020  # k above the allowed ids: no -1 padding comes back


# --- vectors.search ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def random_vectors():
    rng = np.random.default_rng(7)
    v = rng.standard_normal((300, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v, vec.build(v), rng.standard_normal(16).astype(np.float32)


def brute_force(v, q, k, subset=None):
    ids = np.arange(len(v)) if subset is None else np.asarray(subset)
    scores = v[ids] @ q
    order = np.argsort(-scores, kind="stable")[:k]
    return scores[order], ids[order]


@pytest.mark.parametrize("exact_limit", [50_000, 0], ids=["exact", "faiss-selector"])
@pytest.mark.parametrize("subset_size, k", [(1, 1), (5, 3), (40, 10), (120, 100), (300, 7)])
def test_search_subset_equals_brute_force(random_vectors, monkeypatch, exact_limit, subset_size, k):
    v, index, q = random_vectors
    monkeypatch.setattr(vec, "EXACT_SUBSET_LIMIT", exact_limit)
    subset = np.sort(np.random.default_rng(subset_size).choice(len(v), subset_size, replace=False))
    scores, ids = vec.search(index, v, q, k, subset=subset.astype(np.int64))
    want_scores, want_ids = brute_force(v, q, k, subset)
    assert ids.tolist() == want_ids.tolist()
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("exact_limit", [50_000, 0], ids=["exact", "faiss-selector"])
def test_search_never_returns_minus_one(random_vectors, monkeypatch, exact_limit):
    v, index, q = random_vectors
    monkeypatch.setattr(vec, "EXACT_SUBSET_LIMIT", exact_limit)
    subset = np.array([3, 17, 250], dtype=np.int64)
    scores, ids = vec.search(index, v, q, 50, subset=subset)
    assert sorted(ids.tolist()) == [3, 17, 250]
    assert len(scores) == 3
    empty_scores, empty_ids = vec.search(index, v, q, 5, subset=np.zeros(0, np.int64))
    assert len(empty_ids) == len(empty_scores) == 0


def test_search_without_subset(random_vectors):
    v, index, q = random_vectors
    scores, ids = vec.search(index, v, q, 1000)  # k above the index size
    want_scores, want_ids = brute_force(v, q, len(v))
    assert len(ids) == len(v) and (ids >= 0).all()
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-6)
    assert ids[:10].tolist() == want_ids[:10].tolist()


def test_search_empty_index():
    v = np.zeros((0, 8), np.float32)
    scores, ids = vec.search(vec.build(v), v, np.ones(8, np.float32), 5)
    assert len(ids) == len(scores) == 0


# --- as of, recency, articles ---------------------------------------------------------------------------

def test_nothing_published_after_as_of_is_used(tiny):
    index, _ = tiny
    days = sorted({p.published for p in index.passages if p.published})
    cut = days[0]
    found = run(tiny, QUESTION, k=50, ranking=Ranking())
    later = run(tiny, QUESTION, k=50, ranking=Ranking(), as_of=cut)
    assert any(index.passages[r].published > cut for r in found.rows)
    assert later.rows and all(index.passages[r].published <= cut for r in later.rows)
    assert run(tiny, QUESTION, as_of=cut - dt.timedelta(days=1)).rows == ()


@pytest.mark.parametrize("mode", ["hybrid", "bm25"])
def test_a_past_year_named_is_preferred_over_later_news_not_a_filter(tiny, mode):
    index, _ = tiny
    text = QUESTION + " minister floods"
    soft = Ranking(per_article=False, named_year_bonus=0.5)
    asked = dt.date(2024, 1, 1)
    hard = run(tiny, text, k=10, dates=year(2021), mode=mode, as_of=asked,
               ranking=Ranking(per_article=False, named_year_bonus=0.0))
    assert {index.passages[r].published.year for r in hard.rows} == {2021}  # no bonus: a filter
    found = run(tiny, text, k=10, dates=year(2021), mode=mode, as_of=asked, ranking=soft)
    years = [index.passages[r].published.year for r in found.rows]
    assert found.date_applied and found.date_preferred and years[0] == 2021
    assert 2023 in years and 2020 not in years  # later news may be about 2021; earlier news cannot
    # a year that has not ended when asked, or no day asked, stays a filter
    for as_of in (dt.date(2021, 6, 1), None):
        still = run(tiny, text, k=10, dates=year(2021), mode=mode, as_of=as_of, ranking=soft)
        assert {index.passages[r].published.year for r in still.rows} == {2021}


def test_recency_prior_moves_newer_articles_up(tiny):
    index, _ = tiny
    as_of = max(p.published for p in index.passages if p.published)
    plain = run(tiny, QUESTION, k=50, as_of=as_of)
    strong = run(tiny, QUESTION, k=50, as_of=as_of, recency=True,
                 ranking=Ranking(recency_weight=10.0, recency_days=1.0, per_article=False))
    assert index.passages[strong.rows[0]].published == as_of
    assert strong.rows != plain.rows or index.passages[plain.rows[0]].published == as_of


def test_topical_prior_favours_the_latest_of_the_topics_best_articles(tiny):
    from qa.retrieve import topical_prior

    index, _ = tiny
    firsts: dict[str, int] = {}
    for r, p in enumerate(index.passages):
        if p.published:
            firsts.setdefault(p.article_id, r)
    rows = np.array(sorted(firsts.values(), key=lambda r: index.passages[r].published), dtype=np.int64)
    articles = [index.passages[int(r)].article_id for r in rows]
    dates = [index.passages[int(r)].published for r in rows]
    assert len(set(dates)) >= 3
    ranking = Ranking(topical_weight=0.2, topical_days=90.0, topical_top=3, topical_margin=0.2)
    none = np.zeros(len(rows), np.float32)
    # oldest scores best, the next two within the margin: the newest of those three is the topic's latest
    close = np.array([1.0, 0.95, 0.9] + [0.1] * (len(rows) - 3), np.float32)
    gain = topical_prior(index, articles, rows, close, none, ranking)
    assert gain[2] == pytest.approx(0.2) and gain[0] < gain[1] < gain[2]
    older = (dates[2] - dates[0]).days
    assert gain[0] == pytest.approx(0.2 * np.exp(-older / 90.0), rel=1e-5)
    # the oldest far ahead of the rest: it alone is the topic, and nothing older than it loses to a newer one
    ahead = np.array([1.0] + [0.5] * (len(rows) - 1), np.float32)
    assert topical_prior(index, articles, rows, ahead, none, ranking) == pytest.approx(np.full(len(rows), 0.2))


def test_one_hit_per_article_first_then_the_rest(tiny):
    index, _ = tiny
    found = run(tiny, QUESTION, k=50, ranking=Ranking())
    articles = [index.passages[r].article_id for r in found.rows]
    n = len(set(articles))
    assert len(set(articles[:n])) == n  # each article's best passage first
    assert sorted(found.rows) == sorted(run(tiny, QUESTION, k=50).rows)  # the same passages


def test_article_score_adds_damped_sum_of_other_passages(tiny):
    plain = run(tiny, QUESTION, k=50, ranking=Ranking(article_damp=0.0))
    damped = run(tiny, QUESTION, k=50, ranking=Ranking(article_damp=0.5))
    assert damped.scores[0] >= plain.scores[0]


def test_recent_pool_brings_recent_candidates(tiny):
    index, _ = tiny
    latest = max((p for p in index.passages if p.published), key=lambda p: p.published)
    as_of = latest.published
    question = f"{QUESTION} {latest.text.split()[-1]}"  # matches the latest article a little
    ranking = Ranking(recency_weight=0.0, per_article=False, recent_pool_days=1)
    plain = run(tiny, question, k=50, mode="bm25", candidates=1, as_of=as_of, ranking=ranking)
    pooled = run(tiny, question, k=50, mode="bm25", candidates=1, as_of=as_of, recency=True, ranking=ranking)
    assert set(plain.rows) <= set(pooled.rows)
    assert any(index.passages[r].published >= as_of - dt.timedelta(days=1) for r in pooled.rows)


# --- article-level evidence -------------------------------------------------------------------------------

def test_grouped_term_counts_are_whole_article_bm25():
    from qa.index.bm25 import Lexical

    passages = ["the harbour bridge opened", "designed by Holm and Vester", "the bridge cost little",
                "a storm closed the port", "ferries stopped for a day"]
    articles = ["the harbour bridge opened designed by Holm and Vester the bridge cost little",
                "a storm closed the port ferries stopped for a day"]
    whole = Lexical.build(articles)
    grouped = Lexical.build(passages).articles(np.array([0, 0, 0, 1, 1]), 2)
    for q in ("bridge designed", "storm port", "bridge storm", "unknownword"):
        assert np.allclose(grouped.scores(q), whole.scores(q), atol=1e-6), q


def test_index_keeps_whole_article_bm25_per_article(tiny):
    from qa.index.stories import article_numbers

    index, _ = tiny
    numbers = article_numbers(index)
    assert numbers is not None and index.articles is not None
    assert index.articles.size == int(numbers.max()) + 1 == len({p.article_id for p in index.passages})
    assert (index.path / "bm25-articles").is_dir() and "bm25-articles/" in " ".join(index.manifest["checksums"])


def test_article_evidence_lifts_the_article_whose_passages_all_match(tiny):
    index, _ = tiny
    # a question whose words spread over one article's passages: whole-article evidence weighs them together
    first = index.passages[0]
    rows = [r for r in range(len(index)) if index.passages[r].article_id == first.article_id]
    words = [index.passages[r].text.split()[3] for r in rows[:3]]
    question = " ".join(words)
    base = Ranking(recency_weight=0.0, article_terms=0.0, article_bm25=0.0)
    lifted = Ranking(recency_weight=0.0, article_terms=1.0, article_bm25=1.0)
    plain = run(tiny, question, k=50, mode="bm25", ranking=base)
    found = run(tiny, question, k=50, mode="bm25", ranking=lifted)
    assert index.passages[found.rows[0]].article_id == first.article_id
    assert found.scores[0] >= plain.scores[0]


def test_index_without_article_bm25_still_ranks(tmp_path):
    import json
    import shutil

    from qa.index.store import load

    for name, (title, date, paragraphs) in ARTICLES.items():
        write_article(tmp_path / "corpus", name, title, date, *paragraphs)
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "idx", model="hash", chunk_words=30)
    encoder = HashingEncoder()
    built = index_mod.ensure(settings, encoder)
    with_part = run((built, encoder), QUESTION, k=5, ranking=Ranking())
    # an index written before the part existed: no folder, no checksums for it
    shutil.rmtree(built.path / "bm25-articles")
    manifest = json.loads((built.path / "manifest.json").read_text())
    manifest["checksums"] = {k: v for k, v in manifest["checksums"].items() if not k.startswith("bm25-articles")}
    (built.path / "manifest.json").write_text(json.dumps(manifest))
    older = load(settings.index_dir)
    assert older.articles is None
    found = run((older, encoder), QUESTION, k=5, ranking=Ranking())
    assert found.rows and set(found.rows) <= set(run((older, encoder), QUESTION, k=50).rows)
    assert with_part.rows


# --- the first article's opening passage ----------------------------------------------------------------

def test_the_first_articles_opening_passage_is_offered_when_a_later_one_leads(tiny):
    index, encoder = tiny
    question = "Who designed the lighting for the structure?"  # the bridge article's second paragraph
    found = run(tiny, question, ranking=Ranking())
    first = index.passages[found.rows[0]]
    assert first.start > 0 and "lighting" in first.text
    row, dense, bm25 = found.lead
    lead = index.passages[row]
    assert lead.start == 0 and lead.article_id == first.article_id and row != found.rows[0]
    assert dense == pytest.approx(float(index.vectors[row] @ encoder.encode([question])[0]), abs=1e-5)
    assert bm25 == pytest.approx(float(index.lexical.scores(question)[row]))
    hit = lead_hit(index, found)
    assert hit.start == 0 and hit.article_id == first.article_id and hit.score == pytest.approx(found.scores[0], abs=1e-4)


def test_no_opening_passage_when_the_first_passage_opens_its_article(tiny):
    index, _ = tiny
    found = run(tiny, "Which city opened a steel bridge shaped like a dragon?", ranking=Ranking())
    assert index.passages[found.rows[0]].start == 0
    assert found.lead is None and lead_hit(index, found) is None
    assert opening(index, found.rows[0], None, None) is None
