"""Answer -> chat-reply HTML (and its plain-text copy) for the Gradio Chatbot, and back: the one module that knows the page's HTML.

Pure string functions; no gradio import. A reply reads top-down: the answer, how far to trust it, the
best passage with its article's title (linked when the article has a url), then the other passages
collapsed and grouped by article. A hidden `.qa-copy` block holds the reply as plain text: the page's
copy button puts that on the clipboard instead of the HTML (see app.py's COPY_JS).

The Chatbot runs every message through Markdown (marked, GFM), a `$$` LaTeX pass and an HTML
sanitizer. The reply is therefore one HTML block with no blank lines (a blank line would end the
block and switch Markdown back on), and every piece of article text is HTML-escaped with the
Markdown- and LaTeX-active characters turned into numeric entities: marked passes entities through
untouched and the browser shows them as the plain characters.
"""
from qa.render.parts import (ABSTAIN_TEXT, ANSWER_CLASS, CARD_CLASS, COPY_CLASS, SNIPPET_CHARS, SOURCES_CLASS,
                             confidence_words, escape, highlight, snippet)
from qa.render.readback import plain_history, reply_answer, reply_sources
from qa.render.reply import render_answer, render_error, render_text

__all__ = ["ABSTAIN_TEXT", "ANSWER_CLASS", "CARD_CLASS", "COPY_CLASS", "SNIPPET_CHARS", "SOURCES_CLASS",
           "confidence_words", "escape", "highlight", "snippet", "plain_history", "reply_answer", "reply_sources",
           "render_answer", "render_error", "render_text"]
