"""app.py: the chat callback and the Gradio wiring, with qa.ask replaced by a stub."""
from __future__ import annotations

import html
import importlib
import json
import re
import sys

import pytest

gr = pytest.importorskip("gradio")

import qa  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.pipeline import clamp_k, clean_question  # noqa: E402
from qa.render import plain_history, render_answer  # noqa: E402
from qa.types import Answer, Hit  # noqa: E402

FIXED = Answer(
    question="who led the 2023 delegation?",
    answer="Luong Tam Quang",
    confidence=0.82,
    passages=(Hit(passage_id="p1", text="A delegation led by Luong Tam Quang attended.",
                  title="SICW 2023", date="2023-10-20", source="004.txt", score=0.9,
                  highlight_start=0, highlight_end=45, answer_start=20, answer_end=35),),
)


@pytest.fixture
def app(monkeypatch):
    """A freshly imported app module whose `ask` records its calls and returns FIXED."""
    calls: list[dict] = []

    def fake_ask(question, k=5, history=None, as_of=None):
        k, question = clamp_k(k, Settings()), clean_question(question, Settings())  # the checks QA.ask makes
        calls.append(dict(question=question, k=k, history=history, as_of=as_of))
        return FIXED

    # qa's pipeline may not exist yet: give `from qa import ask, warm_up` something to import.
    monkeypatch.setattr(qa, "ask", fake_ask, raising=False)
    monkeypatch.setattr(qa, "warm_up", lambda *a, **kw: None, raising=False)
    monkeypatch.delitem(sys.modules, "app", raising=False)
    module = importlib.import_module("app")
    monkeypatch.setattr(module, "ask", fake_ask)
    module.calls = calls
    yield module
    sys.modules.pop("app", None)


def test_respond_renders_the_answer(app):
    history = [{"role": "user", "content": "earlier question"},
               {"role": "assistant", "content": "earlier reply"}]
    out = app.respond("  who led the 2023 delegation?  ", history, 3.0)
    assert out == render_answer(FIXED)
    assert app.calls == [dict(question="who led the 2023 delegation?", k=3, history=plain_history(history),
                              as_of=None)]
    assert isinstance(app.calls[0]["k"], int)


def test_respond_without_history_or_k(app):
    app.respond("question", None, None)
    assert app.calls[-1]["k"] == 5 and app.calls[-1]["history"] == ()


def test_the_day_asked_is_passed_as_as_of(app):
    app.respond("question", [], 5, "2024-02-29")
    assert app.calls[-1]["as_of"] == "2024-02-29"
    app.respond("question", [], 5, "")
    assert app.calls[-1]["as_of"] is None


def test_only_the_last_turns_go_to_ask(app):
    history = [m for i in range(20) for m in ({"role": "user", "content": f"q{i}"},
                                              {"role": "assistant", "content": f"a{i}"})]
    app.respond("question", history, 5)
    assert [t.question for t in app.calls[-1]["history"]] == [f"q{i}" for i in range(15, 20)]


def error_text(reply: str) -> str | None:
    """The message of an error reply (render_error), as the user reads it."""
    m = re.fullmatch(r'<div><p style="color:#c0392b"><strong>Error:</strong> (.*)</p></div>', reply)
    return html.unescape(m.group(1)) if m else None


@pytest.mark.parametrize("message", ["", "   \n\t", None])
def test_empty_question_is_a_chat_reply_not_an_exception(app, message):
    assert error_text(app.respond(message, [], 5)) == "Please type a question."
    assert app.calls == []


@pytest.mark.parametrize(
    "exc, shown",
    [
        (ValueError("k must be >= 1, got <0>\nmore"), "k must be >= 1, got <0> more"),
        (FileNotFoundError("corpus folder not found: /nope"), "corpus folder not found: /nope"),
        (RuntimeError("boom"), "Internal error (RuntimeError); see the server log."),
    ],
)
def test_errors_become_one_line_replies(app, monkeypatch, exc, shown):
    def failing(*args, **kwargs):
        raise exc

    monkeypatch.setattr(app, "ask", failing)
    reply = app.respond("question", [], 5)
    assert error_text(reply) == shown
    assert "\n" not in reply and "Traceback" not in reply


def test_qa_errors_are_shown_other_bugs_are_not(app, monkeypatch):
    corpus_error = type("CorpusError", (Exception,), {"__module__": "qa.ingest"})

    def failing(*args, **kwargs):
        raise corpus_error("no articles in corpus/ <here>")

    monkeypatch.setattr(app, "ask", failing)
    assert error_text(app.respond("question", [], 5)) == "no articles in corpus/ <here>"


def test_launch_warms_up_then_serves_locally_only(app, monkeypatch):
    seen = []
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.setattr(app, "warm_up", lambda **kw: seen.append(("warm_up", kw)))
    monkeypatch.setattr(app.demo, "launch", lambda **kw: seen.append(("launch", kw)))
    app.launch()
    assert seen[0] == ("warm_up", {"progress": True})
    kwargs = seen[1][1]
    assert kwargs["share"] is False and kwargs["server_name"] == "127.0.0.1"
    assert not kwargs.get("allowed_paths")
    assert kwargs["state_session_capacity"] == app.MAX_SESSIONS <= 1000  # what the server keeps is bounded
    assert [m.cls for m in kwargs["app_kwargs"]["middleware"]] == [app.Guard]
    assert app.COPY_JS in kwargs["head"]


def test_launch_exits_with_one_line_when_the_corpus_is_unusable(app, monkeypatch, capsys):
    def broken(**kwargs):
        raise FileNotFoundError("corpus folder not found: /nope")

    monkeypatch.setattr(app, "warm_up", broken)
    monkeypatch.setattr(app.demo, "launch", lambda **kw: pytest.fail("must not launch"))
    with pytest.raises(SystemExit) as info:
        app.launch()
    assert info.value.code == 1
    assert capsys.readouterr().err.strip() == "error: corpus folder not found: /nope"


@pytest.mark.parametrize("k", ["many", "5", None, float("nan"), {"k": 1}, [3]])
def test_k_of_any_type_gets_a_reply(app, k):
    reply = app.respond("question", [], app.demo.additional_inputs[0].preprocess(k))
    if k in (None, "5"):  # the slider left empty (the default), or a number in a string
        assert reply == render_answer(FIXED)
    else:
        assert error_text(reply) == f"Passages must be a whole number, got {k!r}."


def test_demo_is_a_chat_interface_with_a_chat_endpoint(app):
    assert isinstance(app.demo, gr.ChatInterface) and isinstance(app.demo, gr.Blocks)
    assert "chat" in [fn.api_name for fn in app.demo.fns.values()]
    endpoint = app.demo.get_api_info()["named_endpoints"]["/chat"]
    assert [p["parameter_name"] for p in endpoint["parameters"]] == ["message", "k", "as_of"]
    assert [c.get_block_name() for c in app.demo.additional_inputs] == ["slider", "datetime"]


def test_demo_settings(app):
    chatbot = app.demo.chatbot
    assert chatbot.sanitize_html and chatbot.render_markdown
    assert chatbot.latex_delimiters == []
    assert app.demo.title == app.TITLE
    assert all(isinstance(q, str) for q in app.EXAMPLES)
    # examples without option values: gradio shows them as buttons in the empty chat, and a click asks
    assert not app.demo._additional_inputs_in_examples and app.demo.run_examples_on_click
    assert [e["text"] for e in app.demo.chatbot.examples] == app.EXAMPLES


def test_the_users_bubble_shows_the_question_as_text(app):
    q = "<img src=x onerror=alert(1)> <b>bold</b> *em*"
    shown = app.demo._append_message_to_history(q, [], "user")[-1]["content"]
    assert "<" not in shown and "*" not in shown and html.unescape(shown) == q
    reply = app.demo._append_message_to_history("<div>reply</div>", [], "assistant")[-1]["content"]
    assert reply == "<div>reply</div>"


def test_a_vote_is_recorded_in_the_question_set_format(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "FEEDBACK_FILE", tmp_path / "fb" / "feedback.jsonl")
    monkeypatch.setattr(gr, "Info", lambda *a, **kw: None)
    history = [{"role": "user", "content": app.escape("who led the <2023> delegation?")},
               {"role": "assistant", "content": render_answer(FIXED)}]
    app.record_feedback(gr.LikeData(None, {"index": 1, "value": "", "liked": False}), history, "2024-01-02")
    app.record_feedback(gr.LikeData(None, {"index": 1, "value": "", "liked": True}), history, None)
    app.record_feedback(gr.LikeData(None, {"index": 0, "value": "", "liked": True}), history, None)  # a question
    wrong, right = [json.loads(line) for line in app.FEEDBACK_FILE.read_text().splitlines()]
    assert wrong["question"] == "who led the <2023> delegation?" and wrong["answers"] == []
    assert wrong["verdict"] == "wrong" and wrong["wrong_answers"] == ["Luong Tam Quang"]
    assert wrong["question_date"] == "2024-01-02" and wrong["passages"][0]["source"] == "004.txt"
    assert right["answers"] == ["Luong Tam Quang"] and right["source"] == "004.txt" and right["category"] == "feedback"
    from qa.evaluation.datasets import load_questions

    cases = load_questions(app.FEEDBACK_FILE)
    assert [c.answers for c in cases] == [(), ("Luong Tam Quang",)]


def test_a_follow_up_vote_keeps_the_earlier_questions(app):
    from qa.feedback import feedback_record

    history = [{"role": "user", "content": "who led the 2023 delegation?"},
               {"role": "assistant", "content": render_answer(FIXED)},
               {"role": "user", "content": "who did he meet?"},
               {"role": "assistant", "content": render_answer(FIXED)}]
    record = feedback_record(history, 3, True)
    assert record["turns"] == ["who led the 2023 delegation?", "who did he meet?"] and "question" not in record


# ---- the served app (loopback only) ------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`python app.py` on a free loopback port over a one-article corpus, with the test encoder."""
    from conftest import write_article
    from qa.evaluation.load import serve

    tmp = tmp_path_factory.mktemp("served")
    write_article(tmp / "corpus", "floods.txt", "Floods in Ha Giang", "2024-09-10",
                  "Floods in Ha Giang killed twelve people on Tuesday.")
    with serve(tmp / "corpus", tmp / "index", model="hash", timeout=300,
               env={"QA_FEEDBACK_FILE": str(tmp / "feedback.jsonl")}) as server:
        yield server


def call_chat(server, data: list, origin: str | None = None):
    """POST /gradio_api/call/chat, then read its event stream: (status, last event, its data)."""
    import httpx

    headers = {"Origin": origin} if origin else {}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        posted = client.post("gradio_api/call/chat", json={"data": data}, headers=headers)
        if posted.status_code != 200:
            return posted.status_code, None, posted.text
        stream = client.get(f"gradio_api/call/chat/{posted.json()['event_id']}", headers=headers).text
    events = re.findall(r"^event: (\w+)\ndata: (.*)$", stream, re.M)
    event, payload = events[-1]
    return 200, event, json.loads(payload)


@pytest.mark.parametrize("k", ["abc", "nan", None, {"k": 1}, [3], "5"])
def test_served_chat_answers_a_wrong_type_k_with_a_readable_line(served, k):
    before = served.log().count("Traceback")
    status, event, payload = call_chat(served, ["How many people died in the Ha Giang floods?", k])
    assert status == 200 and event == "complete", payload
    reply = payload[0]
    assert isinstance(reply, str) and "\n" not in reply
    if k in (None, "5"):  # the default number of passages, or a number in a string
        assert "Floods in Ha Giang" in reply
    else:
        assert error_text(reply) == f"Passages must be a whole number, got {k!r}."
    assert served.log().count("Traceback") == before


def test_served_chat_refuses_calls_from_another_origin(served):
    question = ["How many people died in the Ha Giang floods?", 3]
    assert call_chat(served, question, origin="https://evil.example")[0] == 403
    assert call_chat(served, question, origin="null")[0] == 403
    own = served.url.rstrip("/")
    status, event, payload = call_chat(served, question, origin=own)
    assert status == 200 and event == "complete" and "Floods in Ha Giang" in payload[0]
    assert call_chat(served, question)[0] == 200  # no Origin: not a browser page of another site


@pytest.mark.parametrize("origin", [None, "same", "https://evil.example"])
def test_served_app_refuses_uploads(served, origin):
    import httpx

    headers = {"Origin": served.url.rstrip("/") if origin == "same" else origin} if origin else {}
    for path in ("gradio_api/upload", "gradio_api/upload/", "upload"):
        got = httpx.post(served.url + path, files={"files": ("x.bin", b"\0" * 4096)}, headers=headers, timeout=30)
        assert got.status_code == 403, (path, got.status_code, got.text)
    page = httpx.get(served.url, timeout=30)
    assert page.status_code == 200  # the page itself still loads


@pytest.mark.parametrize("as_of, ok", [("2024-09-30", True), (None, True), ("not a date", False)])
def test_served_chat_takes_the_day_asked(served, as_of, ok):
    status, event, payload = call_chat(served, ["How many people died in the Ha Giang floods?", 3, as_of])
    assert status == 200 and event == "complete", payload
    assert ("Floods in Ha Giang" in payload[0]) == ok
    if not ok:
        assert error_text(payload[0]) and "not a date" in error_text(payload[0])
