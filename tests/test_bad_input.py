"""Bad input through all three doors: QA.ask(), the CLI's main([...]) and the chat callback app.respond.

Every case states its exact outcome: an answer (checked by the article it comes from), or one line
naming the problem. Never a traceback, and never a half-built index. All with the hash encoder.
"""
from __future__ import annotations

import html
import importlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from qa import QA, QuestionError, load_settings  # noqa: E402
from qa import index as index_mod  # noqa: E402
from qa import pipeline  # noqa: E402
from qa.cli import main  # noqa: E402
from qa.ingest import CorpusError  # noqa: E402
from qa.render import ABSTAIN_TEXT, escape, reply_sources  # noqa: E402

from conftest import ARTICLES, write_article  # noqa: E402

FLOODS = "How many people died in the Ha Giang floods?"
LIMIT = load_settings().max_file_mb * 2**20  # 32 MiB
_ERROR = re.compile(r'<div><p style="color:#c0392b"><strong>Error:</strong> (.*)</p></div>')  # render_error


@dataclass
class Outcome:
    """What one door did with one question: the passages' files (best first), or the error line."""

    error: str | None = None
    sources: tuple[str, ...] = ()
    abstained: bool | None = None
    question: str | None = None
    reply: str = ""


class Doors:
    """The three ways in, each over the same corpus and its own index folder."""

    def __init__(self, corpus: Path, tmp: Path, capsys, monkeypatch):
        self.corpus, self.tmp, self.capsys, self.monkeypatch = corpus, tmp, capsys, monkeypatch
        self.app = importlib.import_module("app")
        monkeypatch.setattr(self.app, "ask", pipeline.ask)  # the real ask, whatever other tests left behind

    def index_dir(self, door: str) -> Path:
        return self.tmp / f"idx-{door}"

    def qa(self, question, k=None) -> Outcome:
        qa = QA(load_settings(corpus_dir=self.corpus, index_dir=self.index_dir("qa"), model="hash"))
        try:
            answer = qa.ask(question, k=k)
        except (QuestionError, CorpusError, OSError) as exc:
            assert "\n" not in str(exc)
            return Outcome(error=str(exc))
        return Outcome(sources=tuple(h.source for h in answer.passages), abstained=answer.abstained,
                       question=answer.question)

    def cli(self, question, k=None, text: bool = False) -> Outcome:
        argv = ["ask", question, "--corpus", str(self.corpus), "--index", str(self.index_dir("cli")),
                "--model", "hash", *([f"--k={k}"] if k is not None else []), *([] if text else ["--json"])]
        self.capsys.readouterr()
        code = main(argv)
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        if code:
            assert code == 1 and out == ""
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), err
            return Outcome(error=lines[0][len("error: "):])
        assert err == ""
        if text:
            return Outcome(reply=out, sources=tuple(re.findall(r"^\[\d+\] .*? \| .*? \| (.+?) \| score", out, re.M)))
        data = json.loads(out)
        return Outcome(sources=tuple(p["source"] for p in data["passages"]), abstained=data["abstained"],
                       question=data["question"])

    def chat(self, question, k=5) -> Outcome:
        self.monkeypatch.setenv("QA_CORPUS_DIR", str(self.corpus))
        self.monkeypatch.setenv("QA_INDEX_DIR", str(self.index_dir("chat")))
        self.monkeypatch.setenv("QA_MODEL", "hash")
        self.monkeypatch.setattr(pipeline, "_default", None)
        reply = self.app.respond(question, [], k)  # bad input is a reply too: the page never locks
        assert isinstance(reply, str) and reply.startswith("<div>") and "Traceback" not in reply
        assert "\n" not in reply
        if m := _ERROR.fullmatch(reply):
            return Outcome(error=html.unescape(m.group(1)))
        return Outcome(sources=tuple(s["source"] for s in reply_sources(reply)), reply=reply,
                       abstained=escape(ABSTAIN_TEXT) in reply)

    def all(self, question, k=None) -> dict[str, Outcome]:
        return {"qa": self.qa(question, k), "cli": self.cli(question, k),
                "chat": self.chat(question, 5 if k is None else k)}

    def no_index(self, door: str) -> bool:
        """True when nothing of an index (live, finished or half-written) exists for `door`."""
        folder = self.index_dir(door)
        return not folder.exists() or not any(p.name == "CURRENT" or p.name.startswith(("gen-", ".tmp-"))
                                              for p in folder.iterdir())


@pytest.fixture
def doors(corpus, tmp_path, capsys, monkeypatch) -> Doors:
    return Doors(corpus, tmp_path, capsys, monkeypatch)


def sane(index_dir: Path) -> index_mod.Index:
    """The live index, fully checksummed, with every part agreeing on its size."""
    index = index_mod.load(index_dir, verify_checksums=True)
    assert not list(index_dir.glob(".tmp-*"))
    return index


# ---- questions -----------------------------------------------------------------------------------
@pytest.mark.parametrize("question, chat_error", [
    ("", "Please type a question."),
    ("   ", "Please type a question."),
    ("\n\t \r\n", "Please type a question."),
    ("\u3000\u00a0\u2003", "Please type a question."),  # ideographic, no-break and em spaces
    ("\x00\x1b\x7f\x85", "Please type a question."),  # control characters only
    ("\u200b\ufeff\u2060", "Please type a question."),  # zero-width characters only
])
def test_empty_question_is_refused_before_touching_the_index(doors, question, chat_error):
    got = doors.all(question)
    assert got["qa"].error == got["cli"].error == "question is empty"
    assert got["chat"].error == chat_error
    assert all(doors.no_index(door) for door in ("qa", "cli", "chat"))


def test_one_megabyte_question_is_refused_quickly(doors):
    question = "why " * 2**18  # 1 MiB
    t0 = time.perf_counter()
    got = doors.all(question)
    assert time.perf_counter() - t0 < 10
    expected = f"question is too long ({2**20 - 1} characters; the limit is 2000)"
    assert {door: o.error for door, o in got.items()} == {"qa": expected, "cli": expected, "chat": expected}
    assert doors.no_index("qa")


@pytest.mark.parametrize("question, cleaned", [
    ("How many people\x00 died in the\x07 Ha Giang floods?\x1b[0m",
     "How many people died in the Ha Giang floods? [0m"),
    ("\ufeffHow many\u200bpeople died in the Ha Giang floods?\r\n", "How many people died in the Ha Giang floods?"),
    ("🌊🌊 How many people died in the Ha Giang floods? 😢👍🏽", "🌊🌊 How many people died in the Ha Giang floods? 😢👍🏽"),
    ("\u202bكم عدد الذين ماتوا في فيضانات Ha Giang؟\u202c", "\u202bكم عدد الذين ماتوا في فيضانات Ha Giang؟\u202c"),
    ("כמה אנשים מתו בשיטפונות ב-Ha Giang?", "כמה אנשים מתו בשיטפונות ב-Ha Giang?"),
    ("Có bao nhiêu người chết trong trận lũ ở Ha Giang?", "Có bao nhiêu người chết trong trận lũ ở Ha Giang?"),
    ("河江省 Ha Giang 的洪水造成多少人死亡？", "河江省 Ha Giang 的洪水造成多少人死亡？"),
    ("Сколько человек погибло от наводнения в Ha Giang?", "Сколько человек погибло от наводнения в Ha Giang?"),
], ids=["control", "zero-width", "emoji", "arabic-rtl", "hebrew", "vietnamese", "chinese", "russian"])
def test_unusual_text_is_answered(doors, question, cleaned):
    got = doors.all(question)
    for door, outcome in got.items():
        assert outcome.error is None, (door, outcome.error)
        assert outcome.sources[0] == "floods.txt", door
    assert got["qa"].question == got["cli"].question == cleaned


@pytest.mark.parametrize("question", ["谁辞职了？", "מי התפטר?", "Кто ушёл в отставку?", "ما هو؟", "?!…", "🙂"])
def test_text_without_shared_words_still_gets_a_well_formed_answer(doors, question):
    got = doors.all(question)
    assert all(o.error is None and o.sources for o in got.values()), got
    # the three doors are one pipeline: the same passages and the same decision to abstain
    assert got["qa"].sources == got["cli"].sources == got["chat"].sources[:len(got["qa"].sources)]
    assert got["qa"].abstained == got["cli"].abstained == got["chat"].abstained


# ---- k -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k, n", [(0, 1), (-1, 1), (-10**12, 1), (1, 1), (3, 3), (10**9, None), (10**40, None)])
def test_k_is_clamped(doors, k, n):
    got = doors.all(FLOODS, k)
    total = len(index_mod.load(doors.index_dir("qa")))
    for door, outcome in got.items():
        assert outcome.error is None and outcome.sources[0] == "floods.txt", door
        assert len(outcome.sources) == (n or min(total, 50)), door


@pytest.mark.parametrize("k", ["x", "", "3 passages", "nan", "inf", "-inf", "1e400", "0x10"])
def test_k_not_a_number_is_named(doors, k):
    expected = f"k must be a whole number, not {k!r}"
    assert doors.qa(FLOODS, k).error == expected
    assert doors.cli(FLOODS, k).error == expected
    assert doors.chat(FLOODS, k).error == f"Passages must be a whole number, got {k!r}."
    assert doors.no_index("qa") and doors.no_index("cli") and doors.no_index("chat")


@pytest.mark.parametrize("k", [float("nan"), float("inf"), float("-inf"), [3], None])
def test_chat_k_of_the_wrong_type(doors, k):
    got = doors.chat(FLOODS, k)
    if k is None:  # the slider left empty: the default number of passages
        assert got.error is None and len(got.sources) == min(5, len(sane(doors.index_dir("chat"))))
    else:
        assert got.error == f"Passages must be a whole number, got {k!r}."


# ---- corpus files --------------------------------------------------------------------------------
def _fifty_megabytes() -> str:
    paragraph = "The river rose over the fields and the villagers moved their buffaloes uphill. " * 12 + "\n\n"
    return paragraph * (50 * 2**20 // len(paragraph) + 1)


def _empty(corpus):
    (corpus / "empty.txt").write_bytes(b"")
    return "empty.txt", ["skipping empty.txt: empty file"]


def _blank(corpus):
    (corpus / "blank.md").write_text(" \n\n\t\n")
    return "blank.md", ["skipping blank.md: empty file"]


def _binary(corpus):
    (corpus / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 64)
    return "photo.txt", ["skipping photo.txt: binary content (NUL bytes)"]


def _binary_jsonl(corpus):
    (corpus / "dump.jsonl").write_bytes(bytes(range(256)) * 64)
    return "dump.jsonl", ["skipping dump.jsonl: binary content (NUL bytes)"]


def _huge_txt(corpus):
    path = corpus / "huge.txt"
    path.write_text("The flood archive\n\n2020-10-02\n\n" + _fifty_megabytes())
    size = path.stat().st_size
    assert size > 50 * 2**20
    return "huge.txt", [f"skipping huge.txt: file is {size} bytes, over the limit of {LIMIT}"]


def _huge_jsonl(corpus):
    path = corpus / "huge.jsonl"
    path.write_text(json.dumps({"title": "The flood archive", "date": "2020-10-02", "text": _fifty_megabytes()}) + "\n")
    size = path.stat().st_size
    assert size > 50 * 2**20
    return "huge.jsonl", [f"huge.jsonl line 1: skipping bad record: record is {size} bytes, over the limit of {LIMIT}",
                          "skipping huge.jsonl: no valid records"]


def _broken_symlink(corpus):
    (corpus / "moved.txt").symlink_to(corpus / "no-longer-here.txt")
    return "moved.txt", ["skipping moved.txt: broken symlink"]


def _duplicate(corpus):
    (corpus / "floods2.txt").write_bytes((corpus / "floods.txt").read_bytes())  # sorts after floods.txt
    return "floods2.txt", ["skipping duplicate article in floods2.txt (same text as floods.txt)"]


def _duplicate_other_layout(corpus):  # same article, different format and title: the body decides
    title, date, paragraphs = ARTICLES["floods.txt"]
    (corpus / "reposted").mkdir()
    (corpus / "reposted" / "floods.json").write_text(json.dumps({"title": title.upper(), "date": date,
                                                                 "text": "\n\n".join(paragraphs)}))
    return "reposted/floods.json", ["skipping duplicate article in reposted/floods.json (same text as floods.txt)"]


@pytest.mark.parametrize("add", [_empty, _blank, _binary, _binary_jsonl, _huge_txt, _huge_jsonl, _broken_symlink,
                                 _duplicate, _duplicate_other_layout])
def test_unusable_file_is_skipped_with_a_warning_naming_it(doors, caplog, add):
    name, warnings = add(doors.corpus)
    caplog.set_level(logging.WARNING, logger="qa")
    try:
        for door in ("qa", "cli", "chat"):
            caplog.clear()
            outcome = getattr(doors, door)(FLOODS, 50)
            assert outcome.error is None and outcome.sources[0] == "floods.txt", door
            assert name not in outcome.sources, door
            index = sane(doors.index_dir(door))
            assert {p.source for p in index.passages} == set(ARTICLES)
            messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert all(m in messages for m in warnings), (door, messages)
    finally:
        for big in doors.corpus.glob("huge.*"):
            big.unlink()  # 50 MB is too much to leave in the temp folder


def test_file_not_in_utf8_is_read_as_cp1252(doors, caplog):
    (doors.corpus / "cafe.txt").write_bytes(
        "Café owners protest\n\n2022-02-02\n\nCafé owners in Lyon protested against the crème brûlée tax "
        "on Tuesday. They closed their terraces for one hour.\n".encode("cp1252"))
    caplog.set_level(logging.WARNING, logger="qa")
    question = "Which tax did the café owners in Lyon protest against?"
    for door, outcome in doors.all(question).items():
        assert outcome.error is None and outcome.sources[0] == "cafe.txt", door
    assert "cafe.txt is not valid UTF-8; decoded it as cp1252" in caplog.text
    top = QA(load_settings(corpus_dir=doors.corpus, index_dir=doors.index_dir("qa"), model="hash")).ask(question)
    assert "crème brûlée" in top.passages[0].text and top.passages[0].title == "Café owners protest"
    assert "crème brûlée" in doors.chat(question).reply


def test_article_without_date_or_title(doors):
    (doors.corpus / "lotus.txt").write_text(
        "The mayor of Hue planted nine hundred lotus flowers on Sunday. Volunteers from three schools "
        "helped him along the Perfume river.\n")
    question = "How many lotus flowers did the mayor of Hue plant?"
    for door, outcome in doors.all(question).items():
        assert outcome.error is None and outcome.sources[0] == "lotus.txt", door
    hit = QA(load_settings(corpus_dir=doors.corpus, index_dir=doors.index_dir("qa"), model="hash")) \
        .ask(question).passages[0]
    assert hit.date is None
    assert hit.title == "The mayor of Hue planted nine hundred lotus flowers on Sunday"
    assert "undated · lotus.txt" in html.unescape(doors.chat(question).reply)
    assert re.search(r"^\[1\] The mayor of Hue .* \| undated \| lotus.txt \| score", doors.cli(question, text=True).reply,
                     re.M)


# ---- corpus folders ------------------------------------------------------------------------------
def _missing(corpus):
    target = corpus.parent / "nowhere"
    return target, f"corpus folder {target} does not exist"


def _empty_folder(corpus):
    target = corpus.parent / "empty"
    target.mkdir()
    return target, f"no articles found in {target} (supported: .txt .md .json .jsonl .html .html.gz .pdf .rss .atom .xml .warc .warc.gz .docx)"


def _only_unusable_files(corpus):
    target = corpus.parent / "junk"
    target.mkdir()
    (target / "a.txt").write_bytes(b"")
    (target / "b.txt").write_bytes(b"\x00\x01")
    (target / "c.txt").symlink_to(target / "gone.txt")
    (target / "notes.docx").write_text("not a supported type")
    return target, f"no articles found in {target} (supported: .txt .md .json .jsonl .html .html.gz .pdf .rss .atom .xml .warc .warc.gz .docx)"


def _a_file(corpus):
    return corpus / "floods.txt", f"corpus folder {corpus / 'floods.txt'} is not a folder"


@pytest.mark.parametrize("make", [_missing, _empty_folder, _only_unusable_files, _a_file])
def test_unusable_corpus_folder_is_named_and_builds_nothing(doors, make):
    doors.corpus, expected = make(doors.corpus)
    got = doors.all(FLOODS)
    assert {door: o.error for door, o in got.items()} == {"qa": expected, "cli": expected,
                                                           "chat": expected}
    assert all(doors.no_index(door) for door in ("qa", "cli", "chat"))


def test_corpus_emptied_after_indexing_keeps_the_last_index(doors):
    assert doors.qa(FLOODS).sources[0] == "floods.txt"
    live = sane(doors.index_dir("qa")).path
    for path in doors.corpus.iterdir():
        path.unlink()
    expected = f"no articles found in {doors.corpus} (supported: .txt .md .json .jsonl .html .html.gz .pdf .rss .atom .xml .warc .warc.gz .docx)"
    assert doors.qa(FLOODS).error == expected
    assert sane(doors.index_dir("qa")).path == live  # nothing half-built replaced it
    write_article(doors.corpus, "back.txt", "Floods return", "2024-09-09", "The Ha Giang floods returned in 2024.")
    assert doors.qa(FLOODS).sources == ("back.txt",)


def test_index_folder_that_is_a_file(doors, tmp_path):
    blocker = tmp_path / "idx-qa"
    blocker.write_text("not a folder")
    got = doors.qa(FLOODS)
    assert got.error and str(blocker) in got.error
    assert blocker.read_text() == "not a folder"


def test_article_text_is_kept_exactly(doors):
    """Markup-like, control and right-to-left characters in an article survive to every door."""
    body = "Ha Giang floods: \u202eنص عربي\u202c and <b>tags</b> & $$x$$ stay as they were."
    write_article(doors.corpus, "odd.txt", "Odd characters", "2020-10-03", body)
    got = doors.all("odd characters Ha Giang tags", 10)
    assert all("odd.txt" in o.sources for o in got.values())
    stored = [p.text for p in sane(doors.index_dir("qa")).passages if p.source == "odd.txt"]
    assert stored == [body]
