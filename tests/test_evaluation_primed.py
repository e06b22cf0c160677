"""qa.evaluation.primed and the datasets folder: query vectors encoded ahead, and where public data is read."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.cli import main
from qa.embed import HashingEncoder
from qa.evaluation.datasets import DEFAULT_DATASETS, Case, datasets_dir
from qa.evaluation.primed import PrimedEncoder, search_texts
from qa.evaluation.questions import prime_cases, run
from qa.pipeline import QA

from test_index import CountingEncoder

QUESTIONS = ["How many people died in the Ha Giang floods?", "Which city opened a dragon bridge?"]


def test_primed_texts_come_from_the_cache():
    base = CountingEncoder()
    primed = PrimedEncoder(base)
    primed.prime(["a b", "c d", "a b"], batch_size=2)
    assert base.seen == ["a b", "c d"]
    assert (primed.name, primed.dim) == (base.name, base.dim)
    np.testing.assert_array_equal(primed.encode(["c d", "a b"]), HashingEncoder().encode(["c d", "a b"]))
    assert base.seen == ["a b", "c d"]


def test_a_text_not_primed_sends_the_whole_batch_to_the_base():
    base = CountingEncoder()
    primed = PrimedEncoder(base)
    primed.prime(["a b"])
    np.testing.assert_array_equal(primed.encode(["a b", "e f"]), HashingEncoder().encode(["a b", "e f"]))
    assert base.seen == ["a b", "a b", "e f"]
    assert primed.encode([]).shape == (0, base.dim)


def test_primed_qa_answers_as_the_plain_one_without_encoding_questions(settings):
    cases = [Case(QUESTIONS[0], source="floods.txt"), Case("and the bridge?", turns=(QUESTIONS[1],))]
    plain = run(QA(settings), cases, k=3)
    base = CountingEncoder()
    encoder = PrimedEncoder(base)
    qa = QA(settings, encoder=encoder)
    qa.index()
    prime_cases(encoder, cases, settings)
    texts = search_texts([(c.question, list(c.turns) or None) for c in cases], settings)
    assert base.seen[-len(texts):] == texts
    encoded = len(base.seen)
    primed = run(qa, cases, k=3)
    assert not set(base.seen[encoded:]) & set(texts)  # questions were not encoded again
    assert [(r.sources, r.prediction, r.confidence) for r in primed] == \
        [(r.sources, r.prediction, r.confidence) for r in plain]


def test_datasets_folder_from_option_then_environment_then_default(tmp_path, monkeypatch):
    monkeypatch.delenv("QA_DATASETS_DIR", raising=False)
    assert datasets_dir() == DEFAULT_DATASETS == Path(__file__).resolve().parents[2] / "shared" / "datasets"
    monkeypatch.setenv("QA_DATASETS_DIR", str(tmp_path / "env"))
    assert datasets_dir() == tmp_path / "env"
    assert datasets_dir(tmp_path / "given") == tmp_path / "given"


def _tiny_squad(folder: Path) -> None:
    """Two SQuAD-format articles of one paragraph and one question each."""
    data = {"data": [{"title": title, "paragraphs": [{"context": context, "qas": [
        {"id": title, "question": question, "answers": [{"text": answer, "answer_start": context.find(answer)}]}]}]}
        for title, context, question, answer in (
            ("Rivers", "The Han river flows through Seoul, the capital of Korea.", "Which river flows through Seoul?",
             "Han river"),
            ("Bread", "A small bakery in Lyon won the national bread prize in 2019.", "Where is the bakery that won "
             "the bread prize?", "Lyon"))]}
    (folder / "squad-v1.1-dev").mkdir(parents=True)
    (folder / "squad-v1.1-dev" / "dev-v1.1.json").write_text(json.dumps(data))


@pytest.mark.parametrize("how", ["option", "environment"])
def test_bench_quality_reads_the_datasets_folder(tmp_path, monkeypatch, capsys, how):
    _tiny_squad(tmp_path / "data")
    argv = ["bench-quality", "squad", "--model", "hash", "--index", str(tmp_path / "idx"), "--json"]
    if how == "option":
        argv += ["--datasets", str(tmp_path / "data")]
    else:
        monkeypatch.setenv("QA_DATASETS_DIR", str(tmp_path / "data"))
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["documents"] == 2 and out["questions"] == 2
    assert out["results"]["ours: hybrid"]["hit@1"] == 1.0


def test_bench_quality_names_a_missing_datasets_folder(tmp_path, capsys):
    assert main(["bench-quality", "squad", "--model", "hash", "--datasets", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: benchmark data not found: ") and str(tmp_path / "none") in err
