# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. Inside the serving engine: continuous batching over paged KV blocks
#
# A server decodes many requests at once. Two ideas make that efficient (vLLM, Kwon et al. 2023):
#
# * **Paged KV cache**: the keys and values of every sequence live in fixed-size *blocks* of a shared
#   pool; a sequence's *block table* lists its blocks, so token position $p$ sits in slot
#   $\text{table}[\lfloor p / B \rfloor] \cdot B + p \bmod B$. No sequence reserves its maximum
#   length up front, and sequences with the same prompt prefix share its blocks.
# * **Continuous batching**: every step, the scheduler packs the running sequences' next tokens (and
#   new prompts) into one forward pass; a finished request frees its blocks at once and a waiting one
#   takes its place.
#
# The code reads like nano-vllm's: `serve/sequence.py`, `block_manager.py`, `scheduler.py`,
# `model_runner.py`, `engine.py`. The notes: [2.2 the serving engine](../docs/notes/2.2-serving-engine.md).
# `tests/serve/` checks that batched, paged decoding gives exactly the tokens of one-at-a-time decoding.

# %%
import torch

from groundup.generate import SamplingParams, generate, load_model
from groundup.serve.config import EngineConfig
from groundup.serve.engine import Engine

torch.set_num_threads(1)
model, tokenizer = load_model()  # the bundled SmolLM2-135M-Instruct
print(model.cache_spec)

# %% [markdown]
# ## Three requests in one engine
#
# A pool of 32 blocks of 8 token slots each; greedy decoding so the result can be compared.

# %%
engine = Engine(model, EngineConfig(num_blocks=32, block_size=8), eos_token_ids=[tokenizer.eos_token_id])
prompts = ["The capital of France is", "Water boils at", "The capital of France is a city"]
params = SamplingParams(temperature=0, max_tokens=10, ignore_eos=True)
seqs = [engine.add_request(tokenizer.encode(p), params) for p in prompts]
steps = 0
while engine.has_work():
    engine.step()
    steps += 1
    if steps <= 3:
        print(
            f"step {steps}: "
            + ", ".join(f"req {i} {s.status.name.lower()} blocks {s.block_table}" for i, s in enumerate(seqs))
        )
print(f"{steps} steps for {sum(len(s.output_ids) for s in seqs)} tokens")
for p, s in zip(prompts, seqs):
    print(repr(p), "->", repr(tokenizer.decode(s.output_ids)))

# %% [markdown]
# Batched decoding gives the same tokens as decoding each request alone:

# %%
for p, s in zip(prompts, seqs):
    alone = generate(model, tokenizer.encode(p), params)
    assert alone.token_ids == s.output_ids, p
print("identical to one-at-a-time greedy decoding")

# %% [markdown]
# ## The pool, step by step
#
# `groundup.lab.kv_blocks.kv_timeline` runs requests that arrive at different steps and photographs
# the block manager after each step. Watch the used blocks rise as prompts are prefilled and outputs
# grow, and fall as requests finish; the third prompt shares the first one's full blocks through the
# prefix cache. The lab's *Paged KV* page (`groundup lab`) plays the same timeline in the browser.

# %%
from groundup.lab.kv_blocks import kv_timeline

timeline = kv_timeline(model, tokenizer, num_blocks=24, block_size=4)
for snap in timeline["steps"]:
    pool = "".join(
        str(b["owners"][0]) if b["owners"] else ("c" if b["cached"] else ".") for b in snap["blocks"]
    )
    print(f"step {snap['step']:2d}  used {snap['used']:2d}/24  [{pool}]")
print("prefix-cache hits:", timeline["steps"][-1]["prefix_hits"])
assert timeline["steps"][-1]["used"] == 0

# %% [markdown]
# Each character is one block: a digit is the request holding it, `c` a free block that still holds a
# cached prefix, `.` a free block. `groundup serve` puts this engine behind an OpenAI-compatible HTTP
# API; `groundup bench serve` measures its throughput against one-at-a-time decoding.
