"""Text generation: sampling filters, the decoding loop with a KV cache, beam search, chat templates,
and `load_model`, the one way to load a model for inference.

    from groundup.generate import SamplingParams, sample, generate, stream, load_model

Names load from their submodules on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "beam": ["Hypothesis", "beam_search"],
        "chat": ["render_chat"],
        "decode": ["Generation", "TokenEvent", "generate", "generate_tokens", "stream"],
        "loading": ["load_model", "load_trained", "sample_text"],
        "sampling": [
            "SamplingParams",
            "apply_penalties",
            "make_generator",
            "min_p_filter",
            "process_logits",
            "sample",
            "sampling_probs",
            "top_k_filter",
            "top_p_filter",
        ],
    },
)
