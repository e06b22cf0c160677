"""The chat page driven in a real browser (Playwright + Debian's chromium): the page object the browser
tests use, and `python -m qa screenshots --out docs/`, which saves the page's states at a desktop and a
phone size. Only this command writes docs/*.png; the test suite never does.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from qa.config import REPO_ROOT

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
REPLY_TIMEOUT_MS = 120_000
CANONICAL = "who led the 2023 delegation?"
HTML_QUESTION = "<img src=x onerror=alert(1)> <b>bold</b> who led the 2023 delegation?"
# An article written for these demos (not taken from any publisher) whose front matter has a url.
LINKED_URL = "https://example.org/news/harbour-lantern-festival"
LINKED_QUESTION = "How many visitors came to the harbour lantern festival?"
LINKED_ARTICLE = f"""---
title: Harbour lantern festival draws record crowd
date: 2024-05-05
author: Mai Tran
site: Example Harbour News
url: {LINKED_URL}
---

The harbour lantern festival opened on Sunday with fireworks over the old docks.

Organisers counted twelve thousand visitors at the harbour lantern festival, a record for the event.
"""


def demo_corpus(folder: Path) -> Path:
    """The shipped seed articles plus the linked demo article, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for seed in (REPO_ROOT / "corpus").iterdir():
        if seed.is_file():
            shutil.copy(seed, folder)
    (folder / "harbour-lanterns.md").write_text(LINKED_ARTICLE, encoding="utf-8")
    return folder


class ChatPage:
    """One browser tab on the chat page, at one viewport size."""

    def __init__(self, browser, url: str, viewport: dict):
        from playwright.sync_api import expect

        self.expect = expect
        self.viewport = viewport
        self.context = browser.new_context(viewport=viewport)
        with contextlib.suppress(Exception):  # clipboard access is optional: copy_text() says so
            self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(url)
        self.box = self.page.locator('textarea[data-testid="textbox"]').first
        expect(self.box).to_be_visible(timeout=60_000)
        self.bot = self.page.locator('[data-testid="bot"]')
        self.user = self.page.locator('[data-testid="user"]')

    def ask(self, question: str):
        """Type the question, press Enter, and return the locator of its finished reply."""
        n = self.bot.count()
        self.box.fill(question)
        self.box.press("Enter")
        self.expect(self.bot).to_have_count(n + 1, timeout=REPLY_TIMEOUT_MS)
        self.expect(self.box).to_be_editable(timeout=REPLY_TIMEOUT_MS)  # the reply is complete
        self.page.wait_for_timeout(600)  # let the chat finish its own scrolling
        return self.bot.nth(n)

    def click_example(self, text: str):
        """Click an example under the empty chat and return its finished reply."""
        self.page.get_by_role("button", name=text).first.click()
        self.expect(self.bot).to_have_count(1, timeout=REPLY_TIMEOUT_MS)
        self.expect(self.box).to_be_editable(timeout=REPLY_TIMEOUT_MS)
        self.page.wait_for_timeout(600)
        return self.bot.first

    def buttons(self, reply, label: str):
        """The reply's own action button named `label` (Copy, Like, Dislike...)."""
        row = reply.locator("xpath=ancestor::div[contains(@class,'message-row')][1]")
        found = row.get_by_role("button", name=label)
        if found.count() == 0:  # gradio puts a reply's buttons just after its message row
            found = row.locator("xpath=following-sibling::*[1]").get_by_role("button", name=label)
        return found.first

    def copy_text(self, reply) -> str:
        """Click the reply's copy button and return what reached the clipboard."""
        self.buttons(reply, "Copy").click()
        self.page.wait_for_timeout(300)
        return self.page.evaluate("navigator.clipboard.readText()")

    def open_sources(self, reply) -> None:
        """Open the reply's collapsed "full passage and other sources"."""
        reply.locator("summary").first.click()
        self.page.wait_for_timeout(300)

    def screenshot(self, path: Path) -> Path:
        """Save what the viewport shows now."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        self.context.close()


@contextlib.contextmanager
def browser() -> Iterator:
    """Headless Debian chromium under Playwright."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise FileNotFoundError(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def take(out: Path, model: str | None = "all-MiniLM-L6-v2") -> list[Path]:
    """Serve the chat over the demo corpus and save each state at each viewport into `out`."""
    from qa.evaluation.load import serve

    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="qa-shots-") as tmp, browser() as chromium:
        corpus = demo_corpus(Path(tmp) / "corpus")
        env = {"QA_FEEDBACK_FILE": str(Path(tmp) / "feedback.jsonl")}
        with serve(corpus, Path(tmp) / "index", model=model, timeout=600, env=env) as server:
            for name, viewport in VIEWPORTS.items():
                tab = ChatPage(chromium, server.url, viewport)
                try:
                    saved.append(tab.screenshot(out / f"chat-{name}-start.png"))
                    tab.ask(CANONICAL)
                    saved.append(tab.screenshot(out / f"chat-{name}-answer.png"))
                    tab.ask("   ")
                    tab.ask("why " * 600)
                    tab.ask(HTML_QUESTION)
                    saved.append(tab.screenshot(out / f"chat-{name}-errors.png"))
                    reply = tab.ask(LINKED_QUESTION)
                    tab.open_sources(reply)
                    tab.buttons(reply, "Dislike").click()
                    tab.page.wait_for_timeout(500)
                    saved.append(tab.screenshot(out / f"chat-{name}-sources.png"))
                finally:
                    tab.close()
    for path in saved:
        log.info("saved %s", path)
    return saved
