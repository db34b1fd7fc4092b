"""Compression: magnitude and structured pruning, iterative pruning and lottery tickets, knowledge
distillation, and LoRA adapters.

Names load from their submodules on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "distill": ["distill", "distillation_loss"],
        "iterative": ["iterative_prune", "lottery_ticket", "sparsity_schedule"],
        "lora": [
            "LoRALinear",
            "apply_lora",
            "count_parameters",
            "load_adapters",
            "lora_state_dict",
            "merge_lora",
            "save_adapters",
            "unmerge_lora",
        ],
        "prune": ["apply_masks", "magnitude_masks", "prunable_weights", "sparsity"],
        "structured": ["channel_mask", "head_mask", "head_scores", "remove_neurons", "unit_norms"],
    },
)
