"""The LLM-quantization table on the real SmolLM2-135M: perplexity, size, bits per weight, time, speed.

Every row starts from the same float32 baseline (the bundled GGUF as `groundup.generate.loading.load_model`
returns it, dequantized), is quantized by one method, and is measured on exactly the same WikiText-2 *test* windows:

    perplexity  exp(mean next-token NLL) over `eval_windows` non-overlapping windows of `eval_len`
                tokens from the start of the test split
    size_mb     stored bytes of the whole model (packed codes + scales for quantized Linears; float32
                for the embedding, which is tied to the head and left unquantized, and the norms)
    bpw         bits per weight of the quantized block Linears (codes + scales + zeros)
    quant_s     wall time of the quantization itself (calibration included)
    decode_tok_s greedy decode speed, batch 1, KV cache, after a short prompt

Calibration windows come from WikiText-2 *valid*. Peer libraries add their rows from the benchmark
(benchmarks/bench_quant_llm.py); the markdown and the plot are rendered from the saved rows.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from groundup.quant.llm.arch import decoder_blocks
from groundup.quant.llm.calibration import calibration_windows
from groundup.reports import figure, write_json, write_text

CHARS_PER_TOKEN_GUESS = 3  # generous: the text prefix we tokenize always holds enough tokens


@dataclass
class ReportConfig:
    eval_windows: int = 8  # 2 x 256 tokens was too noisy to rank RTN vs AWQ (they swapped order)
    eval_len: int = 256
    calib_samples: int = 16  # 4 x 256 tokens made GPTQ overfit (rank-deficient Hessians)
    calib_len: int = 256
    decode_tokens: int = 4
    threads: int = 1  # on a busy shared machine one thread beats two (small ops wait on each other)


@dataclass
class Setup:
    """The float32 baseline and the token windows every row shares."""

    model: nn.Module
    tokenizer: object
    eval_ids: torch.Tensor  # (eval_windows, eval_len)
    calib_ids: torch.Tensor  # (calib_samples, calib_len)
    config: ReportConfig
    linear_paths: list[str]  # the block Linears every method replaces


def text_ids(tokenizer, text: str, n_tokens: int) -> torch.Tensor:
    """The first `n_tokens` ids of `text` (only a prefix is tokenized); ValueError if the text is shorter."""
    chars = n_tokens * CHARS_PER_TOKEN_GUESS
    while True:
        ids = tokenizer.encode(text[:chars], add_bos=False)
        if len(ids) >= n_tokens or chars >= len(text):
            break
        chars *= 2
    if len(ids) < n_tokens:
        raise ValueError(
            f"the text has {len(ids)} tokens, {n_tokens} are needed; use fewer or shorter windows"
        )
    return torch.tensor(ids[:n_tokens], dtype=torch.int64)


def load_setup(model: nn.Module, tokenizer, config: ReportConfig | None = None) -> Setup:
    """The baseline `model` and its `tokenizer` (as `groundup.generate.loading.load_model` returns them;
    quant sits below generate, so the caller loads) with the evaluation windows (WikiText-2 test) and
    calibration windows (WikiText-2 valid) every row shares."""
    from groundup.data import load_text

    config = config or ReportConfig()
    n_eval = config.eval_windows * config.eval_len
    eval_ids = text_ids(tokenizer, load_text("wikitext2", "test"), n_eval).reshape(config.eval_windows, -1)
    valid = text_ids(tokenizer, load_text("wikitext2", "valid"), config.calib_samples * config.calib_len * 4)
    calib_ids = calibration_windows(valid, config.calib_samples, config.calib_len)
    paths = [path for block in decoder_blocks(model) for path in block.linears_paths()]
    return Setup(model, tokenizer, eval_ids, calib_ids, config, paths)


def perplexity(model: nn.Module, windows: torch.Tensor) -> float:
    """exp of the mean next-token NLL over every window (B, T), each scored on its own from position 0:
    `groundup.eval.perplexity` with disjoint windows of length T."""
    from groundup.eval.perplexity import perplexity as sliding_perplexity

    length = windows.shape[1]
    return sliding_perplexity(
        model, windows.reshape(-1).tolist(), context_length=length, stride=length
    ).perplexity


@torch.no_grad()
def decode_speed(model: nn.Module, prompt: torch.Tensor, n_tokens: int) -> float:
    """Greedy tokens per second for one sequence after prefilling `prompt` (T,) into a KV cache."""
    cache = model.new_cache(1, prompt.numel() + n_tokens + 1)
    logits = model(prompt[None], kv_cache=cache, logits_index=slice(-1, None))
    start = time.perf_counter()
    for _ in range(n_tokens):
        next_id = logits[:, -1].argmax(dim=-1, keepdim=True)  # (1, 1)
        logits = model(next_id, kv_cache=cache, logits_index=slice(-1, None))
    return n_tokens / (time.perf_counter() - start)


def stored_nbytes(model: nn.Module, linear_paths: list[str]) -> tuple[int, float]:
    """(stored bytes of the model, bits per weight of the block Linears at `linear_paths`).

    A quantized module with an `nbytes()` (ours) counts its packed size; any other module (a float
    Linear, a peer library's layer) counts the tensors of its state_dict. Every other parameter
    (embedding tied to the head, norms) counts once at its real size.
    """
    linear_bytes, linear_weights, seen = 0, 0, set()
    for path in linear_paths:
        module = model.get_submodule(path)
        if callable(getattr(module, "nbytes", None)):
            bias = getattr(module, "bias", None)
            size = module.nbytes() + (0 if bias is None else bias.numel() * bias.element_size())
        else:
            size = sum(
                t.numel() * t.element_size() for t in module.state_dict().values() if torch.is_tensor(t)
            )
        linear_bytes += size
        linear_weights += module.in_features * module.out_features
        seen.update(id(p) for p in module.parameters())
    other = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            other += p.numel() * p.element_size()
    return linear_bytes + other, 8 * linear_bytes / linear_weights


def measure_row(setup: Setup, name: str, quantize: Callable[[nn.Module], nn.Module] | None, **info) -> dict:
    """Copy the baseline, quantize it (timed), and measure perplexity, size, bpw and decode speed."""
    torch.set_num_threads(setup.config.threads)
    model = copy.deepcopy(setup.model)
    start = time.perf_counter()
    if quantize is not None:
        model = quantize(model) or model
    quant_s = time.perf_counter() - start
    ppl = perplexity(model, setup.eval_ids)
    size, bpw = stored_nbytes(model, setup.linear_paths)
    speed = decode_speed(model, setup.eval_ids[0, :16], setup.config.decode_tokens)
    return {
        "name": name,
        **info,
        "perplexity": ppl,
        "size_mb": size / 1e6,
        "bpw": bpw,
        "quant_s": quant_s,
        "decode_tok_s": speed,
    }


def our_rows(
    setup: Setup, progress: Callable[[str], None] | None = None
) -> list[tuple[str, dict, Callable | None]]:
    """(name, info, quantize function) for every row of the table produced by groundup itself."""
    from groundup.quant.llm.quantize import quantize_llm

    calib = setup.calib_ids

    def q(method, bits, gs, **kw):
        return lambda m: quantize_llm(m, method, bits, gs, windows=calib, progress=progress, **kw)

    rows = [("float32", {"method": "none", "bits": 32, "group_size": None}, None)]
    for bits, gs in ((8, None), (4, 128), (3, 128)):
        rows.append(
            (
                f"RTN W{bits}" + (f" g{gs}" if gs else ""),
                {"method": "rtn", "bits": bits, "group_size": gs},
                q("rtn", bits, gs),
            )
        )
    for bits in (4, 3):
        for act in (False, True):
            rows.append(
                (
                    f"GPTQ W{bits} g128" + (" act-order" if act else ""),
                    {"method": "gptq", "bits": bits, "group_size": 128, "act_order": act},
                    q("gptq", bits, 128, act_order=act),
                )
            )
    rows.append(("AWQ W4 g128", {"method": "awq", "bits": 4, "group_size": 128}, q("awq", 4, 128)))
    rows.append(("NF4+DQ", {"method": "nf4", "bits": 4, "group_size": 64}, q("nf4", 4, None)))
    for alpha in (0.5, 0.3, 0.7, 0.85):  # the migration-strength sweep
        rows.append(
            (
                f"SmoothQuant W8A8 a={alpha}",
                {"method": "smoothquant", "bits": 8, "alpha": alpha},
                q("smoothquant", 8, None, alpha=alpha),
            )
        )
    return rows


def render_markdown(rows: list[dict], env: dict, plot_name: str | None = None) -> str:
    """The table as markdown, with the increase over the float32 row."""
    base = next((r["perplexity"] for r in rows if r.get("method") == "none"), None)
    lines = [
        "# LLM quantization of SmolLM2-135M-Instruct",
        "",
        f"Perplexity on WikiText-2 test ({env.get('eval_windows')} windows x {env.get('eval_len')} tokens, the same for "
        f"every row); calibration {env.get('calib_samples')} x {env.get('calib_len')} tokens of WikiText-2 valid. "
        f"Machine load (1 min) {env.get('load_start', '?')} -> {env.get('load_end', '?')} on {env.get('cpu_count', '?')} CPUs, "
        f"{env.get('threads', '?')} torch threads.",
        "",
        "| row | library | ppl | Δ vs fp32 | size MB | bits/weight | quant time s | decode tok/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        delta = (
            "" if base is None or r.get("method") == "none" else f"{100 * (r['perplexity'] / base - 1):+.2f}%"
        )
        lines.append(
            f"| {r['name']} | {r.get('library', 'groundup')} | {r['perplexity']:.3f} | {delta} | {r['size_mb']:.1f} | "
            f"{r['bpw']:.2f} | {r['quant_s']:.1f} | {r['decode_tok_s']:.2f} |"
        )
    if plot_name:
        lines += ["", f"![perplexity vs bits per weight]({plot_name})"]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Perplexity against bits per weight, one labelled point per row."""
    with figure(path, figsize=(7, 4.5), dpi=120) as (_, ax):
        for r in rows:
            ours = r.get("library", "groundup") == "groundup"
            ax.scatter(r["bpw"], r["perplexity"], color="tab:blue" if ours else "tab:orange")
            ax.annotate(
                r["name"] if ours else f"{r['name']} ({r['library']})",
                (r["bpw"], r["perplexity"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("bits per weight (block Linears)")
        ax.set_ylabel("WikiText-2 test perplexity")
        ax.set_title("SmolLM2-135M: perplexity vs bits (blue: groundup, orange: peers)")


def write_report(rows: list[dict], env: dict, out_dir: Path) -> Path:
    """rows.json, the plot and report.md under `out_dir`; returns the markdown path."""
    write_json(out_dir / "rows.json", {"env": env, "rows": rows})
    plot(rows, out_dir / "ppl_vs_bits.png")
    return write_text(out_dir / "report.md", render_markdown(rows, env, "ppl_vs_bits.png"))


def config_env(config: ReportConfig) -> dict:
    import os

    return {**asdict(config), "cpu_count": os.cpu_count(), "load_start": round(os.getloadavg()[0], 2)}
