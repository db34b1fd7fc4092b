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
# # 6. Quantization: fewer bits per weight, and what it costs
#
# An affine quantizer maps a float $x$ to an integer code $q = \mathrm{clamp}(\mathrm{round}(x/s) + z,\ q_{min}, q_{max})$
# and back to $\hat{x} = s\,(q - z)$. Symmetric schemes fix $z = 0$ and $s = \max|x| / q_{max}$. The
# error depends on how many values share one scale: a whole tensor, one row (channel), or a small
# group of 32 to 128 weights. The notes: [1.1 fundamentals](../docs/notes/1.1-quantization-fundamentals.md),
# [1.2 LLM quantization](../docs/notes/1.2-llm-quantization.md). `tests/quant/` checks the quantizers
# against PyTorch's `torch.ao` fake-quant and the ggml blocks against `gguf-py`, bit for bit.

# %%
import numpy as np
import torch

from groundup.data import smollm2_gguf_path
from groundup.formats.gguf import GGUFReader
from groundup.quant.affine import QScheme, quantize, quantize_dequantize

weight = torch.from_numpy(GGUFReader(smollm2_gguf_path()).dequantize("blk.5.ffn_down.weight"))
print("SmolLM2 blk.5.ffn_down.weight:", tuple(weight.shape))

# %% [markdown]
# ## One tensor, eight bits

# %%
qt = quantize(weight, bits=8)
print("codes:", qt.q.dtype, qt.q.flatten()[:8].tolist(), " scale:", float(qt.scale))
print(f"storage: {weight.numel() * 4:,} bytes as float32 -> {qt.nbytes():,} bytes")


def relative_error(w: torch.Tensor, scheme: QScheme) -> float:
    """||w - Q(w)|| / ||w||: the share of the weight the quantizer loses."""
    return float((w - quantize_dequantize(w, scheme)).norm() / w.norm())


# %% [markdown]
# ## Bits × granularity
#
# Fewer bits double the error per bit removed; smaller groups buy much of it back, because one outlier
# then only stretches the scale of its own group.

# %%
rows = []
for bits in (8, 6, 4, 3):
    row = {"bits": bits}
    for granularity, extra in (("tensor", {}), ("channel", {"axis": 0}), ("group", {"group_size": 32})):
        row[granularity] = relative_error(weight, QScheme(bits=bits, granularity=granularity, **extra))
    rows.append(row)
print(f"{'bits':>4s} {'per tensor':>11s} {'per channel':>12s} {'group 32':>9s}")
for r in rows:
    print(f"{r['bits']:4d} {r['tensor']:11.4f} {r['channel']:12.4f} {r['group']:9.4f}")
assert rows[2]["group"] < rows[2]["channel"] < rows[2]["tensor"]

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 3))
for granularity in ("tensor", "channel", "group"):
    ax.semilogy([r["bits"] for r in rows], [r[granularity] for r in rows], "o-", label=granularity)
ax.set(xlabel="bits", ylabel="relative error", title="symmetric quantization of one SmolLM2 weight")
ax.legend()
plt.show()

# %% [markdown]
# ## The formats llama.cpp stores: Q8_0, Q4_0, Q4_K
#
# GGUF's block formats are group quantization with the scale (and for some a minimum) stored per block
# of 32 weights, or per super-block of 256 with 6-bit sub-scales (the K-quants). `formats.ggml_quants`
# writes and reads each of them.

# %%
from groundup.formats.ggml_quants import dequantize
from groundup.formats.ggml_quants import quantize as ggml_quantize
from groundup.formats.ggml_types import LAYOUTS, GGMLType

w = weight.numpy()
for kind in (GGMLType.Q8_0, GGMLType.Q5_0, GGMLType.Q4_0, GGMLType.Q4_K):
    stored = ggml_quantize(w, kind)
    back = dequantize(stored, kind)
    layout = LAYOUTS[kind]
    bits = 8 * layout.type_size / layout.block_size
    err = np.linalg.norm(w - back) / np.linalg.norm(w)
    print(f"{kind.name:5s} {bits:4.2f} bits/weight  relative error {err:.4f}")

# %% [markdown]
# Next: `groundup quant basics` (the full fundamentals report), `groundup quantize` (GPTQ, AWQ,
# SmoothQuant and NF4 on SmolLM2, scored by perplexity) and the INT8/INT4 kernels of module 1.5.
