"""Study (0.7): the GPT on BPE tokens from our own tokenizer beside the GPT on characters.

Both models have the char recipe's shape (4 layers, 4 heads, width 128, 64-token context), the same
optimizer, schedule, batch and number of steps, so each step costs about the same compute; the BPE
model's 64 tokens simply span more text. Losses per token are not comparable across vocabularies,
so both are converted to bits per character over one and the same validation text:

    bpc = (sum over predicted tokens of -ln p(token)) / (characters those tokens spell * ln 2)

The tokenizer is `RegexBPE("gpt4")` trained on the training split only (the validation text never
shapes a merge). Tiny Shakespeare is ASCII, so characters and bytes coincide.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from groundup.data import load_text
from groundup.models.gpt import GPT, GPTConfig
from groundup.tokenizers.char import CharTokenizer
from groundup.tokenizers.regex_bpe import RegexBPE
from groundup.train.data import Batcher
from groundup.train.schedules import WarmupCosine

SHAPE = dict(block_size=64, n_layer=4, n_head=4, n_embd=128, bias=False, dropout=0.0)


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    cut = int(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


def train_gpt(train_ids, vocab_size: int, *, steps: int, batch: int = 12, seed: int = 1337, lr: float = 1e-3):
    """nanoGPT's CPU recipe loop (AdamW, warmup 100 + cosine to lr/10, clip 1.0); returns (model, losses)."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=vocab_size, **SHAPE))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
        lr=lr,
        betas=(0.9, 0.99),
    )
    sched = WarmupCosine(lr, lr / 10, min(100, steps // 10), steps)
    batches, g = Batcher(train_ids, SHAPE["block_size"], batch), torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        sched.apply(opt)
        x, y = batches.sample(g)  # (B, T) each
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return model.eval(), losses


@torch.no_grad()
def bits_per_char(
    model, ids: torch.Tensor, token_chars: torch.Tensor, batch: int = 64
) -> tuple[float, float]:
    """(bits per character, nats per token) over every non-overlapping block of `ids`; token_chars[v]
    is the number of characters token v spells."""
    T = SHAPE["block_size"]
    n = (len(ids) - 1) // T
    x = ids[: n * T].view(n, T)
    y = ids[1 : n * T + 1].view(n, T)
    nats, chars = 0.0, 0
    for i in range(0, n, batch):
        logits = model(x[i : i + batch])  # (b, T, V)
        nats += F.cross_entropy(logits.flatten(0, 1), y[i : i + batch].flatten(), reduction="sum").item()
        chars += int(token_chars[y[i : i + batch]].sum())
    return nats / (chars * math.log(2)), nats / y.numel()


def char_side(train_text: str, val_text: str):
    tok = CharTokenizer.from_text(train_text + val_text)
    ids = lambda s: torch.tensor(tok.encode(s), dtype=torch.long)  # noqa: E731
    return ids(train_text), ids(val_text), tok.vocab_size, torch.ones(tok.vocab_size, dtype=torch.long)


def bpe_side(train_text: str, val_text: str, vocab_size: int):
    tok = RegexBPE("gpt4").train(train_text, vocab_size)
    ids = lambda s: torch.tensor(tok.encode_ordinary(s), dtype=torch.long)  # noqa: E731
    lengths = torch.tensor([len(tok.token_bytes(i)) for i in range(tok.vocab_size)], dtype=torch.long)
    return ids(train_text), ids(val_text), tok.vocab_size, lengths, tok


def run(out_dir, steps: int = 2000, bpe_vocab: int = 512, echo=print) -> dict:
    """Train both; write bpe_gpt.md, loss.png and results.json."""
    from groundup.reports import markdown_table, plot_curves, smooth, write_json, write_report

    out = Path(out_dir)
    train_text, val_text = split_text(load_text("tinyshakespeare"))
    start = time.perf_counter()
    *bpe_data, tok = bpe_side(train_text, val_text, bpe_vocab)
    bpe_train_s = time.perf_counter() - start
    sides = {"char": char_side(train_text, val_text), f"BPE {bpe_vocab}": tuple(bpe_data)}
    results, rows, curves = {}, [], {}
    for name, (train_ids, val_ids, vocab, token_chars) in sides.items():
        start = time.perf_counter()
        model, losses = train_gpt(train_ids, vocab, steps=steps)
        seconds = time.perf_counter() - start
        bpc, nats = bits_per_char(model, val_ids, token_chars)
        chars_per_token = len(val_text) / len(val_ids)
        params = sum(p.numel() for p in model.parameters())
        echo(f"{name}: val {bpc:.4f} bits/char ({nats:.4f} nats/token), {seconds:.0f} s")
        results[name] = {
            "vocab": vocab,
            "params": params,
            "val_bits_per_char": bpc,
            "val_nats_per_token": nats,
            "chars_per_token": chars_per_token,
            "train_tokens": len(train_ids),
            "seconds": seconds,
        }
        rows.append(
            [name, vocab, params, f"{chars_per_token:.2f}", f"{nats:.4f}", f"{bpc:.4f}", f"{seconds:.0f}"]
        )
        curves[name] = [v / (chars_per_token * math.log(2)) for v in smooth(losses, 50)]
    plot_curves(out / "loss.png", curves, "training loss in bits per character (smoothed)", "bits / char")
    write_json(out / "results.json", {"steps": steps, "bpe_train_s": bpe_train_s, **results})
    sample = [tok.token_bytes(i).decode("ascii", "replace") for i in range(256, 256 + 24)]
    sections = [
        f"Data: tiny Shakespeare, first 90% of the characters for training (and for the BPE merges), the "
        f"last 10% ({len(val_text):,} characters) for validation, scored over every non-overlapping "
        f"64-token block. Model: GPT 4 layers x 4 heads x 128, context 64 tokens, batch 12, {steps} steps "
        "AdamW 1e-3 (warmup, cosine to 1e-4), the same seed; only the vocabulary differs.",
        f"Tokenizer: `RegexBPE('gpt4')` trained in {bpe_train_s:.0f} s to {bpe_vocab} tokens (256 bytes + "
        f"{bpe_vocab - 256} merges). First merges: " + ", ".join(f"`{s!r}`" for s in sample),
        markdown_table(
            [
                "tokens",
                "vocab",
                "parameters",
                "chars / token",
                "val nats / token",
                "val bits / char",
                "train s",
            ],
            rows,
        ),
        "The training curve converts each token loss with the validation split's characters per token.",
        "![loss](loss.png)",
    ]
    write_report(out / "bpe_gpt.md", "GPT on BPE tokens vs on characters: bits per character", sections)
    return results
