"""GPT training on tiny Shakespeare (CPU preset): groundup's trainer vs nanoGPT's own train.py.

With `GROUNDUP_NANOGPT_DIR` pointing at a nanoGPT checkout (model.py, train.py, configurator.py,
config/train_shakespeare_char.py), the peer is nanoGPT itself: its README's CPU recipe (4 layers x 4
heads x 128, block 64, batch 12, lr 1e-3 -> 1e-4, dropout 0, no compile) run by its own train.py on
the same characters (train.bin/val.bin/meta.pkl written as its prepare.py would, 90/10 split). Both
sides run in fresh processes at one thread (OMP_NUM_THREADS=1), alternating ours/peer for a number of
rounds, and the rows give the median tokens/s of each (training steps only: nanoGPT's iterations
that hold an evaluation and each side's first step are left out), the per-round ratios, and the load
average before each run. Without --quick a final pair runs the full 2000 iterations and compares the
validation loss reached (both evaluate 20 batches every 250 iterations). GROUNDUP_BENCH_ROUNDS,
GROUNDUP_BENCH_ITERS and GROUNDUP_BENCH_FULL=0 (no 2000-iteration pair) size a run to the machine's
time. Nothing of nanoGPT is imported or copied here: its scripts run as they are.

Without a checkout, the fallback peer is a nanoGPT-style loop written here (manual causal attention,
fp32, AdamW with decay on every matrix) in this process, and the rows also cover our bf16 and compile
options, plus (without --quick) the wall time for each to reach validation loss 1.90.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    checkout = os.environ.get("GROUNDUP_NANOGPT_DIR")
    if checkout:
        return run_against_nanogpt(report, quick, Path(checkout))
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


# -- nanoGPT itself as the peer -----------------------------------------------------------------------

NANOGPT_RECIPE = [  # nanoGPT README, "I only have a macbook": the shakespeare_char CPU run
    "config/train_shakespeare_char.py",
    "--device=cpu",
    "--compile=False",
    "--eval_iters=20",
    "--log_interval=1",
    "--block_size=64",
    "--batch_size=12",
    "--n_layer=4",
    "--n_head=4",
    "--n_embd=128",
    "--dropout=0.0",
]
TOKENS_PER_ITER = 12 * 64
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

OURS_SCRIPT = """
import json, sys, time
from groundup.data import load_text
from groundup.train.config import make_config
from groundup.train.trainer import train
iters, eval_interval = int(sys.argv[1]), int(sys.argv[2])
cfg = make_config("shakespeare-char-cpu", threads=1, progress=False, max_iters=iters,
                  eval_interval=eval_interval, ckpt_interval=0)
start = time.perf_counter()
r = train(cfg, text=load_text("tinyshakespeare"))
print(json.dumps({"tokens_per_s": r.tokens_per_s, "val_loss": r.val_loss, "wall_s": time.perf_counter() - start}))
"""


def prepare_nanogpt_data(folder: Path) -> Path:
    """train.bin, val.bin (uint16 ids) and meta.pkl exactly as nanoGPT's shakespeare_char/prepare.py
    lays them out (sorted characters, first 90% of the characters for training)."""
    import numpy as np

    text = load_text("tinyshakespeare")
    tokenizer = CharTokenizer.from_text(text)
    cut = int(len(text) * 0.9)
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", text[:cut]), ("val", text[cut:])):
        np.array(tokenizer.encode(part), dtype=np.uint16).tofile(folder / f"{name}.bin")
    meta = {"vocab_size": tokenizer.vocab_size, "itos": dict(enumerate(tokenizer.chars))}
    meta["stoi"] = {c: i for i, c in meta["itos"].items()}
    with open(folder / "meta.pkl", "wb") as f:
        pickle.dump(meta, f)
    return folder


def run_nanogpt(checkout: Path, data: Path, out: Path, iters: int, eval_interval: int) -> dict:
    """nanoGPT's train.py in a fresh process; tokens/s over its training-only iterations."""
    args = [*NANOGPT_RECIPE, f"--dataset={data}", f"--out_dir={out}", f"--max_iters={iters}"]
    args += [f"--lr_decay_iters={iters}", f"--eval_interval={eval_interval}"]
    start, cpu = time.perf_counter(), children_cpu_s()
    proc = subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=checkout,
        env={**os.environ, **ONE_THREAD},
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu = time.perf_counter() - start, children_cpu_s() - cpu
    steps = [
        (int(i), float(ms))
        for i, ms in re.findall(r"^iter (\d+): loss [\d.]+, time ([\d.]+)ms", proc.stdout, re.M)
    ]
    timed = [ms for i, ms in steps if i > 0 and i % eval_interval]
    vals = re.findall(r"^step (\d+): train loss [\d.]+, val loss ([\d.]+)", proc.stdout, re.M)
    return {
        "tokens_per_s": TOKENS_PER_ITER * len(timed) / (sum(timed) / 1000),
        "val_loss": float(vals[-1][1]) if vals else math.nan,
        "val_at_iter": int(vals[-1][0]) if vals else None,
        "wall_s": wall,
        "cpu_s": cpu,
    }


def children_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children: a run's CPU time, whatever the
    machine's load (it holds the start-up, data loading and evaluations as well as the steps)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ours(iters: int, eval_interval: int) -> dict:
    """groundup's trainer on the same preset in a fresh process at one thread."""
    cpu = children_cpu_s()
    proc = subprocess.run(
        [sys.executable, "-c", OURS_SCRIPT, str(iters), str(eval_interval)],
        env={**os.environ, **ONE_THREAD},
        capture_output=True,
        text=True,
        check=True,
    )
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "cpu_s": children_cpu_s() - cpu}


def alternate(checkout: Path, data: Path, tmp: Path, rounds: int, iters: int, eval_interval: int) -> list:
    """`rounds` pairs of fresh runs, ours first in even rounds and nanoGPT first in odd ones."""
    pairs = []
    for r in range(rounds):
        runs = {}
        order = ("ours", "nanogpt") if r % 2 == 0 else ("nanogpt", "ours")
        for side in order:
            load = os.getloadavg()[0]
            if side == "ours":
                runs[side] = run_ours(iters, eval_interval)
            else:
                runs[side] = run_nanogpt(checkout, data, tmp / f"out{r}", iters, eval_interval)
            runs[side]["load_before"] = load
            print(
                f"round {r} {side}: {runs[side]['tokens_per_s']:,.0f} tokens/s, {runs[side]['cpu_s']:.1f} CPU s "
                f"(load {load:.1f})",
                flush=True,
            )
        pairs.append(runs)
    return pairs


def run_against_nanogpt(report: Report, quick: bool, checkout: Path) -> None:
    missing = [f for f in ("model.py", "train.py", "configurator.py") if not (checkout / f).is_file()]
    if missing:
        raise SystemExit(
            f"GROUNDUP_NANOGPT_DIR={checkout} lacks {', '.join(missing)}: point it at a nanoGPT checkout"
        )
    rounds = int(os.environ.get("GROUNDUP_BENCH_ROUNDS", 3))
    iters = int(os.environ.get("GROUNDUP_BENCH_ITERS", 60 if quick else 300))
    full_pair = not quick and os.environ.get("GROUNDUP_BENCH_FULL", "1") != "0"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = prepare_nanogpt_data(tmp / "shakespeare_char")
        report.add(**cpu_per_step(checkout, rounds))
        pairs = alternate(checkout, data, tmp, rounds, iters, eval_interval=10**6)
        ours = statistics.median(p["ours"]["tokens_per_s"] for p in pairs)
        peer = statistics.median(p["nanogpt"]["tokens_per_s"] for p in pairs)
        report.add(
            case=f"throughput fp32, {iters} iters x {rounds} alternating rounds",
            peer="nanoGPT train.py (its own model.py, CPU recipe)",
            ours_tokens_per_s=ours,
            peer_tokens_per_s=peer,
            speedup=ours / peer,
            round_ratios=[p["ours"]["tokens_per_s"] / p["nanogpt"]["tokens_per_s"] for p in pairs],
            loads=[[p["ours"]["load_before"], p["nanogpt"]["load_before"]] for p in pairs],
            ours_cpu_s=[p["ours"]["cpu_s"] for p in pairs],
            peer_cpu_s=[p["nanogpt"]["cpu_s"] for p in pairs],
            threads=1,
            target=1.25,
        )
        if not full_pair:
            return
        full = alternate(checkout, data, tmp, 1, 2000, eval_interval=250)[0]
        report.add(
            case="2000 iterations fp32 (eval every 250)",
            peer="nanoGPT train.py",
            ours_val_loss=full["ours"]["val_loss"],
            peer_val_loss=full["nanogpt"]["val_loss"],
            ours_tokens_per_s=full["ours"]["tokens_per_s"],
            peer_tokens_per_s=full["nanogpt"]["tokens_per_s"],
            speedup=full["ours"]["tokens_per_s"] / full["nanogpt"]["tokens_per_s"],
            ours_wall_s=full["ours"]["wall_s"],
            peer_wall_s=full["nanogpt"]["wall_s"],
            loads=[full["ours"]["load_before"], full["nanogpt"]["load_before"]],
        )


def cpu_per_step(checkout: Path, rounds: int, block: int = 10) -> dict:
    """CPU seconds per training step of both, in this process, alternating blocks of `block` steps:
    ours is the trainer's own `Run.step`; the peer is nanoGPT's model.py GPT with its
    `configure_optimizers`, stepped with the four calls of its train.py loop (forward with targets,
    backward, clip 1.0, AdamW step and zero_grad). Thread CPU time counts the work whatever the load
    (a loaded machine still slows both through caches and migrations)."""
    import importlib.util

    from groundup.train import distributed
    from groundup.train.trainer import Run

    torch.set_num_threads(1)
    text = load_text("tinyshakespeare")
    cfg = make_config("shakespeare-char-cpu", threads=1, progress=False)
    ours = Run(cfg, None, distributed.setup(), CharTokenizer.from_text(text), text)
    ours.restore(None)  # makes the optimizer, as the trainer does before its loop
    spec = importlib.util.spec_from_file_location("nanogpt_model", checkout / "model.py")
    nano = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nano)
    torch.manual_seed(cfg.seed)
    peer_cfg = dict(block_size=64, vocab_size=ours.tokenizer.vocab_size, n_layer=4, n_head=4, n_embd=128)
    peer = nano.GPT(nano.GPTConfig(**peer_cfg, dropout=0.0, bias=False))
    peer_opt = peer.configure_optimizers(0.1, 1e-3, (0.9, 0.99), "cpu")
    generator = torch.Generator().manual_seed(cfg.seed)

    def peer_step():
        x, y = ours.train_batches.sample(generator)
        _, loss = peer(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(peer.parameters(), 1.0)
        peer_opt.step()
        peer_opt.zero_grad(set_to_none=True)

    sides = {"ours": ours.step, "peer": peer_step}
    per_step = {name: [] for name in sides}
    for step in sides.values():  # warm-up
        for _ in range(3):
            step()
    for r in range(rounds):
        for name in sides if r % 2 == 0 else reversed(list(sides)):
            start = time.thread_time()
            for _ in range(block):
                sides[name]()
            per_step[name].append((time.thread_time() - start) / block)
    ours_s, peer_s = statistics.median(per_step["ours"]), statistics.median(per_step["peer"])
    return {
        "case": f"CPU s per step fp32, {rounds} alternating blocks of {block}",
        "peer": "nanoGPT model.py + configure_optimizers, its train.py step",
        "ours_cpu_ms_per_step": 1000 * ours_s,
        "peer_cpu_ms_per_step": 1000 * peer_s,
        "speedup": peer_s / ours_s,
        "ours_blocks_ms": [1000 * v for v in per_step["ours"]],
        "peer_blocks_ms": [1000 * v for v in per_step["peer"]],
        "load": os.getloadavg()[0],
    }
