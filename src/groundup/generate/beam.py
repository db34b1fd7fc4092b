"""Beam search: keep the `num_beams` most likely partial outputs instead of one.

Each step scores every (beam, next token) pair by its total log probability, keeps the best
2 x num_beams candidates (so that num_beams remain alive even if some end here), moves candidates
that end (EOS, or the length limit) into the finished list with score

    sum of log p / (generated length) ** length_penalty        (length_penalty > 0 favours longer outputs)

and continues with the best num_beams that did not end. The KV cache rows follow their beams
(`cache.reorder`). Stopping follows transformers' rules so the two can be compared token for token:
early_stopping=True stops once num_beams outputs are finished; False stops when the best live beam,
at its current length, can no longer beat the worst finished output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from groundup.generate.decode import fit_prompt

BLOCKED = -1.0e9  # score of a slot that must not be chosen (transformers uses the same constant)


@dataclass
class Hypothesis:
    token_ids: list[int]  # generated tokens (EOS included when it ended the output)
    score: float  # length-normalised log probability


@torch.inference_mode()
def beam_search(
    model,
    prompt_ids: Sequence[int],
    num_beams: int = 4,
    max_tokens: int = 32,
    length_penalty: float = 1.0,
    early_stopping: bool = False,
    eos_token_id: int | None = None,
) -> list[Hypothesis]:
    """The `num_beams` best outputs, best first."""
    if num_beams < 1:
        raise ValueError(f"num_beams={num_beams} must be >= 1")
    if max_tokens < 1:
        raise ValueError(f"max_tokens={max_tokens} must be >= 1")
    prompt = fit_prompt(prompt_ids, model.max_context)
    max_tokens = min(max_tokens, model.max_context - len(prompt))
    cache = model.new_cache(1, len(prompt) + max_tokens)
    logits = model(torch.tensor([prompt]), kv_cache=cache, logits_index=slice(-1, None))[:, -1]  # (1, V)
    cache.reorder(torch.zeros(num_beams, dtype=torch.long))  # every beam starts from the prompt
    logits = logits.expand(num_beams, -1)
    vocab = logits.shape[-1]

    running = [[] for _ in range(num_beams)]
    running_scores = torch.full((num_beams,), BLOCKED)
    running_scores[0] = 0.0  # identical beams at first: let only one of them expand
    finished: list[Hypothesis] = []
    improvable = True
    for step in range(max_tokens):
        total = logits.float().log_softmax(-1) + running_scores[:, None]  # (num_beams, V)
        cand_scores, cand_index = total.flatten().topk(2 * num_beams)  # (2 * num_beams,)
        cand_beam, cand_token = cand_index // vocab, cand_index % vocab
        last_step = step == max_tokens - 1
        ends = [last_step or int(t) == eos_token_id for t in cand_token]

        # finished outputs: only the best num_beams candidates may end, and only while it can help
        full = early_stopping and len(finished) == num_beams
        if improvable and not full:
            for i in range(num_beams):
                if ends[i]:
                    seq = running[int(cand_beam[i])] + [int(cand_token[i])]
                    finished.append(Hypothesis(seq, float(cand_scores[i]) / (step + 1) ** length_penalty))
            finished = sorted(finished, key=lambda h: -h.score)[:num_beams]

        # live beams: the best candidates that did not end
        alive = cand_scores + torch.tensor(ends, dtype=torch.float32) * BLOCKED
        keep = alive.topk(num_beams).indices  # (num_beams,)
        running = [running[int(cand_beam[i])] + [int(cand_token[i])] for i in keep]
        running_scores = alive[keep]

        if last_step or all(ends) or (early_stopping and len(finished) == num_beams):
            break
        if len(finished) == num_beams:  # can the best live beam still beat the worst finished one?
            best_possible = float(running_scores[0]) / (step + 1) ** length_penalty
            improvable = improvable and best_possible > finished[-1].score
            if not improvable:
                break
        cache.reorder(cand_beam[keep])
        next_tokens = cand_token[keep][:, None]  # (num_beams, 1)
        logits = model(next_tokens, kv_cache=cache)[:, -1]
    return finished
