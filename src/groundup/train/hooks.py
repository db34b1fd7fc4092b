"""Working inside a trained model: forward hooks for features, freezing, and swapping a layer (0.8).

- `FeatureExtractor(model, ["blocks.1", "head"])`: forward hooks on the named submodules record
  their outputs during an ordinary forward pass (embeddings for a probe, activations for a plot),
  without changing the model's code; leaving the `with` block removes the hooks.
- `freeze(model, prefixes)` / `unfreeze`: turn off requires_grad, so backward skips those weights and
  the optimizer (given only trainable parameters) leaves them alone: fine-tune the head, keep the body.
- `replace_module(model, "head", nn.Linear(64, 3))`: swap a submodule by its dotted name (a new
  classification head for a new task), returning the old one.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class FeatureExtractor:
    """`with FeatureExtractor(model, names) as features: model(x)`; then `features["name"]` holds the
    (detached) output of that submodule for the last forward pass."""

    def __init__(self, model: nn.Module, names: Iterable[str], detach: bool = True):
        modules = dict(model.named_modules())
        names = list(names)
        missing = [n for n in names if n not in modules]
        if missing:
            raise ValueError(
                f"names: no submodule {missing}; the model has {', '.join(n for n in modules if n)[:400]}"
            )
        self.modules = {n: modules[n] for n in names}
        self.detach = detach
        self.outputs: dict[str, torch.Tensor] = {}
        self.handles: list = []

    def __enter__(self) -> dict[str, torch.Tensor]:
        for name, module in self.modules.items():
            self.handles.append(module.register_forward_hook(self._recorder(name)))
        return self.outputs

    def __exit__(self, *exc) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def _recorder(self, name: str):
        def hook(module, inputs, output):
            self.outputs[name] = output.detach() if self.detach and torch.is_tensor(output) else output

        return hook


def _matching(model: nn.Module, prefixes: Iterable[str]) -> list[nn.Parameter]:
    prefixes = tuple(prefixes)
    named = dict(model.named_parameters())
    chosen = [p for n, p in named.items() if n.startswith(prefixes)]
    if not chosen:
        raise ValueError(
            f"prefixes: {list(prefixes)} match no parameter; names start with e.g. {list(named)[:5]}"
        )
    return chosen


def freeze(model: nn.Module, prefixes: Iterable[str] = ("",)) -> int:
    """requires_grad=False for parameters whose name starts with one of `prefixes`; returns how many
    values were frozen. Frozen BatchNorm layers still update running statistics in train mode: put
    them in eval mode too if they should stay exactly as they are."""
    params = _matching(model, prefixes)
    for p in params:
        p.requires_grad_(False)
    return sum(p.numel() for p in params)


def unfreeze(model: nn.Module, prefixes: Iterable[str] = ("",)) -> int:
    params = _matching(model, prefixes)
    for p in params:
        p.requires_grad_(True)
    return sum(p.numel() for p in params)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def replace_module(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    """Put `new` where the submodule `name` (dotted, e.g. "blocks.3.mlp") was; returns the old one."""
    parent_name, _, child = name.rpartition(".")
    modules = dict(model.named_modules())
    if name not in modules or not name:
        raise ValueError(f"name: no submodule {name!r} in {type(model).__name__}")
    parent = modules[parent_name]
    old = modules[name]
    if isinstance(parent, (nn.ModuleList, nn.Sequential)) and child.isdigit():
        parent[int(child)] = new
    else:
        setattr(parent, child, new)
    return old
