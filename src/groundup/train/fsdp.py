"""Fully sharded data parallelism (FSDP, Zhao et al. 2023; torch's `fully_shard`), launched by torchrun.

DDP keeps a full copy of the weights, gradients and AdamW moments on every rank, so the model must fit
one machine. FSDP splits each of them into `world` shards: rank r stores 1/world of every tensor.
Before a block runs (forward, and again in backward) its weights are all-gathered, used, and freed;
after backward its gradients are reduce-scattered, so each rank gets the averaged gradient of its
own shard and updates only that shard. Memory per rank for weights + grads + moments falls ~world
times for one extra all-gather per block in backward; the update equals single-process training on
the global batch (the test checks the losses step by step).

    torchrun --standalone --nproc_per_node 2 -m groundup.train.fsdp --preset tiny --out runs/fsdp

Across machines, the same command runs on every node with a rendezvous endpoint instead of
--standalone (see docs/notes/0.8-training-framework.md):

    torchrun --nnodes 2 --nproc_per_node 8 --node_rank $NODE --rdzv_backend c10d \
             --rdzv_endpoint $HEAD:29500 --rdzv_id job1 -m groundup.train.fsdp --preset ...

Every rank draws the same global batch and keeps its slice (`data.Batcher`), as under DDP.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from groundup.train import distributed
from groundup.train.config import TrainConfig, make_config, parse_overrides
from groundup.train.data import Batcher, split_tokens
from groundup.train.optim import make_adamw
from groundup.train.schedules import WarmupCosine
from groundup.train.zoo import build_model


def shard(model: torch.nn.Module, info: distributed.DistInfo) -> torch.nn.Module:
    """Shard every block, then the rest (embeddings, final norm, head) as the root unit."""
    if not info.enabled:
        return model
    from torch.distributed.fsdp import fully_shard

    for block in getattr(model, "blocks", []):
        fully_shard(block)
    fully_shard(model)
    return model


def full_state_dict(model: torch.nn.Module, info: distributed.DistInfo) -> dict[str, torch.Tensor]:
    """Every weight whole (gathered from the shards) on every rank, as plain CPU tensors."""
    if not info.enabled:
        return {k: v.detach().clone() for k, v in model.state_dict().items()}
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def train_fsdp(
    cfg: TrainConfig, text: str, info: distributed.DistInfo
) -> tuple[list[float], torch.nn.Module]:
    """`cfg.max_iters` AdamW steps of a sharded model; returns (the global-batch loss per step, model).

    The architecture, initial weights, batches and schedule are those of `trainer.train`; DDP's
    gradient accumulation and evaluation are left out to keep the sharding visible.
    """
    from groundup.tokenizers.char import CharTokenizer

    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    tokenizer = CharTokenizer.from_text(text)
    tokens = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    train_tokens, _ = split_tokens(tokens, cfg.val_fraction, cfg.block_size)
    batches = Batcher(train_tokens, cfg.block_size, cfg.batch_size, rank=info.rank, world=info.world)
    torch.manual_seed(cfg.seed)
    model = shard(build_model(cfg, tokenizer.vocab_size), info)  # same init on every rank, then sharded
    optimizer = make_adamw(model, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(cfg.beta1, cfg.beta2))
    schedule = WarmupCosine(cfg.lr, cfg.min_lr, cfg.warmup_iters, cfg.lr_decay_iters)
    generator = torch.Generator().manual_seed(cfg.seed)
    losses = []
    for _ in range(cfg.max_iters):
        schedule.apply(optimizer)
        x, y = batches.sample(generator)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()  # gradients reduce-scattered: each rank holds the mean gradient of its shard
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)  # the norm of all shards
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(distributed.mean_across_ranks(loss.detach(), info).item())
    return losses, model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--out", required=True, help="directory for losses.json and model.safetensors")
    args, extra = parser.parse_known_args(argv)
    cfg = make_config(args.preset, **parse_overrides(extra))
    from groundup.train.trainer import load_corpus

    info = distributed.setup()
    try:
        losses, model = train_fsdp(cfg, load_corpus(cfg, None), info)
        state = full_state_dict(model, info)
        if info.is_main:
            from safetensors.torch import save_file

            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / "losses.json").write_text(json.dumps({"world": info.world, "losses": losses}))
            save_file({k: v.contiguous() for k, v in state.items()}, str(out / "model.safetensors"))
    finally:
        distributed.teardown(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
