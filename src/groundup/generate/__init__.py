"""Text generation: sampling filters, the decoding loop with a KV cache, beam search, chat templates.

from groundup.generate import SamplingParams, sample, generate, stream
"""

from groundup.generate.beam import Hypothesis, beam_search
from groundup.generate.chat import render_chat
from groundup.generate.decode import Generation, TokenEvent, generate, generate_tokens, stream
from groundup.generate.sampling import (
    SamplingParams,
    apply_penalties,
    make_generator,
    min_p_filter,
    process_logits,
    sample,
    sampling_probs,
    top_k_filter,
    top_p_filter,
)

__all__ = [
    "Generation",
    "Hypothesis",
    "TokenEvent",
    "beam_search",
    "generate",
    "generate_tokens",
    "render_chat",
    "stream",
    "SamplingParams",
    "apply_penalties",
    "make_generator",
    "min_p_filter",
    "process_logits",
    "sample",
    "sampling_probs",
    "top_k_filter",
    "top_p_filter",
]
