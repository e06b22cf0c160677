"""Stored parses (qa.index.parses): made at build time, carried over by a refresh, read by ask() instead of spaCy."""
from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qa import index as index_mod
from qa.index.parses import PARSES_FILE, ParseStore, StagedParser, parse_texts, write_parses
from qa.pipeline import QA
from qa.read import nlp
from tests.conftest import write_article


def test_build_stores_each_passage_parse_whole(settings, encoder):
    idx = index_mod.ensure(settings, encoder)
    assert idx.parses is not None and idx.manifest["parser"].startswith(nlp.MODEL)
    for row in range(len(idx)):
        doc = idx.parses.loader(row)()
        passage = idx.passages[row]
        assert doc.text == passage.text  # offsets of the stored parse are the passage's
        assert doc.has_annotation("DEP") and doc.has_annotation("ENT_IOB") and doc.has_annotation("LEMMA")
    assert PARSES_FILE in idx.manifest["checksums"]


def test_stored_parse_reads_back_as_spacy_parses_it():
    text = "Mr. S. Iswaran, the transport minister of Singapore, resigned on Friday in Singapore."
    fresh = nlp.parse([text], cache=False)[0]
    back = nlp.from_bytes(parse_texts([text])[0])
    assert _annotations(back) == _annotations(fresh)


def _annotations(d):
    """Everything the reader reads of a parse."""
    return ([(t.text, t.whitespace_, t.tag_, t.pos_, t.dep_, t.head.i, t.lemma_, t.ent_iob_, t.ent_type_) for t in d],
            [(e.start_char, e.end_char, e.label_) for e in d.ents], [(c.start, c.end) for c in d.noun_chunks],
            [(s.start, s.end) for s in d.sents])


def test_ask_reads_stored_parses_not_spacy(settings, monkeypatch):
    qa = QA(settings)
    qa.warm_up()
    qa.ask("Who resigned as transport minister?")  # first ask: loads everything
    nlp.clear_cache()
    parsed = []
    real = nlp._pipe
    monkeypatch.setattr(nlp, "_pipe", lambda texts: parsed.extend(texts) or real(texts))
    answer = qa.ask("Who resigned as transport minister of Singapore?")
    assert answer.answer and "Iswaran" in answer.answer
    assert parsed == ["Who resigned as transport minister of Singapore?"]  # the question only


def test_same_answer_with_and_without_stored_parses(make_corpus, tmp_path, settings):
    with_parses = QA(settings)
    without = QA(settings.with_overrides(index_dir=tmp_path / "idx-plain", parse_passages=False))
    assert without.index().parses is None and "parses.bin" not in without.index().manifest["checksums"]
    for q in ("Who designed the lighting for the bridge?", "How many people died in the floods?"):
        a, b = with_parses.ask(q), without.ask(q)
        assert (a.answer, a.abstained) == (b.answer, b.abstained)


def test_damaged_record_is_parsed_again_with_a_warning(settings, encoder, caplog):
    idx = index_mod.ensure(settings, encoder)
    path = idx.path / PARSES_FILE
    data = bytearray(path.read_bytes())
    a, b = int(idx.parses.offsets[0]), int(idx.parses.offsets[1])
    data[a:b] = b"\x00" * (b - a)  # same size: the generation still loads; this record no longer reads back
    path.write_bytes(bytes(data))
    store = ParseStore.open(idx.path, len(idx))
    with caplog.at_level(logging.WARNING, logger="qa.index.parses"):
        assert store.loader(0)() is None
    assert "row 0" in caplog.text
    text = idx.passages[0].text
    nlp.clear_cache()
    with nlp.stored({text: store.loader(0)}):
        doc = nlp.parse([text])[0]  # spaCy parses it instead
    assert doc.text == text and doc.has_annotation("DEP")


def test_refresh_copies_carried_records_and_parses_only_new_passages(settings, encoder, corpus, monkeypatch):
    first = index_mod.ensure(settings, encoder)
    old = {first.passages[r].text: first.parses.raw(r, r + 1) for r in range(len(first))}
    calls = []
    real = parse_texts
    monkeypatch.setattr("qa.index.parses.parse_texts", lambda texts: calls.append(list(texts)) or real(texts))
    write_article(corpus, "storm.txt", "Storm hits coast", "2024-01-02", "A storm named Bella hit the coast.")
    second = index_mod.ensure(settings, encoder)
    assert len(second) > len(first)
    new = [t for batch in calls for t in batch]
    assert new and all("Bella" in t for t in new)
    for r in range(len(second)):
        text = second.passages[r].text
        if text in old:
            assert second.parses.raw(r, r + 1) == old[text]
        assert second.parses.loader(r)().text == text


def test_killed_parse_resumes_where_it_stopped(tmp_path, monkeypatch):
    texts = [f"Passage number {i} names Hanoi." for i in range(7)]
    monkeypatch.setattr("qa.index.parses.BATCH", 1)  # texts go to the parser one at a time
    seen = []

    def failing(batch):
        seen.extend(batch)
        if len(seen) > 4:
            raise KeyboardInterrupt
        return parse_texts(batch)

    staged = StagedParser(tmp_path / "staging", chunk=3, parse=failing)
    with pytest.raises(KeyboardInterrupt):
        staged.run(texts)  # killed while parsing the fifth text
    assert not list((tmp_path / "staging").glob(".*tmp*"))  # no half-written chunk left
    again = []
    resumed = StagedParser(tmp_path / "staging", chunk=3, parse=lambda b: again.extend(b) or parse_texts(b))
    resumed.run(texts)
    assert again == texts[3:]  # the first chunk of 3 was saved; the fourth text was parsed but not yet saved
    for t in texts:
        assert nlp.from_bytes(resumed.record(t)).text == t


def test_rows_without_a_record_are_empty_and_not_offered(tmp_path):
    write_parses(tmp_path, ["New text."], None, None, np.array([-1, 3, 4]))  # no staged parses, no old store
    store = ParseStore.open(tmp_path, 3)
    assert not any(store.has(r) for r in range(3)) and all(store.loader(r)() is None for r in range(3))


def test_a_new_passage_without_its_staged_parse_stops_the_write(tmp_path):
    with pytest.raises(RuntimeError, match="no staged parse"):
        write_parses(tmp_path, ["New text."], StagedParser(tmp_path / "s"), None, np.array([-1]))


def test_foreign_damaged_and_half_written_chunks_are_ignored(tmp_path, caplog):
    folder = tmp_path / "staging"
    StagedParser(folder).run(["Hanoi is a city."])
    (folder / "parses-1-1.npz").write_bytes(b"not a zip")  # damaged
    (folder / ".parses-2-1.tmp.bin").write_bytes(b"half")  # a chunk killed while written
    (folder / "parses-3-1.bin").write_bytes(b"orphan")  # records whose index was never renamed into place
    again = []
    staged = StagedParser(folder, parse=lambda b: again.extend(b) or parse_texts(b))
    with caplog.at_level(logging.WARNING, logger="qa.index.parses"):
        staged.run(["Hanoi is a city.", "Hue is a city."])
    assert again == ["Hue is a city."] and "parses-1-1.npz" in caplog.text
    assert nlp.from_bytes(staged.record("Hanoi is a city.")).text == "Hanoi is a city."


def test_a_stored_parse_of_another_text_is_not_used(caplog):
    other = nlp.from_bytes(parse_texts(["Hue is a city in Vietnam."])[0])
    text = "Hanoi is the capital."
    nlp.clear_cache()
    with caplog.at_level(logging.WARNING, logger="qa.read.nlp"), nlp.stored({text: lambda: other}):
        doc = nlp.parse([text])[0]
    assert doc.text == text and "does not hold the passage" in caplog.text


def test_parser_in_build_settings_makes_an_old_index_stale(settings, encoder):
    idx = index_mod.ensure(settings, encoder)
    manifest = {**idx.manifest, "parser": None}
    assert "parser changed" in index_mod.stale_reason(manifest, settings, encoder.dim)
    assert index_mod.stale_reason(manifest, settings.with_overrides(parse_passages=False), encoder.dim) is None


def test_env_turns_stored_parses_off(monkeypatch):
    from qa.config import load_settings

    monkeypatch.setenv("QA_PARSE_PASSAGES", "0")
    assert load_settings().parse_passages is False
    monkeypatch.setenv("QA_PARSE_PASSAGES", "1")
    assert load_settings().parse_passages is True


def test_many_texts_parse_in_worker_processes_same_records(tmp_path, monkeypatch):
    texts = [f"Minister {name} visited Hanoi on Monday." for name in ("Lam", "Teo", "Quang", "Ling", "Tran")]
    monkeypatch.setattr("qa.index.parses.MIN_PER_WORKER", 2)  # two worker processes for five texts
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.chdir(tmp_path)  # the workers find the qa package and a relative staging folder wherever run from
    staged = StagedParser(Path("staging"), chunk=2)
    started = []
    real = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a[0]) or real(*a, **k))
    staged.run(texts)
    assert len(started) == 2 and all("qa.index.parse_worker" in cmd for cmd in started)
    assert not list(Path("staging").glob("work-*"))  # the workers' texts and logs are removed
    for t in texts:  # (a record's bytes may differ between processes: DocBin keeps its strings as a set)
        assert _annotations(nlp.from_bytes(staged.record(t))) == _annotations(nlp.parse([t], cache=False)[0])


def test_a_parse_worker_runs_at_a_lower_priority(tmp_path, monkeypatch):
    import json
    import os

    from qa.index import parse_worker

    texts = tmp_path / "texts.jsonl"
    texts.write_text(json.dumps("Minister Teo visited Hanoi on Monday.") + "\n", encoding="utf-8")
    niced = []
    monkeypatch.setattr(parse_worker.os, "nice", niced.append)  # not this test process's own priority
    assert parse_worker.main([str(texts), str(tmp_path / "staging"), "8", str(os.getppid())]) == 0
    assert niced == [parse_worker.NICENESS] and parse_worker.NICENESS > 0
    assert list((tmp_path / "staging").glob("parses-*.bin"))  # and it parsed and saved


def test_a_failing_worker_stops_the_build_with_its_message(tmp_path, monkeypatch):
    import sys

    monkeypatch.setattr("qa.index.parses.MIN_PER_WORKER", 2)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    real = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda cmd, **k: real(
        [sys.executable, "-c", "import sys; sys.exit('spaCy model not found')"], **k))
    with pytest.raises(RuntimeError, match="spaCy worker 0 exited with code 1: spaCy model not found"):
        StagedParser(tmp_path / "staging").run([f"Text {i}." for i in range(4)])


def test_an_index_built_without_parses_gains_them_carrying_its_rows(settings, encoder, monkeypatch):
    plain = index_mod.ensure(settings.with_overrides(parse_passages=False), encoder)
    assert plain.parses is None
    encoded = []
    real = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts, **k: encoded.extend(texts) or real(texts, **k))
    upgraded = index_mod.ensure(settings, encoder)
    assert upgraded.manifest["refresh"]["carried_rows"] == len(plain) and not encoded  # nothing re-embedded
    for row in range(len(upgraded)):
        assert upgraded.parses.loader(row)().text == upgraded.passages[row].text


def test_the_chat_answers_from_an_index_without_parses_while_they_are_added(settings, encoder, monkeypatch):
    import threading

    index_mod.ensure(settings.with_overrides(parse_passages=False), encoder)
    release, started = threading.Event(), threading.Event()
    real = StagedParser.run

    def slow(self, texts, progress=False, **kwargs):
        started.set()
        release.wait(60)
        return real(self, texts, progress, **kwargs)

    monkeypatch.setattr(StagedParser, "run", slow)
    qa = QA(settings)
    try:
        answer = qa.ask("Who resigned as transport minister of Singapore?")  # the first question does not wait
        assert "Iswaran" in (answer.answer or "")
        assert answer.index_note == ("The index is being upgraded in the background (storing each passage's parse, "
                                     "for faster answers); this answer comes from the index as it is.")
        assert started.wait(30) and qa.refreshing  # the build adding the parses is still running
    finally:
        release.set()
    assert qa.index().parses is not None  # index() waits for the refresh


def test_a_changed_file_between_unchanged_ones_keeps_every_row_with_its_own_parse(settings, encoder, corpus):
    first = index_mod.ensure(settings, encoder)
    sources = sorted({first.passages[r].source for r in range(len(first))})
    middle = sources[len(sources) // 2]
    write_article(corpus, middle, "Changed story", "2024-02-02", "Rain flooded the delta near Can Tho on Sunday.")
    second = index_mod.ensure(settings, encoder)
    assert 0 < second.manifest["refresh"]["carried_rows"] < len(second)
    for row in range(len(second)):
        assert second.parses.loader(row)().text == second.passages[row].text


def test_a_build_that_cannot_carry_rows_reuses_the_parses_it_has(settings, encoder, monkeypatch):
    first = index_mod.ensure(settings, encoder)
    monkeypatch.setattr("qa.index.carried_sources", lambda *a, **k: None)  # no rows carried over
    parsed = []
    real = parse_texts
    monkeypatch.setattr("qa.index.parses.parse_texts", lambda texts: parsed.extend(texts) or real(texts))
    write_article(settings.corpus_dir, "storm.txt", "Storm hits coast", "2024-01-02", "A storm named Bella hit.")
    third = index_mod.ensure(settings, encoder)
    assert third.manifest["refresh"]["carried_rows"] == 0
    assert parsed and all("Bella" in t for t in parsed)  # only the new article's passages were parsed
    for row in range(len(third)):
        assert third.parses.loader(row)().text == third.passages[row].text


def test_a_file_read_again_with_no_row_carried_reuses_the_parses_it_has(settings, encoder, monkeypatch):
    import json

    for old in settings.corpus_dir.iterdir():  # one JSONL file is the whole corpus
        old.unlink()
    records = [{"title": f"Report {i}", "date": "2024-01-02", "text": f"Minister {name} visited Hanoi on Monday."}
               for i, name in enumerate(("Lam", "Teo", "Quang"))]
    wire = settings.corpus_dir / "wire.jsonl"
    wire.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    index_mod.ensure(settings, encoder)
    parsed = []
    real = parse_texts
    monkeypatch.setattr("qa.index.parses.parse_texts", lambda texts: parsed.extend(texts) or real(texts))
    # a record put first: every record's index in the file, so its key, changes, and no row of the file is kept
    records.insert(0, {"title": "Storm", "date": "2024-01-03", "text": "A storm named Bella hit the coast."})
    wire.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    again = index_mod.ensure(settings, encoder)
    assert again.manifest["refresh"]["carried_rows"] == 0
    assert parsed and all("Bella" in t for t in parsed)  # the unchanged records' passages came from the old index
    for row in range(len(again)):
        assert again.parses.loader(row)().text == again.passages[row].text


def test_many_new_passages_beside_carried_rows_reuse_the_parses_they_have(settings, encoder, monkeypatch):
    first = index_mod.ensure(settings, encoder)
    sources = sorted({first.passages[r].source for r in range(len(first))})
    changed = settings.corpus_dir / sources[0]
    parsed = []
    real = parse_texts
    monkeypatch.setattr("qa.index.parses.parse_texts", lambda texts: parsed.extend(texts) or real(texts))
    monkeypatch.setattr("qa.index.REUSE_PARSES_FROM", 1)  # every refresh counts as a big one
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nA closing line named Bella.\n", encoding="utf-8")
    second = index_mod.ensure(settings, encoder)
    assert second.manifest["refresh"]["carried_rows"] > 0
    assert parsed and all("Bella" in t for t in parsed)  # the changed file's unchanged passages were not parsed
    for row in range(len(second)):
        assert second.parses.loader(row)().text == second.passages[row].text
