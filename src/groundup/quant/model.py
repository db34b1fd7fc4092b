"""Whole-model workflows: swap layers, calibrate (static PTQ), QAT preparation and conversion, model size.

swap_quant_layers(model, config)  copy of `model` with every nn.Linear / nn.Conv2d replaced
calibrate(model, batches)          run the calibration batches, then freeze activation ranges
convert(model)                     a trained fake-quant (QAT) model -> integer execution
model_nbytes(model)                storage of the weights at their bit widths (float32 elsewhere)
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import replace

import torch
from torch import nn

from groundup.quant.modules import QuantConfig, QuantConv2d, QuantLinear, _QuantLayer


def swap_quant_layers(model: nn.Module, config: QuantConfig | None = None) -> nn.Module:
    """A deep copy of `model` with Linear/Conv2d layers swapped for quantized ones (names in config.skip stay)."""
    config = config or QuantConfig()
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if full in config.skip:
                continue
            if isinstance(child, nn.Linear):
                setattr(module, child_name, QuantLinear.from_float(child, config))
            elif isinstance(child, nn.Conv2d):
                setattr(module, child_name, QuantConv2d.from_float(child, config))
    return model


def quant_layers(model: nn.Module) -> list[_QuantLayer]:
    return [m for m in model.modules() if isinstance(m, _QuantLayer)]


@torch.no_grad()
def calibrate(model: nn.Module, batches: Iterable[torch.Tensor]) -> nn.Module:
    """Static PTQ: feed calibration inputs through the model so observers see real activations,
    then fix every layer's activation range. An empty set of batches is a ValueError."""
    layers = quant_layers(model)
    was_training = model.training
    model.eval()
    for layer in layers:
        layer.calibrating = True
    seen = 0
    try:
        for x in batches:
            model(x)
            seen += 1
    finally:
        for layer in layers:
            layer.calibrating = False
        model.train(was_training)
    if seen == 0:
        raise ValueError("batches is empty: calibration needs at least one batch of inputs")
    for layer in layers:
        layer.freeze()
    return model


def convert(model: nn.Module) -> nn.Module:
    """A copy of a fake-quant model (after QAT or PTQ simulation) running on integer kernels."""
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if not isinstance(child, _QuantLayer) or child.config.mode != "fake":
                continue
            child.freeze()
            config = replace(child.config, mode="int")
            if isinstance(child, QuantLinear):
                new = QuantLinear(child.weight, child.bias, config)
            else:
                geometry = dict(
                    stride=child.stride, padding=child.padding, dilation=child.dilation, groups=child.groups
                )
                new = QuantConv2d(child.weight, child.bias, config, **geometry)
            new.act_scale, new.act_zero = child.act_scale, child.act_zero
            new.observer = child.observer
            setattr(module, child_name, new)
    return model


def model_nbytes(model: nn.Module) -> int:
    """Bytes to store the model: quantized layers at their bit widths, every other parameter as float32."""
    total = 0
    quantized = set()
    for module in model.modules():
        if isinstance(module, _QuantLayer):
            total += module.weight_nbytes()
            quantized.update(id(p) for p in module.parameters(recurse=False))
    for p in model.parameters():
        if id(p) not in quantized:
            total += p.numel() * 4
    return total


__all__ = ["QuantConfig", "calibrate", "convert", "model_nbytes", "quant_layers", "swap_quant_layers"]
