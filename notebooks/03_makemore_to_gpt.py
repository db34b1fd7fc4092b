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
# # 3. makemore to GPT: the character-level ladder on Shakespeare
#
# Each rung of the makemore ladder predicts the next character from more context, in a better way:
# a count table (bigram), a neural bigram, an MLP over the last 8 characters (Bengio et al. 2003), a
# WaveNet, RNN/LSTM/GRU, and finally a GPT, whose self-attention lets every position read every
# earlier one:
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}} + M\right) V,
# \qquad M_{ij} = -\infty \text{ for } j > i.$$
#
# All rungs train with the same loop (`groundup.train`) and the same loss, the mean negative
# log-likelihood of the next character in nats. The notes: [0.4 the ladder](../docs/notes/0.4-makemore-ladder.md),
# [0.7 GPT from scratch](../docs/notes/0.7-gpt-from-scratch.md). Here: three rungs for 150 steps each
# (the capstone, `groundup train ladder`, runs all nine for 2,000).

# %%
import math
import tempfile
from pathlib import Path

import torch

from groundup.data import load_text
from groundup.train.ladder import ladder_table, run_ladder

torch.set_num_threads(1)
text = load_text("tinyshakespeare")
print(
    f"{len(text):,} characters, {len(set(text))} distinct; uniform guessing = {math.log(len(set(text))):.2f} nats"
)

# %%
out = Path(tempfile.mkdtemp(prefix="ladder-"))
rows = run_ladder(out, max_iters=150, only=["bigram_counts", "mlp", "gpt"], progress=False)
print(ladder_table(rows))
losses = {r["model"]: r["val_loss"] for r in rows}
assert losses["gpt"] < math.log(65) and losses["mlp"] < math.log(65)

# %% [markdown]
# ## What the GPT writes after 150 steps
#
# `sample_text` reloads the checkpoint and samples one character at a time. After a few minutes of
# training it is already Shakespeare-shaped; `groundup train gpt --preset shakespeare-char-cpu` trains
# nanoGPT's CPU recipe for 2,000 steps.

# %%
from groundup.generate.loading import sample_text

print(sample_text(out / "gpt", num_chars=200, prompt="ROMEO:", temperature=0.8, seed=0))

# %% [markdown]
# ## Inside the GPT
#
# One block: `x = x + attn(ln_1(x))`, `x = x + mlp(ln_2(x))` (pre-norm residuals). The model and its
# sizes:

# %%
from groundup.generate.loading import load_trained

model, tokenizer, cfg = load_trained(out / "gpt")
print(
    f"{sum(p.numel() for p in model.parameters()):,} parameters; n_layer={cfg.n_layer}, n_head={cfg.n_head}, n_embd={cfg.n_embd}"
)
print(model)
