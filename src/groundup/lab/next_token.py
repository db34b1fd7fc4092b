"""The next-token explorer's data: the model's distribution after a prompt, and what each filter keeps.

The filters are the sampler's own (`groundup.generate.sampling`), applied in its order: temperature
reshapes the distribution, top-k keeps the k most likely tokens, top-p (nucleus) keeps the most likely
tokens until their mass reaches p. Each row says which filter removed it, and its probability in the
distribution the next token is finally drawn from (0 when removed).
"""

from __future__ import annotations

import torch

from groundup.generate.sampling import SamplingParams, top_k_filter, top_p_filter

MAX_PROMPT_TOKENS = 512


@torch.inference_mode()
def next_token_table(
    model,
    tokenizer,
    prompt: str,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    show: int = 20,
) -> dict:
    """The `show` most likely next tokens after `prompt` (at temperature 1 and after the filters).

    Returns {"prompt_tokens", "tokens": [{"id", "text", "p_model", "p_temperature", "p_final",
    "removed_by"}], "kept", "vocab_size"}; `kept` counts the tokens that can still be drawn.
    """
    SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p)  # the sampler's own checks
    if not 1 <= show <= 200:
        raise ValueError(f"show must be in [1, 200], got {show}")
    ids = tokenizer.encode(prompt)
    if not ids:
        raise ValueError("prompt: empty; type a few words for the model to continue")
    ids = ids[-MAX_PROMPT_TOKENS:]
    logits = model(torch.tensor([ids]), logits_index=slice(-1, None))[:, -1].float()  # (1, V)
    p_model = logits.softmax(-1)[0]  # (V,)
    scaled = logits / max(temperature, 1e-6)  # temperature 0 (greedy): the limit, one token left
    after_k = top_k_filter(scaled, top_k)
    after_p = top_p_filter(after_k, top_p)
    p_temp = scaled.softmax(-1)[0]
    p_final = after_p.softmax(-1)[0]
    if temperature == 0:
        p_final = torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1])[0].float()
    order = p_model.argsort(descending=True)[:show]
    rows = []
    for token_id in order.tolist():
        removed = None
        if p_final[token_id] == 0:
            removed = "top-k" if after_k[0, token_id] == float("-inf") else "top-p"
            removed = "temperature 0" if temperature == 0 else removed
        rows.append(
            {
                "id": token_id,
                "text": tokenizer.decode_bytes([token_id]).decode("utf-8", errors="replace"),
                "p_model": float(p_model[token_id]),
                "p_temperature": float(p_temp[token_id]),
                "p_final": float(p_final[token_id]),
                "removed_by": removed,
            }
        )
    return {
        "prompt_tokens": len(ids),
        "tokens": rows,
        "kept": int((p_final > 0).sum()),
        "vocab_size": int(logits.shape[-1]),
    }
