"""qa.render: the chat reply HTML, checked the way a browser would read it."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from qa.render import (SNIPPET_CHARS, confidence_words, escape, plain_history, render_answer, render_error,
                       render_text, reply_answer, reply_sources, snippet)
from qa.types import Answer, Hit, Turn

XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'
MD = "*bold* _em_ # head [x](http://y) `code` ~~del~~ | a | $$x^2$$ \\ !"
TEXT = ("The meeting was held online. A Vietnamese delegation led by Luong Tam Quang attended "
        "SICW 2023 in Singapore. Talks covered ransomware.")
SENT = (TEXT.index("A Vietnamese"), TEXT.index(" Talks"))
ANS = (TEXT.index("Luong"), TEXT.index(" attended"))


class Page(HTMLParser):
    """What a browser shows: visible text, per-character <mark>/<strong> state, every tag seen.

    Text inside `display:none` elements (the reply's hidden plain-text copy and sources) is not shown.
    """

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.hidden: list[int] = []  # stack depths at which a hidden element opened
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.chars: list[tuple[str, bool, bool]] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "br":
            self.chars.append(("\n", False, False))
        else:
            if "display:none" in (dict(attrs).get("style") or ""):
                self.hidden.append(len(self.stack))
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"badly nested </{tag}> in {self.stack}"
        self.stack.pop()
        if self.hidden and self.hidden[-1] == len(self.stack):
            self.hidden.pop()

    def handle_data(self, data):
        if self.hidden:
            return
        self.chars += [(c, "mark" in self.stack, "strong" in self.stack) for c in data]

    @property
    def text(self) -> str:
        return "".join(c for c, _, _ in self.chars)

    def marked(self, strong: bool = False) -> str:
        return "".join(c for c, m, s in self.chars if m and (s or not strong))


def hit(text=TEXT, title="Vietnam at SICW 2023", date="2023-10-20", source="004_news.txt",
        score=0.8123, sent=SENT, ans=ANS, pid="p1") -> Hit:
    return Hit(passage_id=pid, text=text, title=title, date=date, source=source, score=score,
               highlight_start=sent and sent[0], highlight_end=sent and sent[1],
               answer_start=ans and ans[0], answer_end=ans and ans[1])


def other(i: int, **kw) -> Hit:
    fields = dict(text=f"Passage {i}. " + "Cyber security cooperation between two countries. " * 8,
                  title=f"Other article {i}", date=None, source=f"00{i}.txt", score=0.5 - i / 10,
                  sent=None, ans=None, pid=f"p{i}")
    return hit(**{**fields, **kw})


def answered(**kw) -> Answer:
    fields = dict(question="who led the 2023 delegation?", answer="Luong Tam Quang",
                  confidence=0.82, passages=(hit(), other(2), other(3)))
    return Answer(**{**fields, **kw})


def assert_well_formed(out: str) -> Page:
    page = Page(out)
    assert page.stack == [], f"unclosed tags {page.stack}"
    assert "\n" not in out, "a raw newline could end the HTML block and re-enable Markdown"
    return page


def test_answer_first_then_its_sentence_then_the_rest_collapsed():
    out = render_answer(answered(date_filter="2023"))
    page = assert_well_formed(out)
    assert out.startswith("<div>") and out.endswith("</div>")
    assert "<strong>Luong Tam Quang</strong>" in out
    text = page.text
    assert text.index("Luong Tam Quang") < text.index("Very likely right (about 8 in 10 answers at this level are right)")
    assert "confidence" not in text and "0.82" not in text  # never a bare decimal
    assert "level are right) · limited to articles from 2023" in text
    for part in ("Vietnam at SICW 2023", "2023-10-20", "004_news.txt"):
        assert part in text
    assert "score" not in text
    assert page.marked() == TEXT[SENT[0]:SENT[1]] * 2  # the sentence, open and in the collapsed full passage
    assert page.marked(strong=True) == "Luong Tam Quang" * 2
    assert "The full passage, 2 passages from 2 other articles" in text
    assert "Other article 2" in text and "Other article 3" in text
    tags = [t for t, _ in page.tags]
    assert tags.count("details") == 1 and tags.count("li") == 2
    assert text.index("Vietnam at SICW 2023") < text.index("The full passage")  # the best source before the rest


def test_passages_of_one_article_are_grouped_under_its_title_once():
    same = [other(i, title="The one article", source="one.txt") for i in (2, 3, 4)]
    page = assert_well_formed(render_answer(answered(passages=(hit(title="The one article", source="one.txt"),
                                                               *same, other(5)))))
    assert page.text.count("The one article") == 1
    assert page.text.count("Other article 5") == 1
    assert "3 more passages from this article, 1 passage from 1 other article" in page.text
    assert "More from this article" in page.text


def test_article_id_tells_records_of_one_file_apart():
    a = Hit(**{**hit().__dict__, "article_id": "rec-1", "source": "feed.jsonl", "title": "Record one"})
    b = Hit(**{**other(2).__dict__, "article_id": "rec-2", "source": "feed.jsonl", "title": "Record two"})
    page = Page(render_answer(answered(passages=(a, b))))
    assert "1 passage from 1 other article" in page.text and "Record two" in page.text


@pytest.mark.parametrize("url, linked", [("https://example.org/a?b=1&c=2", True), ("http://x.org/", True),
                                         ("javascript:alert(1)", False), ("data:text/html,x", False),
                                         ("https://x.org/\" onmouseover=\"alert(1)", False), (None, False)])
def test_title_links_to_the_article_when_it_has_a_plain_url(url, linked):
    h = Hit(**{**hit().__dict__, "url": url, "author": "Mai Tran", "site": "Example News"})
    out = render_answer(answered(passages=(h,)))
    page = assert_well_formed(out)
    links = [attrs for tag, attrs in page.tags if tag == "a"]
    if linked:
        assert links and links[0]["href"] == url and links[0]["rel"] == "noopener noreferrer"
        assert url in render_text(answered(passages=(h,)))
    else:
        assert links == []
    assert "by Mai Tran · Example News" in page.text


@pytest.mark.parametrize("p, words", [
    (0.82, "Very likely right (about 8 in 10 answers at this level are right)"),
    (0.64, "Likely right (about 6 in 10 answers at this level are right)"),
    (0.47, "May be right (about 5 in 10 answers at this level are right)"),
    (0.24, "Unsure (about 2 in 10 answers at this level are right)"),
    (0.06, "A guess (about 1 in 10 answers at this level are right)"),
    (0.03, "A guess (fewer than 1 in 10 answers at this level are right)"),
    (0.97, "Very likely right (nearly all answers at this level are right)"),
])
def test_confidence_in_words(p, words):
    assert confidence_words(p) == words


def test_plain_text_copy_has_the_answer_and_the_source():
    text = render_text(answered())
    assert text.splitlines() == [
        "Luong Tam Quang", "Very likely right (about 8 in 10 answers at this level are right).",
        "Source: Vietnam at SICW 2023, 2023-10-20 — 004_news.txt", f"\"{TEXT[SENT[0]:SENT[1]]}\""]
    out = render_answer(answered())
    hidden = re.search(r'<div class="qa-copy"[^>]*>([^<]*)</div>', out).group(1)
    assert Page(hidden).text == text and "<" not in text
    abstained = render_text(answered(answer=None, abstained=True, reason="nothing close"))
    assert abstained.startswith("The articles don't answer this.\nWhy: nothing close.")


def test_reply_sources_reads_back_the_passages():
    got = reply_sources(render_answer(answered(passages=(hit(title=XSS), other(2)))))
    assert [g["source"] for g in got] == ["004_news.txt", "002.txt"] and got[0]["title"] == XSS
    assert reply_sources(render_error("x")) == [] and reply_sources(None) == []


def test_abstaining_shows_plain_statement_and_labelled_closest_passages():
    ans = answered(answer=None, abstained=True, confidence=0.1, reason="nothing relevant enough")
    page = assert_well_formed(render_answer(ans))
    assert page.text.startswith("The articles don't answer this.")
    assert "Closest passages (they do not answer the question): 3 passages from 3 articles" in page.text
    assert "likely right" not in page.text
    assert "Why: nothing relevant enough." in page.text
    assert page.text.index("Why:") < page.text.index("Closest passages")


def test_abstain_wins_over_a_stray_answer():
    page = Page(render_answer(answered(abstained=True)))
    assert "The articles don't answer this." in page.text
    assert "Luong Tam Quang" not in page.text.split("Closest")[0]


def test_no_answer_span_shows_best_passage():
    page = assert_well_formed(render_answer(answered(answer=None, reason="date boost applied")))
    assert "Best matching passage" in page.text
    assert "Vietnam at SICW 2023" in page.text
    assert "date boost applied" in page.text


@pytest.mark.parametrize("abstained", [False, True])
def test_no_passages(abstained):
    ans = Answer(question="q", answer=None, confidence=0.0, abstained=abstained)
    page = assert_well_formed(render_answer(ans))
    expected = "The articles don't answer this." if abstained else "No matching passages found."
    assert page.text == expected
    assert "Closest passages" not in page.text


@pytest.mark.parametrize(
    "sent, ans, want_mark, want_strong",
    [
        ((10, 30), (15, 20), (10, 30), (15, 20)),  # answer inside the sentence
        ((10, 30), (5, 15), (5, 30), (5, 15)),  # answer overlaps the sentence start
        ((10, 30), (25, 40), (10, 40), (25, 40)),  # answer overlaps the sentence end
        ((10, 30), (40, 45), None, (40, 45)),  # answer outside the sentence
        ((10, 30), (10, 30), (10, 30), (10, 30)),  # identical spans
        ((10, 30), None, (10, 30), None),  # sentence only
        (None, (15, 20), (15, 20), (15, 20)),  # answer only
        ((-5, 12), (40, 999), None, (40, len(TEXT))),  # offsets clamped into the text
        ((30, 10), (20, 20), None, None),  # reversed or empty spans are ignored
    ],
)
def test_highlight_nesting_and_overlap(sent, ans, want_mark, want_strong):
    page = assert_well_formed(render_answer(answered(passages=(hit(sent=sent, ans=ans),))))
    assert TEXT in page.text  # the split changes no character (the full passage, collapsed)
    strong = TEXT[slice(*want_strong)] if want_strong else ""
    # shown open, and again in the collapsed full passage unless the open part is the whole passage
    twice = "<details" in render_answer(answered(passages=(hit(sent=sent, ans=ans),)))
    n = 2 if twice else 1
    words = lambda t: re.sub(r"\s", "", t)  # noqa: E731  (the open part drops the span's outer spaces)
    assert words(page.marked(strong=True)) == words(strong) * n
    if want_mark:
        assert words(page.marked()) == words(TEXT[slice(*want_mark)]) * n
    elif sent and sent[0] < sent[1]:  # disjoint: both spans marked, nothing between them
        lo, hi = max(0, sent[0]), sent[1]
        assert words(page.marked()) == words(TEXT[lo:hi] + strong) * n


@pytest.mark.parametrize("where", ["text", "title", "source", "answer", "date_filter", "reason"])
def test_markup_in_any_field_shows_as_text(where):
    if where in ("text", "title", "source"):
        hits = (hit(**{where: f"Before {XSS} after."}), other(2, **{where: XSS}))
        ans = answered(question=XSS, passages=hits)
    else:
        ans = answered(question=XSS, **{where: XSS})
    out = render_answer(ans)
    page = assert_well_formed(out)
    assert "<script" not in out.lower() and "<img" not in out.lower()
    assert {t for t, _ in page.tags} <= {"div", "p", "strong", "span", "br", "mark", "ul", "li", "details",
                                         "summary"}
    assert all(not k.startswith("on") for _, attrs in page.tags for k in attrs)
    assert XSS in page.text


def test_markdown_and_latex_characters_are_neutralised():
    ans = answered(answer=MD, passages=(hit(text=MD + "\n\n# Not a heading", title=MD, sent=None,
                                            ans=None), other(2, title=MD)))
    out = render_answer(ans)
    page = assert_well_formed(out)
    assert MD in page.text and "# Not a heading" in page.text  # shown literally
    bare = re.sub(r"&#?\w+;", "", out)  # what Markdown's lexer could still act on
    assert not set("*_[]`~|$\\!#") & set(bare)


def test_escape_never_double_escapes():
    assert escape("don't & <b>") == "don&#39;t &amp; &lt;b&gt;"
    assert Page(escape("a*b_c [d](e) $$f$$ #g & 'h'")).text == "a*b_c [d](e) $$f$$ #g & 'h'"


def test_snippet_is_short_and_starts_at_the_highlighted_sentence():
    long = "Intro sentence here. " + "The key sentence about cooperation. " + "word " * 200
    start = long.index("The key")
    h = hit(text=long, sent=(start, start + 36), ans=None)
    s = snippet(h)
    assert s.startswith("…The key sentence")
    assert s.endswith("…") and len(s) <= SNIPPET_CHARS + 2
    assert snippet(hit(text="Short text.", sent=None, ans=None)) == "Short text."


def test_render_error_is_one_escaped_line():
    out = render_error("bad <script>x</script>\nsecond line")
    page = Page(out)
    assert "\n" not in out and "<script" not in out
    assert page.text == "Error: bad <script>x</script> second line"


@pytest.mark.parametrize("answer", ["Luong Tam Quang", "S. Iswaran's $5 <b>*deal*</b> & co",
                                    "the \"Regional efforts\" theme"])
def test_reply_answer_reads_back_the_rendered_answer(answer):
    assert reply_answer(render_answer(answered(answer=answer))) == answer


@pytest.mark.parametrize("reply", [
    render_answer(answered(abstained=True, answer=None, reason="no answer")),
    render_answer(answered(answer=None)),
    render_error("boom"),
])
def test_replies_without_an_answer_read_back_as_none(reply):
    assert reply_answer(reply) is None


def test_plain_history_reads_answers_out_of_the_chat():
    q = "Who led the 2023 delegation?"
    history = [{"role": "user", "content": q}, {"role": "assistant", "content": render_answer(answered())},
               {"role": "user", "content": "And in 2020?"}, {"role": "assistant", "content": "S. Iswaran."}]
    assert plain_history(history) == (Turn(q, "Luong Tam Quang"), Turn("And in 2020?", "S. Iswaran"))


def test_plain_history_reads_escaped_questions_as_typed():
    q = "<b>Who</b> & why?"
    assert plain_history([{"role": "user", "content": escape(q)}]) == (Turn(q),)
