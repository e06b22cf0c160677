"""A JSONL file read again (appended to, a record corrected, only touched) keeps the rows of every record it still holds
in its old place: only its new and changed records are read into new passages (qa.index.refresh.record_spans)."""
from __future__ import annotations

import json
import os

import numpy as np

from qa import index as index_mod
from qa.chunk import chunk_articles
from qa.embed import HashingEncoder
from qa.index import refresh
from qa.ingest import load_corpus
from qa.types import Article

from test_index import CountingEncoder


def _record(i: int) -> str:
    return json.dumps({"title": f"Storm report {i}", "date": f"2024-03-{i + 1:02d}", "url": f"https://news.example/{i}",
                       "text": f"Storm number {i} reached the coast of Region {i} on day {i}. "
                               f"Officials in Region {i} counted {i * 7} damaged homes."})


def _write(folder, records: list[str]) -> None:
    (folder / "wire.jsonl").write_text("".join(r + "\n" for r in records), encoding="utf-8")


def _as_fresh(index, settings) -> None:
    """The refreshed index holds exactly what a build from nothing gives: passages in order and their vectors."""
    fresh = chunk_articles(load_corpus(settings.corpus_dir), settings.chunk_words, settings.chunk_overlap_sentences,
                           settings.chunk_chars)
    got = [index.passages[r] for r in range(len(index))]
    assert [(p.id, p.text, p.title, p.published, p.url, p.source) for p in got] == \
        [(p.id, p.text, p.title, p.published, p.url, p.source) for p in fresh]
    expected = HashingEncoder().encode([p.embed_text(settings.embed_title) for p in fresh])
    np.testing.assert_allclose(np.asarray(index.vectors), expected, rtol=1e-6)
    for row in range(len(index)):
        if index.parses is not None:
            assert index.parses.loader(row)().text == index.passages[row].text


def test_records_appended_to_a_jsonl_file_keep_the_old_rows(settings):
    _write(settings.corpus_dir, [_record(i) for i in range(4)])
    counting = CountingEncoder()
    first = index_mod.ensure(settings, counting)
    counting.seen.clear()
    with open(settings.corpus_dir / "wire.jsonl", "a", encoding="utf-8") as f:
        f.write(_record(4) + "\n")
    second = index_mod.ensure(settings, counting)
    assert second.manifest["refresh"] == {"carried_rows": len(first), "new_rows": len(second) - len(first),
                                          "parsed_files": 1}
    assert counting.seen and all("Storm number 4" in t for t in counting.seen)  # only the new record embedded
    _as_fresh(second, settings)
    entry = refresh.read_sources(second.path)["wire.jsonl"]
    assert len(entry["records"]) == 5 and entry["status"] == "ok"


def test_a_touched_file_is_read_but_keeps_every_row(settings):
    _write(settings.corpus_dir, [_record(i) for i in range(3)])
    first = index_mod.ensure(settings, HashingEncoder())
    path = settings.corpus_dir / "wire.jsonl"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same bytes, a new mtime
    second = index_mod.ensure(settings, HashingEncoder())
    assert second.path != first.path  # the fingerprint changed, so a new generation
    assert second.manifest["refresh"] == {"carried_rows": len(first), "new_rows": 0, "parsed_files": 1}
    _as_fresh(second, settings)


def test_an_edited_record_is_read_again_and_the_others_keep_their_rows(settings):
    records = [_record(i) for i in range(4)]
    _write(settings.corpus_dir, records)
    counting = CountingEncoder()
    first = index_mod.ensure(settings, counting)
    counts = refresh.read_sources(first.path)["wire.jsonl"]["counts"]
    assert len(counts) == 4 and all(n >= 1 for n in counts)
    records[1] = records[1].replace("Storm number 1 reached", "Storm number 1 (corrected) reached")
    _write(settings.corpus_dir, records + [_record(4)])
    counting.seen.clear()
    second = index_mod.ensure(settings, counting)
    assert second.manifest["refresh"]["carried_rows"] == len(first) - counts[1]
    assert counting.seen and all("Storm number 1 (corrected)" in t or "Storm number 4" in t for t in counting.seen)
    _as_fresh(second, settings)
    assert refresh.read_sources(second.path)["wire.jsonl"]["counts"][:1] + \
        refresh.read_sources(second.path)["wire.jsonl"]["counts"][2:4] == counts[:1] + counts[2:]


def test_a_record_removed_from_the_end_keeps_the_others_rows(settings):
    records = [_record(i) for i in range(4)]
    _write(settings.corpus_dir, records)
    first = index_mod.ensure(settings, HashingEncoder())
    last = refresh.read_sources(first.path)["wire.jsonl"]["counts"][-1]
    _write(settings.corpus_dir, records[:3])
    second = index_mod.ensure(settings, HashingEncoder())
    assert second.manifest["refresh"] == {"carried_rows": len(first) - last, "new_rows": 0, "parsed_files": 1}
    _as_fresh(second, settings)


def test_an_index_without_record_counts_keeps_only_old_records_that_begin_the_file(settings):
    records = [_record(i) for i in range(3)]
    _write(settings.corpus_dir, records)
    first = index_mod.ensure(settings, HashingEncoder())
    in_file = sum(1 for r in range(len(first)) if first.passages[r].source == "wire.jsonl")
    _drop_from_sources(first, "counts")  # as the twenty-second session wrote it
    with open(settings.corpus_dir / "wire.jsonl", "a", encoding="utf-8") as f:
        f.write(_record(3) + "\n")
    second = index_mod.ensure(settings, HashingEncoder())
    assert second.manifest["refresh"]["carried_rows"] == len(first)  # appended: the old records' rows kept
    _as_fresh(second, settings)
    assert "counts" not in refresh.read_sources(second.path)["wire.jsonl"]  # not known for the records kept as one
    records[1] = records[1].replace("Storm report 1", "Storm report 1 (corrected)")
    _write(settings.corpus_dir, records + [_record(3)])
    third = index_mod.ensure(settings, HashingEncoder())
    assert third.manifest["refresh"]["carried_rows"] == len(first) - in_file  # a record edited: the file read anew
    _as_fresh(third, settings)
    assert len(refresh.read_sources(third.path)["wire.jsonl"]["counts"]) == 4  # and now it has them


def _drop_from_sources(index, field: str) -> None:
    """Remove a field from a generation's per-file table, as an older build wrote it."""
    sources = refresh.read_sources(index.path)
    for entry in sources.values():
        entry.pop(field, None)
    refresh.write_sources(sources, index.path)
    manifest = json.loads((index.path / "manifest.json").read_text())
    manifest["checksums"].pop(refresh.SOURCES_FILE, None)
    (index.path / "manifest.json").write_text(json.dumps(manifest))


def test_a_record_removed_from_the_start_rebuilds_the_file(settings):
    records = [_record(i) for i in range(4)]
    _write(settings.corpus_dir, records)
    first = index_mod.ensure(settings, HashingEncoder())
    in_file = sum(1 for r in range(len(first)) if first.passages[r].source == "wire.jsonl")
    _write(settings.corpus_dir, records[1:])
    second = index_mod.ensure(settings, HashingEncoder())
    assert second.manifest["refresh"]["carried_rows"] == len(first) - in_file
    _as_fresh(second, settings)


def test_an_index_without_record_keys_rebuilds_an_appended_file(settings):
    _write(settings.corpus_dir, [_record(i) for i in range(3)])
    first = index_mod.ensure(settings, HashingEncoder())
    in_file = sum(1 for r in range(len(first)) if first.passages[r].source == "wire.jsonl")
    _drop_from_sources(first, "records")  # as written before record keys were kept
    with open(settings.corpus_dir / "wire.jsonl", "a", encoding="utf-8") as f:
        f.write(_record(3) + "\n")
    second = index_mod.ensure(settings, HashingEncoder())
    assert second.manifest["refresh"]["carried_rows"] == len(first) - in_file
    _as_fresh(second, settings)


def test_a_file_that_lost_a_record_to_a_duplicate_still_keeps_its_rows_when_appended_to(settings):
    records = [_record(i) for i in range(3)]
    _write(settings.corpus_dir, records + [records[1].replace("Storm report 1", "Storm report 1 copy")])
    first = index_mod.ensure(settings, HashingEncoder())
    assert refresh.read_sources(first.path)["wire.jsonl"]["status"] == "reparse"
    with open(settings.corpus_dir / "wire.jsonl", "a", encoding="utf-8") as f:
        f.write(_record(3) + "\n")
    second = index_mod.ensure(settings, HashingEncoder())
    assert second.manifest["refresh"]["carried_rows"] == len(first)
    _as_fresh(second, settings)


def test_a_record_kept_again_when_its_other_copy_is_gone_is_read_in_its_place(settings):
    records = [_record(i) for i in range(3)]
    (settings.corpus_dir / "a.jsonl").write_text(records[1] + "\n", encoding="utf-8")  # read first: wire's copy is lost
    _write(settings.corpus_dir, records)
    first = index_mod.ensure(settings, HashingEncoder())
    assert refresh.read_sources(first.path)["wire.jsonl"]["status"] == "reparse"
    (settings.corpus_dir / "a.jsonl").unlink()
    with open(settings.corpus_dir / "wire.jsonl", "a", encoding="utf-8") as f:
        f.write(_record(3) + "\n")
    second = index_mod.ensure(settings, HashingEncoder())
    others = sum(1 for r in range(len(first)) if first.passages[r].source.endswith(".txt"))
    held = sum(1 for r in range(len(first)) if first.passages[r].source == "wire.jsonl")
    assert second.manifest["refresh"]["carried_rows"] == others + held  # records 0 and 2 keep their rows
    _as_fresh(second, settings)  # record 1 is back, in its place


def test_a_new_duplicate_record_appended_keeps_the_old_rows_and_is_read_again_next_time(settings):
    records = [_record(i) for i in range(3)]
    _write(settings.corpus_dir, records)
    first = index_mod.ensure(settings, HashingEncoder())
    with open(settings.corpus_dir / "wire.jsonl", "a", encoding="utf-8") as f:
        f.write(records[0].replace("Storm report 0", "Storm report 0 again") + "\n")  # the same text: skipped
    second = index_mod.ensure(settings, HashingEncoder())
    assert second.manifest["refresh"]["carried_rows"] == len(first)
    assert refresh.read_sources(second.path)["wire.jsonl"]["status"] == "reparse"
    _as_fresh(second, settings)


def test_record_keys_see_every_field_chunking_reads():
    from dataclasses import replace

    article = Article(id="a", title="T", published=None, byline=None, text="Body.",
                      source="f.jsonl", url=None, site=None)
    keys = {refresh.record_key(article)}
    for change in ({"title": "U"}, {"byline": "B"}, {"text": "Other."}, {"url": "u"}, {"site": "s"}, {"id": "b"}):
        keys.add(refresh.record_key(replace(article, **change)))
    assert len(keys) == 7
