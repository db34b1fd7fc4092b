"""The attention viewer's data: every layer's and head's attention weights over one sentence.

The weights come from `groundup.models.attention_maps` (a recording attention backend, so the model
itself is unchanged); the page draws one heatmap per head of the chosen layer, rows = queries (the
token attending), columns = keys (the tokens it reads), each row summing to 1.
"""

from __future__ import annotations

import torch

from groundup.models.attention_maps import attention_maps

MAX_TOKENS = 64  # a T x T heatmap per head stays readable up to about this length


def attention_payload(model, tokenizer, text: str, layer: int | None = None) -> dict:
    """{"tokens", "n_layers", "n_heads", "layer", "heads" (H x T x T), "entropy" (L x H)}.

    `layer` None sends the last layer's heads; the entropy table (mean over queries, in nats) covers
    every layer and head, so a learner can spot the sharp and the diffuse heads before choosing one.
    """
    ids = tokenizer.encode(text)
    if not ids:
        raise ValueError("text: empty; type a sentence to see its attention")
    if len(ids) > MAX_TOKENS:
        raise ValueError(f"text: {len(ids)} tokens; the viewer shows at most {MAX_TOKENS}")
    maps = attention_maps(model, torch.tensor(ids))  # L x (H, T, T)
    layer = len(maps) - 1 if layer is None else layer
    if not 0 <= layer < len(maps):
        raise ValueError(f"layer must be in [0, {len(maps) - 1}], got {layer}")
    entropy = [(-(m * m.clamp_min(1e-12).log()).sum(-1)).mean(-1).tolist() for m in maps]  # L x (H,)
    return {
        "tokens": [tokenizer.decode_bytes([i]).decode("utf-8", errors="replace") for i in ids],
        "n_layers": len(maps),
        "n_heads": int(maps[0].shape[0]),
        "layer": layer,
        "heads": [[[round(float(w), 4) for w in row] for row in head] for head in maps[layer]],
        "entropy": [[round(e, 4) for e in heads] for heads in entropy],
    }
