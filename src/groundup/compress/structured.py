"""Structured pruning: remove whole output channels, neurons or attention heads, ranked by their norm.

Unstructured zeros only save time with sparse kernels; removing a whole row of a weight matrix makes
the layer genuinely smaller. Importance of output unit i is ‖W[i]‖_p over all its other dimensions
(torch.nn.utils.prune.ln_structured's rule, which the tests compare against). For attention, head h
owns a block of columns of the output projection; its score is the norm of that block.
"""

from __future__ import annotations

import torch
from torch import nn

from groundup.compress.prune import check_amount, smallest_mask


def unit_norms(weight: torch.Tensor, dim: int = 0, p: float = 2) -> torch.Tensor:
    """‖W‖_p of each slice along `dim` (one score per output channel / neuron)."""
    dims = tuple(d for d in range(weight.dim()) if d != dim % weight.dim())
    return torch.linalg.vector_norm(weight.detach(), ord=p, dim=dims)


def channel_mask(weight: torch.Tensor, amount: float, dim: int = 0, p: float = 2) -> torch.Tensor:
    """A mask shaped like `weight` that zeros the round(amount · n) lowest-norm slices along `dim`."""
    check_amount(amount)
    scores = unit_norms(weight, dim, p)  # (n,)
    keep = smallest_mask(scores, round(amount * scores.numel()))  # (n,) 0/1
    shape = [1] * weight.dim()
    shape[dim % weight.dim()] = -1
    return keep.reshape(shape).expand_as(weight).clone()


def head_scores(out_proj_weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """L2 norm of each head's block of input columns of the attention output projection W_o (d, d)."""
    d_in = out_proj_weight.shape[1]
    if d_in % n_heads:
        raise ValueError(f"n_heads must divide the projection's input width {d_in}, got {n_heads}")
    blocks = out_proj_weight.detach().reshape(
        out_proj_weight.shape[0], n_heads, d_in // n_heads
    )  # (d, H, hd)
    return torch.linalg.vector_norm(blocks, dim=(0, 2))  # (H,)


def head_mask(out_proj_weight: torch.Tensor, n_heads: int, amount: float) -> torch.Tensor:
    """(H,) 0/1 mask dropping the round(amount · H) heads with the smallest output-projection norm."""
    check_amount(amount)
    return smallest_mask(head_scores(out_proj_weight, n_heads), round(amount * n_heads))


@torch.no_grad()
def remove_neurons(fc_in: nn.Linear, fc_out: nn.Linear, amount: float) -> tuple[nn.Linear, nn.Linear]:
    """Shrink the hidden layer between two Linears: drop the lowest-norm rows of fc_in (and their bias)
    and the matching columns of fc_out. The pair computes what the full pair computes with those
    neurons' outputs set to zero (for activations with f(0) = 0 such as ReLU), with smaller matrices."""
    check_amount(amount)
    keep = channel_mask(fc_in.weight, amount, dim=0)[:, 0].bool()  # (hidden,)
    new_in = nn.Linear(fc_in.in_features, int(keep.sum()), bias=fc_in.bias is not None)
    new_out = nn.Linear(int(keep.sum()), fc_out.out_features, bias=fc_out.bias is not None)
    new_in.weight.copy_(fc_in.weight[keep])
    if fc_in.bias is not None:
        new_in.bias.copy_(fc_in.bias[keep])
    new_out.weight.copy_(fc_out.weight[:, keep])
    if fc_out.bias is not None:
        new_out.bias.copy_(fc_out.bias)
    return new_in, new_out
