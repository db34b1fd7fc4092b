"""Capstone for curriculum 0.1: every groundup.classic estimator next to scikit-learn's on the four
bundled tables -- training score and fit time side by side -- written as a markdown report with a
PCA 2-D scatter of each table and decision-boundary plots on two iris features.

Run: `groundup classic benchmark [--out DIR] [--quick]` or `python -m examples.classic.benchmark_report`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn import linear_model, neighbors, svm, tree
from threadpoolctl import threadpool_limits

import groundup.classic as gc
from examples.classic.suite import CASES, DATASETS, fit, load, problem, score
from groundup.reports import figure, provenance, write_text

BOUNDARY_MODELS = [
    ("LogisticRegression", gc.LogisticRegression, linear_model.LogisticRegression),
    ("KNeighborsClassifier", gc.KNeighborsClassifier, neighbors.KNeighborsClassifier),
    (
        "DecisionTreeClassifier(max_depth=4)",
        lambda: gc.DecisionTreeClassifier(max_depth=4),
        lambda: tree.DecisionTreeClassifier(max_depth=4),
    ),
    ("SVC(rbf)", gc.SVC, svm.SVC),
]


def timed_fit(make, X, y) -> tuple[object, float]:
    start = time.perf_counter()
    model = fit(make, X, y)
    return model, time.perf_counter() - start


def comparison_rows(datasets) -> list[dict]:
    rows = []
    for case in CASES:
        for name in datasets:
            X, y = problem(case, name)
            ours, t_ours = timed_fit(case.ours, X, y)
            peer, t_peer = timed_fit(case.peer, X, y)
            rows.append(
                {
                    "estimator": case.name,
                    "dataset": name,
                    "score_ours": score(case, ours, X, y),
                    "score_sklearn": score(case, peer, X, y),
                    "fit_ours_s": t_ours,
                    "fit_sklearn_s": t_peer,
                }
            )
            print(f"{case.name:<24} {name:<14} ours {t_ours:8.4f}s  scikit-learn {t_peer:8.4f}s")
    return rows


def pca_scatter(name: str, out: Path) -> str:
    X, y = load(name, scaled=True)
    Z = gc.PCA(2).fit_transform(X)  # (n, 2)
    path = out / f"pca_{name}.png"
    with figure(path, figsize=(5, 4), dpi=90) as (fig, ax):
        points = ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=8)
        ax.set(title=f"{name}: first two principal components", xlabel="PC 1", ylabel="PC 2")
        fig.colorbar(points, ax=ax, label="class")
    return path.name


def decision_boundaries(out: Path) -> str:
    """Ours (top row) vs scikit-learn (bottom row) on petal length and width of iris."""
    X, y = load("iris", scaled=True)
    X = X[:, 2:4]
    xx, yy = np.meshgrid(
        np.linspace(X[:, 0].min() - 0.5, X[:, 0].max() + 0.5, 200),
        np.linspace(X[:, 1].min() - 0.5, X[:, 1].max() + 0.5, 200),
    )
    grid = np.c_[xx.ravel(), yy.ravel()]  # (40000, 2)
    path = out / "iris_decision_boundaries.png"
    cols = len(BOUNDARY_MODELS)
    grid_plot = figure(path, nrows=2, ncols=cols, figsize=(4 * cols, 7), dpi=80, sharex=True, sharey=True)
    with grid_plot as (_, axes):
        for col, (title, ours, peer) in enumerate(BOUNDARY_MODELS):
            for row, (label, make) in enumerate((("groundup", ours), ("scikit-learn", peer))):
                model = fit(make, X, y)
                ax = axes[row, col]
                ax.contourf(xx, yy, model.predict(grid).reshape(xx.shape), alpha=0.3, cmap="viridis")
                ax.scatter(X[:, 0], X[:, 1], c=y, s=10, cmap="viridis", edgecolor="k", linewidth=0.2)
                ax.set_title(f"{label}: {title}", fontsize=9)
        for ax in axes[-1]:
            ax.set_xlabel("petal length (standardized)")
        for ax in axes[:, 0]:
            ax.set_ylabel("petal width (standardized)")
    return path.name


def speedup(row: dict) -> float:
    """scikit-learn's fit time / ours: above 1, ours is faster (`speedup = peer time / our time`)."""
    return row["fit_sklearn_s"] / max(row["fit_ours_s"], 1e-9)


def markdown(rows: list[dict], scatters: list[str], boundaries: str) -> str:
    lines = [
        "# groundup.classic vs scikit-learn",
        "",
        f"{provenance(('numpy', 'sklearn'))} Scores are on the training table: accuracy (classifiers), R^2 (regressors "
        "predicting the first feature from the rest), -inertia (k-means), average log-likelihood (GMM), "
        "explained variance of 2 components (PCA). Times are one fit each, on one BLAS thread. "
        "Speedup = scikit-learn's fit time / ours, as in every groundup benchmark (above 1: ours is faster).",
        "",
        "| estimator | dataset | score ours | score scikit-learn | fit ours (s) | fit scikit-learn (s) | speedup |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['estimator']} | {r['dataset']} | {r['score_ours']:.4f} | {r['score_sklearn']:.4f} | "
            f"{r['fit_ours_s']:.4f} | {r['fit_sklearn_s']:.4f} | {speedup(r):.2f}x |"
        )
    lines += ["", "## PCA: each table in two dimensions", ""]
    lines += [f"![{s}]({s})" for s in scatters]
    lines += [
        "",
        "## Decision boundaries on two iris features (top: groundup, bottom: scikit-learn)",
        "",
        f"![boundaries]({boundaries})",
        "",
    ]
    return "\n".join(lines)


def main(out: str = "groundup-out/classic-benchmark", quick: bool = False) -> Path:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    datasets = DATASETS[:2] if quick else DATASETS
    with threadpool_limits(1):  # one thread each: on a shared machine more only measures the neighbours
        rows = comparison_rows(datasets)
    scatters = [pca_scatter(name, folder) for name in datasets]  # --quick: only the tables it ran
    report = write_text(folder / "README.md", markdown(rows, scatters, decision_boundaries(folder)))
    print(f"wrote {report}")
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default="groundup-out/classic-benchmark", help="folder for README.md and the PNG plots"
    )
    parser.add_argument("--quick", action="store_true", help="iris and wine only")
    args = parser.parse_args()
    main(args.out, args.quick)
