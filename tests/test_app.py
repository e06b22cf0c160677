"""app.py: the chat callback and the Gradio wiring, with qa.ask replaced by a stub."""
from __future__ import annotations

import importlib
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

    def fake_ask(question, k=5, history=None):
        k, question = clamp_k(k, Settings()), clean_question(question, Settings())  # the checks QA.ask makes
        calls.append(dict(question=question, k=k, history=history))
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
    assert app.calls == [dict(question="who led the 2023 delegation?", k=3, history=plain_history(history))]
    assert isinstance(app.calls[0]["k"], int)


def test_respond_without_history_or_k(app):
    app.respond("question", None, None)
    assert app.calls[-1]["k"] == 5 and app.calls[-1]["history"] == ()


@pytest.mark.parametrize("message", ["", "   \n\t", None])
def test_empty_question_raises_gr_error(app, message):
    with pytest.raises(gr.Error):
        app.respond(message, [], 5)
    assert app.calls == []


@pytest.mark.parametrize(
    "exc, shown",
    [
        (ValueError("k must be >= 1, got <0>\nmore"), "k must be &gt;= 1, got &lt;0&gt; more"),
        (FileNotFoundError("corpus folder not found: /nope"), "corpus folder not found: /nope"),
        (RuntimeError("boom"), "Internal error (RuntimeError); see the server log."),
    ],
)
def test_errors_become_one_line_gr_error(app, monkeypatch, exc, shown):
    def failing(*args, **kwargs):
        raise exc

    monkeypatch.setattr(app, "ask", failing)
    with pytest.raises(gr.Error) as info:
        app.respond("question", [], 5)
    assert info.value.message == shown
    assert "\n" not in info.value.message and "Traceback" not in info.value.message


def test_qa_errors_are_shown_other_bugs_are_not(app, monkeypatch):
    corpus_error = type("CorpusError", (Exception,), {"__module__": "qa.ingest"})

    def failing(*args, **kwargs):
        raise corpus_error("no articles in corpus/ <here>")

    monkeypatch.setattr(app, "ask", failing)
    with pytest.raises(gr.Error) as info:
        app.respond("question", [], 5)
    assert info.value.message == "no articles in corpus/ &lt;here&gt;"


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


def test_launch_exits_with_one_line_when_the_corpus_is_unusable(app, monkeypatch, capsys):
    def broken(**kwargs):
        raise FileNotFoundError("corpus folder not found: /nope")

    monkeypatch.setattr(app, "warm_up", broken)
    monkeypatch.setattr(app.demo, "launch", lambda **kw: pytest.fail("must not launch"))
    with pytest.raises(SystemExit) as info:
        app.launch()
    assert info.value.code == 1
    assert capsys.readouterr().err.strip() == "error: corpus folder not found: /nope"


def test_bad_k_raises_gr_error(app):
    with pytest.raises(gr.Error):
        app.respond("question", [], "many")


def test_demo_is_a_chat_interface_with_a_chat_endpoint(app):
    assert isinstance(app.demo, gr.ChatInterface) and isinstance(app.demo, gr.Blocks)
    assert "chat" in [fn.api_name for fn in app.demo.fns.values()]
    endpoint = app.demo.get_api_info()["named_endpoints"]["/chat"]
    assert [p["parameter_name"] for p in endpoint["parameters"]] == ["message", "k"]


def test_demo_settings(app):
    chatbot = app.demo.chatbot
    assert chatbot.sanitize_html and chatbot.render_markdown
    assert chatbot.latex_delimiters == []
    assert app.demo.title == app.TITLE
    assert all(isinstance(q, str) and k == 5 for q, k in app.EXAMPLES)
