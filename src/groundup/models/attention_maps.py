"""Attention weights made visible: a recording attention backend and per-layer/head grid plots (0.5).

The fused kernel behind `NoCache` never materialises the attention matrix, and no model should pay
for it in training. So the weights come from a separate backend with the same one method,
`attend(layer, q, k, v, scale)`, that computes softmax(q k^T * scale + mask) explicitly and keeps it:

    probe = AttentionProbe(causal=True)
    model(input_ids, kv_cache=probe)        # any model of the stack: GPT, Llama, an encoder
    probe.weights[layer]                    # (..., H, T, S), each row sums to 1

Because every model routes attention through `kv_cache.attend`, no model changes to expose its
weights, and the outputs equal the fused path (the tests check this, and that the weights equal
`torch.nn.MultiheadAttention(need_weights=True, average_attn_weights=False)` with the same parameters).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch


class AttentionProbe:
    """An attention backend (the KV-cache protocol of `layers.py`) that records every layer's weights.

    `causal=False` for encoders. Grouped K/V heads are repeated to the query heads, so every layer
    records (..., H, T, S) with H the number of query heads. Nothing is cached between calls.
    """

    length = 0

    def __init__(self, causal: bool = True):
        self.causal = causal
        self.weights: dict[int, torch.Tensor] = {}

    def attend(self, layer, q, k, v, scale=None):
        """q (..., T, H, D), k/v (..., S, Hkv, D) -> (..., T, H, D); keeps the (..., H, T, S) weights."""
        q, k, v = (t.transpose(-3, -2) for t in (q, k, v))  # (..., H, T, D), (..., Hkv, S, D)
        groups = q.shape[-3] // k.shape[-3]
        if groups > 1:  # each K/V head serves `groups` query heads
            k, v = k.repeat_interleave(groups, dim=-3), v.repeat_interleave(groups, dim=-3)
        scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
        scores = (q @ k.transpose(-2, -1)).float() * scale  # (..., H, T, S)
        if self.causal:
            t, s = scores.shape[-2:]
            future = torch.ones(t, s, dtype=torch.bool, device=q.device).triu(s - t + 1)
            scores = scores.masked_fill(future, float("-inf"))
        weights = scores.softmax(dim=-1)
        self.weights[layer] = weights.detach()
        return (weights.to(v.dtype) @ v).transpose(-3, -2)  # (..., T, H, D)


@torch.no_grad()
def attention_maps(model, input_ids: torch.Tensor, causal: bool = True) -> list[torch.Tensor]:
    """One (H, T, T) tensor per layer for a single sequence `input_ids` (T,), in layer order."""
    if input_ids.dim() != 1:
        raise ValueError(f"input_ids: expected one sequence of shape (T,), got {tuple(input_ids.shape)}")
    probe = AttentionProbe(causal=causal)
    model(input_ids[None], kv_cache=probe)
    return [probe.weights[layer][0].float() for layer in sorted(probe.weights)]


def _label(token: str, width: int = 8) -> str:
    shown = token.replace("\n", "\\n").replace(" ", "\u00b7")
    return shown if len(shown) <= width else shown[: width - 1] + "\u2026"


def plot_layer(weights: torch.Tensor, tokens: list[str], path, title: str) -> Path:
    """All heads of one layer, weights (H, T, T), as a grid of heatmaps (query rows, key columns)."""
    from groundup.reports import figure

    heads = weights.shape[0]
    cols = math.ceil(math.sqrt(heads))
    rows = math.ceil(heads / cols)
    labelled = len(tokens) <= 40
    size = 2.6 if labelled else 2.0
    with figure(
        path, nrows=rows, ncols=cols, figsize=(size * cols + 0.5, size * rows + 0.6), squeeze=False
    ) as (
        fig,
        axes,
    ):
        for h, ax in enumerate(axes.flat):
            if h >= heads:
                ax.axis("off")
                continue
            ax.imshow(weights[h].numpy(), cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(f"head {h}", fontsize=8)
            if labelled:
                ticks = range(len(tokens))
                names = [_label(t) for t in tokens]
                ax.set_xticks(ticks, names, rotation=90, fontsize=5)
                ax.set_yticks(ticks, names, fontsize=5)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
        fig.suptitle(title, fontsize=10)
    return Path(path)


def plot_overview(maps: list[torch.Tensor], path, title: str) -> Path:
    """Every layer (rows) and head (columns) as small unlabelled heatmaps on one page."""
    from groundup.reports import figure

    layers, heads = len(maps), max(m.shape[0] for m in maps)
    with figure(
        path, nrows=layers, ncols=heads, figsize=(1.1 * heads + 0.6, 1.1 * layers + 0.6), squeeze=False
    ) as (fig, axes):
        for layer, row in enumerate(axes):
            for h, ax in enumerate(row):
                ax.set_xticks([])
                ax.set_yticks([])
                if h < maps[layer].shape[0]:
                    ax.imshow(maps[layer][h].numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
                if h == 0:
                    ax.set_ylabel(f"L{layer}", fontsize=7)
                if layer == 0:
                    ax.set_title(f"h{h}", fontsize=7)
        fig.suptitle(title, fontsize=10)
    return Path(path)


def head_summary(maps: list[torch.Tensor]) -> list[dict]:
    """Per layer and head: mean attention entropy (nats), the share of weight on the first token
    (an "attention sink") and on the previous token, and the mean distance looked back."""
    rows = []
    for layer, w in enumerate(maps):
        t = w.shape[-1]
        pos = torch.arange(t, dtype=torch.float32)
        distance = (pos[:, None] - pos[None, :]).clamp(min=0)  # (T, T)
        for h in range(w.shape[0]):
            p = w[h]  # (T, T)
            entropy = -(p * p.clamp_min(1e-12).log()).sum(-1).mean().item()
            previous = p.diagonal(-1).mean().item() if t > 1 else 0.0
            rows.append(
                {
                    "layer": layer,
                    "head": h,
                    "entropy": entropy,
                    "first_token": p[:, 0].mean().item(),
                    "previous_token": previous,
                    "mean_distance": (p * distance).sum(-1).mean().item(),
                }
            )
    return rows


def write_attention_report(
    model, tokenizer, text: str, out_dir, name: str, causal: bool = True, layers=None
) -> dict:
    """Run `text` through `model`, write layer_XX.png (heads grid; only the `layers` listed, default
    all), overview.png, heads.json and attention.md into `out_dir`; returns {"tokens", "layers",
    "heads", "summary"}."""
    from groundup.reports import markdown_table, write_json, write_report

    out = Path(out_dir)
    ids = tokenizer.encode(text)
    if not ids:
        raise ValueError("text: encodes to no tokens; pass some text to visualise")
    ids = ids[: model.max_context]
    tokens = [tokenizer.decode([i]) for i in ids]
    device = next(model.parameters()).device
    maps = attention_maps(model, torch.tensor(ids, device=device), causal=causal)
    drawn = range(len(maps)) if layers is None else [i for i in layers if 0 <= i < len(maps)]
    for layer in drawn:
        plot_layer(maps[layer], tokens, out / f"layer_{layer:02d}.png", f"{name}: layer {layer}")
    plot_overview(maps, out / "overview.png", f"{name}: {len(maps)} layers x {maps[0].shape[0]} heads")
    summary = head_summary(maps)
    write_json(out / "heads.json", {"text": text, "tokens": tokens, "heads": summary})
    table = markdown_table(
        ["layer", "head", "entropy (nats)", "on first token", "on previous token", "mean distance"],
        [
            [r["layer"], r["head"], r["entropy"], r["first_token"], r["previous_token"], r["mean_distance"]]
            for r in summary
        ],
        float_format=".3f",
    )
    sections = [
        f"Text ({len(ids)} tokens): `{text[:200]}`",
        "![every layer and head](overview.png)",
        "Per layer: " + ", ".join(f"[{i}](layer_{i:02d}.png)" for i in drawn),
        table,
    ]
    write_report(out / "attention.md", f"Attention patterns of {name}", sections, libraries=("torch",))
    return {"tokens": tokens, "layers": len(maps), "heads": maps[0].shape[0], "summary": summary}
