"""Which country, which state: the answer names one (qa.read.places, rescore.of_place)."""
import numpy as np
import pytest

from qa.read import neural, places


@pytest.mark.parametrize("question, kind", [
    ("Which country was shaken by a 7.0-magnitude earthquake this week?", "country"),
    ("Scientists from which country claimed the discovery?", "country"),
    ("What nation won the most medals?", "country"),
    ("Hurricane Idalia made landfall Wednesday in which state?", "state"),
    ("The newly elected pope hails from which US state?", "state"),
    ("In which U.S. state did it happen?", "state"),
    ("Which state of matter is ice?", None),  # a state of something
    ("What state is the economy in?", None),  # a condition
    ("Which city hosted the summit?", None),
    ("Which country singer won the award?", None),  # "country" in another noun: a person is asked for
    ("Which state-owned company was sold?", None),
    ("Which state senator resigned?", None),
    ("Which state's governor commuted the sentences?", "state"),  # whose governor: the state
    ("Artur Lyukmanov works in which country's Ministry of Foreign Affairs?", "country's"),  # "Russian" answers
    ("Who led the 2023 delegation?", None),
])
def test_which_country_or_state_a_question_asks_for(question, kind):
    assert places.asked(question) == kind


@pytest.mark.parametrize("text, kind, named", [
    ("Ukraine", "country", True), ("the United States", "country", True), ("U.S.", "country", True),
    ("Ukraine's", "country", True), ("South Korea", "country", True), ("Turkey", "country", True),
    ("Russia", "country", True), ("Kyiv", "country", False), ("West Coast", "country", False),
    ("Texas", "state", True), ("New South Wales", "state", True), ("West Coast", "state", False),
    ("Jacksonville", "state", False),
    ("Russian", "country", False), ("Russian", "country's", True), ("Vietnamese", "country's", True),
    ("Russia", "country's", True), ("Moscow", "country's", False),
])
def test_names_that_answer_which_country_or_state(text, kind, named):
    assert places.is_named(text, kind) is named


def test_only_spans_naming_the_place_asked_for_stay_when_there_are_any():
    from qa.read import rescore

    text = "He flew to Kyiv, the capital of Ukraine."
    kyiv, ukraine = neural.Span(11, 15, 5.0, 0.0), neural.Span(32, 39, 3.0, 0.0)
    x = np.array([[1.0], [2.0]])
    spans, rows = rescore.of_place("To which country did he fly?", text, [kyiv, ukraine], x)
    assert spans == [ukraine] and rows.tolist() == [[2.0]]
    assert rescore.of_place("Where did he fly?", text, [kyiv, ukraine], x)[0] == [kyiv, ukraine]  # not asked
    assert rescore.of_place("Which country?", text, [kyiv], x[:1])[0] == [kyiv]  # none names one: all stay


@pytest.mark.parametrize("question, text, want", [
    ("Biden made a secret trip to which country?",
     "President Biden made a secret trip to Kyiv on Monday, his first visit since the war began, meeting "
     "Ukrainian leaders in the capital of Ukraine.", "Ukraine"),
    ("Which state was drenched by rain this week?",
     "Heavy rain drenched the West Coast this week, and Los Angeles in California saw floods.", "California"),
    ("Where did Biden travel?",
     "President Biden made a secret trip to Kyiv on Monday, his first visit since the war began, meeting "
     "Ukrainian leaders in the capital of Ukraine.", "Kyiv"),  # "where" may be a city
])
def test_the_reader_answers_the_country_or_state_asked_for(question, text, want):
    from qa.read import rescore

    span, = rescore.read(question, [text])
    assert text[span.start:span.end] == want


def test_a_place_the_question_names_is_not_its_answer():
    from qa.read import rescore

    question = "Which country was recommended for EU candidacy alongside Ukraine this week?"
    assert places.named_in(question, "country") == {"Ukraine"}
    text = "The commission recommended Ukraine and Moldova for candidacy."
    ukraine, moldova = neural.Span(27, 34, 6.0, 0.0), neural.Span(39, 46, 4.0, 0.0)
    assert rescore.of_place(question, text, [ukraine, moldova], np.zeros((2, 1)))[0] == [moldova]


def test_a_place_is_not_the_company_asked_for():
    from qa.read import rescore
    from qa.read.expected import Expected
    from qa.read.nlp import parse

    text = "Passengers of Singapore Airlines flew from London to Texas."
    doc, = parse([text])
    at = {w: neural.Span(text.index(w), text.index(w) + len(w), 5.0 - i, 0.0)
          for i, w in enumerate(("Singapore", "Singapore Airlines", "Texas"))}
    x = np.array([[1.0], [2.0], [3.0]])
    airline = Expected("which", frozenset({"ORG"}), "airline")
    spans, rows = rescore.of_company(doc, airline, text, list(at.values()), x)
    assert spans == [at["Singapore Airlines"]] and rows.tolist() == [[2.0]]
    team = Expected("which", frozenset({"ORG"}), "team")  # a city or a state may name a team: all stay
    assert rescore.of_company(doc, team, text, list(at.values()), x)[0] == list(at.values())
    only = [at["Singapore"], at["Texas"]]  # nothing but places: all stay
    assert rescore.of_company(doc, airline, text, only, x[[0, 2]])[0] == only


def test_a_country_is_not_the_ministry_asked_for():
    from qa.read import analyse, rescore
    from qa.read.nlp import parse

    text = "Vietnam's Ministry of Public Security hosted the talks."
    doc, = parse([text])
    exp = analyse("Which ministry did he lead?").exp
    assert exp.focus == "ministry"
    spans = [neural.Span(0, 7, 5.0, 0.0), neural.Span(10, 37, 4.0, 0.0)]
    kept, _ = rescore.of_company(doc, exp, text, spans, np.zeros((2, 1)))
    assert [text[s.start:s.end] for s in kept] == ["Ministry of Public Security"]
