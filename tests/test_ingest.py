"""qa.ingest on tiny inline corpora (plus the two seed articles)."""
import datetime as dt
import hashlib
import json
import logging
import os
from pathlib import Path

import pytest

from qa.ingest import (
    SUPPORTED,
    CorpusError,
    IngestError,
    fingerprint,
    list_files,
    load_corpus,
    parse_file,
    walk,
)

SEED = Path(__file__).resolve().parent.parent / "corpus"
BODY = "The ministry signed a new agreement on Monday.\n\nOfficials said the deal covers cyber security."
D = dt.date


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def parse(tmp_path: Path, name: str, content: str | bytes, max_bytes: int = 2**20):
    return parse_file(write(tmp_path, name, content), name, max_bytes)


def one(tmp_path: Path, name: str, content: str | bytes):
    articles = parse(tmp_path, name, content)
    assert len(articles) == 1
    return articles[0]


# ---- plain text layouts --------------------------------------------------------------------------
@pytest.mark.parametrize("header, date", [
    ("22:30 01/10/2020", D(2020, 10, 1)),
    ("01/10/2020 22:30", D(2020, 10, 1)),
    ("2023-10-20", D(2023, 10, 20)),
    ("October 20, 2023", D(2023, 10, 20)),
    ("Oct 20, 2023", D(2023, 10, 20)),
    ("20 October 2023", D(2023, 10, 20)),
    ("20 Oct 2023", D(2023, 10, 20)),
    ("date 2023-10-20", D(2023, 10, 20)),
    ("Date: October 20, 2023", D(2023, 10, 20)),
    ("Published: 20 Oct 2023", D(2023, 10, 20)),
    ("Updated: 01/10/2020", D(2020, 10, 1)),
])
@pytest.mark.parametrize("gap", ["\n", "\n\n"])  # date line glued to the body or set apart
def test_txt_title_then_date_line(tmp_path, header, date, gap):
    a = one(tmp_path, "a.txt", f"Ministry signs cyber deal\n\n{header}{gap}{BODY}\n")
    assert (a.title, a.published, a.byline, a.text) == ("Ministry signs cyber deal", date, None, BODY)
    assert a.source == "a.txt" and a.url is None


@pytest.mark.parametrize("prefix, byline, date", [
    ("By Thien Minh date 2023-10-20 ", "Thien Minh", D(2023, 10, 20)),
    (" date 2023-10-20 ", None, D(2023, 10, 20)),
    ("By Jane Doe Published: Oct 20, 2023 - ", "Jane Doe", D(2023, 10, 20)),
    ("20 October 2023 - ", None, D(2023, 10, 20)),
])
def test_txt_date_prefix_on_body_line(tmp_path, prefix, byline, date):
    a = one(tmp_path, "a.txt", prefix + BODY)
    assert (a.published, a.byline, a.text) == (date, byline, BODY)
    assert a.title == "The ministry signed a new agreement on Monday"  # derived from the first sentence


@pytest.mark.parametrize("content, byline", [
    ("Deal signed\n\nBy Jane Doe\n\n" + BODY, "Jane Doe"),
    ("Deal signed\nBy Jane Doe\n2023-10-20\n" + BODY, "Jane Doe"),
    ("Deal signed\n\nBy Jane Doe, Reuters\n\n" + BODY, "Jane Doe"),
    ("Deal signed\n\n" + BODY + "\n\nBy Thien Minh", "Thien Minh"),  # trailing byline
    ("Deal signed\n\n" + BODY + "\n\nBY Nguyen Van An/VNA\n", "Nguyen Van An"),
    ("Deal signed\n\n" + BODY, None),
])
def test_txt_bylines_are_not_body(tmp_path, content, byline):
    a = one(tmp_path, "a.txt", content)
    assert (a.title, a.byline, a.text) == ("Deal signed", byline, BODY)


def test_txt_without_date_or_title(tmp_path):
    a = one(tmp_path, "a.txt", BODY)
    assert a.published is None and a.byline is None and a.text == BODY
    assert a.title == "The ministry signed a new agreement on Monday"


def test_txt_long_first_sentence_gives_truncated_title(tmp_path):
    sentence = "A delegation led by the deputy minister attended the regional conference " * 3
    a = one(tmp_path, "a.txt", sentence.strip() + ". Second sentence.")
    assert a.title.endswith("…") and len(a.title) <= 80 and not a.title[:-1].endswith(" ")
    assert sentence.startswith(a.title[:-1])


@pytest.mark.parametrize("content, title", [
    ("Short headline?\n\n" + BODY, "Short headline?"),
    ("Only one line without a period", "Only one line without a period"),  # the body, titled by itself
    ("The talks went well.\n\n" + BODY, "The talks went well"),  # a sentence is body, not title
])
def test_txt_title_rules(tmp_path, content, title):
    a = one(tmp_path, "a.txt", content)
    assert a.title == title and a.text
    assert a.id == hashlib.sha1(b"a.txt#0").hexdigest()[:16]


def test_date_glued_to_prose_is_body(tmp_path):
    a = one(tmp_path, "a.txt", "Deal signed\n\nSunday 5 May 2024 is the day the deal takes effect.")
    assert a.published is None and a.text == "Sunday 5 May 2024 is the day the deal takes effect."


# ---- captions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("caption", [
    "Photo: VNA",
    "(Photo: VNA)",
    "Photo courtesy of the ministry",
    "Photo by Jane Doe",
    "Illustration photo",
    "File photo",
    "Delegates pose for a group photo (Photo: VNA)",
    "Delegates at the meeting - Photo: baochinhphu.vn",
    "Minister To Lam speaks at the conference.",
    "President Nguyen Xuan Phuc (R) shakes hands with his guest.",
    "Deputy Minister Luong Tam Quang receives the delegation in Hanoi.",
])
def test_caption_lines_are_removed(tmp_path, caption):
    a = one(tmp_path, "a.txt", f"Deal signed\n\n{BODY}\n\n{caption}\n\nThe next meeting is in May.")
    assert a.text == BODY + "\n\nThe next meeting is in May."


@pytest.mark.parametrize("sentence", [
    "The minister speaks at the conference.",  # not a named person
    "He speaks at the conference.",
    "Vietnam signs the agreement.",  # a single capitalised word is not a name caption
    "Minister To Lam speaks at the conference. He thanked the hosts.",  # two sentences
    "Minister To Lam speaks at the conference, stressing that cooperation between the two countries "
    "has grown steadily over the past decade.",  # too long for a caption
    "Photographers crowded the hall.",
    "The agency said the photo was taken in 2019.",
])
def test_normal_short_paragraphs_are_kept(tmp_path, sentence):
    a = one(tmp_path, "a.txt", f"Deal signed\n\n{BODY}\n\n{sentence}")
    assert a.text == f"{BODY}\n\n{sentence}"


def test_person_caption_inside_a_paragraph_is_prose(tmp_path):
    text = "Officials met on Monday.\nMinister To Lam speaks at the conference."
    assert one(tmp_path, "a.txt", f"Deal signed\n\n{text}").text == text


# ---- Markdown ------------------------------------------------------------------------------------
def test_markdown_front_matter(tmp_path):
    md = ("---\ntitle: Cyber week opens\ndate: 2023-10-20\nlink: https://example.org/a\nauthor: Jane Doe\n---\n"
          "# Ignored heading\n\n" + BODY + "\n\n## Next steps\n\nMore talks are *planned*.\n")
    a = one(tmp_path, "a.md", md)
    assert (a.title, a.published, a.byline, a.url) == ("Cyber week opens", D(2023, 10, 20), "Jane Doe",
                                                       "https://example.org/a")
    assert a.text == "Ignored heading\n\n" + BODY + "\n\nNext steps\n\nMore talks are *planned*."


@pytest.mark.parametrize("name, front", [
    ("a.md", "---\ndate: 'Oct 20, 2023'\nbyline: By Jane Doe\n---\n"),
    ("a.markdown", "---\npublished: 2023-10-20T08:00:00Z\nauthor: [Jane Doe]\n---\n"),
])
def test_markdown_heading_is_title_without_front_matter_title(tmp_path, name, front):
    a = one(tmp_path, name, front + "\n# Cyber week opens\n\n" + BODY)
    assert (a.title, a.published, a.byline, a.text) == ("Cyber week opens", D(2023, 10, 20), "Jane Doe", BODY)


def test_markdown_without_front_matter(tmp_path):
    a = one(tmp_path, "a.md", "# Cyber week opens\n\n![map](map.png)\n\n" + BODY)
    assert (a.title, a.published, a.text) == ("Cyber week opens", None, BODY)


def test_markdown_bad_front_matter(tmp_path):
    with pytest.raises(IngestError, match="a.md: bad YAML front matter"):
        parse(tmp_path, "a.md", "---\ntitle: [unclosed\n---\n" + BODY)


# ---- JSON / JSONL --------------------------------------------------------------------------------
def test_json_list(tmp_path):
    records = [{"title": "One", "date": "2023-10-20", "text": BODY, "url": "https://x/1"},
               {"title": "Two", "published": "01/10/2020", "body": "Second body."}]
    a, b = parse(tmp_path, "a.json", json.dumps(records))
    assert (a.title, a.published, a.text, a.url) == ("One", D(2023, 10, 20), BODY, "https://x/1")
    assert (b.title, b.published, b.text, b.url) == ("Two", D(2020, 10, 1), "Second body.", None)
    assert a.id != b.id


@pytest.mark.parametrize("record, date", [
    ({"content": BODY, "pubDate": "Fri, 20 Oct 2023 08:00:00 GMT"}, D(2023, 10, 20)),
    ({"body": BODY, "published_at": "2023-10-20T08:00:00Z"}, D(2023, 10, 20)),
    ({"text": BODY, "date": "sometime"}, None),  # unparseable date: unknown, not an error
])
def test_json_object_and_aliases(tmp_path, record, date):
    a = one(tmp_path, "a.json", json.dumps({**record, "link": "https://x/a", "author": "Jane Doe"}))
    assert (a.published, a.text, a.url, a.byline) == (date, BODY, "https://x/a", "Jane Doe")
    assert a.title == "The ministry signed a new agreement on Monday"


def test_jsonl_bad_line_is_skipped(tmp_path, caplog):
    lines = [json.dumps({"title": "One", "text": "First body."}), "{not json", json.dumps({"title": "No text"}),
             "", json.dumps({"title": "Two", "text": "Second body."})]
    with caplog.at_level(logging.WARNING, logger="qa.ingest"):
        articles = parse(tmp_path, "feed.jsonl", "\n".join(lines) + "\n")
    assert [a.title for a in articles] == ["One", "Two"]
    assert "feed.jsonl line 2" in caplog.text and "feed.jsonl line 3" in caplog.text
    assert "line 4" not in caplog.text  # blank lines are not errors


@pytest.mark.parametrize("name, content, reason", [
    ("a.txt", "", "empty file"),
    ("a.md", "  \n\n", "empty file"),
    ("a.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("a.jsonl", b"\x00\x01\x02{}", "binary"),
    ("a.json", "{not json", "invalid JSON"),
    ("a.json", "[]", "no records"),
    ("a.json", json.dumps([{"text": "ok"}, {"title": "no text"}]), "record 1: record has no text"),
    ("a.json", json.dumps([1, 2]), "record 0: record is a int"),
    ("a.jsonl", "{bad\n[1]\n", "no valid records"),
    ("a.txt", "Photo: VNA\n\nBy Jane Doe\n", "no body text"),
])
def test_unparseable_files(tmp_path, name, content, reason):
    with pytest.raises(IngestError, match=reason) as err:
        parse(tmp_path, name, content)
    assert str(err.value).startswith(f"{name}: ")


def test_too_large_file(tmp_path):
    with pytest.raises(IngestError, match="over the limit of 100"):
        parse(tmp_path, "big.txt", "word " * 100, max_bytes=100)
    # JSONL is streamed, so the limit applies to each record, not to the file
    records = [json.dumps({"text": f"word {i} " * 5}) for i in range(4)]
    assert len(parse(tmp_path, "big.jsonl", "\n".join(records), max_bytes=100)) == 4
    with pytest.raises(IngestError, match="no valid records"):
        parse(tmp_path, "big.jsonl", json.dumps({"text": "word " * 100}), max_bytes=100)


def test_broken_symlink(tmp_path):
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "missing.txt")
    with pytest.raises(IngestError, match="gone.txt: broken symlink"):
        parse_file(link, "gone.txt", 2**20)


def test_cp1252_file(tmp_path, caplog):
    raw = "Café talks\n\nThe minister said “yes” – twice.".encode("cp1252")
    with caplog.at_level(logging.WARNING, logger="qa.ingest"):
        a = one(tmp_path, "old.txt", raw)
    assert (a.title, a.text) == ("Café talks", "The minister said “yes” – twice.")
    assert "old.txt" in caplog.text and "cp1252" in caplog.text


def test_utf8_bom_and_crlf(tmp_path):
    a = one(tmp_path, "a.txt", "\ufeffDeal signed\r\n\r\n2023-10-20\r\n" + BODY.replace("\n", "\r\n"))
    assert (a.title, a.published, a.text) == ("Deal signed", D(2023, 10, 20), BODY)


# ---- folders -------------------------------------------------------------------------------------
def test_list_files(tmp_path):
    for name in ["b.txt", "a.md", "sub/c.jsonl", "sub/d.JSON", "e.markdown", ".hidden.txt", ".git/x.txt",
                 "notes.csv", "sub/.cache/y.md"]:
        write(tmp_path, name, "x")
    found = [p.relative_to(tmp_path).as_posix() for p in list_files(tmp_path)]
    assert found == ["a.md", "b.txt", "e.markdown", "sub/c.jsonl", "sub/d.JSON"]
    assert SUPPORTED == (".txt", ".md", ".markdown", ".json", ".jsonl")


def test_walk_order_skips_and_fingerprint(tmp_path):
    root = tmp_path / "c"
    for rel in ["b.txt", "a.md", "A.TXT", "sub/z.json", "sub/deeper/y.jsonl", "sub-x.txt", "sub/a.txt",
                ".hidden.txt", ".git/x.txt", "notes.odt", "x.gz", "x.markdown", "sub/.h/q.txt"]:
        write(root, rel, "x")
    (root / "broken.txt").symlink_to(root / "missing.txt")
    names = [n for n, _ in walk(root)]
    assert names == ["A.TXT", "a.md", "b.txt", "broken.txt", "sub/a.txt", "sub/deeper/y.jsonl", "sub/z.json",
                     "sub-x.txt", "x.markdown"]  # sorted as paths: a folder's files before "sub-x.txt"
    assert [Path(p) for _, p in walk(root)] == sorted(root / n for n in names) == list_files(root)
    assert "broken.txt" not in fingerprint(root) and sorted(fingerprint(root)) == sorted(set(names) - {"broken.txt"})
    st = (root / "b.txt").stat()
    assert fingerprint(root)["b.txt"] == [1, st.st_mtime_ns, st.st_ctime_ns]


def test_walk_names_a_missing_folder(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        walk(tmp_path / "nope")


def test_load_corpus_skips_bad_files_and_duplicates(tmp_path, caplog):
    write(tmp_path, "a.txt", "First\n\n" + BODY)
    write(tmp_path, "b/copy.md", "# Other title\n\n" + BODY.replace("\n\n", "\n\n\n"))  # same text
    write(tmp_path, "c.txt", "")
    write(tmp_path, "d.json", json.dumps([{"text": "Record zero."}, {"text": "Record one."}]))
    (tmp_path / "e.txt").symlink_to(tmp_path / "nowhere.txt")
    with caplog.at_level(logging.WARNING, logger="qa.ingest"):
        articles = load_corpus(tmp_path)
    assert [(a.source, a.text) for a in articles] == [
        ("a.txt", BODY), ("d.json", "Record zero."), ("d.json", "Record one.")]
    assert "skipping c.txt: empty file" in caplog.text
    assert "skipping e.txt: broken symlink" in caplog.text
    assert "b/copy.md" in caplog.text and "same text as a.txt" in caplog.text
    assert [a.id for a in load_corpus(tmp_path)] == [a.id for a in articles]  # stable ids
    assert len({a.id for a in articles}) == 3


def test_empty_folder(tmp_path):
    write(tmp_path, "notes.csv", "a,b")
    with pytest.raises(CorpusError, match=r"no articles found in .* \(supported: .txt .md .json .jsonl .html"):
        load_corpus(tmp_path)


def test_folder_with_only_bad_files(tmp_path):
    write(tmp_path, "a.txt", "")
    with pytest.raises(CorpusError, match="no articles found"):
        load_corpus(tmp_path)


@pytest.mark.parametrize("make, reason", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: write(p, "file.txt", "x"), "is not a folder"),
])
def test_bad_corpus_path(tmp_path, make, reason):
    with pytest.raises(CorpusError, match=reason):
        load_corpus(make(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any folder")
def test_unreadable_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0)
    try:
        with pytest.raises(CorpusError, match="cannot read corpus folder"):
            load_corpus(folder)
    finally:
        folder.chmod(0o755)


# ---- the seed corpus -----------------------------------------------------------------------------
def test_seed_corpus():
    by_source = {a.source: a for a in load_corpus(SEED)}
    first, second = by_source["000_82534ed971b450c4.txt"], by_source["004_41d1fe96b242cae0.txt"]
    assert first.title == "Vietnam, Singapore strengthen cyber security cooperation"
    assert first.published == D(2020, 10, 1)
    assert first.byline == "Thien Minh"  # the seed's byline closes the article
    assert first.text.startswith("PSNews - General To Lam")
    assert "Minister To Lam speaks at the conference." not in first.text
    assert "Speaking at the conference, Minister To Lam emphasized" in first.text
    assert "Thien Minh" not in first.text and "01/10/2020" not in first.text
    assert second.published == D(2023, 10, 20)
    assert second.text.startswith("A Vietnamese delegation led by")
    assert "2023-10-20" not in second.text
    assert second.title.startswith("A Vietnamese delegation") and len(second.title) <= 80
