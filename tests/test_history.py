"""qa.history: the chat so far as plain (question, answer) turns, whatever shape the caller keeps it in."""
from __future__ import annotations

import pytest

from qa.history import short_reply, turns
from qa.types import Turn

Q = "Who resigned as transport minister of Singapore in 2023?"


@pytest.mark.parametrize("history, expected", [
    (None, ()),
    ([], ()),
    ([Q], (Turn(Q),)),
    ([{"role": "user", "content": Q}, {"role": "assistant", "content": "Iswaran."}], (Turn(Q, "Iswaran"),)),
    ([{"role": "user", "content": [{"type": "text", "text": Q}]},
      {"role": "assistant", "content": [{"type": "text", "text": "S. Iswaran"}]}], (Turn(Q, "S. Iswaran"),)),
    ([(Q, "Mr. S. Iswaran.")], (Turn(Q, "Mr. S. Iswaran"),)),
    ([[Q, None]], (Turn(Q),)),
    ([Turn(Q, "a long answer that is kept as given")], (Turn(Q, "a long answer that is kept as given"),)),
    (["", ("", None), {"role": "assistant", "content": "Hello!"}, 42], ()),
])
def test_turns_from_every_shape(history, expected):
    assert turns(history) == expected


@pytest.mark.parametrize("reply, answer", [
    ("Iswaran.", "Iswaran"),
    ("Mr. S. Iswaran resigned in 2020 as transport minister.", None),  # a sentence, not the answer
    ("Who knows?", None),
    ("   ", None),
    (None, None),
    ("<div><p><strong>Luong Tam Quang</strong> · confidence 0.83</p></div>", None),  # the page's HTML
])
def test_short_reply(reply, answer):
    assert short_reply(reply) == answer


def test_a_reply_reader_reads_the_answers():
    got = turns([{"role": "user", "content": Q}, {"role": "assistant", "content": "<b>x</b>"}],
                reply_answer=lambda reply: reply.upper())
    assert got == (Turn(Q, "<B>X</B>"),)


def test_answered_fills_missing_answers_in_order_with_the_earlier_turns():
    from qa.history import answered

    seen = []

    def answer(question, before):
        seen.append((question, before))
        return question.upper()

    got = answered((Turn("who?"), Turn("what?", "kept"), Turn("where?")), answer)
    assert got == (Turn("who?", "WHO?"), Turn("what?", "kept"), Turn("where?", "WHERE?"))
    assert seen == [("who?", ()), ("where?", (Turn("who?", "WHO?"), Turn("what?", "kept")))]
