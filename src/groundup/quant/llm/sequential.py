"""Run a decoder one block at a time over the calibration set (the "Catcher" idea of the GPTQ code).

The model is called once per calibration batch until its first block is entered; the block's inputs
(the hidden states and whatever positions/masks/caches the model passes beside them) are recorded and
the rest of the forward is skipped. After that each block runs on its own:

    hidden_0 = captured;   hidden_{i+1} = block_i(hidden_i, *same extras)

so quantizing block i can use the outputs of the already-quantized blocks before it (errors are fed
forward, as in GPTQ's sequential mode), at the cost of one block forward per step instead of a model.
"""

from __future__ import annotations

import torch
from torch import nn


class _Stop(Exception):
    """Raised inside the first block to end the model forward once its inputs are recorded."""


class BlockRunner:
    """Holds, per calibration batch, the hidden states entering the next block and the call's extras."""

    def __init__(self, model: nn.Module, first_block: nn.Module, batches: torch.Tensor, batch_size: int = 4):
        self.calls: list[tuple[tuple, dict]] = []

        def catch(module, args, kwargs):
            self.calls.append((args, kwargs))
            raise _Stop

        handle = first_block.register_forward_pre_hook(catch, with_kwargs=True)
        try:
            with torch.no_grad():
                for start in range(0, batches.shape[0], batch_size):
                    try:
                        model(batches[start : start + batch_size])
                    except _Stop:
                        pass
        finally:
            handle.remove()
        if len(self.calls) != -(-batches.shape[0] // batch_size):
            raise ValueError(
                "the model did not call its first decoder block once per batch; cannot run it block by block"
            )

    @staticmethod
    def _hidden(output):
        return output[0] if isinstance(output, tuple | list) else output

    @torch.no_grad()
    def run(self, block: nn.Module) -> list[torch.Tensor]:
        """Outputs of `block` for every batch (hooks on the block's Linears see all calibration tokens)."""
        return [self._hidden(block(*args, **kwargs)) for args, kwargs in self.calls]

    @torch.no_grad()
    def advance(self, block: nn.Module) -> None:
        """Feed every batch through `block`; its outputs become the inputs of the next block."""
        outputs = self.run(block)
        self.calls = [((out, *args[1:]), kwargs) for out, (args, kwargs) in zip(outputs, self.calls)]
