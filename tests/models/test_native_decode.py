"""The native decode step (`groundup.models.native_decode`, `kernels/csrc/decode_step.c`): the whole
single-token forward of a quantized Llama in one C call equals the eager PyTorch step.

Tolerance: the projections are the same kernels on the same inputs and the elementwise steps the same
float32 operations, so logits differ only by float32 rounding of sums taken in another order (the
norms' mean square, attention's dot products and softmax); over the tiny models' 2 layers that is a
few ulps of the largest logit (measured: at most 1.2e-4 on logits of magnitude ~570, 2e-7 relative).
We allow 1e-5 of the largest logit and, for cached keys and values (magnitude ~1), 1e-5 absolute.
The tiny models' heads are scaled for well-separated logits, so greedy tokens must be equal. With the
dot8 kernel x is rounded to int8 per group, which can turn a rounding difference into a flipped code:
equal here, but on SmolLM2 the dot8 texts may part after a few dozen tokens (docs/notes/1.5-*.md)."""

from __future__ import annotations

import pytest
import torch

from groundup.formats.ggml_types import GGMLType
from groundup.generate import SamplingParams, generate
from groundup.kernels import native
from groundup.models.layers import RotaryEmbedding
from groundup.models.llama import Llama
from groundup.models.native_decode import NativeDecode, enable_native_decode, native_decode_problem
from groundup.models.quantized import use_kernel
from groundup.models.rope_scaling import RopeScaling
from tests.models.test_quantized_llama import CFG, PROMPT, write_quantized_llama

pytestmark = pytest.mark.module("1.5")
STEPS = 16


def needs_native():
    if not native.available():
        pytest.skip("the compiled kernels did not build here")


@pytest.fixture(scope="module")
def gguf_all_quantized(tmp_path_factory):
    """Every tensor in a kernel type (layer 1's ffn_down Q8_0): `auto` is fully quantized."""
    return write_quantized_llama(tmp_path_factory.mktemp("nd") / "all-q.gguf", GGMLType.Q8_0)


@pytest.fixture(scope="module")
def gguf_with_float_layer(tmp_path_factory):
    """Layer 1's ffn_down in Q5_0: `auto` keeps it as a float32 nn.Linear."""
    return write_quantized_llama(tmp_path_factory.mktemp("nd") / "mixed.gguf")


def load(path, form: str) -> Llama:
    """weights form, or "dot8": int4 weights through the int8-activation kernel (chosen after load)."""
    model = Llama.from_gguf(path, weights="int4" if form == "dot8" else form)
    if form == "dot8":
        use_kernel(model, "dot8")
    return model


def assert_logits_close(native_logits, eager_logits):
    tol = 1e-5 * float(eager_logits.abs().max())
    torch.testing.assert_close(native_logits, eager_logits, rtol=0, atol=tol)


@torch.inference_mode()
def run_both(model, prompt=PROMPT, steps=STEPS):
    """Prefill eagerly, then `steps` greedy steps through the model (native) and through the eager
    step on a second cache; returns (native tokens, eager tokens, native cache, eager cache)."""
    step = model.decode_step
    caches = model.new_cache(1, len(prompt[0]) + steps + 1), model.new_cache(1, len(prompt[0]) + steps + 1)
    first = [int(model(torch.tensor(prompt), kv_cache=c)[0, -1].argmax()) for c in caches]
    tokens = [first[:1], first[1:]]
    for _ in range(steps):
        a = model(torch.tensor([[tokens[0][-1]]]), kv_cache=caches[0])
        b = step.eager(torch.tensor([[tokens[1][-1]]]), caches[1])
        assert a.shape == b.shape == (1, 1, model.vocab_size)
        assert_logits_close(a, b)
        tokens[0].append(int(a[0, -1].argmax()))
        tokens[1].append(int(b[0, -1].argmax()))
    return tokens[0], tokens[1], caches[0], caches[1]


@pytest.mark.parametrize("form", ["auto", "int8", "int4", "dot8", "auto-with-a-float-layer"])
def test_native_step_equals_the_eager_step(form, gguf_all_quantized, gguf_with_float_layer):
    """Logits of every step, greedy tokens, and the K/V written into the cache (GQA: 4 query heads
    share 2 key/value heads)."""
    needs_native()
    path = gguf_with_float_layer if form == "auto-with-a-float-layer" else gguf_all_quantized
    model = load(path, form.split("-")[0])
    assert CFG.n_kv_heads < CFG.n_heads
    step = model.decode_step
    assert isinstance(step, NativeDecode)
    native_ids, eager_ids, native_cache, eager_cache = run_both(model)
    assert native_ids == eager_ids
    assert step.calls == STEPS and step.fallbacks == 0
    assert native_cache.lengths == eager_cache.lengths == [len(PROMPT[0]) + STEPS] * CFG.n_layers
    torch.testing.assert_close(native_cache.k, eager_cache.k, rtol=0, atol=1e-5)
    torch.testing.assert_close(native_cache.v, eager_cache.v, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "rope",
    [
        dict(scaling=2.0, freq_factors=torch.linspace(1.0, 8.0, CFG.head_dim // 2)),
        dict(rope_scaling=RopeScaling("yarn", factor=4.0, original_max_positions=16)),
    ],
    ids=["linear-and-freq-factors", "yarn"],
)
def test_rotary_uses_the_models_own_tables(rope, gguf_all_quantized):
    """The C step reads RotaryEmbedding's cos/sin, so linear scaling, frequency factors and YaRN's
    attention factor come out as in the eager step (a new `rope` module rebuilds the step's plan)."""
    needs_native()
    model = load(gguf_all_quantized, "auto")
    model.rope = RotaryEmbedding(CFG.head_dim, CFG.max_context, CFG.rope_theta, **rope)
    native_ids, eager_ids, native_cache, eager_cache = run_both(model)
    assert native_ids == eager_ids and model.decode_step.calls == STEPS
    torch.testing.assert_close(native_cache.k, eager_cache.k, rtol=0, atol=1e-5)


@torch.inference_mode()
def test_eager_and_native_steps_mix(gguf_all_quantized):
    """Eager prefill, native steps, eager steps, native again: the cache stays one sequence."""
    needs_native()
    model = load(gguf_all_quantized, "auto")
    step = model.decode_step
    mixed = model.new_cache(1, 32)
    ids = [int(model(torch.tensor(PROMPT), kv_cache=mixed)[0, -1].argmax())]
    for i in range(12):
        run = step.eager if 4 <= i < 8 else model.decode_step
        ids.append(int(run(torch.tensor([[ids[-1]]]), mixed)[0, -1].argmax()))
    model.decode_step = None
    eager = model.new_cache(1, 32)
    expected = [int(model(torch.tensor(PROMPT), kv_cache=eager)[0, -1].argmax())]
    for _ in range(12):
        expected.append(int(model(torch.tensor([[expected[-1]]]), kv_cache=eager)[0, -1].argmax()))
    assert ids == expected and step.calls == 8
    torch.testing.assert_close(mixed.k, eager.k, rtol=0, atol=1e-5)


def test_generate_runs_through_it(gguf_all_quantized):
    needs_native()
    model = load(gguf_all_quantized, "int8")
    params = SamplingParams(temperature=0.0, max_tokens=10, ignore_eos=True)
    native_ids = generate(model, PROMPT[0], params).token_ids
    calls, model.decode_step = model.decode_step.calls, None
    assert calls == 9 and generate(model, PROMPT[0], params).token_ids == native_ids


@torch.inference_mode()
def test_calls_it_does_not_cover_take_the_eager_step(gguf_all_quantized):
    needs_native()
    model = load(gguf_all_quantized, "auto")
    step = model.decode_step
    batch = model.new_cache(2, 16)
    model(torch.tensor(PROMPT * 2), kv_cache=batch)
    assert model(torch.tensor([[1], [2]]), kv_cache=batch).shape == (2, 1, CFG.vocab_size)
    windowed = model.new_cache(1, 16)
    windowed.window = 4
    model(torch.tensor(PROMPT), kv_cache=windowed)
    model(torch.tensor([[1]]), kv_cache=windowed)
    assert (step.calls, step.fallbacks) == (0, 2)
    with pytest.raises(IndexError, match="outside the vocabulary"):
        model(torch.tensor([[CFG.vocab_size]]), kv_cache=model.new_cache(1, 4))


def test_with_gradients_enabled_it_runs_as_eager_would(gguf_all_quantized):
    """The eager step's logits have no gradient through a quantized head, so the native step needs no
    autograd either; only a float head (gradients wanted) sends the call to the eager step."""
    needs_native()
    model = load(gguf_all_quantized, "auto")
    cache = model.new_cache(1, 8)
    with torch.no_grad():
        model(torch.tensor(PROMPT), kv_cache=cache)
    assert not model(torch.tensor([[1]]), kv_cache=cache).requires_grad
    assert model.decode_step.eager(torch.tensor([[1]]), cache).requires_grad is False
    assert (model.decode_step.calls, model.decode_step.fallbacks) == (1, 0)


def test_what_does_not_qualify_is_named(gguf_all_quantized, monkeypatch):
    needs_native()
    model = load(gguf_all_quantized, "auto")
    assert native_decode_problem(model) is None
    step = model.decode_step
    use_kernel(model, "reference")
    assert "lm_head uses the 'reference' kernel" in native_decode_problem(model)
    with pytest.raises(ValueError, match="cannot run it"):
        NativeDecode(model)
    with torch.inference_mode():  # the step already set sees the change and runs the eager step
        cache = model.new_cache(1, 8)
        model(torch.tensor(PROMPT), kv_cache=cache)
        model(torch.tensor([[1]]), kv_cache=cache)
    assert (step.calls, step.fallbacks) == (0, 1) and "lm_head" in step.problem
    float_model = Llama.from_gguf(gguf_all_quantized, weights="bfloat16")
    assert float_model.decode_step is None and "not float32" in native_decode_problem(float_model)
    monkeypatch.setenv("GROUNDUP_NATIVE_STEP", "0")
    assert load(gguf_all_quantized, "auto").decode_step is None
    assert enable_native_decode(model) == (None, "switched off (GROUNDUP_NATIVE_STEP=0)")


def test_without_the_compiled_library_the_eager_step_runs(gguf_all_quantized, monkeypatch):
    monkeypatch.setenv("GROUNDUP_NATIVE_KERNELS", "0")
    native.load.cache_clear()
    try:
        model = load(gguf_all_quantized, "auto")
        assert model.decode_step is None
        assert "compiled kernels are unavailable" in native_decode_problem(model)
        cache = model.new_cache(1, 8)
        with torch.inference_mode():
            model(torch.tensor(PROMPT), kv_cache=cache)
            assert model(torch.tensor([[1]]), kv_cache=cache).shape == (1, 1, CFG.vocab_size)
    finally:
        monkeypatch.undo()
        native.load.cache_clear()


@pytest.mark.slow
def test_smollm2_greedy_tokens_equal_the_eager_step():
    """The real SmolLM2-135M (`auto`: Q4_1 projections, Q8_0 tied embedding/head, 30 layers): 32
    greedy tokens of the native step equal the eager step's on three prompts."""
    needs_native()
    from groundup.data import smollm2_gguf_path
    from groundup.tokenizers.gguf import from_gguf

    path = smollm2_gguf_path()
    model, tokenizer = Llama.from_gguf(path, weights="auto"), from_gguf(path)
    assert isinstance(model.decode_step, NativeDecode)
    for prompt in ["The capital of France is", "def fibonacci(n):", "Once upon a time, a small robot"]:
        ids = [tokenizer.encode(prompt)]
        native_ids, eager_ids, native_cache, eager_cache = run_both(model, ids, steps=32)
        assert native_ids == eager_ids, prompt
        torch.testing.assert_close(native_cache.k, eager_cache.k, rtol=0, atol=1e-3)


@pytest.mark.module("1.6")
def test_profile_shows_the_native_step_as_one_span(gguf_all_quantized):
    needs_native()
    from groundup.profiling.decode import profile_decode

    model = load(gguf_all_quantized, "auto")
    native_ops = {row.name for row in profile_decode(model, PROMPT[0], 2, profiled_tokens=2).top}
    model.decode_step = None
    eager_ops = {row.name for row in profile_decode(model, PROMPT[0], 2, profiled_tokens=2).top}
    assert "groundup::native_decode_step" in native_ops and "groundup::native_decode_step" not in eager_ops


@pytest.mark.module("1.6")
def test_profile_command_configs_choose_the_step(gguf_all_quantized, tmp_path, monkeypatch):
    """`groundup profile decode auto auto:eager auto:dot8:eager`: ':eager' keeps PyTorch's step."""
    needs_native()
    from groundup.cli import main
    from groundup.profiling import decode_report

    steps = {}

    def study(configs, out, load, **kwargs):
        for config in configs:
            model, _ = load(config)
            steps[config] = (
                type(model.decode_step).__name__,
                {m.kernel for m in model.modules() if hasattr(m, "kernel")},
            )
        (tmp_path / "report.md").write_text("report")
        return tmp_path / "report.md"

    monkeypatch.setattr(decode_report, "run_decode_study", study)
    args = ["profile", "decode", "auto", "auto:eager", "auto:dot8:eager", "--model", gguf_all_quantized]
    assert main([*args, "--out", str(tmp_path / "study")]) == 0
    assert steps == {
        "auto": ("NativeDecode", {"native"}),
        "auto:eager": ("NoneType", {"native"}),
        "auto:dot8:eager": ("NoneType", {"dot8"}),
    }
