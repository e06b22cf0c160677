"""qa.render: the chat reply HTML, checked the way a browser would read it."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from qa.render import SNIPPET_CHARS, escape, plain_history, render_answer, render_error, reply_answer, snippet
from qa.types import Answer, Hit, Turn

XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'
MD = "*bold* _em_ # head [x](http://y) `code` ~~del~~ | a | $$x^2$$ \\ !"
TEXT = ("The meeting was held online. A Vietnamese delegation led by Luong Tam Quang attended "
        "SICW 2023 in Singapore. Talks covered ransomware.")
SENT = (TEXT.index("A Vietnamese"), TEXT.index(" Talks"))
ANS = (TEXT.index("Luong"), TEXT.index(" attended"))


class Page(HTMLParser):
    """What a browser shows: visible text, per-character <mark>/<strong> state, every tag seen."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
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
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"badly nested </{tag}> in {self.stack}"
        self.stack.pop()

    def handle_data(self, data):
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


def test_answer_line_card_and_sources():
    out = render_answer(answered(date_filter="2023"))
    page = assert_well_formed(out)
    assert out.startswith("<div>") and out.endswith("</div>")
    assert "<strong>Luong Tam Quang</strong> · confidence 0.82" in out
    assert "Limited to articles from 2023" in page.text
    for part in ("Vietnam at SICW 2023", "2023-10-20", "004_news.txt", "score 0.812"):
        assert part in page.text
    assert page.marked() == TEXT[SENT[0]:SENT[1]]
    assert page.marked(strong=True) == "Luong Tam Quang"
    assert "Other sources" in page.text
    assert "Other article 2" in page.text and "Other article 3" in page.text
    assert page.text.count("undated") == 2  # the two other hits have no date
    assert [t for t, _ in page.tags].count("li") == 2


def test_abstaining_shows_plain_statement_and_labelled_closest_passages():
    ans = answered(answer=None, abstained=True, confidence=0.1, reason="nothing relevant enough")
    page = assert_well_formed(render_answer(ans))
    assert page.text.startswith("The articles don't answer this.")
    assert "Closest passages (they do not answer the question)" in page.text
    assert "confidence" not in page.text
    assert "Why: nothing relevant enough." in page.text
    assert page.text.index("Why:") < page.text.index("Closest passages")


def test_abstain_wins_over_a_stray_answer():
    page = Page(render_answer(answered(abstained=True)))
    assert "The articles don't answer this." in page.text
    assert "confidence" not in page.text


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
    assert TEXT in page.text  # the split changes no character
    strong = TEXT[slice(*want_strong)] if want_strong else ""
    assert page.marked(strong=True) == strong
    if want_mark:
        assert page.marked() == TEXT[slice(*want_mark)]
    elif sent and sent[0] < sent[1]:  # disjoint: both spans marked, nothing between them
        lo, hi = max(0, sent[0]), sent[1]
        assert page.marked() == TEXT[lo:hi] + strong


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
    assert {t for t, _ in page.tags} <= {"div", "p", "strong", "span", "br", "mark", "ul", "li"}
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
