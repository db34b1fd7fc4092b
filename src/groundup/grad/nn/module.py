"""`Module`, `Parameter`, `Sequential`: the containers that give layers names, modes and state dicts.

Attribute assignment registers things, as in PyTorch: a `Parameter` becomes a parameter, a `Module` a
child, and `register_buffer` adds non-trained state (BatchNorm's running statistics). Names are dotted
paths ("0.weight", "layers.1.bias") and match PyTorch's, so a state dict moves between the two.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from groundup.errors import GroundupError
from groundup.grad.tensor import Tensor


class Parameter(Tensor):
    """A trainable tensor: requires_grad is on."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)


class StateDictError(GroundupError):
    """A state dict does not fit the module (missing, unexpected or mis-shaped entries)."""


class LoadReport(NamedTuple):
    missing: list[str]
    unexpected: list[str]
    mismatched: list[str]  # "name: expected (a, b), got (c, d)"


class Module:
    """Base class: subclasses set parameters/children in `__init__` and define `forward`."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        for table in ("_parameters", "_modules", "_buffers"):
            entries = self.__dict__.get(table, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        self._buffers[name] = np.asarray(value)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    # ---- traversal --------------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for prefix, module in self.named_modules():
            for name, b in module._buffers.items():
                yield (f"{prefix}.{name}" if prefix else name), b

    # ---- modes ------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # ---- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by dotted name (torch's order: per module, params first)."""
        return {
            key: np.array(getattr(owner, name).data if name in owner._parameters else owner._buffers[name])
            for key, (owner, name, _) in self._state_slots().items()
        }

    def load_state_dict(self, state: dict, strict: bool = True) -> LoadReport:
        """Copy matching entries in. Strict: any missing/unexpected/mis-shaped key raises, listing all.

        Non-strict: the entries that fit are loaded and the rest are returned in a `LoadReport`.
        """
        targets = self._state_slots()
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        mismatched = [
            f"{k}: expected {targets[k][2]}, got {np.shape(state[k])}"
            for k in targets
            if k in state and np.shape(state[k]) != targets[k][2]
        ]
        report = LoadReport(missing, unexpected, mismatched)
        if strict and (missing or unexpected or mismatched):
            raise StateDictError(
                "state dict does not fit the module: "
                + "; ".join(
                    f"{label}: {', '.join(items)}"
                    for label, items in (
                        ("missing keys", missing),
                        ("unexpected keys", unexpected),
                        ("wrong shapes", mismatched),
                    )
                    if items
                )
                + " (pass strict=False to load the entries that fit)"
            )
        bad = {m.split(":")[0] for m in mismatched}
        for key, (owner, name, _) in targets.items():
            if key in state and key not in bad:
                value = np.asarray(state[key])
                if name in owner._parameters:
                    p = owner._parameters[name]
                    p.data = value.astype(p.dtype).copy()
                else:
                    owner._buffers[name] = value.astype(owner._buffers[name].dtype).copy()
        return report

    def _state_slots(self) -> dict[str, tuple[Module, str, tuple[int, ...]]]:
        slots = {}
        for prefix, module in self.named_modules():
            for table in (module._parameters, module._buffers):
                for name, value in table.items():
                    key = f"{prefix}.{name}" if prefix else name
                    slots[key] = (module, name, tuple(np.shape(getattr(value, "data", value))))
        return slots

    def save(self, path: str | Path) -> None:
        """Write the state dict as a safetensors file."""
        from safetensors.numpy import save_file

        save_file(self.state_dict(), str(path))  # state_dict() copies are C-contiguous

    def load(self, path: str | Path, strict: bool = True) -> LoadReport:
        from safetensors.numpy import load_file

        return self.load_state_dict(load_file(str(path)), strict=strict)

    def __repr__(self) -> str:
        lines = [f"  ({name}): {child!r}".replace("\n", "\n  ") for name, child in self._modules.items()]
        return f"{type(self).__name__}(" + ("\n" + "\n".join(lines) + "\n" if lines else "") + ")"


class Sequential(Module):
    """Children named "0", "1", ... applied in order."""

    def __init__(self, *layers: Module):
        super().__init__()
        for i, layer in enumerate(layers):
            setattr(self, str(i), layer)

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x
