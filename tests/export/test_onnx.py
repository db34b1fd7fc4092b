"""ONNX export: the files pass onnx.checker, ONNX Runtime's outputs equal torch's at two shapes (dynamic
axes really are dynamic), and a decode loop on ONNX Runtime gives our model's greedy tokens."""

from __future__ import annotations

import numpy as np
import pytest

from groundup.errors import GroundupError

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")

from groundup.export import onnx as export  # noqa: E402
from groundup.export.compare import greedy  # noqa: E402

pytestmark = pytest.mark.module("1.4")
TOL = 1e-4
# the tiny models skip onnxscript's graph optimizer (a third of the export time); the slow SmolLM2
# check exports with it, as the command does


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    from groundup.models.cnn import LeNet5

    torch.manual_seed(0)
    model = LeNet5().eval()
    return model, export.export_classifier(
        model, tmp_path_factory.mktemp("onnx") / "lenet.onnx", optimize=False
    )


@pytest.fixture(scope="module")
def tiny_gpt(tmp_path_factory):
    from groundup.models.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, block_size=32, n_layer=2, n_head=2, n_embd=16)).eval()
    return model, export.export_causal_lm(model, tmp_path_factory.mktemp("onnx") / "gpt.onnx", optimize=False)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    from groundup.models.llama import Llama, LlamaConfig

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=64, max_context=64
    )
    model = Llama(cfg).eval()
    return model, export.export_llama_with_cache(
        model, tmp_path_factory.mktemp("onnx") / "llama.onnx", optimize=False
    )


def test_lenet_dynamic_batch(lenet):
    model, path = lenet
    session = export.session(path)
    for batch in (1, 7):
        x = torch.randn(batch, 1, 28, 28)
        (out,) = session.run(None, {"images": x.numpy()})
        with torch.no_grad():
            np.testing.assert_allclose(out, model(x).numpy(), atol=TOL, rtol=0)


def test_gpt_dynamic_batch_and_sequence(tiny_gpt):
    model, path = tiny_gpt
    session = export.session(path)
    for shape in ((1, 5), (3, 17)):
        ids = torch.randint(0, 50, shape)
        (out,) = session.run(None, {"input_ids": ids.numpy()})
        with torch.no_grad():
            np.testing.assert_allclose(out, model(ids).numpy(), atol=TOL, rtol=0)


def test_llama_with_cache_matches_torch_at_two_shapes(tiny_llama):
    """Prompt (empty cache) and a later step with a filled cache, batch 1 and 2."""
    model, path = tiny_llama
    session = export.session(path)
    ids = torch.randint(0, 64, (2, 9))
    with torch.no_grad():
        full = model(ids)  # (2, 9, V): the plain forward over all nine tokens
    keys, values = export.empty_cache(model, batch=2, length=0)
    logits, keys, values = session.run(
        None, {"input_ids": ids[:, :6].numpy(), "past_keys": keys.numpy(), "past_values": values.numpy()}
    )
    assert keys.shape == (2, 2, 2, 6, 8)
    np.testing.assert_allclose(logits, full[:, :6].numpy(), atol=TOL, rtol=0)
    logits, keys, _ = session.run(
        None, {"input_ids": ids[:, 6:].numpy(), "past_keys": keys, "past_values": values}
    )
    assert keys.shape == (2, 2, 2, 9, 8)
    np.testing.assert_allclose(logits, full[:, 6:].numpy(), atol=TOL, rtol=0)


def test_llama_decode_loop_on_onnx_runtime(tiny_llama):
    model, path = tiny_llama
    prompt = [3, 14, 15, 9, 26]
    ours, _ = greedy(model, prompt, 12)
    assert export.OnnxCausalLM(path, model.cache_spec).generate(prompt, 12) == ours


def test_missing_package_says_how_to_install():
    with pytest.raises(GroundupError, match="pip install onnx onnxscript onnxruntime"):
        export.require("onnx_package_that_is_not_there")


@pytest.mark.slow
def test_smollm2_with_cache_on_onnx_runtime(smollm2, tmp_path):
    """The real model: outputs at two shapes within 1e-4, and 24 greedy tokens equal to ours."""
    from groundup.data import smollm2_gguf_path
    from groundup.tokenizers.gguf import from_gguf

    path = export.export_llama_with_cache(smollm2, tmp_path / "smollm2.onnx")
    session = export.session(path)
    ids = torch.tensor([from_gguf(smollm2_gguf_path()).encode("The capital of France is Paris, and")])
    with torch.no_grad():
        full = smollm2(ids)
    n = ids.shape[1] - 2
    keys, values = export.empty_cache(smollm2, 1, 0)
    logits, keys, values = session.run(
        None, {"input_ids": ids[:, :n].numpy(), "past_keys": keys.numpy(), "past_values": values.numpy()}
    )
    np.testing.assert_allclose(logits, full[:, :n].numpy(), atol=TOL, rtol=0)
    logits, _, _ = session.run(
        None, {"input_ids": ids[:, n:].numpy(), "past_keys": keys, "past_values": values}
    )
    np.testing.assert_allclose(logits, full[:, n:].numpy(), atol=TOL, rtol=0)
    prompt = ids[0].tolist()
    ours, _ = greedy(smollm2, prompt, 24)
    assert export.OnnxCausalLM(path, smollm2.cache_spec).generate(prompt, 24) == ours


def test_export_command_writes_a_checked_lenet(tmp_path, capsys):
    from groundup.cli import main

    assert main(["export", "onnx", "lenet", str(tmp_path / "lenet.onnx")]) == 0
    assert "checked by onnx.checker" in capsys.readouterr().out
    (out,) = export.session(tmp_path / "lenet.onnx").run(
        None, {"images": np.zeros((3, 1, 28, 28), np.float32)}
    )
    assert out.shape == (3, 10)
