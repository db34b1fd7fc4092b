"""AWQ (Lin et al. 2023, "Activation-aware Weight Quantization", arXiv:2306.00978): protect the weight
channels that meet large activations by scaling them up before quantization.

For a Linear y = W x, multiplying input channel j of W by s_j and dividing the activation by s_j leaves
y unchanged, but the rounding error of column j shrinks relative to the weight (the group scale hardly
moves when one channel grows). The division is folded into whatever produced x: the RMSNorm weight
before q/k/v and gate/up, or the rows of the Linear before (v before o, up before down).

    s = mean|x|^α / sqrt(max(mean|x|^α) · min(mean|x|^α))          (normalised to be centred around 1)
    α* = argmin over a grid in [0, 1) of  || f(Q(W · s) (x / s)) - f(W x) ||²

f is what the group's error is measured on: for gate/up the whole MLP output down(silu(gate)·up)
(the float down weight), as in the paper; for q/k/v the concatenated q, k and v outputs; for down
and o their own output. α = 0 (s = 1) is plain RTN, so the chosen scale never does worse than RTN
on the (subsampled) calibration tokens of that group.

Optional clipping search then shrinks the min/max range of each (row, group) by the ratio that
minimizes that group's output error, and the weights are stored as group-wise INT4 (RTN on the scaled
weights). One deviation from the reference implementation: the q/k/v error is measured on the three
projections' outputs, not on the attention output after softmax, which needs no model code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from groundup.quant.llm.arch import decoder_blocks, set_module
from groundup.quant.llm.calibration import capture_inputs, concat
from groundup.quant.llm.qweight import WeightOnlyLinear, check_weight_spec
from groundup.quant.llm.rtn import rtn_quantize
from groundup.quant.llm.sequential import BlockRunner

N_GRID = 20
CLIP_GRID = 20
CLIP_MIN_RATIO = 0.5


def activation_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Mean |x| per input channel: x (tokens, in) -> (in,)."""
    return x.abs().float().mean(dim=0)


@torch.no_grad()
def search_scale(
    x: torch.Tensor,
    weights: list[torch.Tensor],
    bits: int,
    group_size: int | None,
    n_grid: int = N_GRID,
    max_tokens: int = 512,
    combine: Callable[[list[torch.Tensor]], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, float]:
    """Best per-channel scale s (in,) and its exponent α for Linears sharing input x (tokens, in).

    The error is measured on `combine(outputs)` (e.g. the whole MLP output down(silu(gate)·up)), or on
    the concatenated outputs of the Linears when `combine` is None. The magnitudes use every token;
    the error is evaluated on `max_tokens` evenly spaced ones (cost).
    """
    combine = combine or (lambda outputs: torch.cat(outputs, dim=-1))
    magnitude = activation_magnitude(x)
    x = x[:: max(1, x.shape[0] // max_tokens)][:max_tokens].float()
    reference = combine([x @ w.float().T for w in weights])  # (tokens, out)
    best = (float("inf"), torch.ones_like(magnitude), 0.0)
    for step in range(n_grid):
        alpha = step / n_grid
        s = magnitude.pow(alpha).clamp(min=1e-4)
        s = s / (s.max() * s.min()).sqrt()  # (in,)
        # Q(W·s)/s (out, in) for every Linear
        w_q = [rtn_quantize(w.float() * s, bits, group_size).dequantize() / s for w in weights]
        err = float(((combine([x @ w.T for w in w_q]) - reference) ** 2).sum())
        if err < best[0]:
            best = (err, s, alpha)
    return best[1], best[2]


def mlp_output(down: torch.Tensor, fused: bool) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    """combine() for gate/up: the MLP output down(silu(gate)·up) with the float down weight (out, hidden)."""
    down = down.detach().float()

    def combine(outputs: list[torch.Tensor]) -> torch.Tensor:
        gate, up = outputs[0].chunk(2, dim=-1) if fused else outputs
        return (F.silu(gate) * up) @ down.T

    return combine


@torch.no_grad()
def fold_scale(previous: nn.Module, linears: list[nn.Linear], s: torch.Tensor) -> None:
    """Divide what `previous` outputs by s and multiply the input columns of each Linear by s.

    `previous` is a norm with a `weight` (d,) (RMSNorm/LayerNorm; a LayerNorm bias is divided too) or a
    Linear whose output rows feed the Linears. The composed function is unchanged.
    """
    if isinstance(previous, nn.Linear):
        if previous.out_features != s.numel():
            raise ValueError(
                f"cannot fold a scale of {s.numel()} channels into a Linear with {previous.out_features} outputs"
            )
        previous.weight.div_(s[:, None].to(previous.weight.dtype))
    elif getattr(previous, "weight", None) is not None and previous.weight.shape == s.shape:
        previous.weight.div_(s.to(previous.weight.dtype))
    else:
        raise ValueError(
            f"cannot fold a scale into {type(previous).__name__}: it needs a weight of shape {tuple(s.shape)}"
        )
    if getattr(previous, "bias", None) is not None:
        previous.bias.div_(s.to(previous.bias.dtype))
    for linear in linears:
        linear.weight.mul_(s[None, :].to(linear.weight.dtype))


@torch.no_grad()
def search_clip(
    x: torch.Tensor,
    weight: torch.Tensor,
    bits: int,
    group_size: int | None,
    n_grid: int = CLIP_GRID,
    max_tokens: int = 512,
) -> torch.Tensor:
    """Per (row, group) range-shrink ratio in [CLIP_MIN_RATIO, 1] minimizing that group's output error.

    x (tokens, in) is subsampled to `max_tokens` rows; returns ratios (out, in/g).
    """
    out_f, in_f = weight.shape
    g = group_size or in_f
    n_groups = -(-in_f // g)
    pad = n_groups * g - in_f  # zero columns complete a short last group; they add no error
    stride = max(1, x.shape[0] // max_tokens)
    xg = F.pad(x[::stride][:max_tokens].float(), (0, pad)).reshape(-1, n_groups, g)  # (n, G, g)
    w = weight.float()
    best_err = torch.full((out_f, n_groups), float("inf"))
    best_ratio = torch.ones(out_f, n_groups)
    for step in range(int(n_grid * (1 - CLIP_MIN_RATIO)) + 1):
        ratio = 1 - step / n_grid
        delta = F.pad(rtn_quantize(w, bits, group_size, clip=ratio).dequantize() - w, (0, pad))
        delta = delta.reshape(out_f, n_groups, g)  # (out, G, g)
        err = torch.einsum("ngk,ogk->nog", xg, delta).pow(2).mean(dim=0)  # (out, G)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_ratio = torch.where(better, torch.full_like(best_ratio, ratio), best_ratio)
    return best_ratio


@torch.no_grad()
def fold_rows(linear: nn.Linear, rows: slice, s: torch.Tensor) -> None:
    """Divide output rows `rows` of `linear` (the producer of the next Linear's input) by s."""
    linear.weight[rows].div_(s[:, None].to(linear.weight.dtype))
    if linear.bias is not None:
        linear.bias[rows].div_(s.to(linear.bias.dtype))


@torch.no_grad()
def awq_quantize_model(
    model: nn.Module,
    windows: torch.Tensor,
    bits: int = 4,
    group_size: int | None = 128,
    *,
    clip: bool = True,
    quantize: bool = True,
    mlp_loss: bool = True,
    progress: Callable[[str], None] | None = None,
) -> nn.Module:
    """AWQ every decoder block in place: search and fold scales (norm→q/k/v, v→o when widths match,
    norm→gate/up, up→down), optionally search clipping ratios, then store group-wise RTN codes.
    `quantize=False` stops after folding: the model then computes the same function (a check)."""
    check_weight_spec(bits, group_size, method="awq", allowed_bits=(3, 4))
    blocks = decoder_blocks(model)
    runner = BlockRunner(model, blocks[0].module, windows)
    for index, block in enumerate(blocks):
        linears = block.linears()
        with capture_inputs(linears) as captured:
            runner.run(block.module)
        x = {role: concat(batches) for role, batches in captured.items()}
        # (what produces the input, its output rows or None for a norm, the Linears reading that input)
        steps = [
            (block.parts["attn_norm"], None, block.attn_in),
            (block.parts["mlp_norm"], None, block.mlp_in),
            (*block.up_rows(), ("down",)),
        ]
        if block.v_rows() is not None:  # only without grouped KV heads: v's rows line up with o's inputs
            steps.append((*block.v_rows(), ("o",)))
        for previous, rows, roles in steps:
            targets = [linears[r] for r in roles]
            combine = None
            if mlp_loss and roles == block.mlp_in:  # the error of the whole MLP, not of gate/up alone
                combine = mlp_output(linears["down"].weight, fused=len(roles) == 1)
            s, _ = search_scale(x[roles[0]], [t.weight for t in targets], bits, group_size, combine=combine)
            if rows is None:
                fold_scale(previous, targets, s)
            else:
                fold_rows(previous, rows, s)
                for t in targets:
                    t.weight.mul_(s[None, :])
            for r in roles:
                x[r] = x[r] / s  # the input these Linears receive from now on
        for role, linear in linears.items() if quantize else ():
            ratio = 1.0
            if clip and role not in ("q", "k", "qkv"):  # q/k feed a softmax: AWQ leaves their range alone
                ratio = search_clip(x[role], linear.weight, bits, group_size)
            qweight = rtn_quantize(linear.weight, bits, group_size, clip=ratio)
            set_module(model, block.paths[role], WeightOnlyLinear(qweight, linear.bias))
        runner.advance(block.module)
        if progress:
            progress(f"awq: block {index + 1}/{len(blocks)} quantized")
    return model
