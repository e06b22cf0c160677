"""The chat page in a real browser: `python app.py` driven by headless Chromium through Playwright.

Uses Debian's chromium at /usr/bin/chromium (Playwright's own browser download is not available here)
and the real model on the seed corpus. Saves docs/screenshot-chat.png, docs/screenshot-followup.png and docs/screenshot-unanswerable.png.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conftest import write_article

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
REPLY_TIMEOUT_MS = 120_000
VIEWPORT = {"width": 1400, "height": 1700}
# Scroll the chat's own scrolling box (not the page) so that the element sits at its top.
_SCROLL_CHAT_TO = """el => {
    const box = el.closest('.bubble-wrap');
    box.scrollTop += el.getBoundingClientRect().top - box.getBoundingClientRect().top - 12;
    return box.scrollTop;
}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                     "(apt-get install chromium chromium-driver)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
expect = sync_api.expect


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


def _serve(corpus: Path, index_dir: Path, model: str | None):
    from qa.evaluation.load import serve

    return serve(corpus, index_dir, model=model, timeout=600)


@pytest.fixture(scope="module")
def seed_server(tmp_path_factory):
    """The chat over the shipped corpus with the real model, as a user would start it."""
    with _serve(REPO / "corpus", tmp_path_factory.mktemp("seed-index"), model="all-MiniLM-L6-v2") as server:
        yield server


class Chat:
    """One browser tab on the chat page."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport=VIEWPORT)
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
        expect(self.bot).to_have_count(n + 1, timeout=REPLY_TIMEOUT_MS)
        reply = self.bot.nth(n)
        # a finished reply ends with its passages' meta lines ("... · score 0.123")
        expect(reply).to_contain_text("score", timeout=REPLY_TIMEOUT_MS)
        return reply

    def set_passages(self, k: int) -> None:
        """Set the "Passages" option (the k of ask()) through the page's Options panel."""
        number = self.page.get_by_label("number input for Passages")
        toggle = self.page.get_by_role("button", name=re.compile("^Options"))
        for _ in range(5):  # a click before the page has settled can be lost: retry until it opens
            if number.is_visible():
                break
            toggle.click()
            try:
                expect(number).to_be_visible(timeout=3_000)
            except AssertionError:
                continue
        number.fill(str(k))
        number.press("Enter")
        expect(self.page.get_by_label("range slider for Passages")).to_have_value(str(k))

    def screenshot(self, name: str, focus) -> Path:
        """Save the title, the chat and the input box to docs/, the chat scrolled to show `focus` first."""
        DOCS.mkdir(exist_ok=True)
        self.page.wait_for_timeout(500)  # let the chat finish its own scrolling first
        focus.evaluate(_SCROLL_CHAT_TO)
        self.page.wait_for_timeout(300)
        box = self.box.bounding_box()
        path = DOCS / name
        self.page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": VIEWPORT["width"],
                                                   "height": min(VIEWPORT["height"], box["y"] + box["height"] + 30)})
        return path

    def close(self):
        self.page.close()


@pytest.fixture
def chat(browser, seed_server):
    tab = Chat(browser, seed_server.url)
    yield tab
    tab.close()


def test_canonical_question_shows_the_passage_and_its_highlight(chat):
    reply = chat.ask("who led the 2023 delegation?")
    mark = reply.locator("mark").first
    mark.scroll_into_view_if_needed()
    expect(mark).to_be_visible()
    expect(mark).to_contain_text("Luong Tam Quang")
    expect(reply).to_contain_text("004_41d1fe96b242cae0.txt")
    expect(reply).to_contain_text("2023-10-20")
    expect(reply).to_contain_text("Limited to articles from 2023")
    assert "Traceback" not in reply.inner_text()
    shot = chat.screenshot("screenshot-chat.png", chat.user.last)
    assert 10_000 < shot.stat().st_size < 400_000
    assert chat.dialogs == []


def test_followup_pair_is_answered_from_the_first_questions_context(chat):
    chat.set_passages(1)  # shorter replies: both turns fit in one screenshot
    first = chat.ask("who led the 2023 delegation?")
    expect(first.locator("strong").first).to_contain_text("Luong Tam Quang")
    followup = chat.ask("who did he meet from Russia?")
    # "he" is the previous answer; the first question's year still applies: the 2023 article, highlighted
    expect(followup.locator("strong").first).to_contain_text("Artur Lyukmanov")
    expect(followup).to_contain_text("Limited to articles from 2023")
    expect(followup).to_contain_text("004_41d1fe96b242cae0.txt")
    expect(followup).not_to_contain_text("000_82534ed971b450c4.txt")
    mark = followup.locator("mark").first
    mark.scroll_into_view_if_needed()
    expect(mark).to_contain_text("Artur Lyukmanov")
    shot = chat.screenshot("screenshot-followup.png", chat.user.first)
    assert 10_000 < shot.stat().st_size < 400_000
    assert chat.dialogs == []


def test_unanswerable_question_says_so_and_labels_the_closest_passages(chat):
    chat.set_passages(2)
    unanswerable = chat.ask("what is a good recipe for banana bread?")
    expect(unanswerable).to_contain_text("The articles don't answer this.")
    expect(unanswerable).to_contain_text("Closest passages (they do not answer the question)")
    expect(unanswerable).not_to_contain_text("confidence")
    shot = chat.screenshot("screenshot-unanswerable.png", chat.user.last)
    assert 10_000 < shot.stat().st_size < 400_000
    assert chat.dialogs == []


def test_no_share_button_on_the_chat(chat):
    expect(chat.page.locator("button[aria-label*='hare' i], button[title*='hare' i]")).to_have_count(0)


XSS_TITLE = '<script>alert("title")</script>Evil <img src=x onerror="alert(1)"> headline'
XSS_BODY = ('The harbour festival <script>document.title="pwned"</script> opened on Sunday with '
            '<img src=x onerror="alert(2)"> fireworks and <a href="javascript:alert(3)">lanterns</a>. '
            'Organisers counted twelve thousand visitors at the harbour festival.')
XSS_QUESTION = 'How many visitors came to the harbour festival <img src=x onerror="alert(4)"> <script>alert(5)</script>?'


@pytest.fixture(scope="module")
def xss_server(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("xss-corpus")
    for seed in (REPO / "corpus").glob("*.txt"):
        shutil.copy(seed, corpus)
    write_article(corpus, "xss.txt", XSS_TITLE, "2024-05-05", XSS_BODY)
    with _serve(corpus, tmp_path_factory.mktemp("xss-index"), model="hash") as server:
        yield server


def test_markup_in_articles_and_questions_stays_text_on_the_page(browser, xss_server):
    tab = Chat(browser, xss_server.url)
    try:
        title = tab.page.title()
        reply = tab.ask(XSS_QUESTION)
        expect(reply).to_contain_text("xss.txt")
        text = reply.inner_text()
        assert XSS_TITLE in text
        assert '<script>document.title="pwned"</script>' in text and '<img src=x onerror="alert(2)">' in text
        tab.page.wait_for_timeout(500)  # give any injected handler the chance to fire
        chat_area = tab.page.locator('[data-testid="bot"], [data-testid="user"]')
        for i in range(chat_area.count()):
            found = chat_area.nth(i).evaluate(
                """el => [...el.querySelectorAll('*')].flatMap(e => [
                       ...(['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED'].includes(e.tagName) ? [e.tagName] : []),
                       ...[...e.attributes].filter(a => a.name.startsWith('on') ||
                                                   a.value.trim().toLowerCase().startsWith('javascript:'))
                                           .map(a => e.tagName + '@' + a.name)])""")
            assert found == [], found
        assert tab.page.locator('[data-testid="bot"] img').count() == 0
        assert tab.dialogs == [] and tab.page.title() == title
    finally:
        tab.close()
