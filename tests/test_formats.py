"""Readers for web pages, PDFs, feeds, web archives and Word files, on pages written in tests/format_pages.py."""
import datetime as dt
import gzip
import inspect
import logging
from collections import Counter
from pathlib import Path

import pytest

import format_pages as fp
from qa.ingest.errors import IngestError
from qa.ingest.docx import read_docx
from qa.ingest.feeds import html_text, read_feed
from qa.ingest.html import parse_html, read_html
from qa.ingest.pdf import read_pdf
from qa.ingest.warc import read_warc

MB = 2**20
# Words from the furniture around every story: none may reach an article's text.
FURNITURE = ("cookie", "ADVERTISEMENT", "meal kits", "Related stories", "Council postpones", "About time",
             "vanity project", "Share on Facebook", "Subscribe", "Copyright", "Photo: Gazette", "Trending",
             "morning briefing", "Privacy policy")


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def html_articles(tmp_path, name, content):
    return read_html(write(tmp_path, name, content), name, MB)


# --- web pages -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(fp.dated_pages()))
def test_page_date_title_and_clean_body(tmp_path, name):
    page, expected = fp.dated_pages()[name]
    [article] = html_articles(tmp_path, name, page)
    assert article.published == (dt.date.fromisoformat(expected) if expected else None)  # never a comment's date
    assert article.source == name and article.title and len(article.text.split()) >= 20
    for words in FURNITURE:
        assert words not in article.text, words


@pytest.mark.parametrize("maker,key", [(fp.jsonld_page, "footbridge"), (fp.opengraph_page, "ferry"),
                                       (fp.plain_page, "orchard"), (fp.boilerplate_page, "library")])
def test_page_keeps_the_whole_story_and_its_headline(tmp_path, maker, key):
    title, _, author, paragraphs = fp.STORIES[key]
    [article] = html_articles(tmp_path, "p.html", maker())
    assert article.title == title and article.byline == author
    assert article.text.split("\n\n") == paragraphs  # headline, byline and caption not repeated in the body


def test_jsonld_and_opengraph_metadata(tmp_path):
    [ld] = html_articles(tmp_path, "a.html", fp.jsonld_page())
    assert (ld.site, ld.url) == ("The Riverside Gazette", "https://gazette.example/news/copper-footbridge")
    [og] = html_articles(tmp_path, "b.html", fp.opengraph_page())
    assert (og.site, og.url, og.byline) == ("Coastal Daily", "https://coastal.example/2023/11/solar-ferry", "Tomas Reyes")


def test_date_from_url_when_the_page_has_none(tmp_path):
    [article] = html_articles(tmp_path, "u.html", fp.url_dated_page())
    assert article.published == dt.date(2023, 11, 18) and article.url.endswith("/solar-ferry")


def test_paywall_stub_keeps_the_teaser_only(tmp_path):
    [article] = html_articles(tmp_path, "p.html", fp.paywall_page())
    assert article.text == fp.STORIES["observatory"][3][0]


def test_two_articles_on_one_page(tmp_path):
    articles = html_articles(tmp_path, "roundup.html", fp.two_articles_page(("library", "bakery")))
    assert [(a.title, a.published) for a in articles] == [
        (fp.STORIES[k][0], dt.date.fromisoformat(fp.STORIES[k][1])) for k in ("library", "bakery")]
    assert len({a.id for a in articles}) == 2 and all(a.site == "Valley News" for a in articles)
    assert "bakery" not in articles[0].text and "railway carriage" not in articles[1].text


@pytest.mark.parametrize("declared,encoding", [("windows-1252", "cp1252"), ("iso-8859-1", "cp1252"),
                                               ("iso-8859-15", "iso-8859-15")])
def test_legacy_charset_from_meta_tag(tmp_path, declared, encoding):
    if encoding == "iso-8859-15":  # no curly quotes in latin-9: plain ones
        page = fp.charset_page("cp1252").decode("cp1252").translate({0x201C: '"', 0x201D: '"', 0x2019: "'"})
        page = page.replace("windows-1252", declared).encode(encoding)
    else:
        page = fp.charset_page("cp1252").replace(b"windows-1252", declared.encode())
    [article] = html_articles(tmp_path, "c.html", page)
    assert "cafés on the Rue Sainte-Hélène" in article.text and "José Martínez" in article.text
    assert article.title.startswith("Café owners fight") and "\ufffd" not in article.text


def test_gzipped_page_and_bad_gzip(tmp_path):
    page = gzip.compress(fp.jsonld_page().encode())
    [article] = html_articles(tmp_path, "a.html.gz", page)
    assert article.title == fp.STORIES["footbridge"][0]
    with pytest.raises(IngestError, match="truncated gzip"):
        html_articles(tmp_path, "cut.html.gz", page[: len(page) // 2])
    with pytest.raises(IngestError, match="bad gzip"):
        html_articles(tmp_path, "bad.html.gz", b"not gzip at all")


def test_page_size_limit_and_non_pages(tmp_path):
    with pytest.raises(IngestError, match="over the limit"):
        read_html(write(tmp_path, "big.html", fp.jsonld_page()), "big.html", 1000)
    with pytest.raises(IngestError, match="over the limit"):  # a gzip bomb is cut at the limit too
        read_html(write(tmp_path, "bomb.html.gz", gzip.compress(b"<p>" * 100_000)), "bomb.html.gz", 1000)
    with pytest.raises(IngestError):
        html_articles(tmp_path, "empty.html", "   ")
    with pytest.raises(IngestError, match="no article text"):
        html_articles(tmp_path, "nav.html", "<html><body><nav><a href='/'>Home</a></nav></body></html>")


# --- PDF -------------------------------------------------------------------------------------------------

def test_pdf_title_and_date_from_metadata(tmp_path):
    [article] = read_pdf(write(tmp_path, "a.pdf", fp.story_pdf("library")), "a.pdf", MB)
    title, date, _, paragraphs = fp.STORIES["library"]
    assert (article.title, article.published) == (title, dt.date.fromisoformat(date))
    assert paragraphs[0] in " ".join(article.text.split()) and paragraphs[-1] in article.text


def test_pdf_title_byline_and_date_from_first_lines(tmp_path):
    [article] = read_pdf(write(tmp_path, "b.pdf", fp.story_pdf("orchard", with_meta=False)), "b.pdf", MB)
    title, date, author, paragraphs = fp.STORIES["orchard"]
    assert (article.title, article.published, article.byline) == (title, dt.date.fromisoformat(date), author)
    assert article.text.startswith(paragraphs[0][:40])


@pytest.mark.parametrize("content,reason", [
    (fp.pdf_bytes(["A secret memo."], encrypt="hunter2"), "encrypted PDF"),
    (fp.pdf_bytes([], text=False, pages=2), "has no text layer"),
    (b"%PDF-1.4\n" + b"garbage " * 50, "not a readable PDF"),
])
def test_bad_pdfs(tmp_path, content, reason):
    with pytest.raises(IngestError, match=reason):
        read_pdf(write(tmp_path, "x.pdf", content), "x.pdf", MB)


def test_pdf_with_empty_password_opens_and_size_limit(tmp_path):
    [article] = read_pdf(write(tmp_path, "o.pdf", fp.pdf_bytes(["Open letter", "The text is readable."], encrypt="")),
                         "o.pdf", MB)
    assert article.title == "Open letter" and "readable" in article.text
    with pytest.raises(IngestError, match="over the limit"):  # checked before a byte is parsed
        read_pdf(write(tmp_path, "big.pdf", fp.story_pdf()), "big.pdf", 500)


# --- feeds -----------------------------------------------------------------------------------------------

def test_rss_entries_are_articles(tmp_path):
    articles = read_feed(write(tmp_path, "valley.rss", fp.rss_feed()), "valley.rss", MB)
    assert [(a.title, a.published, a.byline, a.url, a.site) for a in articles] == [
        (fp.STORIES[k][0], dt.date.fromisoformat(fp.STORIES[k][1]), fp.STORIES[k][2], f"https://valley.example/{k}",
         "Valley Times") for k in ("orchard", "library")]
    assert articles[0].text.split("\n\n") == fp.STORIES["orchard"][3]  # full content over the summary
    assert articles[1].text == fp.STORIES["library"][3][0]  # the summary when there is no content


def test_atom_entries_are_articles(tmp_path):
    articles = read_feed(write(tmp_path, "d.atom", fp.atom_feed()), "d.atom", MB)
    assert [(a.title, str(a.published), a.url) for a in articles] == [
        (fp.STORIES[k][0], fp.STORIES[k][1], f"https://dispatch.example/{k}") for k in ("observatory", "bakery")]
    assert articles[1].text.split("\n\n") == fp.STORIES["bakery"][3] and articles[0].site == "The Evening Dispatch"


@pytest.mark.parametrize("content,reason", [
    ('{"not": "xml"}', "not XML"),
    ('<?xml version="1.0"?><urlset><url><loc>https://a.example/</loc></url></urlset>', "not an RSS or Atom feed"),
    ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>', "no entries"),
])
def test_bad_feeds(tmp_path, content, reason):
    with pytest.raises(IngestError, match=reason):
        read_feed(write(tmp_path, "f.xml", content), "f.xml", MB)


def test_html_text_keeps_paragraphs():
    assert html_text("<p>One <b>two</b>.</p><p>Three<br>four</p><script>x()</script>") == "One two.\n\nThree four"


# --- WARC ------------------------------------------------------------------------------------------------

RECORDS = [("https://gazette.example/a", fp.jsonld_page(), "text/html; charset=utf-8"),
           ("https://x.example/logo.png", b"\x89PNG\r\n", "image/png"),
           ("https://x.example/cafe", fp.charset_page("windows-1252"), "text/html; charset=windows-1252"),
           ("https://valley.example/frost", fp.plain_page(), "text/html")]


@pytest.mark.parametrize("gz", [True, False])
def test_warc_html_records_are_articles(tmp_path, gz):
    name = "crawl.warc" + (".gz" if gz else "")
    stats = Counter()
    found = read_warc(write(tmp_path, name, fp.warc_bytes(RECORDS, gz=gz)), name, MB, stats)
    assert inspect.isgenerator(found)  # streamed, not read whole
    articles = list(found)
    assert [(a.title[:20], a.url) for a in articles] == [
        ("Riverside council ap", "https://gazette.example/news/copper-footbridge"),  # the page's canonical URL
        ("Café owners fight “n", "https://x.example/cafe"), (fp.STORIES["orchard"][0][:20], "https://valley.example/frost")]
    assert articles[2].published == dt.date(2022, 4, 27) and len({a.id for a in articles}) == 3
    assert stats["records"] == 5 and stats["articles"] == 3 and stats["not an HTML page"] == 1


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("broken", [0, 3])
def test_warc_broken_record_is_skipped_with_a_warning(tmp_path, caplog, gz, broken):
    name = "bad.warc" + (".gz" if gz else "")
    with caplog.at_level(logging.WARNING, logger="qa.ingest.warc"):
        articles = list(read_warc(write(tmp_path, name, fp.warc_bytes(RECORDS, gz=gz, broken=broken)), name, MB))
    assert len(articles) == 2  # the other two pages still read
    [warning] = [r.getMessage() for r in caplog.records if r.name == "qa.ingest.warc"]
    assert warning.startswith(f"{name}: record {broken + 2} (byte ") and "is broken" in warning


def test_not_a_warc(tmp_path):
    with pytest.raises(IngestError, match="not a WARC"):
        list(read_warc(write(tmp_path, "x.warc.gz", b"plain text"), "x.warc.gz", MB))


# --- Word ------------------------------------------------------------------------------------------------

def test_docx(tmp_path):
    title, date, author, paragraphs = fp.STORIES["bakery"]
    fp.write_docx(tmp_path / "b.docx", "bakery")
    [article] = read_docx(tmp_path / "b.docx", "b.docx", MB)
    assert (article.title, str(article.published), article.byline) == (title, date, author)
    assert article.text.split("\n\n") == paragraphs
    with pytest.raises(IngestError, match="not a Word document"):
        read_docx(write(tmp_path, "z.docx", b"PK not really"), "z.docx", MB)


def test_parse_html_from_bytes_with_http_charset():
    [article] = parse_html(fp.charset_page("cp1252").replace(b"windows-1252", b"x-unknown"), "r", charset="cp1252")
    assert "Hélène" in article.text


# --- dispatch and the per-format tally -------------------------------------------------------------------

@pytest.mark.parametrize("name,fmt", [("a.HTML", "html"), ("b.htm", "html"), ("c.html.gz", "html"), ("d.pdf", "pdf"),
                                      ("e.rss", "feed"), ("f.atom", "feed"), ("g.xml", "feed"), ("h.warc", "warc"),
                                      ("i.warc.gz", "warc"), ("j.docx", "docx"), ("k.gz", None), ("l.txt", None)])
def test_reader_by_file_ending(name, fmt):
    from qa.ingest.formats import reader_for

    found = reader_for(name)
    assert (found[0] if found else None) == fmt


def test_tally_lines():
    from qa.ingest.formats import summarise

    tally = summarise([("html", 2), ("html", "truncated gzip file (ends before its end marker)"), ("html", 1),
                       ("pdf", "file is 209715200 bytes, over the limit of 33554432"), ("pdf", 1)])
    assert tally.lines() == ["html: 3 files, 3 articles read; 1 skipped (truncated gzip file: 1)",
                             "pdf: 2 files, 1 article read; 1 skipped (over the size limit: 1)"]


def test_200_mb_pdf_is_skipped_before_reading(tmp_path):
    path = tmp_path / "huge.pdf"
    with path.open("wb") as f:  # sparse: no 200 MB written
        f.truncate(200 * MB)
    with pytest.raises(IngestError, match="209715200 bytes, over the limit of 33554432"):
        read_pdf(path, "huge.pdf", 32 * MB)
