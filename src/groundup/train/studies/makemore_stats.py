"""Zero to Hero part 3 (0.7): looking inside a deep MLP while it trains, with and without BatchNorm.

The makemore MLP made deep: embedding -> 5 x [Linear -> (BatchNorm) -> tanh] -> Linear, on the
characters of tiny Shakespeare (context 3). The lecture's diagnostics, per hidden layer:

    activations   mean, std and the share of saturated units |tanh| > 0.97 (their gradient ~ 0)
    gradients     std of d loss / d activation: equal across layers when the backward signal is healthy
    weights       grad-to-data ratio std(dW) / std(W) at one step
    updates       log10(std(lr * dW) / std(W)) over training: ~ -3 is the lecture's rule of thumb;
                  much lower learns slowly, much higher changes the weights too fast

Without BatchNorm the tanh gain 5/3 and a down-scaled last layer keep the statistics stable; with
BatchNorm the layers are insensitive to the weights' scale.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class DeepMLP(nn.Module):
    """forward(x (B, context)) -> logits (B, V); `tanhs` lists the activation modules in order."""

    def __init__(
        self,
        vocab: int,
        context: int = 3,
        n_embd: int = 10,
        n_hidden: int = 100,
        depth: int = 5,
        batchnorm: bool = True,
    ):
        super().__init__()
        self.emb = nn.Embedding(vocab, n_embd)
        layers, width = [], context * n_embd
        for _ in range(depth):
            layers.append(nn.Linear(width, n_hidden, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm1d(n_hidden))
            layers.append(nn.Tanh())
            width = n_hidden
        layers.append(nn.Linear(width, vocab))
        self.net = nn.Sequential(*layers)
        with torch.no_grad():
            for layer in self.net:
                if isinstance(layer, nn.Linear):
                    layer.weight.normal_(0, (5 / 3) / layer.in_features**0.5)  # Kaiming for tanh
                    if layer.bias is not None:
                        layer.bias.zero_()
            self.net[-1].weight *= 0.1  # a confident-free start: near-uniform first predictions
        self.tanhs = [m for m in self.net if isinstance(m, nn.Tanh)]
        self.linears = [m for m in self.net if isinstance(m, nn.Linear)]

    def forward(self, x):
        return self.net(self.emb(x).flatten(1))


def windows(ids: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (context characters, next character) pair of a 1-D id tensor."""
    X = ids.unfold(0, context, 1)[:-1]  # (N, context)
    return X, ids[context:]


def train_with_stats(model, X, Y, steps: int, lr: float = 0.1, batch: int = 32, seed: int = 0):
    """SGD (lr/10 after 75% of steps); returns (losses, update-to-data log10 ratios per step per
    linear layer, activation stats, gradient stats and grad/data ratios at the final step)."""
    g = torch.Generator().manual_seed(seed)
    losses, ud = [], []
    for step in range(steps):
        ix = torch.randint(0, len(X), (batch,), generator=g)
        outputs = []

        def keep(module, inputs, output, outputs=outputs):  # returns None: the output stays as it is
            output.retain_grad()
            outputs.append(output)

        handles = [t.register_forward_hook(keep) for t in model.tanhs]
        loss = F.cross_entropy(model(X[ix]), Y[ix])
        model.zero_grad(set_to_none=True)
        loss.backward()
        for h in handles:
            h.remove()
        rate = lr if step < 0.75 * steps else lr / 10
        with torch.no_grad():
            for p in model.parameters():
                p -= rate * p.grad
            ud.append([((rate * m.weight.grad).std() / m.weight.std()).log10().item() for m in model.linears])
        losses.append(loss.item())
    acts = [
        {"mean": o.mean().item(), "std": o.std().item(), "saturated": (o.abs() > 0.97).float().mean().item()}
        for o in outputs
    ]
    grads = [{"mean": o.grad.mean().item(), "std": o.grad.std().item()} for o in outputs]
    ratios = [(m.weight.grad.std() / m.weight.std()).item() for m in model.linears]
    return losses, ud, acts, grads, ratios, [o.detach() for o in outputs], [o.grad for o in outputs]


def run(out_dir, steps: int = 4000, seed: int = 0, echo=print) -> dict:
    """Train with and without BatchNorm; write makemore_stats.md, histograms, ratio plots, results.json."""
    from groundup.data import load_text
    from groundup.reports import figure, markdown_table, write_json, write_report
    from groundup.tokenizers.char import CharTokenizer

    text = load_text("tinyshakespeare")
    tok = CharTokenizer.from_text(text)
    ids = torch.tensor(tok.encode(text))
    cut = int(0.9 * len(ids))
    X, Y = windows(ids[:cut], 3)
    Xv, Yv = windows(ids[cut:], 3)
    out, results, rows = Path(out_dir), {}, []
    for batchnorm in (False, True):
        name = "batchnorm" if batchnorm else "plain"
        torch.manual_seed(seed)
        model = DeepMLP(tok.vocab_size, batchnorm=batchnorm)
        losses, ud, acts, grads, ratios, outs, douts = train_with_stats(model, X, Y, steps, seed=seed)
        model.eval()
        with torch.no_grad():
            val = F.cross_entropy(model(Xv[:50000]), Yv[:50000]).item()
        echo(f"{name}: val loss {val:.4f}")
        results[name] = {
            "val_loss": val,
            "activations": acts,
            "gradients": grads,
            "grad_data_ratio": ratios,
            "final_update_log10": ud[-1],
        }
        for i, (a, gr) in enumerate(zip(acts, grads)):
            rows.append([name, i + 1, a["mean"], a["std"], a["saturated"], gr["std"], ratios[i]])
        with figure(out / f"{name}_histograms.png", ncols=2, figsize=(11, 3.8)) as (_, (left, right)):
            for i, (o, d) in enumerate(zip(outs, douts)):
                hy, hx = torch.histogram(o.flatten().double(), bins=50, density=True)
                left.plot(((hx[1:] + hx[:-1]) / 2).numpy(), hy.numpy(), label=f"layer {i + 1}")
                hy, hx = torch.histogram(d.flatten().double(), bins=50, density=True)
                right.plot(((hx[1:] + hx[:-1]) / 2).numpy(), hy.numpy(), label=f"layer {i + 1}")
            left.set(title=f"{name}: tanh outputs", xlabel="value")
            right.set(title=f"{name}: gradients at the tanh outputs", xlabel="value")
            left.legend(fontsize=7)
        with figure(out / f"{name}_update_ratio.png", figsize=(7, 3.8)) as (_, ax):
            for i, series in enumerate(zip(*ud)):
                ax.plot(series, lw=0.8, label=f"linear {i + 1}")
            ax.axhline(-3, color="k", ls="--", label="1e-3 rule of thumb")
            ax.set(
                xlabel="step", ylabel="log10(update std / weight std)", title=f"{name}: update-to-data ratio"
            )
            ax.legend(fontsize=7)
    write_json(out / "results.json", {"steps": steps, **results})
    write_report(
        out / "makemore_stats.md",
        "Activations, gradients and update-to-data ratios of a deep MLP (makemore part 3)",
        [
            f"tiny Shakespeare characters, context 3, embedding 10, 5 hidden layers of 100 tanh units, SGD lr 0.1 "
            f"(0.01 for the last quarter), batch 32, {steps} steps; statistics at the last step.",
            markdown_table(["model", "val loss"], [[k, v["val_loss"]] for k, v in results.items()]),
            markdown_table(
                ["model", "layer", "act mean", "act std", "saturated", "grad std", "grad/data (W)"], rows
            ),
            "![plain histograms](plain_histograms.png)",
            "![batchnorm histograms](batchnorm_histograms.png)",
            "![plain update ratio](plain_update_ratio.png)",
            "![batchnorm update ratio](batchnorm_update_ratio.png)",
        ],
    )
    return results
