"""Gradio chat over the articles in the corpus folder: `python app.py`, then open the printed URL."""
from __future__ import annotations

import html
import logging
import os
import sys

import gradio as gr

from qa import ask, warm_up
from qa.render import plain_history, render_answer

log = logging.getLogger("qa.app")

TITLE = "qa — ask your articles"
DESCRIPTION = (
    "Answers come only from the articles in the corpus folder. Each reply shows the best passage "
    "with the answering sentence highlighted, and the other sources it found."
)
EXAMPLES = [
    ["Who led the 2023 delegation?", 5],
    ["Who led the Singaporean delegation at the 2020 meeting with Vietnam?", 5],
    ["When did Vietnam and Singapore hold the virtual ministerial meeting on cyber security?", 5],
    ["What threats to cyberspace did Vietnam raise at AMCC-8 in 2023?", 5],
    ["How many people in Vietnam use the internet?", 5],
]
MAX_ERROR_CHARS = 300


def _one_line(text: object) -> str:
    """Collapse `text` to one short, HTML-escaped line (gr.Error renders its message as HTML)."""
    line = " ".join(str(text).split())
    if len(line) > MAX_ERROR_CHARS:
        line = line[: MAX_ERROR_CHARS - 1] + "…"
    return html.escape(line)


def _is_user_error(exc: BaseException) -> bool:
    """Bad input, a missing/unreadable corpus or index: errors whose message is meant for the user.

    qa's own error classes (QuestionError, corpus/index errors) all qualify without app.py
    importing qa's internal modules; anything else is a bug.
    """
    return isinstance(exc, (ValueError, OSError)) or type(exc).__module__.split(".")[0] == "qa"


def _chat_error(exc: BaseException) -> gr.Error:
    """The one-line chat error for a user error; the chat words the empty box and the slider its own way."""
    problem = getattr(exc, "problem", "")  # set by qa.QuestionError: the API checked the input
    if problem in ("empty", "not_text"):
        return gr.Error("Please type a question.", title="Empty question", print_exception=False)
    if problem == "k":
        return gr.Error(_one_line(f"Passages must be a whole number, got {exc.value!r}."), print_exception=False)
    return gr.Error(_one_line(exc) or "Could not answer.", print_exception=False)


def respond(message: str, history: list | None, k: float | None = 5) -> str:
    """Answer one chat turn as HTML; anything the user must see is raised as a one-line gr.Error."""
    try:
        answer = ask(message, k=k, history=plain_history(history))
    except Exception as exc:
        if _is_user_error(exc):
            raise _chat_error(exc) from None
        # A bug: the full traceback goes to the server log, one line to the chat.
        log.exception("ask() failed for %r", message)
        raise gr.Error(
            _one_line(f"Internal error ({type(exc).__name__}); see the server log."),
            print_exception=False,
        ) from None
    return render_answer(answer)


demo = gr.ChatInterface(
    fn=respond,
    chatbot=gr.Chatbot(
        label="qa",
        scale=1,
        # The reply is escaped HTML; keep gradio's sanitizer on and LaTeX off so article text
        # containing `$$` cannot turn into formulas.
        sanitize_html=True,
        render_markdown=True,
        latex_delimiters=[],
        placeholder="Ask a question about the news articles.",
        # No "share" button: it uploads the conversation to Hugging Face; this bot stays offline.
        buttons=["copy", "copy_all"],
    ),
    additional_inputs=[gr.Slider(1, 10, value=5, step=1, label="Passages")],
    additional_inputs_accordion="Options",
    examples=EXAMPLES,
    cache_examples=False,  # caching would run every example through the model at start-up
    title=TITLE,
    description=DESCRIPTION,
    api_name="chat",
    analytics_enabled=False,  # offline: no telemetry calls
)


def launch() -> None:
    """Load (or build, on first run) the index, then serve the chat on this machine only."""
    # qa's progress messages only; faiss, httpx and friends stay at warnings.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("qa").setLevel(logging.INFO)
    print("Loading the article index (the first run builds it, which can take a few minutes)...",
          flush=True)
    try:
        warm_up(progress=True)
    except Exception as exc:
        if not _is_user_error(exc):
            raise
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        raise SystemExit(1) from None
    # server_port=None lets gradio use GRADIO_SERVER_PORT (default 7860) and step to the next free
    # port if it is taken; the host defaults to 127.0.0.1 exactly as gradio itself does.
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=None,
        share=False,
    )


if __name__ == "__main__":
    launch()
