"""The chat page in a real browser: `python app.py` driven by headless Chromium through Playwright, at a
desktop (1366x768) and a phone (390x844) viewport.

Uses Debian's chromium at /usr/bin/chromium (Playwright's own browser download is not available here),
the real model, and the seed corpus plus a demo article whose front matter has a url. Writes nothing to
docs/: `python -m qa screenshots` makes the README's pictures.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import write_article

pytestmark = [pytest.mark.browser]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
expect = sync_api.expect

from qa.evaluation import screenshots as shots  # noqa: E402

if not shots.CHROMIUM.exists():
    pytest.skip(f"needs Debian's chromium at {shots.CHROMIUM} (apt-get install chromium)", allow_module_level=True)

REPO = Path(__file__).resolve().parent.parent
SIZES = list(shots.VIEWPORTS.values())
IDS = list(shots.VIEWPORTS)


@pytest.fixture(scope="module")
def browser():
    with shots.browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The chat over the seed corpus and the linked demo article, with the real model."""
    from qa.evaluation.load import serve

    tmp = tmp_path_factory.mktemp("chat")
    corpus = shots.demo_corpus(tmp / "corpus")
    feedback = tmp / "feedback.jsonl"
    with serve(corpus, tmp / "index", model="all-MiniLM-L6-v2", timeout=600,
               env={"QA_FEEDBACK_FILE": str(feedback)}) as running:
        running.feedback = feedback
        running.corpus, running.index = corpus, tmp / "index"
        yield running


@pytest.fixture(params=SIZES, ids=IDS)
def chat(request, browser, server):
    tab = shots.ChatPage(browser, server.url, request.param)
    yield tab
    assert tab.dialogs == []  # nothing the page showed ran a script
    tab.close()


def test_the_answer_and_its_highlighted_sentence_are_in_view_right_after_the_reply(chat):
    reply = chat.ask(shots.CANONICAL)
    answer = reply.locator("strong", has_text="Luong Tam Quang").first
    mark = reply.locator("mark").first
    expect(mark).to_contain_text("Luong Tam Quang")
    for element in (answer, mark):  # inside the viewport and the chat's scroll box, without scrolling
        expect(element).to_be_in_viewport(ratio=1)
    expect(reply).to_contain_text("answers at this level are right")
    expect(reply).not_to_contain_text("confidence 0.")
    assert reply.locator("details").count() == 1
    expect(reply.locator("details .message, details li").first).not_to_be_visible()  # the rest is collapsed
    expect(reply).to_contain_text("004_41d1fe96b242cae0.txt")


def test_bad_input_is_a_reply_and_the_chat_goes_on(chat):
    empty = chat.ask("   ")
    expect(empty).to_contain_text("Please type a question.")
    long = chat.ask("why " * 600)
    expect(long).to_contain_text("question is too long (2399 characters; the limit is 2000)")
    expect(chat.page.locator(".toast-body")).to_have_count(0)  # no gr.Error popup
    reply = chat.ask(shots.CANONICAL)
    expect(reply.locator("strong", has_text="Luong Tam Quang").first).to_be_visible()
    expect(chat.user).to_have_count(3)
    expect(chat.box).to_be_editable()


def test_copy_gives_plain_text_with_the_answer_and_the_source(chat):
    reply = chat.ask(shots.CANONICAL)
    text = chat.copy_text(reply)
    assert "<" not in text and "&#" not in text and "&amp;" not in text
    lines = text.splitlines()
    assert lines[0] == "Luong Tam Quang"
    assert "answers at this level are right" in lines[1]
    assert any(line.startswith("Source: ") and "004_41d1fe96b242cae0.txt" in line for line in lines)


def test_the_article_link_is_shown_when_the_article_has_a_url(chat, server):
    from qa import QA, load_settings

    hits = QA(load_settings(corpus_dir=server.corpus, index_dir=server.index,
                            model="all-MiniLM-L6-v2")).ask(shots.LINKED_QUESTION).passages
    if not any(h.url for h in hits):
        pytest.skip("Hit.url is not filled in on this branch yet (front matter url reaches Article only)")
    reply = chat.ask(shots.LINKED_QUESTION)
    link = reply.locator(f'a[href="{shots.LINKED_URL}"]').first
    expect(link).to_be_visible()
    expect(link).to_contain_text("Harbour lantern festival draws record crowd")


def test_marking_an_answer_wrong_records_it(chat, server):
    reply = chat.ask(shots.CANONICAL)
    chat.buttons(reply, "Dislike").click()
    records: list[dict] = []
    for _ in range(50):
        if server.feedback.exists():
            records = [json.loads(line) for line in server.feedback.read_text().splitlines()]
            if any(r["verdict"] == "wrong" and r.get("question") == shots.CANONICAL for r in records):
                break
        chat.page.wait_for_timeout(200)
    wrong = [r for r in records if r["verdict"] == "wrong" and r.get("question") == shots.CANONICAL]
    assert wrong and wrong[-1]["wrong_answers"] == ["Luong Tam Quang"] and wrong[-1]["answers"] == []
    assert wrong[-1]["passages"][0]["source"] == "004_41d1fe96b242cae0.txt"


def test_a_question_with_html_shows_as_literal_text(chat):
    chat.ask(shots.HTML_QUESTION)
    bubble = chat.user.last
    expect(bubble).to_contain_text(shots.HTML_QUESTION)
    assert bubble.locator("img, b").count() == 0


def test_clicking_an_example_asks_it(chat):
    reply = chat.click_example("Who led the 2023 delegation?")
    expect(chat.user.first).to_contain_text("Who led the 2023 delegation?")
    expect(reply.locator("strong", has_text="Luong Tam Quang").first).to_be_visible()


XSS_TITLE = '<script>alert("title")</script>Evil <img src=x onerror="alert(1)"> headline'
XSS_BODY = ('The harbour festival <script>document.title="pwned"</script> opened on Sunday with '
            '<img src=x onerror="alert(2)"> fireworks and <a href="javascript:alert(3)">lanterns</a>. '
            'Organisers counted twelve thousand visitors at the harbour festival.')
XSS_QUESTION = 'How many visitors came to the harbour festival <img src=x onerror="alert(4)"> <script>alert(5)</script>?'


@pytest.fixture(scope="module")
def xss_server(tmp_path_factory):
    from qa.evaluation.load import serve

    corpus = tmp_path_factory.mktemp("xss-corpus")
    for seed in (REPO / "corpus").glob("*.txt"):
        shutil.copy(seed, corpus)
    write_article(corpus, "xss.txt", XSS_TITLE, "2024-05-05", XSS_BODY)
    with serve(corpus, tmp_path_factory.mktemp("xss-index"), model="hash", timeout=600) as running:
        yield running


def test_markup_in_articles_and_questions_stays_text_on_the_page(browser, xss_server):
    tab = shots.ChatPage(browser, xss_server.url, SIZES[0])
    try:
        title = tab.page.title()
        reply = tab.ask(XSS_QUESTION)
        expect(reply).to_contain_text("xss.txt")
        tab.open_sources(reply)
        text = reply.inner_text()
        assert XSS_TITLE in text
        assert '<script>document.title="pwned"</script>' in text and '<img src=x onerror="alert(2)">' in text
        expect(tab.user.last).to_contain_text(XSS_QUESTION)
        tab.page.wait_for_timeout(500)  # give any injected handler the chance to fire
        chat_area = tab.page.locator('[data-testid="bot"], [data-testid="user"]')
        for i in range(chat_area.count()):
            found = chat_area.nth(i).evaluate(
                """el => [...el.querySelectorAll('*')].flatMap(e => [
                       ...(['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'IMG'].includes(e.tagName) ? [e.tagName] : []),
                       ...[...e.attributes].filter(a => a.name.startsWith('on') ||
                                                   a.value.trim().toLowerCase().startsWith('javascript:'))
                                           .map(a => e.tagName + '@' + a.name)])""")
            assert found == [], found
        assert tab.dialogs == [] and tab.page.title() == title
    finally:
        tab.close()


def test_no_share_button_on_the_chat(browser, xss_server):
    tab = shots.ChatPage(browser, xss_server.url, SIZES[1])
    try:
        expect(tab.page.locator("button[aria-label*='hare' i], button[title*='hare' i]")).to_have_count(0)
    finally:
        tab.close()
