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
# # 5. SmolLM2: from the bytes of a GGUF file to the first generated token
#
# SmolLM2-135M-Instruct ships with groundup as one GGUF file (~94 MB, 4-bit weights). Everything
# between that file and a reply is ours: the binary reader, the block dequantizer, the tokenizer
# rebuilt from the file's metadata, the chat template, the Llama forward pass and the sampler. The notes:
# [1.4 GGUF](../docs/notes/1.4-gguf.md), [0.7 real Llama weights](../docs/notes/0.7-llama-real-weights.md),
# [2.1 the inference stack](../docs/notes/2.1-inference-stack.md). `tests/models/` checks the logits
# against transformers' `LlamaForCausalLM` loaded from the same file.

# %%
import struct

import numpy as np
import torch

from groundup.data import smollm2_gguf_path

path = smollm2_gguf_path()
head = path.read_bytes()[:24]
magic, version, n_tensors, n_fields = struct.unpack("<4sIQQ", head)
print(f"{path.name}: {path.stat().st_size:,} bytes")
print(f"magic {magic!r}, version {version}, {n_tensors} tensors, {n_fields} metadata fields")

# %% [markdown]
# ## The header: metadata and the tensor directory
#
# After those 24 bytes come `n_fields` typed key/value pairs (the architecture, the tokenizer's 49,152
# tokens and merges, the chat template) and one directory entry per tensor (name, shape, type, offset).
# `GGUFReader` parses them and memory-maps the rest: no weight is read until asked for.

# %%
from groundup.formats.gguf import GGUFReader

reader = GGUFReader(path)
for key in (
    "general.architecture",
    "llama.block_count",
    "llama.embedding_length",
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.context_length",
    "llama.rope.freq_base",
):
    print(f"{key:32s} {reader.metadata[key]}")
print("tokens in the vocabulary:", len(reader.metadata["tokenizer.ggml.tokens"]))
for name in ("token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_norm.weight"):
    info = reader.tensors[name]
    print(
        f"{name:24s} {str(info.shape):14s} {info.ggml_type.name:5s} {info.n_bytes:>10,} bytes at offset {info.offset:,}"
    )

# %% [markdown]
# ## One Q4_1 block by hand
#
# `blk.0.attn_q.weight` is stored as Q4_1: blocks of 32 weights, each block = a float16 scale $d$,
# a float16 minimum $m$ and 32 four-bit codes $q$ (two per byte), so $w = d\,q + m$: 20 bytes for 32
# weights, 5 bits per weight. Decoding the first block by hand gives what the library's dequantizer gives.

# %%
from groundup.formats.ggml_quants import dequantize

raw = reader.tensor("blk.0.attn_q.weight")  # (576 rows, 18 blocks x 20 bytes) uint8
block = np.asarray(raw[0, :20])
d, m = block[:2].view(np.float16)[0], block[2:4].view(np.float16)[0]
codes = np.concatenate([block[4:] & 0x0F, block[4:] >> 4])  # low nibbles are weights 0-15, high 16-31
by_hand = d.astype(np.float32) * codes + m.astype(np.float32)
library = dequantize(raw[:1], reader.tensors["blk.0.attn_q.weight"].ggml_type)[0, :32]
print("d =", d, " m =", m, " codes:", codes[:8], "...")
print("max difference:", np.abs(by_hand - library).max())
assert np.allclose(by_hand, library)

# %% [markdown]
# ## The tokenizer and the chat template, from the same file

# %%
from groundup.generate import render_chat
from groundup.tokenizers.gguf import from_gguf

tokenizer = from_gguf(path)
prompt = render_chat(tokenizer.chat_template, [{"role": "user", "content": "What is the capital of France?"}])
ids = tokenizer.encode(prompt)
print(prompt)
print(len(ids), "tokens:", ids[:12], "...")

# %% [markdown]
# ## The model and the first token
#
# `Llama.from_gguf` dequantizes every tensor into a PyTorch Llama (30 blocks of RMSNorm → grouped-query
# attention with rotary positions → RMSNorm → SwiGLU). One forward pass over the prompt gives the
# logits of the next token; the most likely one is the first token of the reply.

# %%
from groundup.models.llama import Llama

torch.set_num_threads(1)
model = Llama.from_gguf(path)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")
with torch.inference_mode():
    logits = model(torch.tensor([ids]), logits_index=slice(-1, None))[0, -1]  # (vocab,)
probs = logits.softmax(-1)
top = probs.topk(5)
for p, i in zip(top.values, top.indices):
    print(f"{p:.3f}  {tokenizer.decode([int(i)])!r}")
first = int(logits.argmax())
print("first token:", first, repr(tokenizer.decode([first])))

# %% [markdown]
# ## ... and the rest of the reply
#
# `groundup.generate.generate` repeats that step with a KV cache (each new token attends to the cached
# keys and values instead of recomputing the prompt) until the end-of-turn token.

# %%
from groundup.generate import SamplingParams, generate

reply = generate(model, ids, SamplingParams(temperature=0, max_tokens=24), tokenizer)
print(reply.text)
assert reply.token_ids[0] == first and "Paris" in reply.text

# %% [markdown]
# The same from the command line: `groundup generate "What is the capital of France?" --chat`, and in
# the browser: `groundup lab` (next-token explorer, attention viewer, chat).
