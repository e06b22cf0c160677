"""Near-duplicate grouping (qa.ingest.stories) and the article-extraction benchmark's scoring."""
import datetime as dt
import random

import pytest

import format_pages as fp
from qa.evaluation.extraction import page_counts, scores
from qa.ingest.stories import group, shared_paragraphs, story_ids
from qa.types import Article


def article(key: str, text: str, day: str | None, n: int) -> Article:
    return Article(id=f"{key}{n}", title=fp.STORIES[key][0], published=dt.date.fromisoformat(day) if day else None,
                   byline=None, text=text, source=f"{key}{n}.txt")


def story(key: str) -> str:
    return "\n\n".join(fp.STORIES[key][3])


def edited(text: str) -> str:
    """A wire copy as another paper runs it: a dateline added, two words changed."""
    return "RIVERSIDE (Wire) —\n\n" + text.replace("on Tuesday", "this week").replace("expected", "set")


def gallery(seed: int = 7, words: int = 900) -> str:
    """A long caption block that different pages of one site carry (what scrapers leave in the text)."""
    rng = random.Random(seed)
    vocab = "fans cheer team stadium final goal trophy night crowd players coach photo celebrates city".split()
    return " ".join(rng.choice(vocab) for _ in range(words))


def test_lightly_edited_copy_and_saved_twice_are_one_story():
    base = story("footbridge")
    articles = [article("footbridge", base, "2024-03-05", 0), article("ferry", story("ferry"), "2023-11-18", 1),
                article("footbridge", edited(base), "2024-03-06", 2), article("footbridge", base, None, 3)]
    assert group(articles) == [[2, 0, 3]]  # most recent first, the undated copy last
    assert story_ids(articles) == ["footbridge2", "ferry1", "footbridge2", "footbridge2"]


def test_rerun_a_year_later_is_a_new_story():
    base = story("footbridge")
    assert group([article("footbridge", base, "2023-03-05", 0), article("footbridge", base, "2024-03-05", 1)]) == []


def test_shared_block_does_not_make_two_stories_one():
    block = gallery()
    a = article("ferry", story("ferry") + "\n\n" + block, "2023-11-18", 0)
    b = article("orchard", story("orchard") + "\n\n" + block, "2023-11-19", 1)
    assert shared_paragraphs(a.text, b.text) < 0.5
    assert group([a, b]) == []


def test_different_stories_and_tiny_inputs():
    assert group([article(k, story(k), None, i) for i, k in enumerate(fp.STORIES)]) == []
    assert group([]) == [] and group([article("ferry", "x", None, 0)]) == []


# --- the benchmark's scoring (SOURCE.md) ------------------------------------------------------------------

def test_shingle_counts_are_normalised_per_page():
    assert page_counts("one two three four five", "one two three four five") == (1.0, 0.0, 0.0)
    tp, fp_, fn = page_counts("a b c d e f", "a b c d x y")  # true shingles abcd bcde cdef; predicted abcd bcdx cdxy
    assert (tp, fp_, fn) == pytest.approx((1 / 5, 2 / 5, 2 / 5))
    assert page_counts("short text", "short text") == (1.0, 0.0, 0.0)  # under 4 tokens: one shingle


def test_scores_average_pages_and_skip_empty_sides():
    perfect, empty_prediction = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
    result = scores([perfect, empty_prediction])
    assert result["precision"] == 1.0  # a page with nothing predicted is left out of precision
    assert result["recall"] == 0.5 and result["f1"] == pytest.approx(2 / 3)
