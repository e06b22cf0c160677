"""A folder with one file of every format, indexed and asked through `python -m qa` (hash encoder): each format's
story answers with its title, date and url; the index summary counts per format; bad files are named and skipped;
near-duplicate copies of one story show as one card."""
import gzip
import json
import re

import pytest

import format_pages as fp
from qa.cli import main

# file name -> (story key, question, words of the answer's passage, expected url)
FILES = {
    "a.html": ("footbridge", "How much will the copper footbridge across the Wendle river cost?", "4.2 million",
               "https://gazette.example/news/copper-footbridge"),
    "b.html.gz": ("ferry", "How many passengers does the Sunstrider solar ferry carry?", "eighty",
                  "https://coastal.example/2023/11/solar-ferry"),
    "c.pdf": ("museum", "How much did the Grennock lighthouse museum pay for the logbooks?", "18,500", None),
    "d.rss": ("orchard", "How cold did it get during the frost in the Sorrel valley apricot orchards?", "minus four",
              "https://valley.example/orchard"),
    "e.atom": ("observatory", "How big is the telescope of the Kessington school observatory?", "thirty-centimetre",
               "https://dispatch.example/observatory"),
    "f.warc.gz": ("tram", "How much did the restoration of the Montevara funicular tram cost?", "9 million euros",
                  "https://montevara.example/news/tram"),
    "g.docx": ("choir", "How many points did the Halvik prison choir get from the judges?", "94 points", None),
    "h.txt": ("glacier", "How far has the tongue of the Breivatn ice field retreated?", "1.3 kilometres", None),
    "i.md": ("chess", "Who won the Porto Alegre city chess championship?", "Lucas Ferreira",
             "https://chess.example/porto-alegre"),
    "j.jsonl": ("beekeepers", "How much honey did the Lindenhof rooftop beekeepers harvest?", "46 kilograms",
                "https://lindenhof.example/honey"),
}


def write_every_format(folder):
    """One file per format, each holding its story (feeds two stories each)."""
    folder.mkdir()
    (folder / "a.html").write_text(fp.jsonld_page("footbridge"))
    (folder / "b.html.gz").write_bytes(gzip.compress(fp.opengraph_page("ferry").encode()))
    (folder / "c.pdf").write_bytes(fp.story_pdf("museum"))
    (folder / "d.rss").write_text(fp.rss_feed())
    (folder / "e.atom").write_text(fp.atom_feed())
    page = fp.jsonld_page("tram", site="Montevara Post", url="https://montevara.example/news/tram")
    (folder / "f.warc.gz").write_bytes(fp.warc_bytes([("https://montevara.example/news/tram?ref=home", page,
                                                        "text/html; charset=utf-8")]))
    fp.write_docx(folder / "g.docx", "choir")
    title, date, _, paragraphs = fp.STORIES["glacier"]
    (folder / "h.txt").write_text(f"{title}\n{date}\n\n" + "\n\n".join(paragraphs) + "\n")
    title, date, author, paragraphs = fp.STORIES["chess"]
    (folder / "i.md").write_text(f"---\ntitle: {title}\ndate: {date}\nauthor: {author}\n"
                                 f"url: https://chess.example/porto-alegre\n---\n\n" + "\n\n".join(paragraphs))
    title, date, author, paragraphs = fp.STORIES["beekeepers"]
    (folder / "j.jsonl").write_text(json.dumps({"title": title, "date": date, "author": author,
                                                "url": "https://lindenhof.example/honey", "site": "Lindenhof Post",
                                                "text": "\n\n".join(paragraphs)}) + "\n")


def ask(capsys, corpus, index, question, k=3):
    assert main(["ask", question, "--json", "--k", str(k), "--corpus", str(corpus), "--index", str(index),
                 "--model", "hash"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def folder(tmp_path):
    write_every_format(tmp_path / "corpus")
    return tmp_path / "corpus"


def test_every_format_answers_with_its_title_date_and_url(folder, tmp_path, capsys):
    assert main(["index", "--corpus", str(folder), "--index", str(tmp_path / "idx"), "--model", "hash"]) == 0
    summary = capsys.readouterr().out
    for line in ("html: 2 files, 2 articles read", "pdf: 1 file, 1 article read", "feed: 2 files, 4 articles read",
                 "warc: 1 file, 1 article read", "docx: 1 file, 1 article read", "txt: 1 file, 1 article read",
                 "md: 1 file, 1 article read", "jsonl: 1 file, 1 article read"):
        assert line in summary, summary
    for name, (key, question, words, url) in FILES.items():
        title, date, _, _ = fp.STORIES[key]
        top = ask(capsys, folder, tmp_path / "idx", question)["passages"][0]
        assert (top["source"], top["title"], top["date"], top["url"]) == (name, title, date, url), question
        assert words in top["text"], question
        assert top["article_id"] and top["also"] == []


def test_bad_files_are_named_and_skipped_the_rest_indexed(folder, tmp_path, capsys, caplog):
    good = fp.warc_bytes([("https://x.example/a", fp.jsonld_page("library", url="https://x.example/a"), "text/html"),
                          ("https://x.example/b", fp.jsonld_page("bakery", url="https://x.example/b"), "text/html")],
                         broken=0)
    (folder / "broken.warc.gz").write_bytes(good)
    (folder / "cut.html.gz").write_bytes(gzip.compress(fp.jsonld_page("orchard").encode())[:-40])
    (folder / "locked.pdf").write_bytes(fp.pdf_bytes(["Secret minutes of the harbour board"], encrypt="pw"))
    with open(folder / "huge.pdf", "wb") as f:  # 200 MB, sparse: skipped by its size before it is read
        f.write(fp.story_pdf("library"))
        f.truncate(200 * 2**20)
    (folder / "notxml.rss").write_text("this is not a feed <rss")
    assert main(["index", "--corpus", str(folder), "--index", str(tmp_path / "idx"), "--model", "hash"]) == 0
    out, log = capsys.readouterr().out, caplog.text
    assert re.search(r"broken.warc.gz: record 2 \(byte \d+\) is broken", log)  # record 1 is the warcinfo
    assert "cut.html.gz: truncated gzip file" in log
    assert "locked.pdf: encrypted PDF" in log and "huge.pdf: file is 209715200 bytes, over the limit" in log
    assert "notxml.rss: not XML" in log or "notxml.rss: not an RSS or Atom feed" in log
    assert "warc: 2 files, 2 articles read" in out and "broken records: 1" in out, out
    assert "pdf: 3 files, 1 article read; 2 skipped (encrypted PDF: 1, over the size limit: 1)" in out, out
    assert "html: 3 files, 2 articles read; 1 skipped (truncated gzip file: 1)" in out, out
    assert "feed: 3 files, 3 articles read; 1 skipped (not XML: 1) [duplicate articles skipped: 1]" in out, out
    top = ask(capsys, folder, tmp_path / "idx", "When did the Millbrook bakery cooperative reopen?")["passages"][0]
    assert (top["source"], top["url"]) == ("broken.warc.gz", "https://x.example/b")


def test_copies_of_one_story_show_as_one_card_newest_first(tmp_path, capsys):
    folder = tmp_path / "corpus"
    folder.mkdir()
    title, _, author, paragraphs = fp.STORIES["glacier"]
    copies = [("gazette", "2024-02-19", paragraphs), ("herald", "2024-02-21", paragraphs[:3] + [
        "The geologists will repeat the survey every five years, the university said in a statement."]),
              ("courier", "2024-02-20", paragraphs[:3])]
    lines = [json.dumps({"title": title, "date": date, "site": site.title(), "url": f"https://{site}.example/ice",
                         "text": "\n\n".join(text)}) for site, date, text in copies]
    other = fp.STORIES["chess"]
    lines.append(json.dumps({"title": other[0], "date": other[1], "text": "\n\n".join(other[3])}))
    (folder / "wire.jsonl").write_text("\n".join(lines) + "\n")
    rerun = paragraphs + ["This article was first published in February 2024."]  # the same text a year later
    (folder / "later.txt").write_text(f"{title}\n2025-06-01\n\n" + "\n\n".join(rerun) + "\n")
    assert main(["index", "--corpus", str(folder), "--index", str(tmp_path / "idx"), "--model", "hash"]) == 0
    capsys.readouterr()
    question = "How far has the tongue of the Breivatn ice field retreated?"
    hits = ask(capsys, folder, tmp_path / "idx", question, k=5)["passages"]
    glacier = [h for h in hits if h["title"] == title]
    # The three copies of February are one card, the newest answering; the re-run a year later is its own.
    dated = sorted((h["date"], h["url"]) for h in glacier)
    assert dated == [("2024-02-21", "https://herald.example/ice"), ("2025-06-01", None)], hits
    card = next(h for h in glacier if h["date"] == "2024-02-21")
    assert card["also"] == ["Courier, 2024-02-20, https://courier.example/ice",
                            "Gazette, 2024-02-19, https://gazette.example/ice"]
    # A question dated to the first day gets that day's version.
    hits = ask(capsys, folder, tmp_path / "idx", "On 19 February 2024, how far had the Breivatn ice field's "
                                                 "tongue retreated?", k=5)["passages"]
    assert [(h["date"], h["url"]) for h in hits if h["title"] == title][:1] == [
        ("2024-02-19", "https://gazette.example/ice")], hits


def test_a_refresh_signs_only_new_articles_and_regroups(tmp_path, capsys, caplog):
    folder = tmp_path / "corpus"
    folder.mkdir()
    title, date, _, paragraphs = fp.STORIES["tram"]
    (folder / "a.txt").write_text(f"{title}\n{date}\n\n" + "\n\n".join(paragraphs) + "\n")
    other = fp.STORIES["choir"]
    (folder / "b.txt").write_text(f"{other[0]}\n{other[1]}\n\n" + "\n\n".join(other[3]) + "\n")
    args = ["--corpus", str(folder), "--index", str(tmp_path / "idx"), "--model", "hash"]
    assert main(["index", *args]) == 0
    (folder / "c.txt").write_text(f"{title}\n2023-05-03\n\n" + "\n\n".join(paragraphs[:3]) + "\n")
    caplog.clear()
    assert main(["index", *args]) == 0
    assert "3 articles: 1 near-duplicate stories holding 2 of them (1 hashed, 2 carried over)" in caplog.text
    assert "txt: 3 files, 3 articles read [unchanged files carried over: 2]" in capsys.readouterr().out
    hits = ask(capsys, folder, tmp_path / "idx", "How much did the Montevara funicular tram restoration cost?")
    tram = [h for h in hits["passages"] if h["title"] == title]
    assert [(h["source"], h["also"]) for h in tram] == [("c.txt", ["a.txt, 2023-05-02"])]
