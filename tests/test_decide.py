"""qa.decide: which read passage answers, the calibrated confidence, and every abstain rule with its reason."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from qa import decide as calibrate
from qa.config import Settings
from qa.decide import SWITCH_MARGIN, Decision, choose, decide, judged
from qa.query import understand
from qa.pipeline import QA, shown, to_read
from qa.read import READ_LIMIT, Reading, options, read
from qa.types import Retrieval, Search

from conftest import ARTICLES, write_article
from test_read import BRIDGE, DELEGATION, FLOODS, INTERNET, OFF_TOPIC, hit

QUESTION = "Who led the delegation to Singapore?"


def searched(question: str, hits, date_applied: bool = True) -> Search:
    """A Search as QA.search returns it, for the given hits (best first)."""
    rows = tuple(range(len(hits)))
    scores = tuple(h.score for h in hits)
    return Search(understand(question), np.zeros(4, np.float32), Retrieval(rows, scores, scores, scores, date_applied),
                  tuple(hits), {})


def decided(question: str, hits, date_applied: bool = True, **settings) -> Decision:
    found = searched(question, hits, date_applied)
    return decide(options(found.hits, found.query), found, Settings(**settings))


def test_choose_switches_only_for_a_clearly_more_likely_answer():
    assert choose([0.3]) == 0
    assert choose([0.30, 0.30 + SWITCH_MARGIN / 2, 0.1]) == 0
    assert choose([0.30, 0.1, 0.30 + 2 * SWITCH_MARGIN]) == 2
    assert choose([0.9, 0.2, 0.1]) == 0


def test_judge_picks_the_passage_and_it_leads_with_a_tied_score():
    query = understand(QUESTION)
    hits = [hit(FLOODS, 0.6, "a"), hit(BRIDGE, 0.58, "c"), hit(DELEGATION, 0.55, "b")]
    found = options(hits, query, weight=0.0, reader="features")  # no re-ranking: retrieval order
    assert [r.hits[0].passage_id for r in found] == ["a", "c", "b"]  # one option per read passage
    chosen, rating = judged(found, lambda r: 0.9 if "Quang" in r.answer else 0.1)
    assert "Luong Tam Quang" in chosen.answer and chosen.passage.rank == 2 and rating == 0.9
    assert [h.passage_id for h in chosen.hits] == ["b", "a", "c"]
    scores = [h.score for h in chosen.hits]
    assert scores == sorted(scores, reverse=True) and scores[0] == 0.6
    assert judged(found, lambda r: 0.5)[0].hits[0].passage_id == "a"  # no clear winner
    assert judged(found, None) == (found[0], None)


def test_dated_passages_are_rated_by_the_news_model_when_one_is_fitted(monkeypatch):
    from dataclasses import replace

    query = understand(QUESTION)
    undated = read([hit(DELEGATION, dense=0.6)], query)
    dated = read([replace(hit(DELEGATION, dense=0.6), date="2023-10-20")], query)
    base = calibrate.model()
    assert calibrate.model_for(undated) is base
    news = {**base, "intercept": base["intercept"] - 3.0}  # a news model that trusts the same evidence less
    monkeypatch.setitem(calibrate._model(calibrate.reader_name()), "dated", news)
    assert calibrate.model_for(undated) is base and calibrate.model_for(dated) is news
    x = calibrate.features(dated, dated.hits)
    assert calibrate.confidence(x, calibrate.model_for(dated)) < calibrate.confidence(x, base)
    monkeypatch.delitem(calibrate._model(calibrate.reader_name()), "dated")
    assert calibrate.model_for(dated) is base  # no news model fitted: the base one


def test_confidence_is_a_probability_that_grows_with_the_evidence():
    query = understand(QUESTION)
    on = read([hit(DELEGATION, dense=0.6)], query)
    off = read([hit(OFF_TOPIC, dense=0.05)], query)
    c_on = calibrate.confidence(calibrate.features(on, on.hits))
    c_off = calibrate.confidence(calibrate.features(off, off.hits))
    assert 0.0 <= c_off < calibrate.threshold() <= c_on <= 1.0


def test_threshold_keeps_abstention_precision():
    conf = np.array([0.9, 0.8, 0.35, 0.3, 0.2, 0.1, 0.05])
    answerable = [True, True, True, False, True, False, False]
    t, precision, recall = calibrate.best_threshold(conf, answerable, precision=0.75)
    assert (t, recall) == (0.31, 1.0) and precision == 0.75
    t, precision, recall = calibrate.best_threshold(conf, answerable, precision=0.95)
    assert t == 0.11 and (precision, recall) == (1.0, 2 / 3)


def test_threshold_from_the_settings_or_the_calibration():
    assert calibrate.threshold(Settings(answer_threshold=0.3)) == 0.3
    assert calibrate.threshold(Settings()) == calibrate.threshold() == calibrate.model()["threshold"]


def test_answers_with_the_chosen_reading():
    got = decided(QUESTION, [hit(DELEGATION, dense=0.6)], answer_threshold=0.0)
    assert not got.abstained and got.reason is None and got.answer in DELEGATION
    assert got.answer == got.reading.answer and got.reading.hits[0].passage_id == "p"
    x = calibrate.features(got.reading, got.reading.hits, QUESTION)
    assert got.confidence == round(calibrate.confidence(x), 3)


def test_abstains_when_no_passage_is_close_enough():
    got = decided(QUESTION, [hit(DELEGATION, dense=0.1)], min_relevance=0.15, answer_threshold=0.0)
    assert got == Decision(None, 0.0, True, "no passage in the articles is close enough to the question",
                           got.reading)
    assert decided(QUESTION, [], answer_threshold=0.0).reason == got.reason


def test_abstains_below_the_threshold():
    got = decided(QUESTION, [hit(DELEGATION, dense=0.6)], answer_threshold=0.999)
    assert got.abstained and got.answer is None and got.confidence > 0
    assert got.reason == (f"the best answer found is too unsure to show (about {round(got.confidence * 100)} in 100 "
                          f"answers this sure are right; the bot shows answers from 100 in 100)")
    unphrased = decided(QUESTION, [hit("...", dense=0.6)], answer_threshold=0.0)
    assert unphrased.abstained and unphrased.confidence == 0.0 and unphrased.reason.endswith("(about 0 in 100 answers this sure are right; the bot shows answers from 0 in 100)")


@pytest.mark.parametrize("mentions", [False, True])
def test_a_named_year_no_article_covers(mentions):
    text = DELEGATION + (" The same week in 2019 was quieter." if mentions else "")
    got = decided("Who led the delegation to Singapore in 2019?", [hit(text, dense=0.6)], date_applied=False,
                  answer_threshold=0.0)
    if mentions:  # an article about that time, published later: it answers, with a note
        assert not got.abstained and got.reason == "no articles published in 2019; searched all dates"
    else:
        assert got.abstained and got.reason == ("no article was published in 2019, and the closest passage, "
                                                "from another date, does not mention 2019")
    assert not decided("Who led the delegation to Singapore in 2019?", [hit(text, dense=0.6)],
                       answer_threshold=0.0).reason  # the dates applied: nothing to note


def test_choose_by_confidence_off_answers_from_the_first_option():
    found = searched(QUESTION, [hit(FLOODS, 0.6, "a", dense=0.6), hit(BRIDGE, 0.58, "c", dense=0.6)])
    readings = options(found.hits, found.query)
    assert decide(readings, found, Settings(answer_threshold=0.0, choose_by_confidence=False)).reading is readings[0]


def test_a_passage_from_another_year_never_displaces_one_from_the_year_asked_ranked_above_it():
    from dataclasses import replace

    query = understand("In 2020, who led the delegation to Singapore?")
    b2020 = replace(hit(DELEGATION, 0.6, "b"), date="2020-10-01")
    a2023 = replace(hit(DELEGATION, 0.58, "a"), date="2023-10-20")
    c2020 = replace(hit(BRIDGE, 0.5, "c"), date="2020-10-01")
    ids = lambda readings: [r.hits[0].passage_id for r in readings]  # noqa: E731
    found = options([b2020, a2023, c2020], query, weight=0.0, reader="features")
    assert ids(found) == ["b", "a", "c"] and ids(calibrate.in_dates(found, query.dates)) == ["b", "c"]
    assert calibrate.in_dates(found, understand(QUESTION).dates) == found  # no year named: every option
    later_first = options([replace(a2023, score=0.7), b2020, c2020], query, weight=0.0, reader="features")
    assert ids(later_first) == ["a", "b", "c"]
    assert calibrate.in_dates(later_first, query.dates) == later_first  # ranked above the year's: it may answer
    only_later = options([a2023], query, weight=0.0, reader="features")
    assert calibrate.in_dates(only_later, query.dates) == only_later  # nothing from 2020 answers


def test_support_counts_the_other_articles_that_hold_the_answer():
    from qa.types import Hit

    def h(pid, article, text):
        return Hit(pid, text, "t", "2024-01-02", "a.jsonl", 1.0, article_id=article)

    top = h("p1", "a1", "Tesla recalled two million cars.")
    hits = [top, h("p2", "a1", "The recall by Tesla covers   Autopilot."),  # the same article: not support
            h("p3", "a2", "TESLA said the fix is a software update."), h("p4", "a3", "Ford was not affected."),
            h("p5", "a4", "Regulators asked Tesla for data.")]
    assert calibrate.support("Tesla", top, hits) == 2.0  # a2 and a4, case and spacing aside
    assert calibrate.support("Tesla", top, hits, most=1) == 1.0
    assert calibrate.support(None, top, hits) == 0.0 and calibrate.support("x", top, hits) == 0.0
    # 3 other articles retrieved (a2-a4): the fourth missing counts the rate; with 4 or more, nothing is added
    assert calibrate.support("Tesla", top, hits, rate=0.25) == 2.25
    assert calibrate.support("Ford", top, hits, rate=0.25) == 1.25
    more = hits + [h("p6", "a5", "Tesla shares fell."), h("p7", "a6", "GM said nothing.")]
    assert calibrate.support("Tesla", top, more, rate=0.25) == 3.0
    two = [top, h("p8", "b1", "An article on another story.")]  # a folder of two articles
    assert calibrate.support("Tesla", top, two, rate=0.25) == 0.75
    assert calibrate.support("Tesla", top, [top], rate=0.25) == 1.0


def test_the_support_rate_is_the_news_models_mean_support_per_article():
    m = calibrate.model()
    if calibrate.reader_name() == "features" or "dated" not in m:
        assert calibrate.support_rate() == 0.0
        return
    mean = m["dated"]["mean"][calibrate.FEATURES.index("support")]
    assert calibrate.support_rate() == m["dated"].get("support_rate", mean / calibrate.SUPPORT_MOST)
    assert calibrate.support_rate() == pytest.approx(mean / calibrate.SUPPORT_MOST, abs=1e-4)
    assert 0.0 < calibrate.support_rate() < 1.0


def test_a_feature_left_out_of_a_fit_gets_no_weight():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(calibrate.FEATURES)))
    i = calibrate.FEATURES.index("support")
    y = (x[:, 0] + x[:, i] > 0).astype(int)
    full = calibrate.fit(x, y)
    base = calibrate.fit(x, y, without=("support",))
    assert full["coef"][i] > 0.5 and base["coef"][i] == 0.0 and base["features"] == list(calibrate.FEATURES)


def test_question_cover_is_the_share_of_the_questions_words_the_passage_or_title_holds():
    from qa.types import Hit

    top = Hit("p1", "Tesla recalled two million cars over Autopilot.", "Regulators and Tesla", "2024-01-02",
              "a.jsonl", 1.0)
    # content words: tesla, recall(ed)?, cars, regulators; "which", "did", "the" are left out
    assert calibrate.question_cover("Which cars did Tesla recall?", top) == 2 / 3  # cars, tesla; not "recall"
    assert calibrate.question_cover("Did the regulators question Tesla?", top) == 2 / 3  # the title counts
    assert calibrate.question_cover("Who?", top) == 0.0 and calibrate.question_cover("Tesla cars?", None) == 0.0
    assert calibrate.question_cover("TESLA cars?", top) == 1.0


# --- the opening passage read beside the retrieved ones (qa.pipeline.to_read / shown) ----------------------

def _with_lead(hits, lead) -> Search:
    found = searched(QUESTION, hits)
    return replace(found, lead=lead)


def test_the_opening_passage_is_read_second_and_one_more_passage_is_read():
    a, b, c, d = (hit(t, 0.9 - i / 10, f"p{i}") for i, t in enumerate((INTERNET, BRIDGE, FLOODS, OFF_TOPIC)))
    lead = hit(DELEGATION, 0.9, "lead")
    assert to_read(_with_lead((a, b, c, d), lead)) == ((a, lead, b, c, d), READ_LIMIT + 1)
    assert to_read(_with_lead((a, b, c, d), None)) == ((a, b, c, d), READ_LIMIT)
    assert to_read(_with_lead((a, b, c, d), replace(b))) == ((a, b, c, d), READ_LIMIT)  # read already
    moved = replace(d)  # retrieved, but beyond the passages read: read second, not twice
    assert to_read(_with_lead((a, b, c, d), moved)) == ((a, moved, b, c), READ_LIMIT + 1)


def test_the_opening_passage_is_shown_only_when_it_gives_the_answer():
    a, b = hit(INTERNET, 0.9, "p0"), hit(BRIDGE, 0.8, "p1")
    lead = hit(DELEGATION, 0.9, "lead")
    found = _with_lead((a, b), lead)

    def decision(hits, abstained=False):
        return Decision(None if abstained else "x", 0.9, abstained, None, Reading(tuple(hits)))

    assert shown(decision((lead, a, b)), found) == (lead, a, b)  # its span answers: shown first
    assert shown(decision((a, lead, b)), found) == (a, b)  # weighed, not the answer: the retrieved ones only
    assert shown(decision((lead, a, b), abstained=True), found) == (a, b)
    assert shown(decision((a, b)), _with_lead((a, b), None)) == (a, b)
    # retrieved further down as well: not the answer, it goes back to its place with its own score
    c, d = hit(FLOODS, 0.7, "p2"), hit(OFF_TOPIC, 0.6, "p3")
    own = hit(DELEGATION, 0.5, "lead")
    found = _with_lead((a, b, c, d, own), lead)
    assert shown(decision((a, lead, b, c, d)), found) == (a, b, c, d, own)
    assert shown(decision((a, lead, b, c, d), abstained=True), found) == (a, b, c, d, own)
    assert shown(decision((lead, a, b, c, d)), found) == (lead, a, b, c, d)  # the answer: first
    # among the first retrieved: read as one of them, and shown as read (its highlight kept)
    read_lead = replace(lead, highlight_start=0, highlight_end=5)
    assert shown(decision((a, read_lead, b)), _with_lead((a, lead, b), lead)) == (a, read_lead, b)


def test_how_many_passages_are_shown_never_changes_the_answer_or_its_rating(settings):
    qa = QA(settings, answer_threshold=0.0)
    question = "Who resigned as transport minister of Singapore?"
    got = [qa.ask(question, k=k) for k in (1, 2, 3, 5, 8)]
    assert len({(a.answer, a.confidence, a.abstained) for a in got}) == 1
    assert [len(a.passages) for a in got] == [1, 2, 3, 5, min(8, len(got[-1].passages))]


def test_reading_everything_at_once_includes_the_opening_passage(monkeypatch, settings):
    from qa import pipeline

    limits = []
    real = pipeline.options

    def counted(*args, limit=None, **kw):
        limits.append(limit)
        return real(*args, limit=limit, **kw)

    monkeypatch.setattr(pipeline, "options", counted)
    qa = QA(settings, answer_threshold=0.0, read_first=READ_LIMIT)
    question = "Who designed the lighting for the structure?"  # the bridge article's second passage
    found = qa.search(question, k=5)
    assert found.lead is not None and to_read(found)[1] == READ_LIMIT + 1
    qa.ask(question)
    assert limits == [READ_LIMIT + 1]  # one pass over every passage, the opening one included


def test_end_to_end_the_answer_in_an_articles_opening_is_found_and_shown_first(tmp_path):
    """The question's words are in a later passage; the name asked for only in the article's first sentence (with
    other articles retrieved after it, the opening passage is not among the first passages read)."""
    for name, (title, date, paragraphs) in ARTICLES.items():
        write_article(tmp_path / "corpus", name, title, date, *paragraphs)
    write_article(tmp_path / "corpus", "library.txt", "Council approves plans", "2024-05-02",
                  "The town of Brenham will build a new public library, Mayor Ana Ruiz said on Monday.",
                  "Officials said the building would have a rooftop garden, a reading room for children and a "
                  "makerspace with laser cutters, and construction on the rooftop garden and the reading room "
                  "for children will start next spring.")
    qa = QA(Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "idx", model="hash", chunk_words=20),
            answer_threshold=0.0)
    question = "Which town's library will have a rooftop garden and a reading room for children?"
    found = qa.search(question, k=5)
    assert found.hits[0].start > 0 and found.lead is not None and found.lead.start == 0
    assert all(h.article_id != found.lead.article_id for h in found.hits[1:READ_LIMIT])
    answer = qa.ask(question)
    assert answer.answer == "Brenham"
    assert answer.passages[0].start == 0 and answer.passages[0].passage_id == found.lead.passage_id


def test_each_model_has_its_threshold_and_the_settings_override_both():
    m = calibrate.model()
    assert calibrate.threshold(Settings(), {"coef": []}) == calibrate.threshold() == m["threshold"]
    assert calibrate.threshold(Settings(), {"threshold": 0.5}) == 0.5
    assert calibrate.threshold(Settings(answer_threshold=0.2), {"threshold": 0.5}) == 0.2
    if "dated" in m and calibrate.reader_name() == "neural":  # the shipped news model: the rule, not a fit
        from qa.evaluation.fit import NEWS_THRESHOLD

        assert m["dated"]["threshold"] == NEWS_THRESHOLD == 0.5
        at = m["dated"]["at_threshold_2fold"]
        assert at["questions"] > 0 and 0 <= at["abstained"] < 1 and at["right"] <= at["right_among_shown"]
