"""The span reader's training tool (qa.evaluation.reader): labels, news examples, starting from an artifact."""
from __future__ import annotations

import pytest

from qa.evaluation.reader.news import _first, parity_of


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from qa.evaluation.reader.common import base_model_path

    return AutoTokenizer.from_pretrained(str(base_model_path()))


def test_a_news_answer_is_labelled_at_its_first_whole_word_occurrence():
    text = "Texans said the storm hit Texas first, then Texas again."
    assert _first(text, ["texas"]) == ("Texas", 26)
    assert _first("The Bills beat the Jets.", ["Jets", "Bills"]) == ("Bills", 4)
    assert _first("Nothing here.", ["Texas"]) is None
    assert (parity_of("even"), parity_of("odd"), parity_of("all")) == (0, 1, None)


def test_a_passage_without_the_answer_trains_not_here_and_one_with_it_the_span(tokenizer):
    from qa.evaluation.reader.data import featurize

    context = "The storm reached Texas on Monday. Officials in Austin said schools would close."
    examples = [
        {"question": "Which state did the storm reach?", "context": context, "answers": ["Texas"],
         "spans": [("Texas", context.index("Texas"))]},
        {"question": "Which state did the storm reach?", "context": context, "answers": [], "spans": []},
    ]
    feats = featurize(tokenizer, examples, train=True)
    (s0, e0), (s1, e1) = zip(feats["start"], feats["end"])
    a, b = feats["offsets"][0][s0][0], feats["offsets"][0][e0][1]
    assert context[a:b] == "Texas"
    assert (s1, e1) == (0, 0)


def test_a_resumed_run_reads_its_cached_news_examples_as_built(tokenizer, tmp_path, monkeypatch):
    """A resumed news run reads the examples its first start cached: they featurize to the same windows
    (JSON brought the (answer, start) pairs back as lists, and a resume failed on them)."""
    from qa.evaluation.reader import news
    from qa.evaluation.reader.data import featurize, fingerprint

    context = "The storm reached Texas on Monday. Officials in Austin said schools would close."
    built = [{"question": "Which state did the storm reach?", "context": context, "answers": ["Texas"],
              "spans": [("Texas", context.index("Texas"))]},
             {"question": "Which state did the storm reach?", "context": context, "answers": [], "spans": []}]
    monkeypatch.setattr(news, "build_examples", lambda which, negatives: [dict(e) for e in built])
    first = news.examples(tmp_path, "even")
    monkeypatch.setattr(news, "build_examples", lambda which, negatives: pytest.fail("not cached"))
    again = news.examples(tmp_path, "even")
    assert again == first
    assert fingerprint(featurize(tokenizer, again, train=True)) == fingerprint(featurize(tokenizer, first, train=True))


def test_training_can_start_from_the_shipped_artifact():
    from safetensors.torch import load_file

    from qa.evaluation.reader.model import from_artifact_tensors, new_training_model, to_artifact_tensors
    from qa.read.neural import MODEL_DIR, base_of, config

    model = new_training_model(base=base_of(config(MODEL_DIR)))  # the base the shipped LoRA factors sit on
    shipped = load_file(str(MODEL_DIR / "reader.safetensors"))
    state = from_artifact_tensors(model, shipped)
    assert set(state) == {n for n, p in model.named_parameters() if p.requires_grad}
    model.load_state_dict(state, strict=False)
    back = to_artifact_tensors(model, 32, 16)
    assert set(back) == set(shipped)
    assert all(bool((back[k] == shipped[k]).all()) for k in shipped)


def test_a_run_trains_on_the_base_its_starting_artifact_sits_on():
    from qa.evaluation.reader.common import BASE_MODEL
    from qa.evaluation.reader.train import training_base
    from qa.read.base import BASES
    from qa.read.neural import MODEL_DIR, base_of, config

    shipped = base_of(config(MODEL_DIR))
    assert training_base("", str(MODEL_DIR), None) == shipped
    assert training_base("", "", None) == BASE_MODEL
    run = {"base_model": "cross-encoder/ms-marco-MiniLM-L-12-v2"}
    assert training_base("", "", run) == "cross-encoder/ms-marco-MiniLM-L-12-v2"  # a resumed run keeps its base
    other = next(b for b in BASES if b != shipped)
    with pytest.raises(SystemExit, match="sits on"):
        training_base(other, str(MODEL_DIR), run)


def test_news_readers_are_two_artifact_folders_or_a_one_line_error(tmp_path, capsys):
    from qa.evaluation.cli import _readers
    from qa.read.neural import MODEL_DIR

    assert _readers("none") is None
    assert _readers(f"{MODEL_DIR},{MODEL_DIR}") == [MODEL_DIR, MODEL_DIR]
    assert _readers(f"{MODEL_DIR}") is False
    assert _readers(f"{MODEL_DIR},{tmp_path}") is False
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and err.count("error: ") == 2  # one note (none), two one-line errors


def test_retrieval_only_resolves_no_news_readers(monkeypatch, capsys):
    """bench-quality realtimeqa --no-read: no one answers, so no fold readers are looked for and no note is printed
    (a malformed --news-readers is not an error there either)."""
    import argparse

    from qa.evaluation import cli, realtimeqa

    seen = {}

    def fake_bench(settings, explicit_index=None, limit=None, mode="hybrid", read=True, progress=True, datasets=None,
                   readers=None):
        seen.update(read=read, readers=readers)
        return [], {}

    monkeypatch.setattr(realtimeqa, "bench_realtimeqa", fake_bench)
    monkeypatch.setattr(cli, "_emit", lambda *a, **k: None)
    monkeypatch.setattr(cli, "settings_from", lambda args: None)
    args = argparse.Namespace(name="realtimeqa", news_readers="not,a,pair", read=False, index=None, limit=1,
                              mode="hybrid", json=True, datasets=None)
    assert cli._cmd_bench_quality(args) == 0
    assert seen == {"read": False, "readers": None}
    assert capsys.readouterr().err == ""
    args.read = True
    assert cli._cmd_bench_quality(args) == 2  # reading: the malformed pair is the one-line error
    assert capsys.readouterr().err.startswith("error: ")


def _fold_pair(folds_dir, stands_for: str, even="odd-trained", odd="even-trained"):
    """A folds.json and two artifact folders (copies of the shipped reader's files: only their presence counts)."""
    import json
    import shutil

    from qa.read.neural import ARTIFACT_CONFIG, ARTIFACT_WEIGHTS, MODEL_DIR

    for name in (even, odd):
        (folds_dir / name).mkdir(parents=True)
        for f in (ARTIFACT_WEIGHTS, ARTIFACT_CONFIG):
            shutil.copy(MODEL_DIR / f, folds_dir / name / f)
    (folds_dir / "folds.json").write_text(json.dumps({"stands_for_sha256": stands_for, "even_questions": even,
                                                      "odd_questions": odd}))


def test_auto_news_readers_are_the_kept_folds_only_for_the_reader_they_stand_for(tmp_path, monkeypatch):
    """--news-readers auto (the default): the fold readers kept in eval/readers/ answer RealTimeQA dev when folds.json
    names the reader in use; for another reader (the fast one, a newly exported one) the reader in use answers, and
    the reason is given."""
    from qa.evaluation import folds
    from qa.read import neural

    shipped = neural.artifact_sha256(neural.MODEL_DIR)
    _fold_pair(tmp_path / "fits", shipped)
    got = folds.resolve("auto", tmp_path / "fits")
    assert got.readers == (tmp_path / "fits" / "odd-trained", tmp_path / "fits" / "even-trained")
    assert folds.resolve("", tmp_path / "fits") == got

    _fold_pair(tmp_path / "stale", "0" * 64)
    stale = folds.resolve("auto", tmp_path / "stale")
    assert stale.readers is None and "another reader" in stale.note
    monkeypatch.setenv("QA_READER", "fast")  # the fast reader in use: the 12-layer reader's folds do not stand for it
    assert folds.resolve("auto", tmp_path / "fits").readers is None
    monkeypatch.delenv("QA_READER")

    assert folds.resolve("auto", tmp_path / "absent").readers is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "folds.json").write_text("{not json")
    assert "unreadable" in folds.resolve("auto", tmp_path / "bad").note
    assert folds.resolve("none", tmp_path / "fits").readers is None
    with pytest.raises(ValueError, match="EVEN_DIR,ODD_DIR"):
        folds.resolve(str(tmp_path / "fits" / "odd-trained"))


def test_a_student_keeps_the_first_layers_and_the_runtime_builds_it_as_trained(tmp_path):
    """`train --layers N`: the base's first N layers; its artifact says so, the runtime's builder truncates the
    same way and merges the LoRA factors into a model that reads exactly as the training model, and a student
    starting from a deeper artifact keeps that artifact's factors for its own layers only."""
    import json
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from qa.evaluation.reader.model import from_artifact_tensors, new_training_model, to_artifact_tensors
    from qa.read import neural

    base = neural.base_of(neural.config(neural.MODEL_DIR))
    model = new_training_model(base=base, layers=2)
    assert len(model.encoder.get_base_model().encoder.layer) == 2
    state = from_artifact_tensors(model, load_file(str(neural.MODEL_DIR / "reader.safetensors")), layers=2)
    assert set(state) == {n for n, p in model.named_parameters() if p.requires_grad}
    model.load_state_dict(state, strict=False)
    model.eval()
    art = tmp_path / "student"
    art.mkdir()
    save_file(to_artifact_tensors(model, 32, 16), str(art / "reader.safetensors"))
    cfg = {**neural.config(neural.MODEL_DIR), "layers": 2}
    (art / "reader.json").write_text(json.dumps(cfg))
    built = neural.build_torch(art)
    assert len(built.encoder.encoder.layer) == 2
    ids = torch.tensor([[101, 2040, 2003, 1029, 102, 2009, 2001, 1996, 3099, 1012, 102]])
    types = torch.tensor([[0] * 5 + [1] * 6])
    with torch.no_grad():
        trained = model(ids, torch.ones_like(ids), types)
        runtime = built(ids, torch.ones_like(ids), types)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(trained, runtime))
    whole = tmp_path / "whole"
    shutil.copytree(art, whole)
    (whole / "reader.json").write_text(json.dumps({**cfg, "layers": 0}))
    assert neural.cache_key(art) != neural.cache_key(whole)  # a student's export is its own


def test_distillation_loss_is_zero_on_the_teachers_own_logits_and_ignores_padding():
    import torch

    from qa.evaluation.reader.distill import kd_loss, padded

    mask = torch.tensor([[True, True, True, False]])
    teacher = torch.tensor([[2.0, 0.5, -1.0, 9.0]])
    assert float(kd_loss(teacher.clone(), teacher, mask, 2.0)) == pytest.approx(0.0, abs=1e-6)
    other = torch.tensor([[0.0, 2.0, -1.0, -9.0]])
    assert float(kd_loss(other, teacher, mask, 2.0)) > 0.1
    padding_only = other.clone()
    padding_only[0, 3] = 50.0  # a padded position: no part of the loss
    assert float(kd_loss(padding_only, teacher, mask, 2.0)) == pytest.approx(float(kd_loss(other, teacher, mask, 2.0)))
    rows = [torch.tensor([1.0, 2.0]).numpy(), torch.tensor([3.0]).numpy()]
    assert padded(rows, [1, 0], 3).tolist() == [[3.0, -1e4, -1e4], [1.0, 2.0, -1e4]]


def test_the_teachers_logits_are_read_once_per_run(tmp_path, monkeypatch):
    import numpy as np

    from qa.evaluation.reader import distill, predict
    from qa.read import neural

    onnx = tmp_path / "teacher.onnx"
    onnx.write_bytes(b"stand-in")
    monkeypatch.setattr(neural, "cached_path", lambda directory: onnx)
    calls = []

    def fake(path, feats, threads):
        calls.append(path)
        return ([np.arange(len(x), dtype=np.float32) for x in feats["input_ids"]],
                [-np.arange(len(x), dtype=np.float32) for x in feats["input_ids"]])

    monkeypatch.setattr(predict, "predict_onnx", fake)
    feats = {"input_ids": [np.ones(3, np.int64), np.ones(5, np.int64)]}
    first = distill.teacher_logits(tmp_path, neural.MODEL_DIR, feats, "fp1")
    again = distill.teacher_logits(tmp_path, neural.MODEL_DIR, feats, "fp1")
    assert len(calls) == 1
    assert [a.tolist() for a in again[0]] == [a.tolist() for a in first[0]] == [[0, 1, 2], [0, 1, 2, 3, 4]]
    assert [a.tolist() for a in again[1]] == [[0, -1, -2], [0, -1, -2, -3, -4]]
    assert not list(tmp_path.glob(".tmp-teacher-*"))


def test_the_kept_general_checkpoint_is_intact_safetensors_that_fit_the_fold_readers_model():
    """eval/readers/general-l12-step1000 (where the fold readers start, `train --init-ckpt`): its bytes are the ones
    checkpoint.json records, it holds no pickle, and its tensors are exactly the trainable parameters of the
    12-layer training model (so the fold recipe loads it as it loads a run's own checkpoint)."""
    import hashlib
    import json

    from safetensors.torch import load_file

    from qa.config import REPO_ROOT
    from qa.evaluation.reader.model import load_trainable, new_training_model

    folder = REPO_ROOT / "eval" / "readers" / "general-l12-step1000"
    meta = json.loads((folder / "checkpoint.json").read_text())
    weights = folder / "trainable.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == meta["sha256"]
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.json", "trainable.safetensors"]
    model = new_training_model(base=meta["settings"]["base_model"])
    load_trainable(model, load_file(str(weights)))


def test_the_kept_fold_readers_stand_for_the_shipped_reader_so_news_figures_are_honest_by_default():
    """eval/readers/folds.json names the shipped reader (its sha256) and two safetensors artifacts trained without the
    even and without the odd RealTimeQA dev questions: `--news-readers auto` uses them. A newly shipped reader needs
    its own fold readers (eval/readers/README.md) or the news figures fall back to in sample."""
    from qa.evaluation import folds
    from qa.read import neural

    kept = folds.committed()  # reads folds.json and checks its sha256 against the shipped reader's
    assert kept.readers is not None, f"{kept.note}: re-train the fold readers (eval/readers/README.md)"
    for folder, trained_on in zip(kept.readers, ("odd", "even")):
        assert sorted(p.name for p in folder.iterdir()) == ["reader.json", "reader.safetensors"]  # no pickle
        assert f"--news {trained_on} " in neural.config(folder)["training"]["command"]


def test_the_rescoring_penalty_is_chosen_by_cross_validation_and_noise_features_get_the_strongest():
    import numpy as np

    from qa.evaluation.reader.rescore import L2_GRID, chosen_l2, fit

    rng = np.random.default_rng(0)

    def questions(informative: bool, n: int = 60):
        out = []
        for _ in range(n):
            z = rng.normal(size=8)
            x = rng.normal(size=(8, 3))
            right = int(np.argmax(z + (3.0 * x[:, 0] if informative else 0.0)))
            out.append((z, x, np.eye(8)[right]))
        return out

    noise, useful = questions(False), questions(True)
    assert chosen_l2(noise)[0] == max(L2_GRID)  # a feature that tells nothing is penalised away
    l2, scores = chosen_l2(useful)
    assert l2 < max(L2_GRID) and set(scores) == {str(v) for v in L2_GRID}
    assert fit(useful, l2)[0] > 1.0  # and one that tells the answer keeps its weight
