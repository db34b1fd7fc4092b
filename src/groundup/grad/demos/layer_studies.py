"""Three 0.2 capstone studies built on the explicit Layer API (`grad/layers_api.py`), on real MNIST 5k.

    dropout       train/test accuracy gap with and without dropout on a small subset, over seeds
    sensitivity   test accuracy over learning rate x width x depth (heatmaps) and learning curves
    activations   gradient norm per layer and saturation over depth for sigmoid, tanh, ReLU and GELU

Each writes a markdown report, PNGs and results.json into its output folder.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from groundup.grad.layers_api import ActivationLayer, LinearLayer, Network, mlp
from groundup.reports import figure, markdown_table, write_json, write_report


def mnist_flat(n_train: int | None = None, seed: int = 0):
    """(x_train (N, 784) float64, y_train, x_test, y_test): MNIST 5k standardised, 1,000 test images."""
    from groundup.grad.demos.training import load_mnist

    d = load_mnist(seed)
    x_train, x_test = d.x_train.reshape(len(d.x_train), -1), d.x_test.reshape(len(d.x_test), -1)
    n = n_train or len(x_train)
    return x_train[:n].astype(np.float64), d.y_train[:n], x_test.astype(np.float64), d.y_test


def dropout(
    out_dir,
    n_train: int = 1000,
    epochs: int = 20,
    width: int = 256,
    seeds=(0, 1, 2),
    p: float = 0.5,
    echo=print,
):
    """784-width-width-10 ReLU MLP on `n_train` images: test accuracy and train-test gap, p=0 vs p."""
    x, y, xt, yt = mnist_flat(n_train)
    runs: dict[float, list[dict]] = {0.0: [], p: []}
    for rate, seed in itertools.product(runs, seeds):
        net = Network(mlp([784, width, width, 10], dropout=rate, seed=seed), lr=0.01)
        curve = []
        for _ in range(epochs):
            net.fit(x, y, epochs=1, batch_size=32, seed=seed * 1000 + len(curve))
            curve.append((net.accuracy(x, y), net.accuracy(xt, yt)))
        train_acc, test_acc = curve[-1]
        runs[rate].append({"seed": seed, "train": train_acc, "test": test_acc, "curve": curve})
        echo(f"dropout {rate}: seed {seed} train {train_acc:.4f} test {test_acc:.4f}")
    summary = {
        rate: {
            "train": float(np.mean([r["train"] for r in rs])),
            "test": float(np.mean([r["test"] for r in rs])),
            "test_std": float(np.std([r["test"] for r in rs])),
            "gap": float(np.mean([r["train"] - r["test"] for r in rs])),
        }
        for rate, rs in runs.items()
    }
    out = Path(out_dir)
    with figure(out / "dropout.png", figsize=(7, 4)) as (_, ax):
        for rate, colour in zip(runs, ("tab:red", "tab:blue")):
            for r in runs[rate]:
                c = np.array(r["curve"])
                first = r is runs[rate][0]
                ax.plot(c[:, 0], color=colour, ls="--", lw=0.8, label=f"p={rate} train" if first else None)
                ax.plot(c[:, 1], color=colour, lw=1.2, label=f"p={rate} test" if first else None)
        ax.set(xlabel="epoch", ylabel="accuracy", title=f"MNIST, {n_train} training images")
        ax.grid(alpha=0.3)
        ax.legend()
    write_json(out / "dropout.json", {"n_train": n_train, "epochs": epochs, "summary": summary, "runs": runs})
    rows = [[f"p = {r}", s["train"], s["test"], s["test_std"], s["gap"]] for r, s in summary.items()]
    write_report(
        out / "dropout.md",
        "Dropout as regularisation (explicit Layer API)",
        [
            f"784-{width}-{width}-10 ReLU MLP, SGD momentum 0.9, lr 0.01, batch 32, {epochs} epochs on the first "
            f"{n_train} images of real MNIST 5k (1,000 test images); seeds {list(seeds)}, mean over seeds.",
            markdown_table(
                ["dropout", "train accuracy", "test accuracy", "test std", "train - test gap"], rows
            ),
            "![curves](dropout.png)",
        ],
        libraries=("numpy",),
    )
    return summary


def sensitivity(
    out_dir,
    lrs=(0.01, 0.03, 0.1, 0.3),
    widths=(32, 128, 512),
    depths=(1, 2, 3),
    epochs: int = 3,
    n_train: int = 2000,
    echo=print,
):
    """Test accuracy for every (lr, width, depth) of a ReLU MLP; heatmaps per depth, curves of the best."""
    x, y, xt, yt = mnist_flat(n_train)
    acc = np.zeros((len(depths), len(lrs), len(widths)))
    curves = {}
    for (d, depth), (i, lr), (j, width) in itertools.product(
        enumerate(depths), enumerate(lrs), enumerate(widths)
    ):
        net = Network(mlp([784] + [width] * depth + [10], seed=0), lr=lr)
        losses = net.fit(x, y, epochs=epochs, batch_size=64)
        acc[d, i, j] = net.accuracy(xt, yt) if np.isfinite(losses[-1]) else np.nan
        curves[(depth, lr, width)] = losses
        echo(f"depth {depth} lr {lr} width {width}: test accuracy {acc[d, i, j]:.4f}")
    out = Path(out_dir)
    plot_heatmaps(out / "sensitivity.png", acc, lrs, widths, depths)
    with figure(out / "sensitivity_curves.png", figsize=(6.4, 4)) as (_, ax):
        for depth in depths:
            for lr in (min(lrs), max(lrs), lrs[len(lrs) // 2]):
                ax.plot(
                    range(1, epochs + 1),
                    curves[(depth, lr, widths[-1])],
                    "o-",
                    label=f"depth {depth}, lr {lr}",
                )
        ax.set(xlabel="epoch", ylabel="training loss", yscale="log", title=f"width {widths[-1]}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    best = np.unravel_index(np.nanargmax(acc), acc.shape)
    write_json(
        out / "sensitivity.json",
        {"lrs": list(lrs), "widths": list(widths), "depths": list(depths), "test_accuracy": acc.tolist()},
    )
    rows = [[depths[d], lrs[i], *acc[d, i]] for d in range(len(depths)) for i in range(len(lrs))]
    write_report(
        out / "sensitivity.md",
        "Hyperparameter sensitivity: learning rate x width x depth",
        [
            f"ReLU MLPs (explicit Layer API), SGD momentum 0.9, batch 64, {epochs} epochs on {n_train} real "
            "MNIST images, test accuracy on 1,000 held-out images. Best: depth "
            f"{depths[best[0]]}, lr {lrs[best[1]]}, width {widths[best[2]]} ({acc[best]:.4f}).",
            markdown_table(["depth", "lr", *[f"width {w}" for w in widths]], rows),
            "![heatmaps](sensitivity.png)",
            "![learning curves](sensitivity_curves.png)",
        ],
        libraries=("numpy",),
    )
    return acc


GAINS = {"relu": np.sqrt(2.0), "gelu": np.sqrt(2.0), "tanh": 5 / 3, "sigmoid": 1.0}  # torch's calculate_gain


def plot_heatmaps(path, acc: np.ndarray, lrs, widths, depths) -> Path:
    """One (lr x width) heatmap of test accuracy per depth, on a shared colour scale."""
    low, high = float(np.nanmin(acc)), float(np.nanmax(acc))
    with figure(path, ncols=len(depths), figsize=(4.6 * len(depths), 3.8), squeeze=False) as (fig, axes):
        for d, ax in enumerate(axes[0]):
            image = ax.imshow(acc[d], vmin=low, vmax=high, cmap="viridis", origin="lower", aspect="auto")
            ax.set_xticks(range(len(widths)), widths)
            ax.set_yticks(range(len(lrs)), lrs)
            ax.set(xlabel="width", ylabel="learning rate", title=f"{depths[d]} hidden layer(s)")
            for i, j in itertools.product(range(len(lrs)), range(len(widths))):
                ax.text(j, i, f"{acc[d, i, j]:.3f}", ha="center", va="center", fontsize=8, color="w")
            fig.colorbar(image, ax=ax, label="test accuracy")
    return Path(path)


def gradient_profile(
    activation: str, depth: int, width: int, x, y, init: str = "default", seed: int = 0
) -> dict:
    """One forward/backward at initialisation: per hidden layer the gradient norm of its weight and
    the fraction of units whose local slope f'(x) is below 5% of its maximum (saturated or dead).

    init="default" keeps torch's nn.Linear init, U(+-1/sqrt(fan_in)) (variance 1/(3 fan_in));
    init="gain" draws N(0, gain^2 / fan_in) with the activation's gain (He for ReLU/GELU)."""
    net = Network(mlp([x.shape[1]] + [width] * depth + [10], activation=activation, seed=seed))
    linears = [layer for layer in net.layers if isinstance(layer, LinearLayer)]
    if init == "gain":
        rng = np.random.default_rng(seed)
        for layer in linears:
            fan_in = layer.params["W"].shape[1]
            layer.params["W"] = rng.normal(0, GAINS[activation] / np.sqrt(fan_in), layer.params["W"].shape)
            layer.params["b"][:] = 0
    net.loss.forward(net.forward(x), y)
    net.backward(net.loss.backward())
    acts = [layer for layer in net.layers if isinstance(layer, ActivationLayer)]
    peak = {"sigmoid": 0.25}.get(activation, 1.0)
    return {
        "grad_norm": [float(np.linalg.norm(layer.grads["W"])) for layer in linears[:-1]],
        "saturated": [float((a.slope < 0.05 * peak).mean()) for a in acts],
    }


def activations(
    out_dir, depth: int = 10, width: int = 128, names=("sigmoid", "tanh", "relu", "gelu"), echo=print
):
    """Gradient norms per layer at initialisation for each activation and both inits, and saturation."""
    x, y, _, _ = mnist_flat(512)
    inits = ("default", "gain")
    profiles = {i: {n: gradient_profile(n, depth, width, x, y, init=i) for n in names} for i in inits}
    for init, name in itertools.product(inits, names):
        p = profiles[init][name]
        echo(f"{init} init, {name}: first/last layer gradient {p['grad_norm'][0] / p['grad_norm'][-1]:.3g}")
    out = Path(out_dir)
    with figure(out / "activations.png", nrows=2, ncols=2, figsize=(11, 7.5)) as (_, axes):
        for row, init in zip(axes, inits):
            for name in names:
                row[0].plot(range(1, depth + 1), profiles[init][name]["grad_norm"], "o-", label=name)
                row[1].plot(range(1, depth + 1), profiles[init][name]["saturated"], "o-", label=name)
            row[0].set(xlabel="layer (1 = input side)", ylabel="norm of dL/dW", yscale="log")
            row[0].set_title(f"{init} init: gradient per layer")
            row[1].set(xlabel="layer", ylabel="fraction", title=f"{init} init: units with f'(x) < 5% of max")
            for ax in row:
                ax.grid(alpha=0.3)
                ax.legend()
    write_json(out / "activations.json", {"depth": depth, "width": width, "profiles": profiles})
    rows = [
        [
            init,
            n,
            p["grad_norm"][0],
            p["grad_norm"][-1],
            p["grad_norm"][0] / p["grad_norm"][-1],
            np.mean(p["saturated"]),
        ]
        for init in inits
        for n, p in profiles[init].items()
    ]
    write_report(
        out / "activations.md",
        "Activation functions and the gradient over depth",
        [
            f"A {depth}-hidden-layer MLP of width {width}, one batch of 512 real MNIST images, one backward pass "
            "at initialisation, with torch's default nn.Linear init (variance 1/(3 fan_in)) and with the "
            "activation's gain (N(0, gain^2/fan_in): He for ReLU/GELU, 5/3 for tanh, 1 for sigmoid). The "
            "sigmoid's slope is at most 1/4, so every layer shrinks the backward signal whatever the init; "
            "ReLU halves the variance at each layer (half the units are off), which He's gain of sqrt(2) "
            "restores; tanh is near-linear around 0 and its gain 5/3 keeps the signal.",
            markdown_table(
                [
                    "init",
                    "activation",
                    "norm of dW, layer 1",
                    f"norm of dW, layer {depth}",
                    "ratio 1 / last",
                    "mean below 5%",
                ],
                rows,
            ),
            "![gradient and saturation per layer](activations.png)",
        ],
        libraries=("numpy",),
    )
    return profiles


STUDIES = {"dropout": dropout, "sensitivity": sensitivity, "activations": activations}
