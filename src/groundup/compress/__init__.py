"""Compression: magnitude and structured pruning, iterative pruning and lottery tickets, knowledge
distillation, and LoRA adapters."""

from groundup.compress.distill import distill, distillation_loss
from groundup.compress.iterative import iterative_prune, lottery_ticket, sparsity_schedule
from groundup.compress.lora import (
    LoRALinear,
    apply_lora,
    count_parameters,
    load_adapters,
    lora_state_dict,
    merge_lora,
    save_adapters,
    unmerge_lora,
)
from groundup.compress.prune import apply_masks, magnitude_masks, prunable_weights, sparsity
from groundup.compress.structured import channel_mask, head_mask, head_scores, remove_neurons, unit_norms

__all__ = [
    "LoRALinear",
    "apply_lora",
    "apply_masks",
    "channel_mask",
    "count_parameters",
    "distill",
    "distillation_loss",
    "head_mask",
    "head_scores",
    "iterative_prune",
    "load_adapters",
    "lora_state_dict",
    "lottery_ticket",
    "magnitude_masks",
    "merge_lora",
    "prunable_weights",
    "remove_neurons",
    "save_adapters",
    "sparsity",
    "sparsity_schedule",
    "unit_norms",
    "unmerge_lora",
]
