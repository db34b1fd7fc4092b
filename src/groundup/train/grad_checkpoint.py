"""Gradient (activation) checkpointing: keep each block's input, recompute its inside during backward.

Backward needs the activations of the forward pass. Normally every op saves what its backward
needs, so activation memory grows with depth x batch x sequence. A checkpointed block saves only its
input; when backward reaches the block, it runs the block's forward again (with the same RNG state,
so dropout masks repeat) to rebuild the intermediates. Memory for activations drops from all of them
to the block boundaries plus one block's inside, for the price of about one more forward pass
(Chen et al. 2016, "Training deep nets with sublinear memory cost").

`checkpoint_blocks(model)` wraps every module of `model.blocks` (GPT, Llama, the encoders);
`saved_activation_bytes` measures what autograd keeps for backward, to show the saving exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class Checkpointed(nn.Module):
    """A module whose forward is recomputed in backward instead of storing its activations.

    The wrapped module stays at `.module` (so its parameters keep their names, prefixed by `module.`)
    and runs normally in eval mode or under no_grad.
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, *args, **kwargs):
        if not (self.training and torch.is_grad_enabled()):
            return self.module(*args, **kwargs)
        return checkpoint(self.module, *args, use_reentrant=False, **kwargs)


def checkpoint_blocks(model: nn.Module, attr: str = "blocks") -> nn.Module:
    """Wrap every block of `model.<attr>` (an nn.ModuleList) in `Checkpointed`, in place."""
    blocks = getattr(model, attr, None)
    if not isinstance(blocks, nn.ModuleList):
        raise ValueError(
            f"checkpoint_blocks: {type(model).__name__}.{attr} is not an nn.ModuleList of blocks"
        )
    for i, block in enumerate(blocks):
        if not isinstance(block, Checkpointed):
            blocks[i] = Checkpointed(block)
    return model


def saved_activation_bytes(fn: Callable[[], torch.Tensor], model: nn.Module) -> tuple[torch.Tensor, int]:
    """Run `fn()` (a forward pass returning the loss) and count the bytes autograd saves for backward.

    Tensors that share storage are counted once; the model's parameters (and views of them, such as a
    transposed weight), which are saved by reference and exist anyway, are not counted.
    Returns (loss, bytes).
    """
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = fn()
    return loss, sum(seen.values())
