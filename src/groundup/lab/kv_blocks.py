"""The serving view's data: the engine's paged KV blocks, step by step, as requests arrive and finish.

A small `Engine` (few blocks, short blocks) serves a handful of requests that arrive at different steps;
after every `step()` the block manager and the running sequences are read into a snapshot: which
sequence holds each block (several when a prefix is shared), which free blocks still hold a cached
prefix, and each sequence's block table. Played back, the snapshots show a pool filling as prompts are
prefilled and outputs grow, and being freed as requests finish, which is what vLLM's PagedAttention
(Kwon et al. 2023) manages.
"""

from __future__ import annotations

from dataclasses import dataclass

from groundup.generate.sampling import SamplingParams
from groundup.serve.config import EngineConfig
from groundup.serve.engine import Engine
from groundup.serve.sequence import Sequence

DEFAULT_PROMPTS = (
    "The capital of France is",
    "Once upon a time, in a small village by the sea, there lived",
    "The capital of France is a city famous for",
    "List three prime numbers:",
)


@dataclass(frozen=True)
class Arrival:
    """A request that joins at engine step `step` with `max_tokens` to generate."""

    step: int
    prompt: str
    max_tokens: int = 12


def default_arrivals() -> list[Arrival]:
    return [Arrival(i * 3, prompt, 8 + 4 * (i % 3)) for i, prompt in enumerate(DEFAULT_PROMPTS)]


def snapshot(engine: Engine, step: int, requests: list[Sequence]) -> dict:
    """One picture of the pool: blocks (owners, cached prefix) and the requests (index = name) so far."""
    manager = engine.block_manager
    owners: dict[int, list[int]] = {}
    seqs = []
    for name, seq in enumerate(requests):
        if not seq.is_finished:
            for block_id in seq.block_table:
                owners.setdefault(block_id, []).append(name)
        seqs.append(
            {
                "request": name,
                "status": seq.status.name.lower(),
                "prompt_tokens": len(seq.prompt_ids),
                "output_tokens": len(seq.output_ids),
                "cached_tokens": seq.num_cached_tokens,
                "block_table": list(seq.block_table) if not seq.is_finished else [],
            }
        )
    blocks = [
        {
            "id": block.block_id,
            "ref_count": block.ref_count,
            "owners": owners.get(block.block_id, []),
            "cached": block.ref_count == 0 and block.hash is not None,
        }
        for block in manager.blocks
    ]
    stats = manager.stats()
    return {
        "step": step,
        "used": stats.used_blocks,
        "free": stats.free_blocks,
        "prefix_hits": stats.prefix_hits,
        "blocks": blocks,
        "sequences": seqs,
    }


def kv_timeline(
    model,
    tokenizer,
    arrivals: list[Arrival] | None = None,
    *,
    num_blocks: int = 24,
    block_size: int = 4,
    max_steps: int = 200,
) -> dict:
    """{"num_blocks", "block_size", "requests", "steps": [snapshot...]}: greedy decoding, one snapshot
    per engine step until every request has finished (or `max_steps`)."""
    arrivals = sorted(arrivals or default_arrivals(), key=lambda a: a.step)
    config = EngineConfig(num_blocks=num_blocks, block_size=block_size, max_running=8, prefix_caching=True)
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    engine = Engine(model, config, eos_token_ids=eos)
    seqs: list[Sequence] = []
    requests = []
    steps = []
    pending = list(arrivals)
    for step in range(max_steps):
        while pending and pending[0].step <= step:
            arrival = pending.pop(0)
            params = SamplingParams(temperature=0, max_tokens=arrival.max_tokens, ignore_eos=True)
            seqs.append(engine.add_request(tokenizer.encode(arrival.prompt), params))
            requests.append({"request": len(requests), "prompt": arrival.prompt, "arrives": step})
        if not pending and not engine.has_work():
            break
        engine.step()
        steps.append(snapshot(engine, step, seqs))
    for request, seq in zip(requests, seqs):
        request["output"] = tokenizer.decode(seq.output_ids)
    return {"num_blocks": num_blocks, "block_size": block_size, "requests": requests, "steps": steps}
