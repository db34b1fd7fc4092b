"""The QLoRA capstone: fine-tune adapters on an NF4 SmolLM2 with the WikiText instruction set.

Train examples come from WikiText-2 *valid*, held-out examples from *test*. Reported: the loss of every
step, and before/after perplexity of the held-out responses (masked loss) and of plain WikiText-2 test
windows, so both the new skill and any damage to general language modelling are visible.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from groundup.quant.llm.instruct import encode_examples, wikitext_pairs
from groundup.quant.llm.qlora import add_qlora, masked_lm_loss, train_adapters
from groundup.quant.llm.report import ReportConfig, load_setup, perplexity
from groundup.reports import plot_curves, write_json, write_text


@torch.no_grad()
def response_perplexity(model, ids: torch.Tensor, mask: torch.Tensor, batch_size: int = 4) -> float:
    """exp of the mean NLL over the response tokens of every example."""
    total, count = 0.0, 0
    for start in range(0, ids.shape[0], batch_size):
        i, m = ids[start : start + batch_size], mask[start : start + batch_size]
        n = int(m[:, 1:].sum())
        total += float(masked_lm_loss(model, i, m)) * n
        count += n
    return math.exp(total / count)


def run_qlora_capstone(
    model: torch.nn.Module,
    tokenizer,
    out_dir: str | Path,
    steps: int = 30,
    batch_size: int = 4,
    lr: float = 2e-3,
    r: int = 8,
    train_blocks: int = 6,
    max_len: int = 96,
    n_heldout: int = 16,
    progress=print,
) -> dict:
    """Fine-tune `model` (the float SmolLM2 with its `tokenizer`, as `groundup.generate.loading.load_model`
    returns them; quantized to NF4 here, in place) and write qlora.json, qlora_loss.png and qlora.md
    under `out_dir`."""
    from groundup.data import load_text

    torch.manual_seed(0)
    torch.set_num_threads(2)
    setup = load_setup(
        model, tokenizer, ReportConfig(eval_windows=2, eval_len=256, calib_samples=1, calib_len=8)
    )
    train_ids, train_mask = encode_examples(
        tokenizer, wikitext_pairs(load_text("wikitext2", "valid"), steps * batch_size), max_len
    )
    held_ids, held_mask = encode_examples(
        tokenizer, wikitext_pairs(load_text("wikitext2", "test"), n_heldout), max_len
    )
    params = add_qlora(model, r=r, train_blocks=train_blocks)
    model.eval()
    before = {
        "heldout_response_ppl": response_perplexity(model, held_ids, held_mask),
        "wikitext_ppl": perplexity(model, setup.eval_ids),
    }
    progress(f"qlora before: {before}")
    batches = [
        (train_ids[i : i + batch_size], train_mask[i : i + batch_size])
        for i in range(0, len(train_ids), batch_size)
    ]
    start = time.perf_counter()
    losses = train_adapters(
        model, params, batches, lr=lr, on_step=lambda s, loss: progress(f"step {s}: loss {loss:.4f}")
    )
    train_s = time.perf_counter() - start
    after = {
        "heldout_response_ppl": response_perplexity(model, held_ids, held_mask),
        "wikitext_ppl": perplexity(model, setup.eval_ids),
    }
    progress(f"qlora after: {after}")
    result = {
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "r": r,
        "train_blocks": train_blocks,
        "max_len": max_len,
        "trainable_params": sum(p.numel() for p in params),
        "losses": losses,
        "train_s": train_s,
        "before": before,
        "after": after,
    }
    out = Path(out_dir)
    write_json(out / "qlora.json", result)
    plot_curves(
        out / "qlora_loss.png",
        {"train loss": losses},
        "QLoRA on NF4 SmolLM2-135M",
        "train loss (response tokens)",
    )
    write_text(out / "qlora.md", _markdown(result))
    return result


def _markdown(r: dict) -> str:
    b, a = r["before"], r["after"]
    return (
        "# QLoRA fine-tune of SmolLM2-135M (NF4+DQ base)\n\n"
        f"{r['steps']} steps x {r['batch_size']} examples (max {r['max_len']} tokens), lr {r['lr']}, rank {r['r']} "
        f"adapters on the Linears of the last {r['train_blocks']} blocks ({r['trainable_params']} trainable "
        f"parameters), {r['train_s']:.0f} s of training.\n\n"
        "| | before | after |\n|---|---|---|\n"
        f"| held-out response perplexity (WikiText-2 test examples) | {b['heldout_response_ppl']:.3f} | {a['heldout_response_ppl']:.3f} |\n"
        f"| WikiText-2 test perplexity (2 x 256 tokens) | {b['wikitext_ppl']:.3f} | {a['wikitext_ppl']:.3f} |\n\n"
        f"Train loss: first {r['losses'][0]:.3f}, last {r['losses'][-1]:.3f}.\n\n![loss](qlora_loss.png)\n"
    )
