"""Zero-shot classification by a language model, as the GPT papers score it: compare label words' log-probabilities.

GPT-2 (Radford et al. 2019) does tasks with no training by writing them as text and reading the LM's
probabilities; GPT-1 (section 5, Fig. 2 right) uses the same idea as a heuristic to watch what
pretraining alone teaches: for sentiment, append "very" to the text and restrict the next word to
"positive" or "negative". For a prompt p and label words w_1..w_K (each possibly several tokens),

    score_k = log P(w_k | p) = sum_j log P(w_k[j] | p, w_k[:j])      prediction = argmax_k score_k

`label_logprobs` computes the scores for any causal LM (SmolLM2 through our `Llama`, or our char GPT)
in right-padded batches; `smollm2_zero_shot` runs a small fixed prompt set on tweets.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

# name: (template with {text}, label words in label order: negative, positive)
PROMPTS = {
    "gpt1-very": ("{text} very", (" negative", " positive")),
    "sentiment": ("Tweet: {text}\nSentiment:", (" negative", " positive")),
    "feels": ("Tweet: {text}\nThe author of this tweet feels", (" bad", " good")),
}


@torch.no_grad()
def label_logprobs(
    model,
    encode: Callable[[str], list[int]],
    prompts: list[str],
    labels: tuple[str, ...],
    batch_size: int = 16,
    max_len: int | None = None,
) -> torch.Tensor:
    """(N, K) log P(label k | prompt n), summed over the label's tokens; prompts lose their start to fit max_len."""
    label_ids = [encode(w) for w in labels]
    if all(len(ids) == 1 for ids in label_ids):  # one-token labels: one pass per prompt reads them all
        return next_token_logprobs(model, [encode(p) for p in prompts], batch_size, max_len)[
            :, [ids[0] for ids in label_ids]
        ]
    seqs, spans = [], []
    for prompt in prompts:
        for ids in label_ids:
            p = encode(prompt)
            if max_len is not None:
                p = p[max(0, len(p) + len(ids) - max_len) :]
            seqs.append(p + ids)
            spans.append((len(p), len(ids)))
    model.eval()
    scores = []
    for start in range(0, len(seqs), batch_size):
        chunk = seqs[start : start + batch_size]
        ids = torch.zeros(len(chunk), max(map(len, chunk)), dtype=torch.long)
        for row, s in enumerate(chunk):
            ids[row, : len(s)] = torch.tensor(s)
        logprobs = F.log_softmax(model(ids).float(), -1)  # (B, T, V)
        for row, (p, n) in enumerate(spans[start : start + batch_size]):
            positions = torch.arange(p - 1, p + n - 1)  # where each label token is predicted
            scores.append(logprobs[row, positions, ids[row, p : p + n]].sum())
    return torch.stack(scores).view(len(prompts), len(labels))


@torch.no_grad()
def next_token_logprobs(model, seqs: list[list[int]], batch_size: int, max_len: int | None) -> torch.Tensor:
    """(N, V) log-probabilities of the token after each sequence (right-padded batches)."""
    seqs = [s[-max_len:] if max_len else s for s in seqs]
    model.eval()
    out = []
    for start in range(0, len(seqs), batch_size):
        chunk = seqs[start : start + batch_size]
        ids = torch.zeros(len(chunk), max(map(len, chunk)), dtype=torch.long)
        for row, s in enumerate(chunk):
            ids[row, : len(s)] = torch.tensor(s)
        last = torch.tensor([len(s) - 1 for s in chunk])
        out.append(F.log_softmax(model(ids)[torch.arange(len(chunk)), last].float(), -1))  # (B, V)
    return torch.cat(out)


def zero_shot_accuracy(scores: torch.Tensor, labels: list[int]) -> dict:
    """Accuracy of argmax over label scores with its 95% Wilson interval, and of the bias-corrected
    rule (each label's mean score over these examples subtracted first: it peeks at the set's score
    distribution, not its labels, so it is not strictly zero-shot)."""
    from groundup.train.text_classifier import wilson_interval

    y = torch.tensor(labels)
    out = {"n": len(labels)}
    for name, s in (("accuracy", scores), ("debiased", scores - scores.mean(0))):
        correct = int((s.argmax(-1) == y).sum())
        out[name] = correct / len(labels)
        out[f"{name}_ci"] = wilson_interval(correct, len(labels))
    out["predicted_positive"] = float((scores.argmax(-1) == 1).float().mean())
    return out


def smollm2_zero_shot(texts: list[str], labels: list[int], prompts=PROMPTS, batch_size: int = 16) -> dict:
    """{prompt name: accuracy dict} for the bundled SmolLM2 (our Llama, weights as stored in the GGUF)."""
    from groundup.data import smollm2_gguf_path
    from groundup.models.llama import Llama
    from groundup.tokenizers.loaders import load_named

    model = Llama.from_gguf(smollm2_gguf_path(), weights="auto")
    tok = load_named("smollm2")

    def encode(s: str) -> list[int]:
        return tok.encode(s, add_special_tokens=False)

    results = {}
    for name, (template, words) in prompts.items():
        scores = label_logprobs(model, encode, [template.format(text=t) for t in texts], words, batch_size)
        results[name] = {"template": template, "labels": list(words), **zero_shot_accuracy(scores, labels)}
    return results
