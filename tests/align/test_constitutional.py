"""The constitutional loop's plumbing with a scripted generator, and one round on a tiny model."""

import pytest

from groundup.align.constitutional import chat_generator, critique_and_revise, to_pair

pytestmark = pytest.mark.module("3.5")


def test_each_principle_gets_a_critique_and_a_revision_and_the_final_one_becomes_chosen():
    calls = []

    def scripted(text):
        calls.append(text)
        if text.startswith("Question:") and "Critique:" in text:
            return f"revision {len(calls)}"
        return "critique" if text.startswith("Question:") else "original answer answer answer"

    trace = critique_and_revise(scripted, "Why is the sky blue?", ["Be short.", "Be kind."])
    assert len(calls) == 5 and [r["principle"] for r in trace["rounds"]] == ["Be short.", "Be kind."]
    assert "Principle: Be short." in calls[1] and "Answer: original answer" in calls[1]
    assert "Answer: revision 3" in calls[3]  # the second round critiques the first revision
    pair = to_pair(trace)
    assert pair.chosen == "revision 5" and pair.rejected == "original answer answer answer"
    assert to_pair({**trace, "final": trace["original"]}) is None
    with pytest.raises(ValueError, match="principles"):
        critique_and_revise(scripted, "x", [])


def test_the_loop_runs_on_a_causal_lm(byte_llama, byte_tokenizer):
    trace = critique_and_revise(
        chat_generator(byte_llama, byte_tokenizer, max_new_tokens=4), "Hi?", ["Be short."]
    )
    assert set(trace) == {"prompt", "original", "rounds", "final"} and len(trace["rounds"]) == 1
