"""ask() reads its first passages, and the rest only when unsure; a passage read once for a question is not read again."""
from __future__ import annotations

import pytest

from qa.pipeline import QA
from qa.read import neural, rescore

from test_read import DELEGATION, INTERNET, OFF_TOPIC

pytestmark = pytest.mark.skipif(not neural.available(), reason="no span reader artifact shipped")

QUESTION = "How many people in Vietnam use the internet?"


@pytest.fixture
def counted(monkeypatch):
    """A span reader whose window runs are counted."""
    r = neural.SpanReader(neural.artifact_dir(), threads=2)
    runs, run = [], r._run
    monkeypatch.setattr(r, "_run", lambda w, o=None: (runs.append(len(w[0])), run(w, o))[1])
    return r, runs


def _windows(r, texts) -> int:
    return sum(1 for t in texts for w in r._windows(QUESTION, t) if w[3])


def test_within_one_question_a_passage_is_read_once_and_gives_the_same_logits(counted):
    r, runs = counted
    first, more = [INTERNET, DELEGATION], [INTERNET, DELEGATION, " ".join([OFF_TOPIC] * 12)]
    alone = r.logits_many(QUESTION, more)
    runs.clear()
    with neural.one_question():
        a = r.logits_many(QUESTION, first)
        b = r.logits_many(QUESTION, more)
    assert len(runs) == _windows(r, more)  # the third text's windows only, the second time
    for x, y in zip(b, alone):
        assert len(x) == len(y) and all((u.start == v.start).all() and (u.end == v.end).all() for u, v in zip(x, y))
    assert all(x is y for x, y in zip(a, b[:2]))  # the same windows, not read again


def test_nothing_is_kept_between_questions_or_for_another_question(counted):
    r, runs = counted
    r.logits_many(QUESTION, [INTERNET])
    r.logits_many(QUESTION, [INTERNET])  # outside one_question(): read again
    assert len(runs) == 2 * _windows(r, [INTERNET])
    runs.clear()
    with neural.one_question():
        r.logits_many(QUESTION, [INTERNET])
        r.logits_many("Who led the delegation?", [INTERNET])
    assert len(runs) == 2 * _windows(r, [INTERNET])


def test_passages_read_ahead_are_not_read_again_and_give_the_same_logits(counted):
    r, runs = counted
    third = " ".join([OFF_TOPIC] * 12)
    alone = r.logits_many(QUESTION, [third])[0]
    runs.clear()
    with neural.one_question(ahead=[third], below=float("inf")):  # always unsure enough to read ahead
        r.logits_many(QUESTION, [INTERNET, DELEGATION])  # starts the third on the pool
        assert isinstance(neural._MEMO.get().memo[(r, tuple(r._question(QUESTION)), third)], neural._Ahead)
        got = r.logits_many(QUESTION, [INTERNET, DELEGATION, third])[2]
    assert len(runs) == _windows(r, [INTERNET, DELEGATION, third])
    assert len(got) == len(alone) and all((u.start == v.start).all() and (u.end == v.end).all()
                                          for u, v in zip(got, alone))


def test_nothing_is_read_ahead_when_a_passage_read_first_is_sure(counted):
    r, runs = counted
    with neural.one_question(ahead=[DELEGATION], below=float("-inf")):
        r.logits_many(QUESTION, [INTERNET])
        assert not neural._MEMO.get().pending()
    with neural.one_question(ahead=[DELEGATION], below=1.0):
        r.logits_many(QUESTION, [INTERNET])  # the answer is plainly there: its span beats "not here" by far
        assert not neural._MEMO.get().pending()
        r.logits_many(QUESTION, [OFF_TOPIC])  # nothing about it: read the next ahead
        assert neural._MEMO.get().pending()


def test_what_is_read_ahead_and_not_asked_for_is_dropped_at_the_question_s_end(counted):
    import concurrent.futures as cf

    r, runs = counted
    long = " ".join([OFF_TOPIC] * 60)  # many windows: most are still queued or running when the block ends
    with neural.one_question(ahead=[long], below=float("inf")):
        r.logits_many(QUESTION, [INTERNET])
        jobs = neural._MEMO.get().pending()
    assert len(jobs) == 1
    cf.wait(jobs[0].futures, timeout=60)
    assert [f for f in jobs[0].futures if f.cancelled() or f.exception() is not None]  # not all were read
    assert r.logits_many(QUESTION, [INTERNET])  # the session still reads after a run was stopped


@pytest.fixture
def reads(monkeypatch):
    """The texts each rescore.read call of an ask is given."""
    seen, read = [], rescore.read
    monkeypatch.setattr(rescore, "read", lambda q, texts, *a, **k: (seen.append(list(texts)), read(q, texts, *a, **k))[1])
    return seen


def test_ask_reads_two_passages_when_their_answer_is_sure_enough(settings, reads):
    a = QA(settings.with_overrides(read_rest_below=0.0)).ask("Who resigned as Singapore's transport minister?")
    assert [len(t) for t in reads] == [2]
    assert a.passages[2].answer_start is None  # the third passage shown, not read


def test_ask_reads_the_third_passage_when_unsure_and_answers_as_reading_all_three(settings, reads, monkeypatch):
    question = "Who resigned as Singapore's transport minister?"
    staged = QA(settings.with_overrides(read_rest_below=1.01)).ask(question)  # never sure enough: reads on
    assert [len(t) for t in reads] == [2, 3] and reads[1][:2] == reads[0]
    reads.clear()
    at_once = QA(settings.with_overrides(read_first=3)).ask(question)
    assert [len(t) for t in reads] == [3]
    assert (staged.answer, staged.confidence, staged.passages) == (at_once.answer, at_once.confidence, at_once.passages)


def test_ask_reads_each_passage_once_when_it_reads_the_third(settings, monkeypatch):
    r = neural.reader()
    runs, run = [], r._run
    monkeypatch.setattr(r, "_run", lambda w, o=None: (runs.append(1), run(w, o))[1])
    question = "Who resigned as Singapore's transport minister?"
    qa = QA(settings.with_overrides(read_rest_below=1.01))
    found = qa.search(question, k=3)
    asked = qa.ask(question)  # the first 2 passages, then all 3
    assert len(runs) == sum(1 for h in found.hits[:3] for w in r._windows(asked.question, h.text) if w[3])


def test_ask_reads_no_further_when_nothing_is_relevant_enough(settings, reads):
    QA(settings.with_overrides(read_rest_below=1.01, min_relevance=1.01)).ask("Who resigned as Singapore's transport minister?")
    assert [len(t) for t in reads] == [2]  # it abstains whatever the third passage says


def test_the_feature_reader_reads_every_passage_at_once(settings, monkeypatch):
    from qa import read as read_mod

    monkeypatch.setenv("QA_READER", "features")
    limits, options = [], read_mod.options
    monkeypatch.setattr("qa.pipeline.options", lambda *a, limit=3, **k: (limits.append(limit), options(*a, limit=limit, **k))[1])
    QA(settings.with_overrides(read_rest_below=1.01)).ask("Who resigned as Singapore's transport minister?")
    assert limits == [3]
