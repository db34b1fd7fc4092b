"""Optimizers: each `step()` reads `p.grad` and updates `p.data` in place, following PyTorch's update
rules exactly (same defaults, same order of weight decay, bias correction and epsilon), so a run of
ours and a run of torch.optim from the same weights and gradients stay equal step for step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from groundup.grad.tensor import Tensor


class Optimizer:
    """Holds `param_groups` (each a dict with "params" and hyperparameters) and per-parameter `state`."""

    defaults: dict = {}

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], **hyper):
        unknown = set(hyper) - set(self.defaults)
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown hyperparameters {sorted(unknown)}")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = [{**self.defaults, **hyper, **g, "params": list(g["params"])} for g in groups]
        for g in self.param_groups:
            if g["lr"] < 0:
                raise ValueError(f"learning rate lr must be >= 0, got {g['lr']}")
        self.state: dict[int, dict] = {}

    def zero_grad(self) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                p.grad = None

    def step(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    state = self.state.setdefault(id(p), {"step": 0})
                    state["step"] += 1
                    self.update(p, p.grad, state, group)

    def update(self, p: Tensor, g: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    defaults = {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}

    def update(self, p, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        mu = group["momentum"]
        if mu:
            if "buf" not in state:
                state["buf"] = g.copy()
            else:
                state["buf"] = mu * state["buf"] + (1 - group["dampening"]) * g
            g = g + mu * state["buf"] if group["nesterov"] else state["buf"]
        p.data = p.data - group["lr"] * g


class RMSprop(Optimizer):
    defaults = {
        "lr": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
    }

    def update(self, p, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        a = group["alpha"]
        state["sq"] = a * state.get("sq", 0) + (1 - a) * g * g  # running mean of g^2
        if group["centered"]:
            state["avg"] = a * state.get("avg", 0) + (1 - a) * g
            denom = np.sqrt(state["sq"] - state["avg"] ** 2) + group["eps"]
        else:
            denom = np.sqrt(state["sq"]) + group["eps"]
        if group["momentum"]:
            state["buf"] = group["momentum"] * state.get("buf", 0) + g / denom
            p.data = p.data - group["lr"] * state["buf"]
        else:
            p.data = p.data - group["lr"] * g / denom


class Adagrad(Optimizer):
    defaults = {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
    }

    def update(self, p, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] = state.get("sum", group["initial_accumulator_value"]) + g * g
        p.data = p.data - lr * g / (np.sqrt(state["sum"]) + group["eps"])


class Adam(Optimizer):
    """Adam (Kingma and Ba 2015) with bias correction; weight_decay is L2 added to the gradient."""

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False}
    decoupled = False

    def update(self, p, g, state, group):
        lr, wd, (b1, b2), t = group["lr"], group["weight_decay"], group["betas"], state["step"]
        if wd and self.decoupled:
            p.data = p.data * (1 - lr * wd)
        elif wd:
            g = g + wd * p.data
        state["m"] = b1 * state.get("m", 0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0) + (1 - b2) * g * g
        v = state["v"]
        if group["amsgrad"]:
            state["vmax"] = v = np.maximum(state.get("vmax", 0), v)
        denom = np.sqrt(v) / math.sqrt(1 - b2**t) + group["eps"]
        p.data = p.data - (lr / (1 - b1**t)) * state["m"] / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter 2019): p <- p (1 - lr wd) before the step."""

    defaults = {**Adam.defaults, "weight_decay": 1e-2}
    decoupled = True


class Lion(Optimizer):
    """Lion (Chen et al. 2023): update = sign(b1 m + (1 - b1) g); m <- b2 m + (1 - b2) g."""

    defaults = {"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0}

    def update(self, p, g, state, group):
        (b1, b2), lr = group["betas"], group["lr"]
        m = state.get("m", np.zeros_like(g))
        direction = np.sign(b1 * m + (1 - b1) * g)
        p.data = p.data * (1 - lr * group["weight_decay"]) - lr * direction
        state["m"] = b2 * m + (1 - b2) * g


class Adafactor(Optimizer):
    """Adafactor (Shazeer and Stern 2018) as in torch.optim.Adafactor: for matrices the second moment is
    factored into row and column means, v ~ r c^T / mean(r), so its state is O(rows + cols)."""

    defaults = {"lr": 1e-2, "beta2_decay": -0.8, "eps": (None, 1e-3), "d": 1.0, "weight_decay": 0.0}

    def update(self, p, g, state, group):
        t, lr = state["step"], group["lr"]
        eps1 = group["eps"][0] if group["eps"][0] is not None else float(np.finfo(p.dtype).eps)
        eps2 = group["eps"][1]
        beta = t ** group["beta2_decay"]  # 1 - beta2_t: how far to move toward the new statistic
        rho = min(lr, 1 / math.sqrt(t))
        alpha = max(eps2, float(np.linalg.norm(p.data)) / math.sqrt(p.size)) * rho
        if group["weight_decay"]:
            p.data = p.data * (1 - lr * group["weight_decay"])
        if g.ndim > 1:
            row = state.get("row", np.zeros(g.shape[:-1] + (1,), g.dtype))  # (..., R, 1)
            col = state.get("col", np.zeros(g.shape[:-2] + (1, g.shape[-1]), g.dtype))  # (..., 1, C)
            row = row + beta * ((g * g).mean(axis=-1, keepdims=True) - row)
            col = col + beta * ((g * g).mean(axis=-2, keepdims=True) - col)
            state["row"], state["col"] = row, col
            var = (row @ col) / np.maximum(row.mean(axis=-2, keepdims=True), eps1)
        else:
            state["var"] = var = state.get("var", np.zeros_like(g)) + beta * (g * g - state.get("var", 0))
        update = g / np.sqrt(np.maximum(var, eps1 * eps1))
        denom = max(1.0, float(np.linalg.norm(update)) / (math.sqrt(update.size) * group["d"]))
        p.data = p.data - (alpha / denom) * update
