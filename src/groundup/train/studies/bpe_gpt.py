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


SIDES = ("char", "bpe")


def run(out_dir, steps: int = 2000, bpe_vocab: int = 512, sides=SIDES, echo=print) -> dict:
    """Train the sides asked for (each saved as out_dir/SIDE.json, so the two may run in separate
    processes), then write bpe_gpt.md, loss.png and results.json from the sides present."""
    from groundup.reports import write_json

    out = Path(out_dir)
    train_text, val_text = split_text(load_text("tinyshakespeare"))
    for side in sides:
        if side not in SIDES:
            raise ValueError(f"sides must be among {', '.join(SIDES)}, got {side!r}")
        start = time.perf_counter()
        extra = {}
        if side == "bpe":
            *data, tok = bpe_side(train_text, val_text, bpe_vocab)
            extra = {"bpe_train_s": time.perf_counter() - start, "first_merges": first_merges(tok)}
        else:
            data = char_side(train_text, val_text)
        train_ids, val_ids, vocab, token_chars = data
        start = time.perf_counter()
        model, losses = train_gpt(train_ids, vocab, steps=steps)
        seconds = time.perf_counter() - start
        bpc, nats = bits_per_char(model, val_ids, token_chars)
        echo(f"{side}: val {bpc:.4f} bits/char ({nats:.4f} nats/token), {seconds:.0f} s")
        result = {
            "vocab": vocab,
            "params": sum(p.numel() for p in model.parameters()),
            "val_bits_per_char": bpc,
            "val_nats_per_token": nats,
            "chars_per_token": len(val_text) / len(val_ids),
            "train_tokens": len(train_ids),
            "seconds": seconds,
            "losses": losses,
            **extra,
        }
        write_json(out / f"{side}.json", result)
    return write_summary(out, steps, len(val_text))


def first_merges(tok, n: int = 24) -> list[str]:
    return [tok.token_bytes(i).decode("ascii", "replace") for i in range(256, 256 + n)]


def write_summary(out: Path, steps: int, val_chars: int) -> dict:
    import json

    from groundup.reports import markdown_table, plot_curves, smooth, write_json, write_report

    results = {s: json.loads((out / f"{s}.json").read_text()) for s in SIDES if (out / f"{s}.json").exists()}
    rows, curves = [], {}
    for side, r in results.items():
        rows.append(
            [
                side if side == "char" else f"BPE {r['vocab']}",
                r["vocab"],
                r["params"],
                f"{r['chars_per_token']:.2f}",
                f"{r['val_nats_per_token']:.4f}",
                f"{r['val_bits_per_char']:.4f}",
                f"{r['seconds']:.0f}",
            ]
        )
        curves[side] = [v / (r["chars_per_token"] * math.log(2)) for v in smooth(r["losses"], 50)]
    plot_curves(out / "loss.png", curves, "training loss in bits per character (smoothed)", "bits / char")
    summary = {s: {k: v for k, v in r.items() if k != "losses"} for s, r in results.items()}
    write_json(out / "results.json", {"steps": steps, **summary})
    sections = [
        f"Data: tiny Shakespeare, first 90% of the characters for training (and for the BPE merges), the "
        f"last 10% ({val_chars:,} characters) for validation, scored over every non-overlapping "
        f"64-token block. Model: GPT 4 layers x 4 heads x 128, context 64 tokens, batch 12, {steps} steps "
        "AdamW 1e-3 (warmup, cosine to 1e-4), the same seed; only the vocabulary differs.",
    ]
    if "bpe" in results:
        r = results["bpe"]
        sections.append(
            f"Tokenizer: `RegexBPE('gpt4')` trained in {r['bpe_train_s']:.0f} s to {r['vocab']} tokens (256 "
            f"bytes + {r['vocab'] - 256} merges). First merges: "
            + ", ".join(f"`{m!r}`" for m in r["first_merges"])
        )
    headers = [
        "tokens",
        "vocab",
        "parameters",
        "chars / token",
        "val nats / token",
        "val bits / char",
        "train s",
    ]
    sections += [
        markdown_table(headers, rows),
        "The training curve converts each token loss with the validation split's characters per token.",
        "![loss](loss.png)",
    ]
    write_report(out / "bpe_gpt.md", "GPT on BPE tokens vs on characters: bits per character", sections)
    return summary
