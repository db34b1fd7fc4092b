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
    if not principles:
        raise ValueError("principles is empty")
    answer = generate(prompt)
    rounds, current = [], answer
    for principle in principles:
        critique = generate(critique_request(principle, prompt, current))
        revised = generate(revision_request(principle, prompt, current, critique)).strip() or current
        rounds.append({"principle": principle, "critique": critique, "revision": revised})
        current = revised
    return {"prompt": prompt, "original": answer, "rounds": rounds, "final": current}


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
