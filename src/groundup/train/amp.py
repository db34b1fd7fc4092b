"""Mixed precision: autocast for the forward pass, and loss scaling when the half type is float16.

float16 keeps 10 mantissa bits but only 5 exponent bits: anything below ~6e-8 rounds to zero, and
small gradients do. Loss scaling multiplies the loss by S (65536 to start) before backward, so the
gradients are S times larger and stay representable, then divides them by S before the update. If
any gradient overflowed to inf/NaN the step is skipped and S is halved; after `growth_interval` clean
steps S doubles again. bfloat16 has float32's exponent range, so it needs no scaling.

    precision = Precision("float16")
    with precision.autocast():
        loss = loss_fn(model(x), y)
    precision.backward(loss)
    stepped = precision.step(optimizer, model.parameters(), grad_clip=1.0)   # False: skipped (overflow)
"""

from __future__ import annotations

import contextlib

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class Precision:
    """autocast + (for float16) a `torch.amp.GradScaler`; float32 is the plain path."""

    def __init__(
        self,
        dtype: str = "float32",
        device: str = "cpu",
        init_scale: float = 2.0**16,
        growth_interval: int = 2000,
    ):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        self.dtype, self.device = dtype, device
        self.scaler = torch.amp.GradScaler(
            device, init_scale=init_scale, growth_interval=growth_interval, enabled=dtype == "float16"
        )
        self.skipped = 0  # optimizer steps skipped because a gradient overflowed

    def autocast(self):
        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device, dtype=DTYPES[self.dtype])

    @property
    def scale(self) -> float:
        return self.scaler.get_scale() if self.scaler.is_enabled() else 1.0

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()

    def step(self, optimizer, parameters, grad_clip: float = 0.0) -> bool:
        """Unscale, clip, update (unless a gradient is inf/NaN), adapt the scale; True if it stepped."""
        before = self.scale
        if grad_clip > 0:
            self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            torch.nn.utils.clip_grad_norm_(list(parameters), grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()
        stepped = not (self.scaler.is_enabled() and self.scale < before)
        self.skipped += not stepped
        return stepped

    def state_dict(self) -> dict:
        return {"scaler": self.scaler.state_dict(), "skipped": self.skipped}

    def load_state_dict(self, state: dict) -> None:
        self.scaler.load_state_dict(state["scaler"])
        self.skipped = state["skipped"]
