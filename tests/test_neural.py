"""qa.read.neural: the trained span reader shipped as safetensors, run as cached int8 ONNX."""
from __future__ import annotations

import numpy as np
import pytest

from qa.read import neural, read_passages
from qa.query import understand

from test_read import DELEGATION, INTERNET, OFF_TOPIC, hit

pytestmark = pytest.mark.skipif(not neural.available(), reason="no span reader artifact shipped")


def test_the_artifact_is_small_safetensors_with_its_recipe():
    cfg = neural.config()
    assert (neural.MODEL_DIR / neural.ARTIFACT_WEIGHTS).stat().st_size < 8_000_000
    assert cfg["format"] == "qa-span-reader/v1" and "command" in cfg["training"]
    assert not any(neural.MODEL_DIR.glob("*.onnx"))  # the ONNX export is derived and cached, never shipped


def test_best_span_keeps_start_before_end_within_the_context_and_the_length_limit():
    start = np.array([9.0, 1.0, 0.0, 5.0, 0.0])
    end = np.array([9.0, 4.0, 0.0, 0.0, 6.0])
    score, a, b = neural.best_span(start, end, np.arange(1, 5), max_tokens=3)
    assert (a, b) == (3, 4) and score == 11.0  # never [CLS] (0), never end before start
    assert neural.best_span(start, end, np.arange(1, 5), max_tokens=1)[1:] in {(3, 3), (4, 4), (1, 1)}


def test_reads_a_span_of_the_passage_and_a_not_here_score():
    span = neural.reader().read("What percentage of the population uses the internet?", INTERNET)
    assert 0 <= span.start < span.end <= len(INTERNET) and "79" in INTERNET[span.start:span.end]
    off = neural.reader().read("What percentage of the population uses the internet?", OFF_TOPIC)
    assert span.score - span.null > off.score - off.null  # the passage that answers stands further above "not here"


def test_long_passages_are_read_in_windows():
    prefix = " ".join([OFF_TOPIC] * 30) + " "
    span = neural.reader().read("How many people in Vietnam use the internet?", prefix + INTERNET)
    assert span is not None and span.start >= len(prefix)  # found in the last window, offsets in the whole text


def test_windows_read_side_by_side_give_the_logits_of_each_read_alone_on_two_threads():
    import onnxruntime as ort

    r = neural.SpanReader(neural.artifact_dir(), threads=2)  # side by side even on a one-core runner
    question = "How many people in Vietnam use the internet?"
    texts = [INTERNET, " ".join([OFF_TOPIC] * 12), DELEGATION, OFF_TOPIC, ""]  # 1 + several + 1 + 1 + 0 windows
    together = r.logits_many(question, texts)
    assert [len(w) for w in together][-1] == 0 and sum(map(len, together)) > 4
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2  # how windows were read before, one after another
    alone = ort.InferenceSession(str(neural.cached_path(neural.artifact_dir())), opts,
                                 providers=["CPUExecutionProvider"])
    for text, windows in zip(texts, together):
        ws = [w for w in r._windows(question, text) if w[3]]
        assert len(ws) == len(windows)
        for (ids, types, first, offs), b in zip(ws, windows):
            s, e = alone.run(None, {"input_ids": ids[None], "attention_mask": np.ones_like(ids)[None],
                                    "token_type_ids": types[None]})
            assert first == b.first and np.array_equal(np.asarray(offs).reshape(-1, 2), b.offsets)
            assert np.array_equal(s[0], b.start) and np.array_equal(e[0], b.end)  # to the bit


def test_read_passages_marks_the_answer_inside_its_sentence():
    p, = read_passages([hit(DELEGATION)], understand("Who did Quang meet from the Russian ministry?"), reader="neural")
    h = p.hit
    assert p.spanned and p.null is not None and p.features is None
    assert h.highlight_start <= h.answer_start < h.answer_end <= h.highlight_end
    assert p.answer == h.text[h.answer_start:h.answer_end] and p.answer.strip()


def test_a_resolved_follow_up_is_read_as_asked_too_and_each_passage_keeps_the_surer_span(monkeypatch):
    from qa.read import rescore
    from qa.types import Query

    texts = ["Quang met Teo and Lyukmanov.", "Quang spoke at the opening."]
    asked = {}

    def fake(question, passages, kind=None):
        asked[question] = list(passages)
        if "Quang" in question:  # the resolved form: sure on the second passage only
            return [neural.Span(10, 13, 2.0, 0.0), neural.Span(0, 5, 6.0, 0.0)]
        return [neural.Span(18, 27, 9.0, 0.0), None]

    monkeypatch.setattr(rescore, "read", fake)
    q = Query(question="Who did he meet?", search_text="Who did Luong Tam Quang meet?")
    first, second = read_passages([hit(t, pid=str(i)) for i, t in enumerate(texts)], q, reader="neural")
    assert set(asked) == {"Who did he meet?", "Who did Luong Tam Quang meet?"}
    assert (first.answer, first.score) == ("Lyukmanov", 9.0)
    assert (second.answer, second.score) == ("Quang", 6.0)
    asked.clear()
    read_passages([hit(t) for t in texts], Query(question="Who met Teo?", search_text="Who met Teo?"), reader="neural")
    assert list(asked) == ["Who met Teo?"]  # a question resolved from nothing is read once


def test_sentence_around_finds_the_sentence_of_a_span():
    text = "First one here. Second has the answer 42 in it. Third."
    i = text.index("42")
    assert text[slice(*neural.sentence_around(text, i, i + 2))] == "Second has the answer 42 in it."


def _features(question: str, text: str, answer: str):
    from qa.read import rescore
    from qa.read.expected import expected
    from qa.read.nlp import parse

    qdoc, doc = parse([question, text], cache=False)
    start = text.index(answer)
    row = rescore.span_features(doc, expected(qdoc), start, start + len(answer), rescore.question_words(qdoc))
    return dict(zip(rescore.FEATURES, row))


def test_rescoring_features_tell_the_type_asked_for_and_cut_names():
    who = "Who led the Vietnamese delegation?"
    assert _features(who, DELEGATION, "Luong Tam Quang")["primary"] == 1  # a person, for "who"
    assert _features(who, DELEGATION, "Singapore")["primary"] == 0
    cut = _features(who, DELEGATION, "Luong Tam")
    assert cut["cuts_entity"] == 1 and cut["whole_phrase"] == 0
    many = _features("How many people use the internet?", INTERNET, "77 million people, an equivalent of 79%")
    assert many["clause"] == 1 and many["entities"] > 0
    assert _features("What does it stand for?", "The AMMTC (ASEAN Meeting) met.", "ASEAN Meeting)")["unbalanced"] == 1


def test_rescoring_knows_the_role_asked_for_and_whole_quotations():
    passive = "A delegation led by the Danish architect Anna Holm visited the harbour."
    who = "Who led the delegation?"
    assert _features(who, passive, "the Danish architect Anna Holm")["role"] == 1  # "led by X" fills "who led"
    assert _features(who, passive, "the harbour")["role"] == 0
    assert _features(who, passive, "Danish")["role"] == 0
    themed = 'The meeting had the theme "Cooperation in hard times" this year.'
    theme = "What was the theme of the meeting?"
    assert _features(theme, themed, "Cooperation in hard times")["quotation"] == 1
    assert _features(theme, themed, '"Cooperation in hard times"')["quotation"] == 1
    assert _features(theme, themed, "Cooperation")["quotation"] == 0


def test_quotations_a_span_cuts_are_offered_whole():
    from qa.read import rescore
    from qa.read.nlp import parse

    text = 'The meeting had the theme "Cooperation in hard times" this year.'
    doc, = parse([text], cache=False)
    start = text.index("Cooperation")
    near = rescore.phrases(doc, [neural.Span(start, start + len("Cooperation in"), 5.0, 0.0)])
    assert (start, start + len("Cooperation in hard times")) in near


def test_a_span_holding_a_quote_mark_or_starting_a_quotation_is_completed_to_it():
    from qa.read import rescore

    text = 'The meeting had the theme "Cooperation in hard times" this year, "said" one.'
    start, end = text.index("Cooperation"), text.index(" this year")
    whole = (start, start + len("Cooperation in hard times"))
    opened = rescore.completed(text, neural.Span(start - 1, start + len("Cooperation in"), 5.0, 0.0))
    assert (opened.start, opened.end, opened.score) == (*whole, 5.0)
    closed = rescore.completed(text, neural.Span(text.index("hard"), end, 4.0, 0.0))
    assert (closed.start, closed.end) == whole
    first = rescore.completed(text, neural.Span(start, start + len("Cooperation"), 3.0, 0.0))  # its first word
    assert (first.start, first.end) == whole
    inside = neural.Span(text.index("hard"), text.index("hard") + 4, 3.0, 0.0)  # neither its start nor a mark
    assert rescore.completed(text, inside) == inside
    assert rescore.completed(text, None) is None
    comma = 'He called the city "Cambaluc," as the Mongols did.'
    got = rescore.completed(comma, neural.Span(comma.index("Camb"), comma.index("Camb") + 4, 3.0, 0.0))
    assert comma[got.start:got.end] == "Cambaluc"  # the comma written inside the quotes is not the answer's


def _applied(rule, text: str, span: str, score: float) -> str:
    """The text a span rule (rescore.named, initialed, joined, aged) makes of `span` in `text`, after checking that
    it keeps the reader's scores and leaves no span as none."""
    start = text.index(span)
    got = rule(neural.Span(start, start + len(span), score, 1.0))
    assert (got.score, got.null) == (score, 1.0) and rule(None) is None
    return text[got.start:got.end]


@pytest.mark.parametrize("question, text, span, want", [
    ("Who led the delegation?", "A delegation led by Deputy Minister Luong Tam Quang attended.",
     "Deputy Minister Luong Tam Quang", "Luong Tam Quang"),  # a person asked: the title stays in the sentence
    ("Who scored?", "Goals came from striker Derek Wolfe and Malik Jackson late on.",
     "Derek Wolfe and Malik Jackson", "Derek Wolfe and Malik Jackson"),  # two people: kept whole
    ("Who spoke?", "The minister of state Sun Xue Ling spoke.", "Sun Xue Ling", "Sun Xue Ling"),  # not a title
    ("Who spoke?", "Then Mr. S. Iswaran spoke.", "Mr. S. Iswaran", "S. Iswaran"),
    ("Who spoke?", "Then the Malaysian Prime Minister Anwar Ibrahim spoke.", "Malaysian Prime Minister Anwar Ibrahim",
     "Anwar Ibrahim"),
    ("What was the book called?", "He wrote the Travels of Marco Polo in prison.",
     "the Travels of Marco Polo", "the Travels of Marco Polo"),  # no person asked
    ("Who led the delegation?", "A delegation led by Luong Tam Quang attended.",
     "Luong Tam Quang", "Luong Tam Quang"),  # already just the name
])
def test_a_person_asked_for_is_answered_by_name_without_the_title(question, text, span, want):
    from qa.read import rescore
    from qa.read.expected import expected
    from qa.read.nlp import parse

    doc, qdoc = parse([text, question], cache=False)
    assert _applied(lambda s: rescore.named(doc, expected(qdoc), s), text, span, 7.0) == want


@pytest.mark.parametrize("text, place", [
    ("WASHINGTON \u2013 The House passed the bill on Thursday.", "WASHINGTON"),
    ("Jane Doe\n\nThe Associated Press\n\nNEW YORK (AP) \u2014 Stocks fell on Monday.", "NEW YORK"),
    ("It ended in peace.\n\nGENEVA \u2212 The talks resumed.", "GENEVA"),
    ("PSNews - General To Lam met the delegation.", "PSNews"),  # an agency's name in camel case
    ("The U.S. - China deal was signed in GENEVA on Monday.", None),  # not at a line's start
    ("Obama - who had won - spoke.", None),  # one capital: a name, not an agency
])
def test_a_news_dateline_is_never_the_answer(text, place):
    from qa.read import rescore

    lines = rescore.datelines(text)
    assert [text[a:b] for a, b in lines] == ([place] if place else [])
    if place:
        i = text.index(place)
        inside, after = neural.Span(i, i + len(place), 9.0, 0.0), neural.Span(len(text) - 8, len(text) - 1, 1.0, 0.0)
        across = neural.Span(i, i + len(place) + 4, 8.0, 0.0)  # "PSNews - General": it touches the dateline
        assert rescore.undated(text, [inside, across, after]) == [after]


@pytest.mark.parametrize("text, span, want", [
    ("The delegation led by S. Iswaran met them.", "Iswaran", "S. Iswaran"),
    ("Mr. J. R. Smith arrived.", "Smith", "J. R. Smith"),
    ("The delegation led by S. Iswaran met them.", "S. Iswaran", "S. Iswaran"),
    ("Tom Hanks arrived.", "Hanks", "Hanks"),  # a first name is not an initial: SQuAD's answers are often surnames
])
def test_a_name_keeps_its_initials(text, span, want):
    from qa.read import rescore
    from qa.read.nlp import parse

    doc = parse([text], cache=False)[0]
    assert _applied(lambda s: rescore.initialed(doc, s), text, span, 3.0) == want


@pytest.mark.parametrize("question, text, span, want", [
    ("Who proposed it?", "On this occasion, Minister To Lam also proposed some approaches.", "Lam", "To Lam"),
    ("Who came?", "The Minister of State for Home Affairs of Singapore Sun Xue Ling came.", "Xue Ling", "Sun Xue Ling"),
    ("Who came?", "Guests: Josephine Teo; Sun Xue Ling, among others.", "Xue Ling", "Sun Xue Ling"),
    ("Who was fired?", "Why Trump Fired Comey is still unclear.", "Comey", "Comey"),  # a headline's words
    ("Who came?", "Tom Hanks came.", "Hanks", "Hanks"),  # the name starts the sentence: nothing to tell by
    ("Who came?", "The actor Tom Hanks came.", "Tom Hanks", "Tom Hanks"),
    ("Which ministry did he lead?", "Minister To Lam led it.", "Lam", "Lam"),  # no person asked
])
def test_a_person_keeps_the_first_names_the_span_cut_off(question, text, span, want):
    from qa.read import rescore
    from qa.read.expected import expected
    from qa.read.nlp import parse

    doc, qdoc = parse([text, question], cache=False)
    assert _applied(lambda s: rescore.joined(doc, expected(qdoc), s), text, span, 3.0) == want


@pytest.mark.parametrize("question, text, span, want", [
    ("How old is she?", "Sixteen-year-old Ana Ruiz won.", "Sixteen-year", "Sixteen"),
    ("How old is he?", "He is 16 years old.", "16 years old", "16"),
    ("How old is the bridge?", "The 120-year-old bridge fell.", "120-year-old", "120"),
    ("How old is she?", "She is 16.", "16", "16"),
    ("How long did the war last?", "It was a 3-year war.", "3-year", "3-year"),  # not asked how old
])
def test_asked_how_old_the_age_is_the_answer_without_its_unit(question, text, span, want):
    from qa.read import rescore

    assert _applied(lambda s: rescore.aged(question, text, s), text, span, 2.0) == want


def test_rescoring_picks_the_best_sum_and_keeps_the_logit_scale():
    from qa.read import rescore

    spans = [neural.Span(0, 5, 10.0, 1.0), neural.Span(6, 9, 9.5, 1.0)]
    x = np.array([[0.0], [1.0]])
    assert rescore.rescored(spans, x, None) == spans[0]  # unfitted: the reader's own best
    best = rescore.rescored(spans, x, np.array([1.0]))
    assert (best.start, best.end, best.score, best.null) == (6, 9, 10.5, 1.0)
    assert rescore.rescored([], np.zeros((0, 1)), np.array([1.0])) is None


@pytest.mark.parametrize("name", sorted(neural.ARTIFACTS))
def test_each_shipped_rescoring_was_fitted_for_its_reader(name):
    import json

    from qa.read import rescore

    folder = neural.ARTIFACTS[name]
    path = folder / rescore.WEIGHTS_FILE.name
    if not neural.available(folder) or not path.is_file():
        pytest.skip(f"no {name} reader with a re-scoring shipped")
    data = json.loads(path.read_text())
    assert data["artifact_sha256"] == neural.artifact_sha256(folder), "refit with " + data["command"]
    assert tuple(data["features"]) == rescore.FEATURES


@pytest.mark.parametrize("name", sorted(neural.ARTIFACTS))
def test_each_shipped_calibration_was_fitted_for_its_reader(name):
    import json

    from qa import decide

    folder, path = neural.ARTIFACTS[name], decide.CALIBRATION_FILES[name]
    if not neural.available(folder) or not path.is_file():
        pytest.skip(f"no {name} reader with a calibration shipped")
    data = json.loads(path.read_text())
    assert data["artifact_sha256"] == neural.artifact_sha256(folder), "refit with " + data["command"]
    assert "dated" in data, "the news model is missing: refit it with fit-calibration --news"


def test_nbest_is_sorted_distinct_and_starts_with_read():
    spans = neural.reader().nbest("What percentage of the population uses the internet?", INTERNET, 5)
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    assert len({(s.start, s.end) for s in spans}) == len(spans) <= 5
    assert spans[0] == neural.reader().read("What percentage of the population uses the internet?", INTERNET)


def test_spans_at_scores_given_spans_from_the_windows_that_hold_them():
    # two windows over "aa bb cc": the second starts at "bb"; a span is scored by the window holding it whole
    w1 = neural.Window(np.array([0.0, 0.0, 1.0, 2.0, 0.0]), np.array([0.0, 0.0, 0.0, 3.0, 0.0]), 2,
                       np.array([[0, 2], [3, 5]]))
    w2 = neural.Window(np.array([0.0, 0.0, 5.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0, 4.0, 0.0]), 2,
                       np.array([[3, 5], [6, 8]]))
    got = {(s.start, s.end): s.score for s in neural.spans_at([w1, w2], [(0, 5), (3, 8), (3, 5), (0, 8), (1, 5)])}
    assert got == {(0, 5): 4.0, (3, 8): 9.0, (3, 5): 6.0}  # (0, 8) spans no one window; (1, 5) is not on a token
    assert all(s.null == 0.0 for s in neural.spans_at([w1, w2], [(0, 5)]))


def test_names_inside_the_nbest_are_offered_to_the_rescoring():
    from qa.read import rescore
    from qa.read.nlp import parse

    doc, = parse([DELEGATION], cache=False)
    i = DELEGATION.index("Luong Tam Quang")
    title = DELEGATION.rfind("Deputy", 0, i)
    near = rescore.phrases(doc, [neural.Span(title, i + len("Luong Tam Quang"), 5.0, 0.0)])
    assert (i, i + len("Luong Tam Quang")) in near
    assert (title, i + len("Luong Tam Quang")) not in near  # the n-best span itself is not added again
    (spans, x), = rescore.candidates("Who led the Vietnamese delegation?", [DELEGATION], n=3)
    added = x[:, rescore.FEATURES.index("added")]
    assert len(spans) == len(x) and added.any() and not added[0]  # the n-best first, the added after
    assert all(DELEGATION[s.start:s.end].strip() for s in spans)


def test_warm_up_loads_the_span_reader_and_spacy_for_its_rescoring():
    from qa.read import nlp, warm_up

    warm_up("neural")
    assert neural._reader_at.cache_info().currsize >= 1 and nlp._nlp is not None  # the first question loads nothing


@pytest.mark.parametrize("question, kept", [
    ("Who did Luong Tam Quang meet?", ["Josephine Teo"]),  # not him, nor his title
    ("Who is Luong Tam Quang?", ["Deputy Minister", "Luong Tam Quang", "Josephine Teo"]),  # "be" asks for the title
    ("Where did Luong Tam Quang meet her?", ["Deputy Minister", "Luong Tam Quang", "Josephine Teo"]),  # no person
])
def test_the_person_a_question_names_and_their_title_do_not_answer_it(question, kept):
    from qa.read import rescore
    from qa.read.expected import expected
    from qa.read.nlp import parse

    text = "Deputy Minister Luong Tam Quang met Josephine Teo in Singapore."
    doc, qdoc = parse([text, question], cache=False)
    spans = [neural.Span(text.index(s), text.index(s) + len(s), 1.0, 0.0)
             for s in ("Deputy Minister", "Luong Tam Quang", "Josephine Teo")]
    got = rescore.unasked(doc, expected(qdoc), rescore.question_words(qdoc), spans)
    assert [text[s.start:s.end] for s in got] == kept


@pytest.mark.parametrize("question, text, kept", [
    # asked who led, the side that was led is not the answer (its participle or its verb say so)
    ("Who led Singapore's side?", "The Singaporean delegation led by S. Iswaran met the minister.",
     ["S. Iswaran"]),
    ("Who led the talks?", "Officials said Ann Lee led the talks in Hanoi.", ["Ann Lee"]),
    # asked for a thing, or who was led, every span stays
    ("What did Ann Lee lead?", "Officials said Ann Lee led the talks in Hanoi.", ["Ann Lee", "the talks"]),
    ("Who met the delegation?", "The Singaporean delegation led by S. Iswaran met the minister.",
     ["The Singaporean delegation", "S. Iswaran"]),
])
def test_what_the_question_s_verb_acts_on_does_not_answer_who_acted(question, text, kept):
    from qa.read import rescore
    from qa.read.expected import expected
    from qa.read.nlp import parse

    doc, qdoc = parse([text, question], cache=False)
    spans = [neural.Span(text.index(s), text.index(s) + len(s), 1.0, 0.0)
             for s in ("The Singaporean delegation", "S. Iswaran", "Ann Lee", "the talks") if s in text]
    got = rescore.unacted(doc, expected(qdoc), spans)
    assert [text[s.start:s.end] for s in got] == kept


def test_only_the_sentences_of_the_n_best_are_parsed_the_first_time_a_passage_is_read():
    from qa.read import rescore

    text = "The first sentence says little. Ann Lee led the talks in Hanoi.\nA third one follows here."
    got = rescore.regions(text, [neural.Span(text.index("Ann"), text.index("Ann") + 7, 1.0, 0.0)])
    assert len(got) == len(text) and got[text.index("Ann"):].startswith("Ann Lee led the talks in Hanoi.")
    assert got[:text.index("Ann")].strip() == "" and got.endswith(" " * len("A third one follows here."))
    assert got.count("\n") == text.count("\n")  # lines stay where they were (datelines are read per line)
    assert rescore.regions(text, []) == text


def test_a_passage_answers_alike_whether_or_not_it_was_read_before():
    from qa.read import nlp, rescore

    text = ("The weather was mild across the region this spring. Markets opened higher on Tuesday morning. "
            "Officials said Ann Lee led the talks in Hanoi on Monday. Rain fell all week in the capital.")
    nlp.clear_cache()
    first = rescore.read("Who led the talks?", [text])[0]
    assert not nlp.cached(text)  # only the n-best's sentences were parsed
    parse_whole = nlp.parse([text])  # another question's reading, or another reader, parsed it whole
    again = rescore.read("Who led the talks?", [text])[0]
    assert parse_whole and first == again and text[again.start:again.end] == "Ann Lee"


def test_ask_reads_with_the_artifact_an_evaluation_put_in_place(tmp_path, monkeypatch):
    # cross-fitting (fit-calibration --news, bench-quality realtimeqa --news-readers) reads each question with a
    # reader not trained on it: the default reader name must not put the shipped artifact back
    import shutil

    from qa.read import options, rescore

    other = tmp_path / "other"
    shutil.copytree(neural.MODEL_DIR, other)
    seen, read = [], rescore.read
    monkeypatch.setattr(rescore, "read", lambda *a, **k: (seen.append(neural.artifact_dir()), read(*a, **k))[1])
    with neural.reading_with(other):
        options([hit(DELEGATION)], understand("Who led the delegation?"))
    options([hit(DELEGATION)], understand("Who led the delegation?"))
    assert seen == [other, neural.MODEL_DIR]


def test_evaluation_can_read_with_another_artifact_and_the_shipped_one_returns_after(tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(neural.MODEL_DIR, other)
    shipped = neural.reader()
    with neural.reading_with(other):
        assert neural.reader() is not shipped
        with neural.reading_with(neural.MODEL_DIR):
            assert neural.reader() is shipped
    assert neural.reader() is shipped


def test_neither_no_artifact_nor_the_default_name_displaces_the_artifact_in_use(tmp_path, monkeypatch):
    # not cross-fitting, an evaluation passes reading_with(None): the reader QA_READER chose must stay (it put the
    # 12-layer artifact under the fast reader's calibration); a caller passing the default reader's name by hand
    # must not undo an evaluation's artifact either
    import shutil

    from qa.read import _artifact, reader_name

    other = tmp_path / "other"
    shutil.copytree(neural.MODEL_DIR, other)
    with neural.reading_with(other):
        with neural.reading_with(None), _artifact(reader_name()):
            assert neural.artifact_dir() == other
        with _artifact("fast"):  # another reader, named: that one
            assert neural.artifact_dir() == neural.FAST_DIR
    monkeypatch.setenv("QA_READER", "fast")
    with neural.reading_with(None), _artifact("fast"):
        assert neural.artifact_dir() == neural.FAST_DIR
    with _artifact("neural"):
        assert neural.artifact_dir() == neural.MODEL_DIR


def test_a_span_across_a_blank_line_is_never_the_answer():
    from qa.read import rescore

    text = "How many were reported?\n\n25,000\n\n91,000\n \n104,000\nor so."
    across = neural.Span(text.index("25,000"), text.index("104,000") + 7, 9.0, 0.0)
    one = neural.Span(text.index("91,000"), text.index("91,000") + 6, 5.0, 0.0)
    wrapped = neural.Span(text.index("104,000"), len(text) - 1, 4.0, 0.0)  # one line break: a wrapped line
    assert rescore.unbroken(text, [across, one, wrapped]) == [one, wrapped]


def test_asked_for_a_share_the_spans_that_are_a_percentage_stay():
    from qa.read import rescore
    from qa.read.expected import Expected

    text = "Ms Hale said about 41 million people, or 62% of adults, now shop online."
    clause = neural.Span(0, text.index("%") + 1, 8.0, 0.0)  # holds the percentage but is a clause
    hale, share = neural.Span(3, 7, 7.0, 0.0), neural.Span(text.index("62%"), text.index("%") + 1, 3.0, 0.0)
    x = np.array([[1.0], [2.0], [3.0]])
    percent = Expected("number", frozenset({"PERCENT"}), "share")
    spans, rows = rescore.of_percent(percent, text, [clause, hale, share], x)
    assert spans == [share] and rows.tolist() == [[3.0]]
    assert rescore.of_percent(Expected("who", frozenset({"PERSON"})), text, [hale, share], x[:2])[0] == [hale, share]
    assert rescore.of_percent(percent, text, [hale], x[:1])[0] == [hale]  # none is one: all stay


@pytest.mark.parametrize("question, text, want", [
    ("What share of Norwegians are online?",  # the reader alone answers "Minister Hale"
     "Minister Hale shared that in Norway, it is estimated that about 4 million people, an equivalent of 74% of "
     "the population use the internet. The country has been promoting e-Government.", "74%"),
    ("What proportion of Danish families own a bicycle?",
     "Director Ruud said that among Danish families about 2 million households, some 81 percent of the total, "
     "own a bicycle, up from a third in 2015.", "81 percent"),
])
def test_the_reader_answers_a_percentage_when_asked_for_one(question, text, want):
    from qa.read import rescore

    span, = rescore.read(question, [text])
    assert text[span.start:span.end] == want


@pytest.mark.parametrize("piece, want", [
    ("Information (MCI", "Information (MCI)"),  # the bracket closes right after: taken in
    ("(MCI", "MCI"),
    ("MCI)", "MCI"),
    ("the ministry (which", "the ministry"),  # it closes too far on: stop before it
    ("Information (MCI)", "Information (MCI)"),  # whole already
    ("Information", "Information"),
])
def test_an_answer_holds_no_half_bracket(piece, want):
    from qa.read import rescore

    text = "Minister of Communications and Information (MCI) met the ministry (which was formed in 1990 by law) today."
    start = text.index(piece)
    got = rescore.bracketed(text, neural.Span(start, start + len(piece), 2.0, 0.0))
    assert text[got.start:got.end] == want
    assert rescore.bracketed(text, None) is None


def test_rows_of_all_spans_at_once_equal_each_span_alone():
    from qa.read import rescore
    from qa.read.expected import expected
    from qa.read.nlp import parse

    for question, text in (("Who led the Vietnamese delegation?", DELEGATION),
                           ("How many people use the internet?", INTERNET),
                           ("What does it stand for?", 'The AMMTC (ASEAN Meeting) met. "We agree," he said.')):
        qdoc, doc = parse([question, text], cache=False)
        exp, words = expected(qdoc), rescore.question_words(qdoc)
        # every word-aligned span of up to 6 tokens, quotations and cut names included
        bounds = [(t.idx, t.idx + len(t)) for t in doc]
        spans = [neural.Span(bounds[i][0], bounds[j][1], 0.0, 0.0)
                 for i in range(len(bounds)) for j in range(i, min(i + 6, len(bounds)))]
        together = rescore.rows(doc, exp, spans, words, added=2)
        alone = np.stack([rescore.span_features(doc, exp, s.start, s.end, words) for s in spans])
        alone[-2:, rescore.FEATURES.index("added")] = 1.0
        assert np.array_equal(together, alone)
