"""Text generation: sampling filters, the decoding loop with a KV cache, beam search, chat templates.

    from groundup.generate import SamplingParams, sample, generate, stream
"""

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
