"""The Ray build (qa.index.distributed) on a local 2-CPU Ray: the same index as one process, a killed worker survived."""
from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.embed import get_encoder
from qa.evaluation.load_corpus import write_corpus
from qa.index import ensure
from conftest import ARTICLES, write_article

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parent.parent


def _same_index(a, b, atol: float = 0.0) -> None:
    """Same rows, ids, texts and article table; vectors within `atol`."""
    assert [p.id for p in a.passages] == [p.id for p in b.passages]
    assert [p.text for p in a.passages] == [p.text for p in b.passages]
    assert len(set(p.id for p in a.passages)) == len(a)  # no passage doubled
    assert a.manifest["articles"] == b.manifest["articles"] and a.manifest["files"] == b.manifest["files"]
    np.testing.assert_allclose(np.asarray(a.vectors), np.asarray(b.vectors), atol=atol)
    if a.parses is not None or b.parses is not None:  # every passage's stored parse, the same annotations
        from tests.test_parses import _annotations

        for row in range(len(a)):
            da, db = a.parses.loader(row)(), b.parses.loader(row)()
            assert da is not None and db is not None and da.text == a.passages[row].text
            assert _annotations(da) == _annotations(db)


def test_cli_builds_on_a_local_ray_and_stops_it(tmp_path, capsys):
    from qa.cli import main

    corpus = tmp_path / "corpus"
    for name, (title, date, paragraphs) in ARTICLES.items():
        write_article(corpus, name, title, date, *paragraphs)
    assert main(["index", "--ray", "--corpus", str(corpus), "--index", str(tmp_path / "idx"), "--model", "hash"]) == 0
    assert "index ready: " in capsys.readouterr().out
    assert not ray.is_initialized()  # the Ray started for the run is stopped with it


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """One local Ray with 2 CPUs for the tests below (a build uses a running Ray and leaves it running)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_worker_niceness", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _temp_dir=str(tmp_path_factory.mktemp("ray")),
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory) -> Path:
    """The seed corpus plus 300 generated articles."""
    folder = tmp_path_factory.mktemp("corpus")
    for path in (ROOT / "corpus").iterdir():
        shutil.copy(path, folder / path.name)
    write_corpus(folder, 300)
    return folder


def _seed_answers(settings: Settings) -> list:
    from qa.pipeline import QA

    qa = QA(settings)
    out = []
    for line in (ROOT / "eval" / "seed.jsonl").read_text().splitlines():
        case = json.loads(line)
        if "question" in case:
            answer = qa.ask(case["question"], as_of=case.get("question_date"))
            out.append((answer.answer, [h.source for h in answer.passages]))
    return out


@pytest.mark.slow
def test_ray_build_equals_single_process_build(local_ray, big_corpus, tmp_path):
    one = Settings(corpus_dir=big_corpus, index_dir=tmp_path / "one")
    on_ray = one.with_overrides(index_dir=tmp_path / "ray", ray_address="local")
    encoder = get_encoder(one.model)
    a, b = ensure(one, encoder), ensure(on_ray, encoder)
    assert len(a) > 300
    _same_index(a, b, atol=1e-3)  # each text is encoded alone: the same vector up to int8 noise
    assert a.manifest["index_type"] == b.manifest["index_type"]
    assert not (tmp_path / "ray" / "staging").exists()  # the shards are gone once the generation is live
    assert _seed_answers(one) == _seed_answers(on_ray)


def test_killed_worker_is_retried_and_the_index_is_complete(local_ray, big_corpus, tmp_path, monkeypatch):
    from qa.index import distributed

    marker = tmp_path / "killed"

    class KilledOnce(distributed.EncodeActor):
        """Kills its own process in its first batch, once per test."""

        def __call__(self, batch):
            if not marker.exists():
                marker.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
            return super().__call__(batch)

    monkeypatch.setattr(distributed, "EncodeActor", KilledOnce)
    one = Settings(corpus_dir=big_corpus, index_dir=tmp_path / "one", model="hash")
    on_ray = one.with_overrides(index_dir=tmp_path / "ray", ray_address="local")
    encoder = get_encoder("hash")
    b = ensure(on_ray, encoder)
    assert marker.exists()  # a worker did die mid-run
    _same_index(ensure(one, encoder), b)


def test_refresh_sends_only_new_and_changed_files_through_ray(local_ray, big_corpus, tmp_path, caplog):
    corpus = tmp_path / "corpus"
    shutil.copytree(big_corpus, corpus)
    one = Settings(corpus_dir=corpus, index_dir=tmp_path / "one", model="hash")
    on_ray = one.with_overrides(index_dir=tmp_path / "ray", ray_address="local")
    encoder = get_encoder("hash")
    ensure(on_ray, encoder)
    write_article(corpus, "new.txt", "Harbour reopens", "2024-02-02", "The harbour of Quy Nhon reopened today.")
    write_article(corpus, "bench-007.txt", "Changed story", "2024-02-03", "This article was rewritten.")
    (corpus / "bench-010.txt").unlink()
    caplog.set_level("INFO", logger="qa.index")
    b = ensure(on_ray, encoder)
    assert b.manifest["refresh"]["parsed_files"] == 2
    assert "parsed 2 files on the Ray cluster" in caplog.text
    _same_index(ensure(one, encoder), b)


def test_an_articles_source_is_only_embedded_on_ray(local_ray, tmp_path):
    from qa.ingest import ArticlesSource, load_corpus

    articles = load_corpus(ROOT / "corpus")
    source = ArticlesSource(articles, {"seed": [1]})
    one = Settings(corpus_dir=ROOT / "corpus", index_dir=tmp_path / "one", model="hash")
    on_ray = one.with_overrides(index_dir=tmp_path / "ray", ray_address="local")
    encoder = get_encoder("hash")
    _same_index(ensure(one, encoder, source), ensure(on_ray, encoder, source))
