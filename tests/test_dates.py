"""qa.dates: the one date grammar, for articles' datelines and the dates questions name."""
import datetime as dt

import pytest

from qa.dates import MONTHS, find_dates, match_date, parse_date

D = dt.date


# ---- articles ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("2023-10-20", D(2023, 10, 20)),
    ("2023-10-20T08:00:00Z", D(2023, 10, 20)),
    ("2023-10-20T23:30:00+07:00", D(2023, 10, 20)),
    ("October 20, 2023", D(2023, 10, 20)),
    ("Oct 20, 2023", D(2023, 10, 20)),
    ("Sept. 5, 2023", D(2023, 9, 5)),
    ("20 October 2023", D(2023, 10, 20)),
    ("20 Oct 2023", D(2023, 10, 20)),
    ("01/10/2020", D(2020, 10, 1)),  # day first
    ("22:30 01/10/2020", D(2020, 10, 1)),
    ("01/10/2020 22:30", D(2020, 10, 1)),
    ("date 2023-10-20 A delegation arrived.", D(2023, 10, 20)),
    ("Date: 20 Oct 2023", D(2023, 10, 20)),
    ("Published: October 20, 2023", D(2023, 10, 20)),
    ("Updated: 2023-10-20 08:15", D(2023, 10, 20)),
    ("Fri, 20 Oct 2023 08:00:00 GMT", D(2023, 10, 20)),
    ("31/02/2020", None),  # no such day
    ("2023", None),
    ("In October 2023 the talks began", None),  # not at the start
    ("", None),
])
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_months_table():
    assert MONTHS["january"] == 1 and MONTHS["jan"] == 1 and MONTHS["sept"] == 9 and MONTHS["dec"] == 12
    assert set(MONTHS.values()) == set(range(1, 13))


def test_match_date_gives_the_offset_past_the_date():
    text = "Published: 20 Oct 2023 | A delegation arrived."
    assert match_date(text) == (D(2023, 10, 20), len("Published: 20 Oct 2023"))


# ---- questions (more cases in tests/test_query.py) ------------------------------------------------
def test_questions_and_articles_share_the_month_names():
    for name, month in MONTHS.items():
        assert parse_date(f"5 {name} 2021") == D(2021, month, 5)
        found = find_dates(f"What happened in {name} 2021?")
        assert (found.start, found.end.day > 27) == (D(2021, month, 1), True)


# --- relative to the day asked ---------------------------------------------------------------------------
from qa.dates import relative_dates, wants_recent  # noqa: E402

FRIDAY = dt.date(2022, 6, 17)  # a Friday


@pytest.mark.parametrize("text,start,end", [
    ("What happened yesterday?", dt.date(2022, 6, 16), FRIDAY),
    ("Who won today?", dt.date(2022, 6, 16), FRIDAY),
    ("Who resigned last week?", dt.date(2022, 6, 6), FRIDAY),
    ("What did the Fed do last month?", dt.date(2022, 5, 1), FRIDAY),
    ("Which team won last year?", dt.date(2021, 1, 1), FRIDAY),
    ("How many cases this year?", dt.date(2022, 1, 1), FRIDAY),
    ("Who spoke on Monday?", dt.date(2022, 6, 13), FRIDAY),
    ("Who spoke on Friday?", FRIDAY, FRIDAY),
    ("What was announced in March?", dt.date(2022, 3, 1), dt.date(2022, 4, 7)),
    ("What was announced in June?", dt.date(2022, 6, 1), FRIDAY),
    ("What was announced in September?", dt.date(2021, 9, 1), dt.date(2021, 10, 7)),
])
def test_relative_dates_resolve_against_as_of(text, start, end):
    found = relative_dates(text, FRIDAY)
    assert (found.start, found.end) == (start, end), found


@pytest.mark.parametrize("text", ["Who won the election?", "What happened this week?", "Who is the latest CEO?",
                                  "What happened in March 2020?", "Who was born on 5 March?"])
def test_no_relative_range(text):
    assert relative_dates(text, FRIDAY) is None


@pytest.mark.parametrize("text,recent", [("Who recently resigned?", True), ("Who is now in charge?", True),
                                         ("Which upcoming film?", True), ("What happened this week?", True),
                                         ("Who currently leads?", True), ("Who founded Microsoft?", False)])
def test_wants_recent(text, recent):
    assert wants_recent(text) is recent
