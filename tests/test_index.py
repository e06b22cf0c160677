"""qa.index: build/load round trips, staleness, corruption recovery, atomic writes, embedding reuse."""
from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np
import pytest

from qa import index as index_mod
from qa.chunk import chunk_articles
from qa.embed import HashingEncoder
from qa.ingest import ArticlesSource, fingerprint, load_corpus
from qa.index.bm25 import Lexical

from conftest import write_article


class CountingEncoder(HashingEncoder):
    """The hash encoder, recording every text it is asked to encode."""

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def encode(self, texts, batch_size=32, progress=False):
        self.seen.extend(texts)
        return super().encode(texts, batch_size, progress)


def snapshot(folder):
    """Every file under `folder` with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_round_trip(settings, encoder):
    built = index_mod.ensure(settings, encoder)
    loaded = index_mod.load(settings.index_dir)
    articles = load_corpus(settings.corpus_dir)
    passages = chunk_articles(articles, settings.chunk_words, settings.chunk_overlap_sentences)
    assert len(loaded) == len(built) == len(passages) > len(articles)
    assert list(loaded.passages) == passages  # every field, dates included
    expected = encoder.encode([p.embed_text(settings.embed_title) for p in passages])
    np.testing.assert_allclose(np.asarray(loaded.vectors), expected, rtol=1e-6)
    assert loaded.vectors.dtype == np.float32 and loaded.vectors.shape == (len(passages), encoder.dim)
    assert loaded.dense.ntotal == loaded.lexical.size == len(passages)
    assert loaded.path == built.path == settings.index_dir / (settings.index_dir / "CURRENT").read_text()


def test_manifest(settings, encoder):
    m = index_mod.ensure(settings, encoder).manifest
    assert m["format_version"] == index_mod.FORMAT_VERSION
    assert (m["model"], m["dim"], m["chunk_words"]) == ("hash", encoder.dim, settings.chunk_words)
    assert m["passages"] > 0 and m["articles"] == 4
    assert sorted(m["files"]) == ["bridge.txt", "floods.txt", "iswaran.txt", "vaccine.txt"]
    assert {"vectors.npy", "dense.faiss", "passages.jsonl"} <= set(m["checksums"])
    assert any(name.startswith("bm25/") for name in m["checksums"])
    for size, digest in m["checksums"].values():
        assert size >= 0 and len(digest) == 64


def test_fresh_index_is_reused(settings, encoder):
    first = index_mod.ensure(settings, encoder)
    again = index_mod.ensure(settings, encoder)
    assert again.path == first.path


def _add(corpus):
    write_article(corpus, "new.txt", "Tigers return to the forest", "2024-01-05",
                  "Rangers counted nine tigers in the national park.")
    return "added: new.txt"


def _edit(corpus):
    path = corpus / "floods.txt"
    path.write_text(path.read_text() + "\nThe government sent emergency aid.\n")
    return "changed: floods.txt"


def _delete(corpus):
    (corpus / "bridge.txt").unlink()
    return "removed: bridge.txt"


def _touch(corpus):
    st = (corpus / "vaccine.txt").stat()
    os.utime(corpus / "vaccine.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    return "changed: vaccine.txt"


@pytest.mark.parametrize("change", [_add, _edit, _delete, _touch])
def test_changed_corpus_is_stale_and_rebuilt(settings, encoder, change):
    old = index_mod.ensure(settings, encoder)
    expected = change(settings.corpus_dir)
    files = fingerprint(settings.corpus_dir)
    reason = index_mod.stale_reason(old.manifest, settings, encoder.dim, files)
    assert reason is not None and expected in reason
    new = index_mod.ensure(settings, encoder)
    assert new.path != old.path
    assert new.manifest["files"] == files
    assert index_mod.stale_reason(new.manifest, settings, encoder.dim, files) is None
    sources = {p.source for p in new.passages}
    assert ("new.txt" in sources) == (change is _add) and ("bridge.txt" in sources) == (change is not _delete)
    if change is _edit:
        assert any("emergency aid" in p.text for p in new.passages)


@pytest.mark.parametrize("field, value", [("chunk_words", 12), ("chunk_overlap_sentences", 0),
                                          ("embed_title", False)])
def test_changed_settings_rebuild(settings, encoder, field, value):
    old = index_mod.ensure(settings, encoder)
    changed = dataclasses.replace(settings, **{field: value})
    reason = index_mod.stale_reason(old.manifest, changed, encoder.dim, fingerprint(changed.corpus_dir))
    assert reason is not None and reason.split()[0] in (field, "chunk_overlap")
    new = index_mod.ensure(changed, encoder)
    assert new.path != old.path
    expected = chunk_articles(load_corpus(changed.corpus_dir), changed.chunk_words, changed.chunk_overlap_sentences)
    assert [p.text for p in new.passages] == [p.text for p in expected]


def test_articles_source_is_indexed_whole_as_given(settings, encoder):
    articles = load_corpus(settings.corpus_dir)
    given = articles + articles[:1]  # a repeated article too: in-memory articles get no duplicate rule
    index = index_mod.ensure(settings, encoder, ArticlesSource(given, {"memory": [1, "a"]}))
    assert list(index.passages) == chunk_articles(given, settings.chunk_words, settings.chunk_overlap_sentences)
    assert index.manifest["files"] == {"memory": [1, "a"]} and index.manifest["articles"] == len(articles)
    assert index.manifest["refresh"] == {"carried_rows": 0, "new_rows": len(index), "parsed_files": 0}
    assert not (index.path / "sources.json").exists()
    assert index_mod.ensure(settings, encoder, ArticlesSource(articles, {"memory": (1, "a")})).path == index.path
    assert index_mod.ensure(settings, encoder, ArticlesSource(articles, {"memory": [2, "a"]})).path != index.path


def test_changed_dim_is_stale(settings, encoder):
    old = index_mod.ensure(settings, encoder)
    reason = index_mod.stale_reason(old.manifest, settings, 128, old.manifest["files"])
    assert reason and reason.startswith("dim changed")


def _gen(settings):
    return settings.index_dir / (settings.index_dir / "CURRENT").read_text().strip()


def _truncate_vectors(settings):
    path = _gen(settings) / "vectors.npy"
    path.write_bytes(path.read_bytes()[:-10])
    return "truncated"


def _garble_manifest(settings):
    (_gen(settings) / "manifest.json").write_text("{not json")
    return "manifest unreadable"


def _flip_faiss_bytes(settings):
    path = _gen(settings) / "dense.faiss"
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 16):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return "checksum mismatch"


def _delete_current(settings):
    (settings.index_dir / "CURRENT").unlink()
    return "no index"


def _current_names_missing_generation(settings):
    (settings.index_dir / "CURRENT").write_text("gen-19700101-000000-deadbeef")
    return "manifest unreadable"


def _delete_bm25_file(settings):
    next((_gen(settings) / "bm25").glob("*.json")).unlink()
    return "missing or truncated"


def _current_names_outside(settings):
    (settings.index_dir / "CURRENT").write_text("../elsewhere")
    return "names no generation"


def _old_format(settings):
    path = _gen(settings) / "manifest.json"
    path.write_text(path.read_text().replace('"format_version": 1', '"format_version": 0'))
    return "index format"


@pytest.mark.parametrize("corrupt", [_truncate_vectors, _garble_manifest, _flip_faiss_bytes, _delete_current,
                                     _current_names_missing_generation, _current_names_outside, _old_format,
                                     _delete_bm25_file])
def test_corrupt_index_is_rebuilt_and_logged(settings, encoder, caplog, corrupt):
    good = index_mod.ensure(settings, encoder)
    texts = [p.text for p in good.passages]
    why = corrupt(settings)
    with pytest.raises(index_mod.IndexLoadError, match=why):
        index_mod.load(settings.index_dir)
    caplog.set_level(logging.INFO, logger="qa")
    rebuilt = index_mod.ensure(settings, encoder)
    assert [p.text for p in rebuilt.passages] == texts
    assert any("building index" in r.getMessage() and why in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]
    assert index_mod.load(settings.index_dir).path == rebuilt.path


def test_failed_build_leaves_previous_index(settings, encoder, monkeypatch):
    old = index_mod.ensure(settings, encoder)
    before = snapshot(settings.index_dir)
    _add(settings.corpus_dir)

    def boom(self, folder):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Lexical, "save", boom)  # fails half-way through writing the new generation
    with pytest.raises(RuntimeError, match="disk on fire"):
        index_mod.ensure(settings, encoder)
    assert not list(settings.index_dir.glob(".tmp-*"))
    after = snapshot(settings.index_dir)
    # staging/ keeps the vectors encoded so far, so the next build resumes (qa.index.staging)
    assert any(k.startswith("staging/") for k in after)
    kept = lambda snap: {k: v for k, v in snap.items() if k != ".lock" and not k.startswith("staging/")}  # noqa: E731
    assert kept(after) == kept(before)
    loaded = index_mod.load(settings.index_dir)
    assert loaded.path == old.path and len(loaded) == len(old)
    monkeypatch.undo()
    assert "new.txt" in {p.source for p in index_mod.ensure(settings, encoder).passages}


def test_only_new_passages_are_encoded(settings):
    counting = CountingEncoder()
    first = index_mod.ensure(settings, counting)
    assert len(counting.seen) == len(first)
    counting.seen.clear()
    _add(settings.corpus_dir)
    second = index_mod.ensure(settings, counting)
    new = [p for p in second.passages if p.source == "new.txt"]
    assert new and len(second) == len(first) + len(new)
    assert counting.seen == [p.embed_text(settings.embed_title) for p in new]
    # reused vectors are the right ones
    expected = HashingEncoder().encode([p.embed_text(settings.embed_title) for p in second.passages])
    np.testing.assert_allclose(np.asarray(second.vectors), expected, rtol=1e-6)


def test_reused_vectors_match_a_changed_embed_title(settings, encoder):
    index_mod.ensure(settings, encoder)
    changed = dataclasses.replace(settings, embed_title=not settings.embed_title)
    rebuilt = index_mod.ensure(changed, encoder)
    expected = encoder.encode([p.embed_text(changed.embed_title) for p in rebuilt.passages])
    np.testing.assert_allclose(np.asarray(rebuilt.vectors), expected, rtol=1e-6, atol=1e-7)


def test_force_rebuild_encodes_everything(settings):
    counting = CountingEncoder()
    first = index_mod.ensure(settings, counting)
    counting.seen.clear()
    second = index_mod.ensure(settings, counting, force=True)
    assert second.path != first.path and len(counting.seen) == len(second)


def test_old_generations_are_cleaned_up(settings, encoder):
    for i in range(4):
        write_article(settings.corpus_dir, f"extra{i}.txt", f"Extra {i}", "2024-01-01", f"Extra body {i}.")
        index_mod.ensure(settings, encoder)
    # the live generation plus at most one previous (a reader may still hold it)
    assert len(list(settings.index_dir.glob("gen-*"))) <= 2


def test_generation_records_index_type_and_per_file_tables(settings, encoder):
    from qa.index import refresh as inc

    index = index_mod.ensure(settings, encoder)
    m = index.manifest
    assert m["index_type"] == "flat" and m["dense_slots"] == {"total": len(index), "dead": 0}
    assert {inc.SOURCES_FILE, inc.KEYS_FILE, "bm25/doc_terms.npz"} <= set(m["checksums"])
    sources = inc.read_sources(index.path)
    assert sorted(sources) == sorted(m["files"])
    for name, entry in sources.items():
        start, stop = entry["rows"]
        assert {index.passages[i].source for i in range(start, stop)} == {name} and entry["status"] == "ok"
    keys = np.load(index.path / inc.KEYS_FILE)
    assert keys.tobytes() == inc.text_keys([p.embed_text(settings.embed_title) for p in index.passages]).tobytes()


def test_refresh_after_one_new_file_parses_and_encodes_only_it(settings):
    counting = CountingEncoder()
    first = index_mod.ensure(settings, counting)
    counting.seen.clear()
    _add(settings.corpus_dir)
    second = index_mod.ensure(settings, counting)
    assert second.manifest["refresh"] == {"carried_rows": len(first), "new_rows": len(second) - len(first),
                                          "parsed_files": 1}
    assert len(counting.seen) == len(second) - len(first)


def test_a_refresh_to_the_wrong_folder_warns_and_the_right_one_back_re_embeds_nothing(settings, make_corpus,
                                                                                         monkeypatch, caplog):
    from qa.index import build

    first = index_mod.ensure(settings, HashingEncoder())
    monkeypatch.setattr(index_mod, "DROP_WARN_PASSAGES", 1)
    wrong = dataclasses.replace(settings, corpus_dir=make_corpus({"other.txt": ("Other", "2024-01-01",
                                                                                  ["Unrelated words here."])}, "wrong"))
    with caplog.at_level(logging.WARNING, logger="qa.index"):
        small = index_mod.ensure(wrong, HashingEncoder())
    assert len(small) < len(first)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert f"holds 0 of the {len(first.manifest['files'])} files" in said and str(first.path) in said
    counting = CountingEncoder()  # the right folder again: every vector comes from the kept generation
    back = index_mod.ensure(settings, counting)
    assert counting.seen == [] and len(back) == len(first)
    np.testing.assert_array_equal(np.asarray(back.vectors), np.asarray(first.vectors))
    # a kept generation whose vectors file was damaged is not reused
    index_mod.ensure(wrong, HashingEncoder())
    kept = build.kept_vectors(settings.index_dir, index_mod.current_path(settings.index_dir), settings, 384)
    assert kept is not None and kept.path == back.path
    with open(back.path / "vectors.npy", "r+b") as f:
        f.seek(-4, os.SEEK_END)
        f.write(b"\x00\x00\x80\x7f")
    assert build.kept_vectors(settings.index_dir, index_mod.current_path(settings.index_dir), settings, 384) is None
    counting = CountingEncoder()
    assert len(index_mod.ensure(settings, counting)) == len(first) and len(counting.seen) == len(first)


def test_an_ordinary_refresh_checksums_only_the_kept_keys(settings, encoder, monkeypatch):
    from qa.index import build

    index_mod.ensure(settings, encoder)
    _add(settings.corpus_dir)
    index_mod.ensure(settings, encoder)  # a generation is kept beside the live one from here on
    hashed = []
    real = build.sha256
    monkeypatch.setattr(build, "sha256", lambda path: hashed.append(path.name) or real(path))
    write_article(settings.corpus_dir, "another.txt", "Another", "2024-02-01", "Another new body.")
    index_mod.ensure(settings, encoder)
    assert hashed == ["passages.keys.npy"]  # the kept generation holds none of the new texts


def test_the_generation_kept_is_the_one_replaced_not_a_stray_newer_one(settings, encoder):
    import shutil

    first = index_mod.ensure(settings, encoder)
    stray = settings.index_dir / "gen-29990101-000000-deadbeef"  # a build killed between its rename and swap
    shutil.copytree(first.path, stray)
    _add(settings.corpus_dir)
    second = index_mod.ensure(settings, encoder)
    assert sorted(p.name for p in settings.index_dir.glob("gen-*")) == sorted([first.path.name, second.path.name])


def test_a_live_index_that_no_longer_loads_is_rebuilt_from_its_whole_vectors(settings, encoder, caplog):
    first = index_mod.ensure(settings, encoder)
    with open(first.path / "passages.jsonl", "r+b") as f:  # damaged text: the generation no longer loads
        f.seek(10)
        f.write(b"#")
    counting = CountingEncoder()
    with caplog.at_level(logging.INFO, logger="qa.index"):
        rebuilt = index_mod.ensure(settings, counting)
    assert "checksum mismatch" in caplog.text and rebuilt.path != first.path
    assert counting.seen == [] and len(rebuilt) == len(first)  # every vector taken from the damaged generation
    np.testing.assert_array_equal(np.asarray(rebuilt.vectors), np.asarray(first.vectors))
    assert [p.text for p in rebuilt.passages] == [p.text for p in first.passages]


def test_a_damaged_live_index_sharing_a_text_with_the_kept_one_does_not_hide_the_kept_vectors(settings,
                                                                                                 make_corpus):
    first = index_mod.ensure(settings, HashingEncoder())
    one = sorted(settings.corpus_dir.iterdir())[0]  # the wrong folder holds one of the right one's files
    wrong = dataclasses.replace(settings, corpus_dir=make_corpus({}, "wrong"))
    (wrong.corpus_dir / one.name).write_bytes(one.read_bytes())
    small = index_mod.ensure(wrong, HashingEncoder())
    with open(small.path / "passages.jsonl", "r+b") as f:  # the live (small) generation no longer loads
        f.seek(10)
        f.write(b"#")
    counting = CountingEncoder()
    back = index_mod.ensure(settings, counting)  # its vectors, then the kept generation's for the rest
    assert counting.seen == [] and len(back) == len(first)
    np.testing.assert_array_equal(np.asarray(back.vectors), np.asarray(first.vectors))
