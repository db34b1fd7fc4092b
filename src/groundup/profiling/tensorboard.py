"""TensorBoard histograms of weights and activations during training (curriculum 1.6).

A histogram per layer per step shows what a single number hides: weights drifting, activations
growing tails that a quantizer's range must cover, a layer whose outputs collapse to zero. Written
with `torch.utils.tensorboard` (needs the `tensorboard` package), viewed with
`tensorboard --logdir DIR`, and read back with `read_histograms`.

    with HistogramLogger(log_dir) as logger:
        for step, batch in enumerate(batches):
            with logger.activations(model):      # records the outputs of every layer with weights
                loss = train_step(model, batch)
            logger.log(model, step)             # weights/<name> and activations/<name>
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch
from torch import nn


class HistogramLogger:
    """Writes `weights/<parameter>` and `activations/<layer>` histograms to an event file."""

    def __init__(self, log_dir: str | os.PathLike, layer_types: tuple[type, ...] | None = None):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(log_dir))
        self.layer_types = layer_types
        self.recorded: dict[str, torch.Tensor] = {}

    def _watched(self, module: nn.Module) -> bool:
        if self.layer_types is not None:
            return isinstance(module, self.layer_types)
        return any(True for _ in module.parameters(recurse=False))

    @contextlib.contextmanager
    def activations(self, model: nn.Module):
        """Record the output of every watched layer (`layer_types`, or every module that owns
        parameters) while the block runs; the last output of each is kept for `log`."""
        handles = []
        for name, module in model.named_modules():
            if name and self._watched(module):
                handles.append(module.register_forward_hook(self._hook(name)))
        try:
            yield self.recorded
        finally:
            for h in handles:
                h.remove()

    def _hook(self, name: str):
        def save(module, inputs, output):
            if isinstance(output, torch.Tensor):
                self.recorded[name] = output.detach().float().cpu()

        return save

    def log(self, model: nn.Module, step: int) -> None:
        """Histograms of every parameter and of the activations recorded since the last call."""
        for name, p in model.named_parameters():
            self.writer.add_histogram(f"weights/{name}", p.detach().float().cpu(), step)
        for name, out in self.recorded.items():
            self.writer.add_histogram(f"activations/{name}", out, step)
        self.recorded = {}

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> HistogramLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_histograms(log_dir: str | os.PathLike) -> dict[str, list[tuple[int, float, float, float]]]:
    """{tag: [(step, count, min, max), ...]} from the event files in `log_dir` (needs `tensorboard`)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(Path(log_dir)), size_guidance={"histograms": 0})
    acc.Reload()
    return {
        tag: [
            (e.step, e.histogram_value.num, e.histogram_value.min, e.histogram_value.max)
            for e in acc.Histograms(tag)
        ]
        for tag in acc.Tags()["histograms"]
    }
