"""The drift demo: a classifier whose inputs shift after deployment, and the report that catches it.

A logistic regression (groundup.classic) is trained on half of the breast-cancer table (569 real
tumour measurements, 30 features). The other half plays production twice: as it is (no drift) and
after a plausible fault, a re-calibrated imaging scale that makes every length read 20% high (radius
and perimeter, their standard errors and worst values; areas 44% high), plus a new clinic that
changes the mix of the categorical column `site`. The accuracy falls on the shifted half, and the
drift report flags exactly the shifted columns, before any label arrives to show the fall.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

LENGTH_SCALE = 1.2
LENGTHS = {
    0: "mean radius",
    2: "mean perimeter",
    10: "radius error",
    12: "perimeter error",
    20: "worst radius",
    22: "worst perimeter",
}
AREAS = {3: "mean area", 13: "area error", 23: "worst area"}
NAMES = {**LENGTHS, **AREAS}


def column_names(n: int) -> list[str]:
    return [NAMES.get(j, f"x{j:02d}") for j in range(n)]


def sites(n: int, probs: list[float], rng: np.random.Generator) -> np.ndarray:
    return rng.choice(np.array(["clinic A", "clinic B", "clinic C"]), n, p=probs)


def shift(X: np.ndarray) -> np.ndarray:
    """The fault: lengths read LENGTH_SCALE times too large, areas its square."""
    X = X.copy()
    X[:, list(LENGTHS)] *= LENGTH_SCALE
    X[:, list(AREAS)] *= LENGTH_SCALE**2
    return X


def write_csv(path: Path, X: np.ndarray, site: np.ndarray) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*column_names(X.shape[1]), "site"])
        for row, s in zip(X, site, strict=True):
            w.writerow([*(f"{v:.6g}" for v in row), s])


def main(out: Path, seed: int = 0) -> dict:
    """Train, shift, score, and write reference.csv, current.csv, shifted.csv and both reports to `out`."""
    from groundup.classic.logistic import LogisticRegression
    from groundup.classic.preprocessing import StandardScaler
    from groundup.data import load_sklearn
    from groundup.monitor.report import write_report

    X, y = load_sklearn("breast_cancer")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    ref, cur = order[: len(X) // 2], order[len(X) // 2 :]
    scaler = StandardScaler().fit(X[ref])
    model = LogisticRegression(C=1.0, max_iter=500).fit(scaler.transform(X[ref]), y[ref])
    shifted = shift(X[cur])
    accuracy = {
        "reference": float(np.mean(model.predict(scaler.transform(X[ref])) == y[ref])),
        "current": float(np.mean(model.predict(scaler.transform(X[cur])) == y[cur])),
        "shifted": float(np.mean(model.predict(scaler.transform(shifted)) == y[cur])),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "reference.csv", X[ref], sites(len(ref), [0.5, 0.3, 0.2], rng))
    write_csv(out / "current.csv", X[cur], sites(len(cur), [0.5, 0.3, 0.2], rng))
    write_csv(out / "shifted.csv", shifted, sites(len(cur), [0.3, 0.2, 0.5], rng))
    flagged = {}
    for name in ("current", "shifted"):
        scores = write_report(out / "reference.csv", out / f"{name}.csv", out / f"drift-{name}.md")
        write_report(out / "reference.csv", out / f"{name}.csv", out / f"drift-{name}.html")
        flagged[name] = sorted(s.name for s in scores if s.drifted())
    return {"accuracy": accuracy, "flagged": flagged}
