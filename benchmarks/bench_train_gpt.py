"""GPT training on tiny Shakespeare (CPU preset): groundup's trainer vs a plain nanoGPT-style loop.

The baseline is written here on purpose: nanoGPT's model and loop in their simplest form (manual
causal attention with a -inf mask, fp32, no compile, AdamW with decay on every matrix), with the
preset's hyperparameters, batches and seed. Both run in this process, one after the other, on the
same thread count. Rows: training throughput (tokens/s, first step excluded) for each of our
execution options (with our last training loss, from the same init and batches for every option, and
the untimed first step, which holds the compilation for "compile"), and, without --quick, the wall
time for each to reach validation loss 1.90.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.harness import Report
from groundup.data import load_text
from groundup.tokenizers.char import CharTokenizer
from groundup.train.config import make_config
from groundup.train.data import Batcher, split_tokens
from groundup.train.schedules import WarmupCosine
from groundup.train.trainer import train

TARGET_VAL = 1.90


class BaselineBlock(nn.Module):
    def __init__(self, C: int, n_head: int, T: int):
        super().__init__()
        self.n_head = n_head
        self.ln_1, self.ln_2 = nn.LayerNorm(C, bias=False), nn.LayerNorm(C, bias=False)
        self.c_attn, self.c_proj = nn.Linear(C, 3 * C, bias=False), nn.Linear(C, C, bias=False)
        self.fc, self.fc_proj = nn.Linear(C, 4 * C, bias=False), nn.Linear(4 * C, C, bias=False)
        self.register_buffer("mask", torch.tril(torch.ones(T, T)).view(1, 1, T, T))

    def attend(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, nh, T, T)
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf")).softmax(dim=-1)
        return self.c_proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))

    def forward(self, x):
        x = x + self.attend(self.ln_1(x))
        return x + self.fc_proj(F.gelu(self.fc(self.ln_2(x))))


class BaselineGPT(nn.Module):
    def __init__(self, V: int, T: int, n_layer: int, n_head: int, C: int):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.blocks = nn.ModuleList(BaselineBlock(C, n_head, T) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(C, bias=False)
        self.lm_head = nn.Linear(C, V, bias=False)
        self.wte.weight = self.lm_head.weight
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def baseline_run(cfg, train_tokens, val_tokens, vocab_size, max_iters, eval_every=None):
    """nanoGPT's loop; returns (tokens/s excluding the first step, seconds to TARGET_VAL or None, last val)."""
    torch.manual_seed(cfg.seed)
    model = BaselineGPT(vocab_size, cfg.block_size, cfg.n_layer, cfg.n_head, cfg.n_embd)
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    sched = WarmupCosine(cfg.lr, cfg.min_lr, cfg.warmup_iters, cfg.lr_decay_iters)
    batches = Batcher(train_tokens, cfg.block_size, cfg.batch_size)
    val_batches = Batcher(val_tokens, cfg.block_size, cfg.batch_size)
    generator = torch.Generator().manual_seed(cfg.seed)
    start, timed, reached, val = time.perf_counter(), 0.0, None, math.nan
    for it in range(max_iters):
        t0 = time.perf_counter()
        sched.apply(opt)
        x, y = batches.sample(generator)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if it > 0:
            timed += time.perf_counter() - t0
        if eval_every and ((it + 1) % eval_every == 0 or it + 1 == max_iters):
            val = baseline_eval(model, val_batches, cfg)
            if reached is None and val <= TARGET_VAL:
                reached = time.perf_counter() - start
    tokens = (max_iters - 1) * cfg.batch_size * cfg.block_size
    return tokens / timed, reached, val


@torch.no_grad()
def baseline_eval(model, batches, cfg):
    generator = torch.Generator().manual_seed(cfg.seed + 1000)
    model.eval()
    losses = []
    for _ in range(cfg.eval_iters):
        x, y = batches.sample(generator)
        logits = model(x)
        losses.append(F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1)).item())
    model.train()
    return sum(losses) / len(losses)


OPTIONS = {
    "fp32": {},
    "bf16": {"dtype": "bfloat16"},
    "compile": {"compile": True},
}


def run(report: Report, quick: bool) -> None:
    threads = 1  # the machine is shared: one thread each keeps the comparison fair and stable
    torch.set_num_threads(threads)
    text = load_text("tinyshakespeare")
    cfg = make_config("shakespeare-char-cpu", threads=threads, progress=False)
    tokenizer = CharTokenizer.from_text(text)
    tokens = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    train_tokens, val_tokens = split_tokens(tokens, cfg.val_fraction, cfg.block_size)
    iters = 60 if quick else 200
    no_eval = dict(max_iters=iters, eval_interval=10**9, ckpt_interval=0)

    baseline_tps, _, _ = baseline_run(cfg, train_tokens, val_tokens, tokenizer.vocab_size, iters)
    for name, option in OPTIONS.items():
        ours = train(
            make_config("shakespeare-char-cpu", threads=threads, progress=False, **no_eval, **option),
            text=text,
        )
        report.add(
            case=f"throughput {name}",
            peer="nanoGPT-style loop (fp32, manual attention)",
            ours_tokens_per_s=ours.tokens_per_s,
            peer_tokens_per_s=baseline_tps,
            speedup=ours.tokens_per_s / baseline_tps,
            iters=iters,
            threads=threads,
            ours_train_loss=ours.train_loss,  # same init and batches for every option: equal loss?
            first_step_s=ours.first_step_s,  # includes the compilation for "compile"
        )
    if quick:
        return
    full = cfg.max_iters
    _, base_reached, base_val = baseline_run(
        cfg, train_tokens, val_tokens, tokenizer.vocab_size, full, cfg.eval_interval
    )
    for name in ("fp32", "compile"):
        result = train(
            make_config("shakespeare-char-cpu", threads=threads, progress=False, **OPTIONS[name]), text=text
        )
        reached = next((e["elapsed_s"] for e in result.evals if e["val_loss"] <= TARGET_VAL), None)
        report.add(
            case=f"to val {TARGET_VAL} {name}",
            peer="nanoGPT-style loop",
            ours_val_loss=result.val_loss,
            peer_val_loss=base_val,
            ours_s=reached,
            peer_s=base_reached,
            speedup=base_reached / reached if base_reached and reached else None,
        )
