"""Sparse mixture of experts (Shazeer et al. 2017; GShard, Lepikhin et al. 2020; Switch, Fedus et al.
2021; Mixtral, Jiang et al. 2024) and MoE-GPT.

A MoE layer replaces one MLP with E expert MLPs and a router. For each token x the router gives
probabilities p = softmax(W_g x) (E,), keeps the top k, and the layer returns

    y = sum_{e in topk(p)} w_e * expert_e(x),      w = p[topk] / sum(p[topk])   (Mixtral renormalizes)

so a token pays for k experts while the layer holds E: parameters grow with E, compute with k.

Routing pieces, each a small function:
- noisy top-k gating (Shazeer 2017): while training, the logits get N(0, 1) * softplus(W_noise x)
  added, so near-ties explore other experts;
- capacity and token dropping (GShard/Switch): expert e takes at most C = ceil(capacity_factor * N k / E)
  of the N k assignments, first choices before second choices, earlier tokens first; an assignment past
  capacity is dropped (that expert contributes nothing; the residual stream carries the token);
- dispatch by sorting: the N k assignments are sorted by expert (stable), so each expert runs once
  on one contiguous slice of tokens, and the results are scattered back with `index_add_`;
- auxiliary losses: load balancing, E * sum_e f_e P_e (f_e: share of assignments to e, P_e: mean
  router probability of e; 1 when uniform, Switch eq. 4-6), and the router z-loss mean(logsumexp(logits)^2)
  (ST-MoE, Zoph et al. 2022), which keeps the logits small.

The auxiliary losses reach the gradients without any change to the training loop: `attach_loss(y,
loss)` returns y unchanged but, on the way back, gives `loss` the gradient 1, exactly as if it had
been added to the training loss (the trick of DeepSeek-MoE's code). `SparseMoE.last` keeps the last
routing and losses for inspection. Tests: the output equals transformers' `MixtralSparseMoeBlock` with
copied weights, the load-balancing loss equals its `load_balancing_loss_func`, and the sorted dispatch
equals the dense definition (every expert on every token, masked).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.gpt import GPT, GPTConfig
from groundup.models.layers import MLP, SwiGLU
from groundup.models.transformer import init_weights

EXPERTS = ("swiglu", "mlp")


@dataclass
class MoEConfig:
    dim: int
    hidden_dim: int  # per expert
    n_experts: int = 8
    top_k: int = 2
    capacity_factor: float | None = None  # None: no capacity limit, no token is dropped
    noise: bool = False  # noisy top-k gating while training
    normalize: bool = True  # renormalize the top-k probabilities (Mixtral); False: raw probabilities
    expert: str = "swiglu"  # or "mlp" (Linear -> activation -> Linear, as GPT's MLP)
    activation: str = "gelu"  # for expert="mlp"
    bias: bool = False
    aux_loss_coef: float = 0.01
    z_loss_coef: float = 0.001

    def __post_init__(self):
        if self.n_experts < 1:
            raise ValueError(f"n_experts must be >= 1, got {self.n_experts}")
        if not 1 <= self.top_k <= self.n_experts:
            raise ValueError(f"top_k must be between 1 and n_experts ({self.n_experts}), got {self.top_k}")
        if self.capacity_factor is not None and self.capacity_factor <= 0:
            raise ValueError(f"capacity_factor must be > 0 (or None), got {self.capacity_factor}")
        if self.expert not in EXPERTS:
            raise ValueError(f"expert must be one of {', '.join(EXPERTS)}, got {self.expert!r}")


@dataclass
class Routing:
    logits: torch.Tensor  # (N, E) router logits (noise included)
    probs: torch.Tensor  # (N, E) softmax of the logits, float32
    weights: torch.Tensor  # (N, k) mixing weights of the chosen experts
    experts: torch.Tensor  # (N, k) chosen experts, best first


class Router(nn.Module):
    """Top-k gating: logits W_g x (+ noise while training) -> probabilities -> k experts and weights."""

    def __init__(self, cfg: MoEConfig):
        super().__init__()
        self.cfg = cfg
        self.gate = nn.Linear(cfg.dim, cfg.n_experts, bias=False)
        self.noise = nn.Linear(cfg.dim, cfg.n_experts, bias=False) if cfg.noise else None

    def forward(self, x: torch.Tensor) -> Routing:
        """x (N, C) -> Routing."""
        logits = self.gate(x)  # (N, E)
        if self.noise is not None and self.training:
            logits = logits + torch.randn_like(logits) * F.softplus(self.noise(x))
        probs = logits.float().softmax(-1)  # (N, E)
        weights, experts = probs.topk(self.cfg.top_k, dim=-1)  # (N, k) each
        if self.cfg.normalize:
            weights = weights / weights.sum(-1, keepdim=True)
        return Routing(logits, probs, weights.to(x.dtype), experts)


def capacity(n_tokens: int, cfg: MoEConfig) -> int | None:
    """Assignments each expert accepts: ceil(capacity_factor * N k / E); None without a limit."""
    if cfg.capacity_factor is None:
        return None
    return math.ceil(cfg.capacity_factor * n_tokens * cfg.top_k / cfg.n_experts)


def dispatch(experts: torch.Tensor, n_experts: int, cap: int | None):
    """Sort the N k assignments by expert; drop those past `cap`.

    experts (N, k) -> (tokens (M,), slots (M,), counts (E,)): the kept assignments grouped by expert
    (expert 0's first), `tokens` their token index, `slots` their choice rank (0 = first choice),
    `counts` how many each expert got. Within an expert, first choices come before second choices and
    earlier tokens before later ones (GShard's priority), so capacity drops the least preferred.
    """
    N, k = experts.shape
    by_choice = experts.t().reshape(-1)  # (k N,): all first choices, then all second choices, ...
    order = torch.argsort(by_choice, stable=True)  # grouped by expert, priority order inside
    sorted_experts = by_choice[order]
    counts = torch.bincount(by_choice, minlength=n_experts)  # (E,)
    if cap is not None:
        starts = counts.cumsum(0) - counts  # (E,) first sorted position of each expert
        rank = torch.arange(len(order), device=experts.device) - starts[sorted_experts]
        keep = rank < cap
        order, counts = order[keep], counts.clamp(max=cap)
    return order % N, order // N, counts


def load_balancing_loss(probs: torch.Tensor, experts: torch.Tensor, n_experts: int) -> torch.Tensor:
    """E * sum_e f_e P_e: f_e = assignments to e per token (summing to k), P_e = mean probability of e."""
    counts = torch.zeros(n_experts, dtype=probs.dtype, device=probs.device)
    counts.scatter_add_(
        0, experts.reshape(-1), torch.ones(experts.numel(), dtype=probs.dtype, device=probs.device)
    )
    f, P = counts / probs.shape[0], probs.mean(0)  # (E,) each
    return n_experts * (f * P).sum()


def router_z_loss(logits: torch.Tensor) -> torch.Tensor:
    """mean over tokens of logsumexp(logits)^2: penalizes large router logits (ST-MoE)."""
    return torch.logsumexp(logits.float(), dim=-1).square().mean()


class _AttachLoss(torch.autograd.Function):
    """Identity on x; the backward pass gives `loss` the gradient 1 (as if it were added to the loss)."""

    @staticmethod
    def forward(ctx, x, loss):
        ctx.loss_shape, ctx.loss_dtype = loss.shape, loss.dtype
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad, torch.ones(ctx.loss_shape, dtype=ctx.loss_dtype, device=grad.device)


def attach_loss(x: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    """x, carrying `loss` into the backward pass; plain x when no gradient is being recorded."""
    if not (torch.is_grad_enabled() and loss.requires_grad):
        return x
    return _AttachLoss.apply(x, loss)


def make_expert(cfg: MoEConfig) -> nn.Module:
    if cfg.expert == "swiglu":
        return SwiGLU(cfg.dim, cfg.hidden_dim, bias=cfg.bias)
    return MLP(cfg.dim, cfg.hidden_dim, cfg.activation, bias=cfg.bias)


class SparseMoE(nn.Module):
    """A sparse MoE layer: forward(x (..., C)) -> (..., C); the aux losses travel with the output."""

    def __init__(self, cfg: MoEConfig):
        super().__init__()
        self.cfg = cfg
        self.router = Router(cfg)
        self.experts = nn.ModuleList(make_expert(cfg) for _ in range(cfg.n_experts))
        self.last: dict = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg, shape = self.cfg, x.shape
        x = x.reshape(-1, shape[-1])  # (N, C)
        routing = self.router(x)
        tokens, slots, counts = dispatch(routing.experts, cfg.n_experts, capacity(len(x), cfg))
        weights = routing.weights[tokens, slots]  # (M,)
        inputs = x[tokens]  # (M, C): expert 0's tokens, then expert 1's, ...
        outputs = [
            expert(part) for expert, part in zip(self.experts, inputs.split(counts.tolist())) if len(part)
        ]
        y = torch.zeros_like(x)
        if outputs:
            y.index_add_(0, tokens, torch.cat(outputs) * weights[:, None])
        balance = load_balancing_loss(routing.probs, routing.experts, cfg.n_experts)
        z_loss = router_z_loss(routing.logits)
        kept = len(tokens) / routing.experts.numel()
        self.last = {"routing": routing, "balance_loss": balance, "z_loss": z_loss, "kept_fraction": kept}
        if self.training:
            y = attach_loss(y, cfg.aux_loss_coef * balance + cfg.z_loss_coef * z_loss)
        return y.reshape(shape)


def dense_moe(moe: SparseMoE, x: torch.Tensor) -> torch.Tensor:
    """The definition, for tests: every expert on every token, weighted by its (zero if not chosen)
    routing weight. No capacity limit."""
    flat = x.reshape(-1, x.shape[-1])
    routing = moe.router(flat)
    gates = torch.zeros_like(routing.probs, dtype=flat.dtype).scatter(1, routing.experts, routing.weights)
    y = sum(gates[:, e, None] * expert(flat) for e, expert in enumerate(moe.experts))  # (N, C)
    return y.reshape(x.shape)


class MoEGPT(GPT):
    """GPT whose MLPs are sparse MoE layers of `n_experts` MLP experts, `top_k` per token.

    Each expert's hidden width is mlp_ratio * n_embd / top_k, so the parameters a token uses (its k
    experts) equal the dense GPT's MLP: equal active parameters, E / k times the MLP parameters in all.
    """

    def __init__(
        self,
        cfg: GPTConfig,
        n_experts: int = 4,
        top_k: int = 2,
        capacity_factor: float | None = None,
        aux_loss_coef: float = 0.01,
        z_loss_coef: float = 0.001,
    ):
        super().__init__(cfg)
        hidden = cfg.mlp_ratio * cfg.n_embd // top_k
        self.moe_cfg = MoEConfig(
            cfg.n_embd,
            hidden,
            n_experts,
            top_k,
            capacity_factor,
            expert="mlp",
            activation=cfg.activation,
            bias=cfg.bias,
            aux_loss_coef=aux_loss_coef,
            z_loss_coef=z_loss_coef,
        )
        for block in self.blocks:
            block.mlp = SparseMoE(self.moe_cfg)
        init_weights(self, cfg.n_layer)

    def active_params(self) -> int:
        """Parameters one token uses: everything but the experts it was not routed to."""
        per_expert = sum(p.numel() for p in self.blocks[0].mlp.experts[0].parameters())
        unused = (self.moe_cfg.n_experts - self.moe_cfg.top_k) * per_expert * len(self.blocks)
        return self.num_params() - unused
