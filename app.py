"""Gradio chat over the articles in the corpus folder: `python app.py`, then open the printed URL."""
from __future__ import annotations

import logging
import os
import sys
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import gradio as gr
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse

from qa import ask, warm_up
from qa.feedback import append as append_feedback
from qa.feedback import feedback_record
from qa.render import CARD_CLASS, COPY_CLASS, escape, plain_history, render_answer, render_error

log = logging.getLogger("qa.app")

TITLE = "qa — ask your articles"
DESCRIPTION = "Answers come only from the articles in the corpus folder; mark each reply right or wrong."
EXAMPLES = [
    "Who led the 2023 delegation?",
    "Who led the Singaporean delegation at the 2020 meeting with Vietnam?",
    "When did Vietnam and Singapore hold the virtual ministerial meeting on cyber security?",
    "What threats to cyberspace did Vietnam raise at AMCC-8 in 2023?",
]
MAX_HISTORY_TURNS = 5  # earlier turns given to ask(): follow-ups need the last few, not the whole chat
MAX_SESSIONS = 200  # browser tabs whose chat state the server keeps; the oldest are dropped first
FEEDBACK_FILE = Path(os.environ.get("QA_FEEDBACK_FILE") or Path(__file__).resolve().parent / "feedback.jsonl")

# The chat's copy buttons copy a message's raw value, which for a reply is HTML. Replace each reply by
# the plain text render_answer hides in it (.qa-copy), so a document or an email gets readable text.
COPY_JS = """<script>
(() => {
  const clip = navigator.clipboard;
  if (!clip || clip.__qaPlain) return;
  const write = clip.writeText.bind(clip);
  const decode = s => new DOMParser().parseFromString('<p>' + s + '</p>', 'text/html').body.textContent;
  const reply = /<div>(?:(?!<div>)[\\s\\S])*?<div class="QA_COPY"[^>]*>([^<]*)<\\/div>(?:<div class="qa-sources"[^>]*>[^<]*<\\/div>)?<\\/div>/g;
  const error = /<div><p style="color:#c0392b">[\\s\\S]*?<\\/p><\\/div>/g;
  const plain = t => typeof t !== 'string' ? t : t.replace(reply, (_, s) => decode(s)).replace(error, decode);
  clip.writeText = t => write(plain(t));
  clip.__qaPlain = true;
})();
// After each question, show the question and the top of its reply (the answer comes first), not the
// reply's end: gradio's own autoscroll is off.
(() => {
  let seen = 0;
  const follow = () => {
    const wrap = document.querySelector('.bubble-wrap');
    if (!wrap) return;
    const users = wrap.querySelectorAll('[data-testid="user"]');
    const bots = wrap.querySelectorAll('[data-testid="bot"]');
    const count = users.length + bots.length;
    if (count === seen) return;
    seen = count;
    const user = users[users.length - 1];
    if (!user) return;
    const box = wrap.getBoundingClientRect();
    const at = el => el.getBoundingClientRect().top - box.top + wrap.scrollTop;
    const bot = bots.length && at(bots[bots.length - 1]) > at(user) ? bots[bots.length - 1] : null;
    let top = at(user) - 44;  // below the chat's own clear/copy-all buttons
    if (bot && at(bot) - top > wrap.clientHeight / 3) top = at(bot) - 40;  // a long question: its reply first
    wrap.scrollTop = top;
  };
  new MutationObserver(() => requestAnimationFrame(follow)).observe(document, {childList: true, subtree: true});
})();
</script>""".replace("QA_COPY", COPY_CLASS)
# In the page's head, not launch(css=...): gradio scopes that CSS to its content, which leaves out the
# footer and the page's own padding.
STYLE = """<style>
/* One system font for every weight: gradio's web font lacks some bold glyphs offline (a thin bold "A"). */
:root, .gradio-container { --font: system-ui, "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
/* No icons over the user's own bubble: its buttons sit below it, not on it. */
.message-row.user-row .message-buttons-right, .message-row.user-row .message-buttons { position: static !important; }
/* On a phone: a small title, no footer, less margin, and replies as wide as the chat, so the answer
   and its sentence fit on one screen. */
@media (max-width: 640px) {
  .gradio-container h1 { font-size: 1.2em !important; margin: 0 !important; }
  .gradio-container footer { display: none !important; }
  .gradio-container .main, .gradio-container .wrap, .gradio-container .contain { padding-left: 2px !important;
    padding-right: 2px !important; }
  .message-row.bot-row .role, .message-row.bot-row .message { max-width: 100% !important; }
  .QA_CARD { padding: .4em .5em !important; margin: .3em 0 !important; }
}
</style>""".replace("QA_CARD", CARD_CLASS)

_K_PROBLEM = "Passages must be a whole number, got {!r}."


def _user_message(exc: BaseException) -> str:
    """The one line a user reads for a user error; the chat words the empty box and the slider its own way."""
    problem = getattr(exc, "problem", "")  # set by qa.QuestionError: the API checked the input
    if problem in ("empty", "not_text"):
        return "Please type a question."
    if problem == "k":
        return _K_PROBLEM.format(getattr(exc, "value", None))
    return " ".join(str(exc).split()) or "Could not answer."


def _is_user_error(exc: BaseException) -> bool:
    """Bad input, a missing/unreadable corpus or index: errors whose message is meant for the user.

    qa's own error classes (QuestionError, corpus/index errors) all qualify without app.py
    importing qa's internal modules; anything else is a bug.
    """
    return isinstance(exc, (ValueError, OSError)) or type(exc).__module__.split(".")[0] == "qa"


def respond(message: str, history: list | None, k: float | None = 5, as_of: str | None = None) -> str:
    """Answer one chat turn as HTML; bad input and failures are a one-line error reply, never an exception,
    so the page stays usable."""
    try:
        turns = plain_history(history)[-MAX_HISTORY_TURNS:]
        answer = ask(message, k=k, history=turns, as_of=as_of or None)
    except Exception as exc:
        if _is_user_error(exc):
            return render_error(_user_message(exc))
        # A bug: the full traceback goes to the server log, one line to the chat.
        log.exception("ask() failed for %r", message)
        return render_error(f"Internal error ({type(exc).__name__}); see the server log.")
    return render_answer(answer)


def record_feedback(data: gr.LikeData, history: list | None, as_of: str | None = None) -> None:
    """Append the 👍/👎 of a reply, with its question, answer and passages, to FEEDBACK_FILE."""
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    try:
        record = feedback_record(history or [], int(index), bool(data.liked), as_of)
    except ValueError as exc:  # a vote on a message that is not an answer: nothing to record
        log.warning("feedback not recorded: %s", exc)
        return
    append_feedback(FEEDBACK_FILE, record)
    gr.Info("Thanks: recorded as " + ("right." if data.liked else "wrong."), duration=3)


class Passages(gr.Slider):
    """The k slider; a value of the wrong type (from an API client) reaches respond() unchanged, which
    answers with a readable error instead of gradio failing with a traceback and {"error": null}."""

    is_template = True  # the page draws it as gradio's own slider

    def preprocess(self, payload):
        if isinstance(payload, (int, float)) and not isinstance(payload, bool):
            try:
                return super().preprocess(payload)
            except Exception:  # out of range or not finite: ask() names the value
                return payload
        return payload


class AskedOn(gr.DateTime):
    """The day the question is asked (ask's as_of); a malformed date reaches respond() unchanged."""

    is_template = True

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Exception:
            return payload


class Chat(gr.ChatInterface):
    """The chat; the user's bubble shows the question as typed (HTML-escaped: markup stays text)."""

    def _append_message_to_history(self, message, history, role="user"):
        if role == "user" and isinstance(message, str):
            message = escape(message)
        return super()._append_message_to_history(message, history, role)

    def validate_inputs(self, block_fn, inputs):
        """API callers of /chat may leave out the trailing options (Passages, Asked on): they get the
        defaults, as gradio_client's callers do, instead of a traceback and {"error": null}."""
        if block_fn.api_name == "chat" and len(inputs) < len(block_fn.inputs):
            given = iter(list(inputs))  # the API's values, without the chat's internal state
            inputs[:] = [None if block.skip_api else next(given, None) for block in block_fn.inputs]
        super().validate_inputs(block_fn, inputs)


def _today() -> str:
    return date.today().isoformat()


with Chat(
    fn=respond,
    chatbot=gr.Chatbot(
        label="qa",
        show_label=False,  # a floating "qa" tag would cover the top of the question
        scale=1,
        # The reply is escaped HTML; keep gradio's sanitizer on and LaTeX off so article text
        # containing `$$` cannot turn into formulas.
        sanitize_html=True,
        render_markdown=True,
        latex_delimiters=[],
        placeholder="Ask a question about the news articles.",
        # No "share" button: it uploads the conversation to Hugging Face; this bot stays offline.
        buttons=["copy", "copy_all"],
        feedback_options=("Like", "Dislike"),
        # COPY_JS scrolls to the question and the top of its reply instead (the answer comes first).
        autoscroll=False,
    ),
    additional_inputs=[
        Passages(1, 10, value=5, step=1, label="Passages"),
        AskedOn(value=_today, include_time=False, type="string", label="Asked on",
                info="The day the question is asked: \"this week\" or \"recently\" count back from it."),
    ],
    additional_inputs_accordion=gr.Accordion("Options", open=False),
    examples=[[q, None, None] for q in EXAMPLES],  # no values for the options: shown as buttons, click asks
    run_examples_on_click=True,
    cache_examples=False,  # caching would run every example through the model at start-up
    title=TITLE,
    description=DESCRIPTION,
    api_name="chat",
    analytics_enabled=False,  # offline: no telemetry calls
    fill_height=True,
) as demo:
    demo.chatbot.like(record_feedback, [demo.chatbot, demo.additional_inputs[1]], None,
                      api_visibility="private", queue=False)


def _same_origin(origin: str, host: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host.lower()


class Guard:
    """ASGI middleware: refuse file uploads (the chat has no upload widget) and any request a page of
    another origin sends (a browser always sends Origin on cross-origin requests)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            origin = headers.get("origin")
            refusal = None
            if scope["path"].rstrip("/").rsplit("/", 1)[-1] == "upload":
                refusal = "uploads are not accepted"
            elif origin is not None and not _same_origin(origin, headers.get("host", "")):
                refusal = "cross-origin requests are not accepted"
            if refusal:
                await PlainTextResponse(refusal, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
        state_session_capacity=MAX_SESSIONS,
        max_file_size="1b",  # belt and braces: Guard refuses uploads before gradio sees them
        app_kwargs={"middleware": [Middleware(Guard)]},
        head=STYLE + COPY_JS,
    )


if __name__ == "__main__":
    launch()
