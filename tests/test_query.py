"""qa.query: dates named in a question, the expected answer type, follow-up context from history."""
from __future__ import annotations

import datetime as dt

import pytest

from qa.history import turns
from qa.types import Turn
from qa.query import find_dates, is_followup, turn_kind, understand
from qa.read import analyse
from qa.render import plain_history

D = dt.date


@pytest.mark.parametrize("question, start, end", [
    ("What happened in 2023?", D(2023, 1, 1), D(2023, 12, 31)),
    ("2023", D(2023, 1, 1), D(2023, 12, 31)),
    ("floods in 2020", D(2020, 1, 1), D(2020, 12, 31)),
    ("news from October 2023", D(2023, 10, 1), D(2023, 10, 31)),
    ("news from Oct. 2023", D(2023, 10, 1), D(2023, 10, 31)),
    ("news from February 2024", D(2024, 2, 1), D(2024, 2, 29)),  # leap year
    ("what happened on 20 Oct 2023", D(2023, 10, 20), D(2023, 10, 20)),
    ("what happened on October 20, 2023", D(2023, 10, 20), D(2023, 10, 20)),
    ("what happened on 2023-10-20", D(2023, 10, 20), D(2023, 10, 20)),
    ("what happened on 01/10/2020", D(2020, 10, 1), D(2020, 10, 1)),  # day first
    ("between 2020 and 2023", D(2020, 1, 1), D(2023, 12, 31)),
    ("in 2023 or back in 2019", D(2019, 1, 1), D(2023, 12, 31)),
    ("on 2023-10-20 and in 2021", D(2021, 1, 1), D(2023, 10, 20)),
])
def test_find_dates(question, start, end):
    found = find_dates(question)
    assert found is not None
    assert (found.start, found.end) == (start, end)
    assert found.label and found.label in question or "," in found.label


@pytest.mark.parametrize("question", [
    "Who resigned?",
    "How many homes were damaged?",
    "How many people, 3000 or 12?",
    "the 2023-24 season",  # not a year on its own
    "in the 1990s",
    "room 12345",
])
def test_no_date_gives_none(question):
    assert find_dates(question) is None


@pytest.mark.parametrize("question", ["on 2023-02-30", "on 2023-13-01", "on 31/02/2020", "on 10/13/2020",
                                      "on February 30, 2023", "on 31 Nov 2021"])
def test_invalid_dates_are_ignored(question):
    found = find_dates(question)
    # the impossible day is never used; at most the month or year around it remains
    assert found is None or found.start < found.end


def test_label_names_the_words():
    assert find_dates("Who resigned in October 2023?").label == "October 2023"
    assert find_dates("between 2020 and 2023").label == "2020, 2023"


@pytest.mark.parametrize("question, expected", [
    ("Who resigned on Friday?", "who"),
    ("Whom did the court charge?", "who"),
    ("When did the bridge open?", "when"),
    ("What year did the floods happen?", "when"),
    ("Where did the floods happen?", "where"),
    ("Which city opened a bridge?", "where"),
    ("How many people died?", "number"),
    ("How much did it cost?", "number"),
    ("Which minister resigned?", "who"),
    ("Which campaign reached schools?", "which"),
    ("Why did he resign?", "why"),
    ("How did the rescuers reach villages?", "how"),
    ("What did the embassy say?", "what"),
    ("Tell me about the bridge", "what"),
])
def test_turn_kind(question, expected):
    assert turn_kind(question) == expected


FIRST = "Who resigned as transport minister of Singapore in 2023?"
HISTORIES = {
    "strings": [FIRST],
    "messages": [{"role": "user", "content": FIRST},
                 {"role": "assistant", "content": "Mr. S. Iswaran resigned in 2020 as transport minister."}],
    "messages with parts": [{"role": "user", "content": [{"type": "text", "text": FIRST}]},
                            {"role": "assistant", "content": "Iswaran."}],
    "pairs": [(FIRST, "Mr. S. Iswaran.")],
    "lists": [[FIRST, None]],
}


NAMED = {"messages with parts": "Iswaran", "pairs": "Mr. S. Iswaran"}  # histories whose answer "he" stands for


@pytest.mark.parametrize("form", [f for f in HISTORIES if f not in NAMED])
def test_followup_carries_words_and_date(form):
    q = understand("Why did he resign?", turns(HISTORIES[form]))
    assert {"transport", "minister", "Singapore"} <= set(q.carried)
    assert "2023" not in q.carried
    assert q.dates is not None and (q.dates.start, q.dates.end) == (D(2023, 1, 1), D(2023, 12, 31))
    assert q.search_text.startswith("Why did he resign?") and "Singapore" in q.search_text
    assert q.question == "Why did he resign?"
    assert q.inherited_kind is None and analyse(q.question, q.carried, q.inherited_kind).exp.kind == "why"


@pytest.mark.parametrize("form", NAMED)
def test_pronoun_is_replaced_by_the_answer_it_names(form):
    q = understand("Why did he resign?", turns(HISTORIES[form]))
    assert q.search_text == f"Why did {NAMED[form]} resign?"
    assert "transport" not in q.carried and "Iswaran" in q.carried  # the last question's words stay out
    assert q.bm25_text.startswith("Why did he resign?") and "Iswaran" in q.bm25_text
    assert q.dates is not None and (q.dates.start, q.dates.end) == (D(2023, 1, 1), D(2023, 12, 31))
    assert q.inherited_kind is None and analyse(q.question, q.carried, q.inherited_kind).exp.kind == "why"


def test_possessive_pronoun_becomes_possessive_name():
    q = understand("What was his title?", turns([(FIRST, "S. Iswaran")]))
    assert q.search_text == "What was S. Iswaran's title?"


@pytest.mark.parametrize("form", HISTORIES)
def test_followup_own_date_wins(form):
    q = understand("And what about 2021?", turns(HISTORIES[form]))
    assert (q.dates.start, q.dates.end) == (D(2021, 1, 1), D(2021, 12, 31))
    assert "minister" in q.carried


@pytest.mark.parametrize("form", HISTORIES)
@pytest.mark.parametrize("question", [
    "How many homes did the Ha Giang floods damage?",
    "Which city opened a dragon bridge over the Han river?",
])
def test_self_contained_question_carries_nothing(form, question):
    q = understand(question, turns(HISTORIES[form]))
    assert q.carried == ()
    assert q.search_text == question
    assert q.dates is None


@pytest.mark.parametrize("history", [None, [], [""], [{"role": "assistant", "content": "Hello!"}], [("", None)]])
def test_no_usable_history(history):
    q = understand("Why did he resign?", turns(history))
    assert q.carried == () and q.dates is None and q.search_text == "Why did he resign?"


def test_relative_that_is_not_a_followup():
    q = understand("What is the name of the bridge that breathes fire?", turns([FIRST]))
    assert q.dates is None
    assert q.carried == ()


def test_followup_of_followup_keeps_context():
    q = understand("What was he charged with?", turns([FIRST, "Why did he resign?"]))
    assert q.dates is not None and q.dates.start == D(2023, 1, 1)
    assert "minister" in q.carried


def test_followup_of_followup_stops_at_a_self_contained_question():
    history = ["Which city opened a dragon bridge?", FIRST, "Why did he resign?"]
    q = understand("What was he charged with?", turns(history))
    assert "bridge" not in q.carried and "minister" in q.carried


ANSWERED = ('<div><p class="qa-answer" style="font-size:1.2em"><strong>Luong Tam Quang</strong></p>'
            '<p>Likely right</p><div><strong>Vietnam at SICW 2023</strong></div></div>')  # render_answer's shape
ABSTAINED = "<div><p>The articles don&#39;t answer this.</p><div><strong>Some title</strong></div></div>"


@pytest.mark.parametrize("history", [
    [{"role": "user", "content": "Who led the 2023 delegation?"}, {"role": "assistant", "content": ANSWERED}],
    [("Who led the 2023 delegation?", ANSWERED)],
    [("Who led the 2023 delegation?", "Luong Tam Quang")],
])
def test_previous_answer_is_carried_for_a_pronoun(history):
    q = understand("Who did he meet from Russia?", plain_history(history))
    assert {"Luong", "Tam", "Quang"} <= set(q.carried) and "delegation" not in q.carried
    assert q.search_text == "Who did Luong Tam Quang meet from Russia?"
    assert q.dates is not None and q.dates.start == D(2023, 1, 1)


def test_abstained_reply_carries_no_answer():
    q = understand("Who did he meet?", plain_history([("Who led the 2023 delegation?", ABSTAINED)]))
    assert "Some" not in q.carried and "delegation" in q.carried


def test_ellipsis_keeps_the_earlier_answer_type_but_not_the_answer():
    q = understand("And in 2020?", plain_history([("Who was the minister in 2023?", ANSWERED)]))
    assert q.inherited_kind == "who" and analyse(q.question, q.carried, q.inherited_kind).exp.kind == "who"
    assert (q.dates.start, q.dates.end) == (D(2020, 1, 1), D(2020, 12, 31))
    assert "minister" in q.carried and "Luong" not in q.carried


@pytest.mark.parametrize("question, followup", [
    ("When was that agreement renewed?", True),
    ("What was its theme?", True),
    ("Which event did they also visit there?", True),
    ("What did they say about this?", True),
    ("What is the name of the bridge that breathes fire?", False),
    ("How many homes were there in Ha Giang province?", False),
    ("Which rover found water ice near the lunar pole?", False),
])
def test_is_followup(question, followup):
    assert is_followup(question) is followup


# --- as of -------------------------------------------------------------------------------------------------

def test_a_time_after_as_of_is_a_topic_not_a_publication_range():
    day = dt.date(2022, 11, 17)
    q = understand("Which Republican announced a 2024 White House bid this week?", as_of=day)
    assert q.dates is None and q.recency  # nothing from 2024 was published on the day it was asked
    assert understand("Who won the 2022 midterms?", as_of=day).dates.label == "2022"  # a year under way
    assert understand("Who won the 2024 election?").dates.label == "2024"  # no as_of: no "future"


def test_a_past_year_beside_words_for_the_last_days_is_a_topic():
    day = dt.date(2022, 8, 19)
    q = understand("Who testified about the 2020 election this week?", as_of=day)
    assert q.dates is None and q.recency  # reported this week, about 2020
    q = understand("What happened on Tuesday at the 2019 summit?", as_of=day)
    assert q.dates.label == "on Tuesday" and q.dates.end == day
    # without such words the year is when: the seed's "2023 delegation", and "new" is not such a word
    assert understand("who led the 2023 delegation?", as_of=dt.date(2026, 11, 30)).dates.label == "2023"
    assert understand("What new agreement was signed in 2023?", as_of=dt.date(2026, 11, 30)).dates.label == "2023"
    # a year still under way is when, whatever else the question says
    assert understand("Who was named 2022's Person of the Year this week?", as_of=dt.date(2022, 12, 9)).dates.label \
        == "2022"


def test_as_of_resolves_relative_dates_and_sets_recency():
    import datetime as dt

    day = dt.date(2022, 6, 17)
    q = understand("Who resigned last week?", as_of=day)
    assert q.as_of == day and q.dates.start == dt.date(2022, 6, 6) and q.recency
    assert understand("Who won the 2019 election?", as_of=day).recency is False  # names another time
    assert understand("Who won the election?", as_of=day).recency
    assert understand("Who won the election?").recency is False  # no day: nothing is relative
    assert understand("What was announced in March?", as_of=day).recency is False


@pytest.mark.parametrize("earlier, answer, question, expected", [
    ("Who led the Vietnamese delegation to Singapore in 2023?", "Luong Tam Quang",
     "Which Russian official did he meet there?", "Which Russian official did Luong Tam Quang meet in Singapore?"),
    ("Who designed the Riverton harbour bridge?", "Holm & Vester", "Which contractor built it?",
     "Which contractor built the Riverton harbour bridge?"),
    ("Where was the chess open held?", "the Corn Exchange", "How many players came there?",
     "How many players came in the Corn Exchange?"),
    ("Who was Singapore's minister of communications in 2023?", "Josephine Teo", "And in 2020?",
     "Who was Singapore's minister of communications in 2020?"),
    ("Where was the World Conference on Marine Biology held?", "Lisbon", "What was its theme?",
     "What was the theme of the World Conference on Marine Biology?"),  # a name keeps its "on"; "its" -> "of"
    ("When did the Ministry of Public Security open the centre?", "in May", "How big is it?",
     "How big is the Ministry of Public Security?"),
])
def test_a_followup_reads_as_one_sentence_with_the_answer_or_the_earlier_subject(earlier, answer, question, expected):
    assert understand(question, [Turn(earlier, answer)]).search_text == expected
