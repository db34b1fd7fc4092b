"""Against llama.cpp itself (llama-cpp-python, slow): our K-quant files are llama.cpp's files byte for
byte, and llama.cpp runs the files we write with the perplexity and greedy tokens our runtime gets."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import llama_cpp_ref
from groundup.formats.convert import convert
from groundup.formats.ggml_types import GGMLType
from groundup.formats.gguf import GGUFReader

pytestmark = [pytest.mark.module("1.4"), pytest.mark.slow]
reason = llama_cpp_ref.available()
if reason:
    pytest.skip(reason, allow_module_level=True)

torch = pytest.importorskip("torch")
PPL_TOLERANCE = 0.01  # llama.cpp quantizes activations for its quantized dot products; we compute in float32
FLOAT_PPL_TOLERANCE = 0.001  # both in float (the file's float32 expansion): measured within 0.01 %
LOGIT_TOLERANCE = 0.1  # llama.cpp vs us on F16/F32 SmolLM2 weights: measured max |difference| 0.03-0.07


@pytest.fixture(scope="module")
def f32_file(tmp_path_factory, smollm2_path):
    """SmolLM2 dequantized to an all-float32 GGUF by our writer: the common input of both quantizers."""
    return convert(
        smollm2_path, tmp_path_factory.mktemp("llama_cpp") / "smollm2-f32.gguf", "f32", order="llama.cpp"
    )


def differing_blocks(ours: GGUFReader, theirs: GGUFReader, name: str) -> tuple[int, int]:
    a, b = ours.tensor(name), theirs.tensor(name)
    rows_a = a.view(np.uint8).reshape(-1, a.view(np.uint8).shape[-1])
    rows_b = b.view(np.uint8).reshape(rows_a.shape)
    from groundup.formats.ggml_types import LAYOUTS

    info = ours.tensors[name]
    block_bytes = LAYOUTS[info.ggml_type].type_size
    blocks_a, blocks_b = rows_a.reshape(-1, block_bytes), rows_b.reshape(-1, block_bytes)
    return int((blocks_a != blocks_b).any(axis=1).sum()), len(blocks_a)


@pytest.mark.parametrize("ftype", ["q4_k_m", "q5_k_m", "q6_k", "q4_k_s", "q3_k_m", "q2_k", "q4_0", "q8_0"])
def test_our_file_is_llama_cpps_file(ftype, f32_file, tmp_path):
    """Same tensor types, every block equal, and (the tensors in llama.cpp's order) the same file."""
    ours_path = convert(f32_file, tmp_path / "ours.gguf", ftype, order="llama.cpp")
    theirs_path = tmp_path / "theirs.gguf"
    llama_cpp_ref.quantize(f32_file, theirs_path, ftype, threads=2)
    ours, theirs = GGUFReader(ours_path), GGUFReader(theirs_path)
    assert {n: t.ggml_type for n, t in ours.tensors.items()} == {
        n: t.ggml_type for n, t in theirs.tensors.items()
    }
    differing = {name: differing_blocks(ours, theirs, name) for name in ours.tensors}
    bad = {name: d for name, d in differing.items() if d[0]}
    total = sum(n for _, n in differing.values())
    assert not bad, f"{sum(d for d, _ in bad.values())} of {total} blocks differ: {bad}"
    assert ours.metadata == theirs.metadata
    assert ours_path.read_bytes() == theirs_path.read_bytes()


@pytest.fixture(scope="module")
def wide_f32_file(tmp_path_factory, our_reader):
    """An 8-layer random Llama whose rows are whole 256-weight super-blocks (dim 256, ffn 512, GQA 4:2,
    untied output): every matrix takes its K-quant with no fallback, and the 8 layers exercise the
    first/last-eighth and every-third-layer rules. Tokenizer and the other metadata: SmolLM2's."""
    from groundup.formats.gguf_writer import GGUFWriter
    from groundup.formats.mixtures import llama_cpp_order

    dims = {"embedding_length": 256, "feed_forward_length": 512, "block_count": 8,
            "attention.head_count": 4, "attention.head_count_kv": 2, "rope.dimension_count": 64}  # fmt: skip
    vocab, dim, hidden, kv_dim = len(our_reader.metadata["tokenizer.ggml.tokens"]), 256, 512, 128
    shapes = {"token_embd.weight": (vocab, dim), "output_norm.weight": (dim,), "output.weight": (vocab, dim)}
    for i in range(dims["block_count"]):
        b = f"blk.{i}."
        shapes |= {
            b + "attn_norm.weight": (dim,), b + "attn_q.weight": (dim, dim), b + "attn_k.weight": (kv_dim, dim),
            b + "attn_v.weight": (kv_dim, dim), b + "attn_output.weight": (dim, dim), b + "ffn_norm.weight": (dim,),
            b + "ffn_gate.weight": (hidden, dim), b + "ffn_up.weight": (hidden, dim),
            b + "ffn_down.weight": (dim, hidden),
        }  # fmt: skip
    path = tmp_path_factory.mktemp("wide") / "wide-f32.gguf"
    writer = GGUFWriter(path)
    for f in our_reader.fields.values():
        key = f.name.removeprefix("llama.")
        if f.name == "general.file_type":
            writer.add_field(f.name, 0, f.type)
        elif f.name.startswith("llama.") and key in dims:
            writer.add_field(f.name, dims[key], f.type)
        else:
            writer.add_field(f.name, f.value, f.type, f.item_type)
    rng = np.random.default_rng(0)
    for name in llama_cpp_order(shapes):
        shape = shapes[name]
        scale = (
            1.0 if len(shape) == 1 else 0.02 * (1 + rng.standard_normal((shape[0], 1)) ** 2)
        )  # row scales vary
        data = (rng.standard_normal(shape) * scale).astype(np.float32)
        writer.add_tensor(name, data, GGMLType.F32, shape)
    return writer.write()


@pytest.mark.parametrize(
    "ftype", ["q4_k_m", "q4_k_s", "q5_k_m", "q5_k_s", "q6_k", "q3_k_m", "q3_k_l", "q2_k"]
)
def test_k_quant_mixture_without_fallback_is_llama_cpps_file(ftype, wide_f32_file, tmp_path):
    """Where every row is whole super-blocks, the mixture puts real Q2_K..Q6_K blocks in every matrix:
    the tensor types, every block and the whole file equal llama.cpp's."""
    ours_path = convert(wide_f32_file, tmp_path / "ours.gguf", ftype, order="llama.cpp")
    theirs_path = tmp_path / "theirs.gguf"
    llama_cpp_ref.quantize(wide_f32_file, theirs_path, ftype, threads=2)
    ours, theirs = GGUFReader(ours_path), GGUFReader(theirs_path)
    ours_types = {n: t.ggml_type.name for n, t in ours.tensors.items()}
    assert ours_types == {n: t.ggml_type.name for n, t in theirs.tensors.items()}
    assert any(t.endswith("_K") for t in ours_types.values())
    differing = {name: differing_blocks(ours, theirs, name) for name in ours.tensors}
    bad = {name: d for name, d in differing.items() if d[0]}
    assert not bad, (
        f"{sum(d for d, _ in bad.values())} of {sum(n for _, n in differing.values())} blocks differ"
    )
    assert ours_path.read_bytes() == theirs_path.read_bytes()


# ---------------------------------------------------------------- llama.cpp runs our files


@pytest.fixture(scope="module")
def windows(smollm2_path):
    from groundup.export.compare import wikitext_windows
    from groundup.tokenizers.gguf import from_gguf

    return wikitext_windows(from_gguf(smollm2_path), 4, 128)


@pytest.fixture(scope="module")
def our_files(f32_file, tmp_path_factory, smollm2_path):
    """F16, Q8_0, Q4_0 and Q4_K_M by our converter, and a GPTQ W4 g32 model exported as Q4_1."""
    from groundup.models.llama import Llama
    from groundup.quant.llm.calibration import calibration_windows
    from groundup.quant.llm.gguf_export import export_gguf
    from groundup.quant.llm.quantize import quantize_llm

    folder = tmp_path_factory.mktemp("ours")
    files = {t: convert(f32_file, folder / f"{t}.gguf", t) for t in ("f16", "q8_0", "q4_0", "q4_k_m")}
    from groundup.data import load_text
    from groundup.tokenizers.gguf import from_gguf

    ids = from_gguf(smollm2_path).encode(load_text("wikitext2", "valid")[:20000], add_bos=False)
    model = Llama.from_gguf(smollm2_path)
    model = quantize_llm(model, "gptq", 4, 32, windows=calibration_windows(ids, 8, 128)) or model
    files["gptq_q4_1"] = export_gguf(model, smollm2_path, folder / "gptq_q4_1.gguf")
    return files


def float32_expansion(path, folder):
    """The file with every tensor dequantized to float32 (exact: every stored value is representable)."""
    return convert(path, folder / f"{path.stem}-f32.gguf", "f32")


@pytest.mark.parametrize("kind", ["f16", "q8_0", "q4_0", "q4_k_m", "gptq_q4_1"])
def test_llama_cpp_perplexity_matches_ours(kind, our_files, windows, tmp_path):
    """llama.cpp's perplexity on our file is ours within 1 %, and on the file's float32 expansion within 0.1 %.

    The two runtimes read the same weights (the float32 expansion shows it: there both compute in float
    and agree to 0.01 %), but llama.cpp's dot products with quantized weights first round the
    activations: to Q8_0 blocks of 32 values for the 32-weight formats (a 0.1 % effect on perplexity
    here), to Q8_K blocks of 256 for the K-quants (Q4_K_M: SmolLM2's `ffn_down`). SmolLM2's `ffn_down`
    inputs have outliers up to ~400x their RMS, which set the step of a whole 256-value block, and that
    rounding alone moves the perplexity by 1-2 % on these windows. So for a file with K-quant tensors,
    our side rounds the inputs of those projections to Q8_K too (`k_quant_activations`)."""
    from groundup.export.compare import window_perplexity
    from groundup.models.llama import Llama

    path = our_files[kind]
    model = Llama.from_gguf(path)
    ours = window_perplexity(model, windows)
    llm, _ = llama_cpp_ref.load(path, n_ctx=windows.shape[1], threads=2)
    theirs = llama_cpp_ref.perplexity(llm, windows.numpy())
    handles = llama_cpp_ref.k_quant_activations(model, path)
    rounded = window_perplexity(model, windows) if handles else ours
    for handle in handles:
        handle.remove()
    llm, _ = llama_cpp_ref.load(float32_expansion(path, tmp_path), n_ctx=windows.shape[1], threads=2)
    theirs_f32 = llama_cpp_ref.perplexity(llm, windows.numpy())
    print(
        f"{kind}: perplexity ours {ours:.4f} (Q8_K-rounded K-quant inputs {rounded:.4f}), llama.cpp "
        f"{theirs:.4f} ({theirs / rounded - 1:+.3%}); float32 expansion: llama.cpp {theirs_f32:.4f} "
        f"({theirs_f32 / ours - 1:+.3%})"
    )
    assert abs(theirs_f32 / ours - 1) < FLOAT_PPL_TOLERANCE
    assert abs(theirs / rounded - 1) < PPL_TOLERANCE


def test_llama_cpp_greedy_on_our_f16_file_equals_ours(our_files, smollm2_path, tmp_path):
    """Greedy decoding of our F16 file, llama.cpp against us, 32 tokens after a prompt.

    On the file's float32 expansion both compute in float32 and the tokens are identical. On the F16
    file itself llama.cpp multiplies in F16 (the activations are rounded to F16 too), which moves the
    logits by a few hundredths: fed our continuation, its logits stay within LOGIT_TOLERANCE of ours and
    it picks our token at every step except where our two best tokens are closer than that (a tie at
    this precision: after this prompt, step 2 has ' a' 0.006 above ' inext', and llama.cpp picks
    ' inext', after which free-running continuations part)."""
    from groundup.export.compare import greedy
    from groundup.models.llama import Llama
    from groundup.tokenizers.gguf import from_gguf

    prompt = from_gguf(smollm2_path).encode("The history of the city of Paris", add_bos=False)
    model = Llama.from_gguf(our_files["f16"])
    ours, _ = greedy(model, prompt, 32)
    llm, _ = llama_cpp_ref.load(float32_expansion(our_files["f16"], tmp_path), n_ctx=128, threads=2)
    assert llama_cpp_ref.greedy(llm, prompt, 32)[0] == ours

    sequence = prompt + ours
    steps = slice(len(prompt) - 1, len(sequence) - 1)  # the rows that chose our 32 tokens
    with torch.no_grad():
        our_logits = model(torch.tensor([sequence]))[0, steps].double().numpy()  # (32, V)
    llm, _ = llama_cpp_ref.load(our_files["f16"], n_ctx=128, threads=2)
    their_logits = llama_cpp_ref.logits(llm, sequence)[steps]  # (32, V)
    assert np.abs(their_logits - our_logits).max() < LOGIT_TOLERANCE
    top2 = np.sort(our_logits, axis=-1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] >= LOGIT_TOLERANCE
    assert (their_logits.argmax(-1) == np.array(ours))[decided].all()
