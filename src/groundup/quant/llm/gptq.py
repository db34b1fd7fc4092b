"""GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
Transformers", arXiv:2210.17323): quantize a Linear one input column at a time and push each column's
rounding error onto the columns not yet quantized, weighted by the inverse Hessian of the layer loss.

For a layer y = W x and calibration inputs X (n_tokens, in), the loss ||W X^T - Ŵ X^T||² has Hessian
H = 2 X^T X (the same for every output row). The Optimal Brain Quantization step for column q is

    δ = (w_q - quant(w_q)) / [H⁻¹]_qq          w_F ← w_F - δ · [H⁻¹]_{q,F}        (F: columns left)

followed by removing q from H⁻¹ (one Gaussian-elimination step). GPTQ's three tricks:
  1. a fixed column order for all rows, so one H⁻¹ serves the whole matrix;
  2. the successive eliminated inverses are exactly the rows of the upper Cholesky factor U of H⁻¹
     (H⁻¹ = Uᵀ U), so δ = (w_q - quant(w_q)) / U_qq and the update row is U_{q,F};
  3. lazy batches: updates inside a block of B columns are applied immediately, updates to the columns
     after the block are accumulated and applied once as one matmul (E (out, B) @ U[block, rest]).
Dampening adds λ = damp · mean(diag H) to the diagonal so H stays positive definite; columns never
activated (H_jj = 0) are zeroed. Act-order (desc_act) quantizes columns by decreasing H_jj, so the most
activated ones are quantized while many columns remain to absorb their error; with `static_groups` the
group scales are fixed from the unquantized weight in natural order before the loop, so a group is one
contiguous run of the original columns (cheap to dequantize) even though columns are visited permuted.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from groundup.quant.llm.arch import decoder_blocks, set_module
from groundup.quant.llm.calibration import on_inputs
from groundup.quant.llm.qweight import (
    QuantizedWeight,
    WeightOnlyLinear,
    check_weight_spec,
    group_params,
)
from groundup.quant.llm.sequential import BlockRunner

GPTQ_BITS = (2, 3, 4, 8)


class HessianAccumulator:
    """Running H = 2/N · Σ x xᵀ over every calibration token that enters a Linear (in, in) float64."""

    def __init__(self, in_features: int):
        self.sum = torch.zeros(in_features, in_features, dtype=torch.float64)
        self.count = 0

    def add(self, x: torch.Tensor) -> None:
        """Add a batch of inputs (..., in)."""
        x = x.detach().reshape(-1, x.shape[-1]).double()  # (N, in)
        self.sum += x.T @ x
        self.count += x.shape[0]

    def hessian(self) -> torch.Tensor:
        if self.count == 0:
            raise ValueError("no calibration tokens reached this layer; run the calibration forward first")
        return 2.0 * self.sum / self.count


@torch.no_grad()
def gptq_quantize(
    weight: torch.Tensor,
    hessian: torch.Tensor,
    bits: int = 4,
    group_size: int | None = 128,
    *,
    sym: bool = False,
    block_size: int = 128,
    damp: float = 0.01,
    act_order: bool = False,
    static_groups: bool = False,
) -> QuantizedWeight:
    """Quantize `weight` (out, in) given the layer Hessian (in, in); computes in float64 for stability.

    Block size is rounded up to a multiple of the group size so that every group's scale is taken
    from fully updated weights, which makes the result independent of `block_size`.
    """
    out_f, in_f = weight.shape
    check_weight_spec(bits, group_size, method="gptq", allowed_bits=GPTQ_BITS)
    if hessian.shape != (in_f, in_f):
        raise ValueError(
            f"hessian must be ({in_f}, {in_f}) for a weight of shape {tuple(weight.shape)}, got {tuple(hessian.shape)}"
        )
    if not 0 <= damp < 1:
        raise ValueError(f"damp must be in [0, 1), got {damp}")
    W = weight.detach().double().clone()  # (out, in)
    H = hessian.detach().double().clone()  # (in, in)
    dead = H.diagonal() == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0

    g = group_size or in_f
    n_groups = -(-in_f // g)  # a shorter last group when g does not divide in
    scale = torch.zeros(out_f, n_groups)
    zero = torch.zeros(out_f, n_groups, dtype=torch.int32)
    fixed_params = static_groups or group_size is None  # scales chosen before any update
    if fixed_params:
        for k in range(n_groups):
            s, z = group_params(W[:, k * g : (k + 1) * g], bits, sym=sym)
            scale[:, k], zero[:, k] = s[:, 0], z[:, 0]

    perm = torch.argsort(H.diagonal(), descending=True, stable=True) if act_order else torch.arange(in_f)
    W, H = W[:, perm], H[perm][:, perm]
    # group of the i-th visited column: its natural-order group when scales are fixed, else position // g
    group_of = perm // g if fixed_params else torch.arange(in_f) // g

    H += damp * H.diagonal().mean() * torch.eye(in_f, dtype=H.dtype)
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)  # H⁻¹ = UᵀU

    codes = torch.zeros(out_f, in_f, dtype=torch.uint8)
    maxq = 2**bits - 1
    groups = group_of.tolist()
    B = block_size if fixed_params else -(-block_size // g) * g
    for i1 in range(0, in_f, B):
        i2 = min(i1 + B, in_f)
        W1 = W[:, i1:i2].clone()  # (out, b) receives the in-block updates immediately
        E1 = torch.zeros_like(W1)  # (out, b) scaled errors, applied to the later columns at the end
        U1 = U[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col, k = i1 + i, groups[i1 + i]
            if not fixed_params and col % g == 0:
                s, z = group_params(W1[:, i : i + g], bits, sym=sym)
                scale[:, k], zero[:, k] = s[:, 0], z[:, 0]
            s, z = scale[:, k], zero[:, k].float()  # (out,)
            w = W1[:, i]
            # the arithmetic of groundup.quant.affine.quantize_affine, inlined: this loop runs once per column
            q = (torch.round(w.float() * (1.0 / s)) + z).clamp_(0, maxq)  # (out,) integer-valued codes
            codes[:, col] = q.to(torch.uint8)
            err = (w - ((q - z) * s).double()) / U1[i, i]  # (out,)
            W1[:, i:].addr_(err, U1[i, i:], alpha=-1.0)  # OBQ update of the rest of the block
            E1[:, i] = err
        W[:, i2:] -= E1 @ U[i1:i2, i2:]  # lazy batch update: (out, b) @ (b, rest)

    inverse = torch.argsort(perm)
    return QuantizedWeight(
        codes=codes[:, inverse],
        scale=scale,
        zero=zero,
        g_idx=group_of[inverse].to(torch.int64),
        bits=bits,
        group_size=group_size,
    )


@torch.no_grad()
def gptq_quantize_model(
    model: nn.Module,
    windows: torch.Tensor,
    bits: int = 4,
    group_size: int | None = 128,
    *,
    act_order: bool = False,
    static_groups: bool = False,
    damp: float = 0.01,
    block_size: int = 128,
    progress: Callable[[str], None] | None = None,
) -> nn.Module:
    """Sequential GPTQ of every decoder block (in place): each block's Hessians come from the outputs
    of the already-quantized blocks before it. `windows` (n_samples, seq_len) are calibration token ids."""
    check_weight_spec(bits, group_size, method="gptq", allowed_bits=GPTQ_BITS)
    blocks = decoder_blocks(model)
    runner = BlockRunner(model, blocks[0].module, windows)
    for index, block in enumerate(blocks):
        linears = block.linears()
        hessians = {role: HessianAccumulator(linear.in_features) for role, linear in linears.items()}
        with on_inputs(linears, lambda role, x, h=hessians: h[role].add(x)):
            runner.run(block.module)
        for role, linear in linears.items():
            qweight = gptq_quantize(
                linear.weight,
                hessians[role].hessian(),
                bits,
                group_size,
                block_size=block_size,
                damp=damp,
                act_order=act_order,
                static_groups=static_groups,
            )
            set_module(model, block.paths[role], WeightOnlyLinear(qweight, linear.bias))
        runner.advance(block.module)
        if progress:
            progress(f"gptq: block {index + 1}/{len(blocks)} quantized")
    return model
