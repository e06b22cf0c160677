"""Hand-computed checks for qa.evaluation.metrics."""
import math

import pytest

from qa.evaluation.metrics import (
    abstention_scores,
    answer_in_passages,
    exact_match,
    first_relevant_rank,
    hit_at_k,
    mean,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    percentile,
    token_f1,
)

L3 = math.log2(3)  # discount at rank 2


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("The Quick, Brown-Fox!", "quick brownfox"),
        ("An apple a day", "apple day"),
        ("theatre", "theatre"),  # articles only as whole words
        ("  A  ", ""),
        ("U.S.\tEconomy\n", "us economy"),
        ("", ""),
    ],
)
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


@pytest.mark.parametrize(
    "pred, golds, expected",
    [
        ("the Eiffel Tower", ["Eiffel tower."], 1.0),
        ("Paris", ["London", "paris"], 1.0),
        ("Paris, France", ["Paris"], 0.0),
        (None, ["Paris"], 0.0),
        ("Paris", [], 0.0),
        ("the", ["a"], 1.0),  # SQuAD v1.1: both normalize to ""
    ],
)
def test_exact_match(pred, golds, expected):
    assert exact_match(pred, golds) == expected


@pytest.mark.parametrize(
    "pred, golds, expected",
    [
        ("the big red dog", ["red dog barked"], 2 / 3),  # p = r = 2/3
        ("big red dog", ["cat", "red dog"], 0.8),  # p = 2/3, r = 1
        ("dog dog cat", ["dog cat cat"], 2 / 3),  # multiset overlap 2
        ("Red Dog", ["red, dog"], 1.0),
        ("", ["dog"], 0.0),
        ("the", ["a"], 0.0),  # SQuAD v1.1: no common tokens -> 0
        (None, ["dog"], 0.0),
        ("dog", [], 0.0),
    ],
)
def test_token_f1(pred, golds, expected):
    assert token_f1(pred, golds) == pytest.approx(expected)


@pytest.mark.parametrize("fn", [exact_match, token_f1])
def test_bare_string_golds_rejected(fn):
    with pytest.raises(TypeError, match="Paris"):
        fn("Paris", "Paris")


@pytest.mark.parametrize(
    "ranked, relevant, expected",
    [
        (["a", "b", "a", "c"], {"c"}, 4),
        (["a", "b", "a", "c"], {"a"}, 1),
        (["x", "x", "y"], {"y"}, 3),  # repeats count as positions
        (["a", "b"], set(), None),
        ([], {"a"}, None),
    ],
)
def test_first_relevant_rank(ranked, relevant, expected):
    assert first_relevant_rank(ranked, relevant) == expected


@pytest.mark.parametrize(
    "k, hit, rr",
    [(1, 0.0, 0.0), (2, 0.0, 0.0), (3, 1.0, 1 / 3), (10, 1.0, 1 / 3)],
)
def test_hit_and_mrr_with_duplicates(k, hit, rr):
    ranked, relevant = ["x", "x", "y", "y"], {"y"}
    assert hit_at_k(ranked, relevant, k) == hit
    assert mrr_at_k(ranked, relevant, k) == pytest.approx(rr)


def test_hit_and_mrr_empty():
    assert hit_at_k([], {"a"}, 5) == 0.0
    assert mrr_at_k([], {"a"}) == 0.0
    assert mrr_at_k(["b", "a"], {"a", "b"}) == 1.0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_k_rejected(bad):
    for call in (
        lambda: hit_at_k(["a"], {"a"}, bad),
        lambda: mrr_at_k(["a"], {"a"}, bad),
        lambda: ndcg_at_k(["a"], {"a": 1}, bad),
        lambda: answer_in_passages(["a"], ["a"], bad),
    ):
        with pytest.raises(ValueError, match=repr(bad)):
            call()


@pytest.mark.parametrize(
    "ranked, gains, k, expected",
    [
        # DCG = 0 + 2/log2 3 + 1/2 ; IDCG = 3 + 2/log2 3 + 1/2
        (["d1", "d2", "d3"], {"d1": 0, "d2": 2, "d3": 1, "d4": 3}, 3, (2 / L3 + 0.5) / (3 + 2 / L3 + 0.5)),
        (["d4", "d2", "d3"], {"d2": 2, "d3": 1, "d4": 3}, 3, 1.0),
        (["d2"], {"d2": 1, "d4": 3}, 1, 1 / 3),  # IDCG truncated at k
        (["d2", "d4"], {"d2": 1, "d4": 3}, 5, (1 + 3 / L3) / (3 + 1 / L3)),
        (["a", "a"], {"a": 1}, 2, 1.0),  # repeat not counted twice
        (["x", "x", "b"], {"b": 1}, 2, 1 / L3),  # dedupe before the cut: b is rank 2
        (["a", "b"], {"a": -1, "b": 1}, 2, 1 / L3),  # negative judgement = no gain
        (["a", "b"], {"a": 0}, 10, 0.0),  # no positive gains
        (["a"], {}, 10, 0.0),
        ([], {"a": 1}, 10, 0.0),
    ],
)
def test_ndcg_at_k(ranked, gains, k, expected):
    assert ndcg_at_k(ranked, gains, k) == pytest.approx(expected)


PASSAGES = ["The cat sat on the mat.", "Paris is the capital of France.", "Parisian cafes in the U.S. economy"]


@pytest.mark.parametrize(
    "golds, k, expected",
    [
        (["paris"], 1, 0.0),
        (["paris"], 2, 1.0),
        (["Capital of France"], 5, 1.0),  # multi-token, k beyond the list
        (["Parisian"], 2, 0.0),
        (["cafe"], 3, 0.0),  # token boundary: "cafe" is not "cafes"
        (["U.S."], 3, 1.0),
        (["The Mat!"], 1, 1.0),
        (["the"], 3, 0.0),  # normalizes to nothing: never a match
        ([], 3, 0.0),
    ],
)
def test_answer_in_passages(golds, k, expected):
    assert answer_in_passages(PASSAGES, golds, k) == expected


def test_answer_in_no_passages():
    assert answer_in_passages([], ["paris"], 5) == 0.0


@pytest.mark.parametrize(
    "abstained, answerable, precision, recall, counts",
    [
        ([True, True, False, False, True], [False, True, False, True, False], 2 / 3, 2 / 3, (5, 3, 3, 2)),
        ([False, False], [False, True], None, 0.0, (2, 0, 1, 0)),
        ([True], [True], 0.0, None, (1, 1, 0, 0)),
        ([True, True], [False, False], 1.0, 1.0, (2, 2, 2, 2)),
        ([], [], None, None, (0, 0, 0, 0)),
    ],
)
def test_abstention_scores(abstained, answerable, precision, recall, counts):
    got = abstention_scores(abstained, answerable)
    assert got["precision"] == (None if precision is None else pytest.approx(precision))
    assert got["recall"] == (None if recall is None else pytest.approx(recall))
    assert (got["n"], got["abstained"], got["unanswerable"], got["correct_abstentions"]) == counts


def test_abstention_length_mismatch():
    with pytest.raises(ValueError, match="2 != 1"):
        abstention_scores([True, False], [True])


@pytest.mark.parametrize(
    "values, q, expected",
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([4, 1, 3, 2], 50, 2.5),
        ([1, 2, 3, 4], 25, 1.75),  # position 0.25 * 3 = 0.75
        ([1, 2, 3, 4], 0, 1.0),
        ([1, 2, 3, 4], 100, 4.0),
        ([10, 20], 90, 19.0),
        ([5], 99, 5.0),
        ([], 50, None),
    ],
)
def test_percentile(values, q, expected):
    assert percentile(values, q) == expected


@pytest.mark.parametrize("q", [-1, 100.5, float("nan")])
def test_percentile_bad_q(q):
    with pytest.raises(ValueError, match="q must be"):
        percentile([1.0], q)


@pytest.mark.parametrize("values, expected", [([1, 2, 3, 4], 2.5), ([0.1] * 10, 0.1), ([7], 7.0), ([], None)])
def test_mean(values, expected):
    assert mean(values) == (None if expected is None else pytest.approx(expected))


def test_reliability_bins_and_calibration_error_by_hand():
    from qa.evaluation import metrics as m

    table, ece = m.reliability([0.05, 0.15, 0.95, 0.91, 1.0], [0, 1, 1, 0, 1])
    assert [(r["confidence"], r["questions"]) for r in table] == [("0.0-0.1", 1), ("0.1-0.2", 1), ("0.9-1.0", 3)]
    top = table[-1]
    assert top["mean_confidence"] == pytest.approx((0.95 + 0.91 + 1.0) / 3) and top["right"] == pytest.approx(2 / 3)
    expected = (abs(0.05 - 0) + abs(0.15 - 1) + 3 * abs((0.95 + 0.91 + 1.0) / 3 - 2 / 3)) / 5
    assert ece == pytest.approx(expected)
    assert m.reliability([], []) == ([], 0.0)


def test_realtimeqa_summary_rates_the_shown_answers():
    import datetime as dt

    from qa.evaluation.realtimeqa import Outcome, Question, summarize

    qs = [Question(f"q{i}", (f"answer {i}",), frozenset({f"r{i}"}), dt.date(2024, 1, 1), str(i)) for i in range(3)]
    outs = [Outcome(("r0",), "answer 0 here", "answer 0", False, 1.0, 0.9),
            Outcome(("r1",), "nothing", "wrong", False, 1.0, 0.8),
            Outcome(("r2",), "nothing", None, True, 1.0, 0.1)]  # abstained: not a shown answer
    s = summarize(qs, outs, read=True)
    assert [r["questions"] for r in s["reliability"]] == [1, 1]
    assert s["expected_calibration_error"] == pytest.approx((abs(0.8 - 0) + abs(0.9 - 1)) / 2, abs=1e-4)
    assert s["gold_in_top3"] == 3 and s["right_when_gold_in_top3"] == pytest.approx(1 / 3, abs=1e-4)
