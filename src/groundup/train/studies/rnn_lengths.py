"""Exercise (0.4): RNN vs LSTM vs GRU on the adding problem as the sequence grows, and the gradient
that reaches each time step.

The loss at the last step reaches step t through the product of T - t Jacobians dh_{s+1}/dh_s. For
the vanilla RNN each is diag(1 - h^2) W_hh, whose norm is usually below 1, so the gradient reaching
early steps shrinks geometrically (Bengio et al. 1994; Pascanu et al. 2013): the network cannot learn
that an early marker matters. The LSTM's cell state is updated additively, c_t = f c_{t-1} + i g, so
dc_t/dc_{t-1} = f, close to 1 while the forget gate stays open; the GRU's update gate interpolates
h_t = (1 - z) n + z h_{t-1} to the same effect. The study measures both sides of that argument:
the test error after training at each length, and ||dL/dx_t|| for every t at one length.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.rnn import RecurrentLayer
from groundup.train.studies.seq_data import adding_problem

KINDS = ("rnn", "lstm", "gru")
BASELINE_MSE = 1 / 6  # predicting the mean sum, 1, without reading the markers


TORCH_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class AddingModel(nn.Module):
    """One recurrent layer over (value, marker) steps and a linear readout of the last state.

    `fast=True` (the study's default) runs torch's built-in layer, whose loop over time is C++: our
    `RecurrentLayer` computes the same function (the tests check it equals torch's to 1e-6) but its
    Python loop is ~10x slower, too slow for 3 kinds x 4 lengths on a shared 2-core machine.
    """

    def __init__(self, kind: str, hidden: int = 32, fast: bool = True):
        super().__init__()
        self.fast = fast
        self.rnn = (
            TORCH_LAYERS[kind](2, hidden, batch_first=True) if fast else RecurrentLayer(kind, 2, hidden)
        )
        self.readout = nn.Linear(hidden, 1)

    def forward(self, x):
        h = self.rnn(x)[0] if self.fast else self.rnn(x)  # (B, T, H)
        return self.readout(h[:, -1]).squeeze(-1)  # (B,)


def train_adding(kind: str, length: int, steps: int, batch: int = 64, lr: float = 3e-3, seed: int = 0):
    """Adam on fresh batches; returns (model, test MSE on 1,000 fresh sequences)."""
    torch.manual_seed(seed)
    model = AddingModel(kind)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x, y = adding_problem(batch, length, g)
        loss = F.mse_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    x, y = adding_problem(1000, length, torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        return model, F.mse_loss(model(x), y).item()


def gradient_per_step(model: AddingModel, length: int, seed: int = 0) -> torch.Tensor:
    """||dL/dx_t|| for t = 0..T-1, averaged over a batch of 256 sequences: (T,)."""
    x, y = adding_problem(256, length, torch.Generator().manual_seed(seed + 2))
    x.requires_grad_(True)
    F.mse_loss(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return x.grad.norm(dim=-1).mean(dim=0)  # (T,)


def run(
    out_dir, lengths=(10, 25, 50, 100), steps: int = 800, probe_length: int = 100, seed: int = 0, echo=print
):
    """Train every kind at every length; write lengths.md, lengths.png, gradients.png, results.json."""
    from groundup.reports import figure, markdown_table, write_json, write_report

    out = Path(out_dir)
    mse: dict[str, list[float]] = {k: [] for k in KINDS}
    grads_init, grads_trained = {}, {}
    for kind in KINDS:
        torch.manual_seed(seed)
        grads_init[kind] = gradient_per_step(AddingModel(kind), probe_length, seed)
        for length in lengths:
            start = time.perf_counter()
            model, err = train_adding(kind, length, steps, seed=seed)
            mse[kind].append(err)
            echo(f"{kind:4s} T={length:3d} test MSE {err:.4f} ({time.perf_counter() - start:.0f} s)")
            if length == probe_length:
                grads_trained[kind] = gradient_per_step(model, probe_length, seed)
    with figure(out / "lengths.png", figsize=(6.4, 4)) as (_, ax):
        for kind in KINDS:
            ax.plot(lengths, mse[kind], "o-", label=kind)
        ax.axhline(BASELINE_MSE, color="grey", ls="--", label="ignore markers (1/6)")
        ax.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="test MSE")
        ax.set_title(f"adding problem after {steps} steps")
        ax.legend()
        ax.grid(alpha=0.3)
    with figure(out / "gradients.png", ncols=2, figsize=(11, 4), sharey=True) as (_, axes):
        for ax, grads, when in (
            (axes[0], grads_init, "at initialisation"),
            (axes[1], grads_trained, "trained"),
        ):
            for kind in KINDS:
                if kind in grads:
                    ax.plot(range(probe_length), grads[kind].numpy(), label=kind)
            ax.set(yscale="log", xlabel="time step t (loss at the last step)", title=when)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("mean ||dL/dx_t||")
        axes[0].legend()
    ratios = {k: (grads_init[k][0] / grads_init[k][-1]).item() for k in KINDS}
    write_json(
        out / "results.json",
        {
            "lengths": list(lengths),
            "steps": steps,
            "test_mse": mse,
            "grad_first_over_last_at_init": ratios,
            "grad_per_step_init": {k: v.tolist() for k, v in grads_init.items()},
            "grad_per_step_trained": {k: v.tolist() for k, v in grads_trained.items()},
        },
    )
    table = markdown_table(
        ["T"] + list(KINDS), [[t] + [mse[k][i] for k in KINDS] for i, t in enumerate(lengths)]
    )
    grad_table = markdown_table(
        ["model", "||dL/dx_0|| / ||dL/dx_T-1|| at init"], [[k, ratios[k]] for k in KINDS]
    )
    sections = [
        f"The adding problem (values in [0, 1], two markers, target = their sum); one recurrent layer of 32 "
        f"units (torch's built-in RNN/LSTM/GRU for speed, equal to ours) and a linear readout of the last state; Adam 3e-3, batch 64, {steps} steps on fresh data, "
        f"gradient clipping 1.0, same seed for all. Test MSE on 1,000 fresh sequences (ignoring the "
        f"markers scores {BASELINE_MSE:.3f}):",
        table,
        "![test error against length](lengths.png)",
        f"Gradient of the loss with respect to each input step, T = {probe_length}, averaged over 256 "
        "sequences:",
        grad_table,
        "![gradient per time step](gradients.png)",
    ]
    write_report(out / "lengths.md", "Sequence length: RNN vs LSTM vs GRU on the adding problem", sections)
    return {"test_mse": mse, "grad_ratio": ratios}
