"""Backprop by hand through the makemore MLP (Zero to Hero part 4, "becoming a backprop ninja"), 0.7.

The model: characters -> embedding C -> concatenated context -> Linear W1, b1 -> BatchNorm (gain,
bias) -> tanh -> Linear W2, b2 -> cross-entropy. `forward` splits it into small steps and keeps every
intermediate; `backward` walks them in reverse, one local derivative per line, with no autograd:

    logprobs = log(probs)                     dprobs   = dlogprobs / probs
    probs = counts * counts_sum_inv           dcounts  = dprobs * counts_sum_inv  (+ from counts_sum)
    hpreact = gain * bnraw + bias             dbnraw = gain * dhpreact, dgain = sum_n bnraw * dhpreact
    bnvar = sum(bndiff2) / (n - 1)            dbndiff2 = dbnvar / (n - 1)  broadcast over the batch
    emb = C[Xb]                               dC[Xb[i, j]] += demb[i, j]  (scatter-add)

`fused_backward` is the same result with the two fused rules the lecture then derives:

    cross-entropy   dlogits = (softmax(logits) - onehot(y)) / n
    batchnorm       dhprebn = gain * bnvar_inv / n * (n dhpreact - sum dhpreact - n/(n-1) bnraw sum(dhpreact bnraw))

(the n/(n-1) because the lecture normalises with the unbiased variance, Bessel's correction).
The tests compare every intermediate gradient with `loss.backward()`'s, tensor by tensor.
"""

from __future__ import annotations

import torch

PARAMS = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")


def init_params(vocab: int = 27, block: int = 3, n_embd: int = 10, n_hidden: int = 64, seed: int = 0):
    """The lecture's initialisation (small non-zero biases so that no gradient is trivially zero)."""
    g = torch.Generator().manual_seed(seed)
    fan_in = n_embd * block
    return {
        "C": torch.randn(vocab, n_embd, generator=g, dtype=torch.float64),
        "W1": torch.randn(fan_in, n_hidden, generator=g, dtype=torch.float64) * (5 / 3) / fan_in**0.5,
        "b1": torch.randn(n_hidden, generator=g, dtype=torch.float64) * 0.1,
        "W2": torch.randn(n_hidden, vocab, generator=g, dtype=torch.float64) * 0.1,
        "b2": torch.randn(vocab, generator=g, dtype=torch.float64) * 0.1,
        "bngain": 1 + torch.randn(1, n_hidden, generator=g, dtype=torch.float64) * 0.1,
        "bnbias": torch.randn(1, n_hidden, generator=g, dtype=torch.float64) * 0.1,
    }


def forward(p: dict, Xb: torch.Tensor, Yb: torch.Tensor) -> dict:
    """Xb (n, block) character ids, Yb (n,) targets -> every intermediate by name, "loss" last."""
    n = Xb.shape[0]
    c = {"emb": p["C"][Xb]}  # (n, block, E)
    c["embcat"] = c["emb"].view(n, -1)  # (n, block*E)
    c["hprebn"] = c["embcat"] @ p["W1"] + p["b1"]  # (n, H)
    c["bnmeani"] = c["hprebn"].sum(0, keepdim=True) / n  # (1, H)
    c["bndiff"] = c["hprebn"] - c["bnmeani"]
    c["bndiff2"] = c["bndiff"] ** 2
    c["bnvar"] = c["bndiff2"].sum(0, keepdim=True) / (n - 1)  # (1, H), Bessel-corrected
    c["bnvar_inv"] = (c["bnvar"] + 1e-5) ** -0.5
    c["bnraw"] = c["bndiff"] * c["bnvar_inv"]
    c["hpreact"] = p["bngain"] * c["bnraw"] + p["bnbias"]
    c["h"] = torch.tanh(c["hpreact"])
    c["logits"] = c["h"] @ p["W2"] + p["b2"]  # (n, V)
    c["logit_maxes"] = c["logits"].max(1, keepdim=True).values  # (n, 1): for numerical stability only
    c["norm_logits"] = c["logits"] - c["logit_maxes"]
    c["counts"] = c["norm_logits"].exp()
    c["counts_sum"] = c["counts"].sum(1, keepdim=True)
    c["counts_sum_inv"] = c["counts_sum"] ** -1
    c["probs"] = c["counts"] * c["counts_sum_inv"]
    c["logprobs"] = c["probs"].log()
    c["loss"] = -c["logprobs"][torch.arange(n), Yb].mean()
    return c


def backward(p: dict, c: dict, Xb: torch.Tensor, Yb: torch.Tensor) -> dict:
    """d loss / d(every intermediate and parameter), one chain-rule step per line."""
    n = Xb.shape[0]
    d = {"logprobs": torch.zeros_like(c["logprobs"])}
    d["logprobs"][torch.arange(n), Yb] = -1.0 / n
    d["probs"] = d["logprobs"] / c["probs"]
    d["counts_sum_inv"] = (d["probs"] * c["counts"]).sum(1, keepdim=True)
    d["counts_sum"] = d["counts_sum_inv"] * -(c["counts_sum"] ** -2)
    d["counts"] = d["probs"] * c["counts_sum_inv"] + d["counts_sum"]  # two paths: probs and counts_sum
    d["norm_logits"] = d["counts"] * c["counts"]
    d["logit_maxes"] = -d["norm_logits"].sum(1, keepdim=True)  # ~0: the shift does not change the loss
    d["logits"] = d["norm_logits"].clone()
    d["logits"] += torch.nn.functional.one_hot(c["logits"].argmax(1), c["logits"].shape[1]) * d["logit_maxes"]
    d["h"] = d["logits"] @ p["W2"].T
    d["W2"] = c["h"].T @ d["logits"]
    d["b2"] = d["logits"].sum(0)
    d["hpreact"] = (1 - c["h"] ** 2) * d["h"]
    d["bngain"] = (c["bnraw"] * d["hpreact"]).sum(0, keepdim=True)
    d["bnbias"] = d["hpreact"].sum(0, keepdim=True)
    d["bnraw"] = p["bngain"] * d["hpreact"]
    d["bnvar_inv"] = (c["bndiff"] * d["bnraw"]).sum(0, keepdim=True)
    d["bnvar"] = -0.5 * (c["bnvar"] + 1e-5) ** -1.5 * d["bnvar_inv"]
    d["bndiff2"] = torch.ones_like(c["bndiff2"]) / (n - 1) * d["bnvar"]
    d["bndiff"] = (
        c["bnvar_inv"] * d["bnraw"] + 2 * c["bndiff"] * d["bndiff2"]
    )  # direct + through the variance
    d["bnmeani"] = -d["bndiff"].sum(0, keepdim=True)
    d["hprebn"] = d["bndiff"] + d["bnmeani"] / n
    d["embcat"] = d["hprebn"] @ p["W1"].T
    d["W1"] = c["embcat"].T @ d["hprebn"]
    d["b1"] = d["hprebn"].sum(0)
    d["emb"] = d["embcat"].view(c["emb"].shape)
    d["C"] = torch.zeros_like(p["C"]).index_add_(0, Xb.reshape(-1), d["emb"].reshape(-1, d["emb"].shape[-1]))
    return d


def fused_backward(p: dict, c: dict, Xb: torch.Tensor, Yb: torch.Tensor) -> dict:
    """The parameter gradients through the fused cross-entropy and batchnorm rules."""
    n = Xb.shape[0]
    dlogits = torch.softmax(c["logits"], 1)
    dlogits[torch.arange(n), Yb] -= 1
    dlogits /= n
    d = {"logits": dlogits, "W2": c["h"].T @ dlogits, "b2": dlogits.sum(0)}
    dhpreact = (1 - c["h"] ** 2) * (dlogits @ p["W2"].T)
    d["bngain"] = (c["bnraw"] * dhpreact).sum(0, keepdim=True)
    d["bnbias"] = dhpreact.sum(0, keepdim=True)
    d["hprebn"] = (
        p["bngain"]
        * c["bnvar_inv"]
        / n
        * (n * dhpreact - dhpreact.sum(0) - n / (n - 1) * c["bnraw"] * (dhpreact * c["bnraw"]).sum(0))
    )
    d["W1"] = c["embcat"].T @ d["hprebn"]
    d["b1"] = d["hprebn"].sum(0)
    demb = (d["hprebn"] @ p["W1"].T).view(c["emb"].shape)
    d["C"] = torch.zeros_like(p["C"]).index_add_(0, Xb.reshape(-1), demb.reshape(-1, demb.shape[-1]))
    return d


def train_manual(
    p: dict, X: torch.Tensor, Y: torch.Tensor, steps: int, batch: int = 32, lr: float = 0.1, seed=0
):
    """SGD on the manual (fused) gradients alone, no autograd; returns the loss per step."""
    g = torch.Generator().manual_seed(seed)
    losses = []
    with torch.no_grad():
        for _ in range(steps):
            ix = torch.randint(0, X.shape[0], (batch,), generator=g)
            c = forward(p, X[ix], Y[ix])
            grads = fused_backward(p, c, X[ix], Y[ix])
            for name in PARAMS:
                p[name] -= lr * grads[name]
            losses.append(c["loss"].item())
    return losses
