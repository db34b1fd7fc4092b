"""A constitutional self-critique loop (Bai et al., 2022, arXiv:2212.08073): the model answers, is
asked to critique its answer against a written principle, then to rewrite it; (revision, original)
becomes a preference pair for DPO, with no human label.

The loop only needs `generate(prompt) -> text`, so any chat model plugs in (`chat_generator` wraps a
CausalLM and its tokenizer). At 135M parameters the critiques are weak and revisions often drift off
topic: the pipeline demonstrates the method, it does not make SmolLM2 reliable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from groundup.align.preferences import PreferencePair, rule_score, sample_responses
from groundup.align.rollout import sample_batch

PRINCIPLES = (
    "The answer should be short: one or two sentences.",
    "The answer should not repeat itself.",
    "The answer should directly address the question.",
)


def critique_request(principle: str, prompt: str, response: str) -> str:
    return (
        f"Question: {prompt}\nAnswer: {response}\n\n"
        f"Principle: {principle}\nIn one sentence, how does the answer break the principle?"
    )


def revision_request(principle: str, prompt: str, response: str, critique: str) -> str:
    return (
        f"Question: {prompt}\nAnswer: {response}\nCritique: {critique}\n\n"
        f"Rewrite the answer so that it follows the principle: {principle}\nRewritten answer:"
    )


def critique_and_revise(
    generate: Callable[[str], str], prompt: str, principles: Sequence[str] = PRINCIPLES
) -> dict:
    """Answer, then one critique → revision round per principle. Returns every intermediate text."""
    return critique_and_revise_many(lambda texts: [generate(t) for t in texts], [prompt], principles)[0]


def critique_and_revise_many(
    generate_many: Callable[[list[str]], list[str]],
    prompts: Sequence[str],
    principles: Sequence[str] = PRINCIPLES,
) -> list[dict]:
    """`critique_and_revise` for many prompts, each stage one call of `generate_many` (one batch)."""
    if not principles:
        raise ValueError("principles is empty")
    answers = generate_many(list(prompts))
    current, rounds = list(answers), [[] for _ in prompts]
    for principle in principles:
        critiques = generate_many([critique_request(principle, p, c) for p, c in zip(prompts, current)])
        revisions = generate_many(
            [revision_request(principle, p, c, k) for p, c, k in zip(prompts, current, critiques)]
        )
        for i, (critique, revised) in enumerate(zip(critiques, revisions)):
            current[i] = revised.strip() or current[i]
            rounds[i].append({"principle": principle, "critique": critique, "revision": current[i]})
    return [
        {"prompt": p, "original": a, "rounds": r, "final": c}
        for p, a, r, c in zip(prompts, answers, rounds, current)
    ]


def to_pair(trace: dict) -> PreferencePair | None:
    """(final revision ≻ original) as a DPO pair, or None when the revision changed nothing."""
    if trace["final"] == trace["original"]:
        return None
    return PreferencePair(
        trace["prompt"],
        trace["final"],
        trace["original"],
        rule_score(trace["final"]),
        rule_score(trace["original"]),
    )


def chat_generator(model, tokenizer, max_new_tokens: int = 48, temperature: float = 0.3, seed: int = 0):
    """generate(prompt) -> the model's chat answer (one low-temperature sample)."""

    def generate(prompt: str) -> str:
        return sample_responses(model, tokenizer, prompt, 1, max_new_tokens, temperature, seed=seed)[0][0]

    return generate


def batch_generator(model, tokenizer, max_new_tokens: int = 48, temperature: float = 0.3, seed: int = 0):
    """generate_many(prompts) -> one low-temperature chat answer per prompt, decoded as one batch."""

    def generate_many(prompts: list[str]) -> list[str]:
        rows = sample_batch(model, tokenizer, prompts, 1, max_new_tokens, temperature, seed=seed)
        return [r[0].text for r in rows]

    return generate_many
