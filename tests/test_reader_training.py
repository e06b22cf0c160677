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

    assert _readers("") is None
    assert _readers(f"{MODEL_DIR},{MODEL_DIR}") == [MODEL_DIR, MODEL_DIR]
    assert _readers(f"{MODEL_DIR}") is False
    assert _readers(f"{MODEL_DIR},{tmp_path}") is False
    assert capsys.readouterr().err.count("\n") == 2
