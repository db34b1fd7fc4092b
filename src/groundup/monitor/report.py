"""A per-feature drift report over two tables: which inputs moved, by how much, and how surely.

`compare_tables(reference, current)` takes two {column: values} tables with the same columns (as
`read_table` returns them from CSV files) and scores each column: a numeric column by PSI over the
reference's deciles, the KS statistic and its p-value and the JS divergence of the binned shares; a
categorical column (any value that is not a number) by PSI and JS over its categories and the
chi-square test of homogeneity. A column is flagged when PSI > 0.25 (a major shift by the usual rule)
or its test rejects "same distribution" at `alpha` with PSI > 0.1 (large samples make tiny, harmless
shifts significant, so significance alone does not flag). `render_markdown` / `render_html` write the
table worst first.
"""

from __future__ import annotations

import csv
import html
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from groundup.errors import GroundupError
from groundup.monitor import drift

MODERATE, MAJOR = 0.1, 0.25


@dataclass(frozen=True)
class FeatureDrift:
    """One column's scores; `ks` is None for a categorical column, `chi2` None for a numeric one."""

    name: str
    kind: str  # "numeric" | "categorical"
    psi: float
    js: float
    p_value: float
    ks: float | None = None
    chi2: float | None = None
    ref_mean: float | None = None
    cur_mean: float | None = None

    def severity(self, alpha: float = 0.01) -> str:
        if self.psi > MAJOR:
            return "major"
        if self.psi > MODERATE and self.p_value < alpha:
            return "moderate"
        return "stable"

    def drifted(self, alpha: float = 0.01) -> bool:
        return self.severity(alpha) != "stable"


def read_table(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A CSV file with a header row -> {column: values}; a column whose every value parses as a number
    is float64, any other column is kept as strings (categorical)."""
    path = Path(path)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise GroundupError(
            f"{path}: expected a header row and at least one data row, found {len(rows)} rows"
        )
    header, body = rows[0], rows[1:]
    bad = [i + 2 for i, r in enumerate(body) if len(r) != len(header)]
    if bad:
        raise GroundupError(f"{path}: row {bad[0]} has a different number of fields than the header")
    return {name: _column([r[j] for r in body]) for j, name in enumerate(header)}


def _column(values: list[str]) -> np.ndarray:
    try:
        return np.array([float(v) for v in values])
    except ValueError:
        return np.array(values, dtype=str)


def score_column(name: str, reference: np.ndarray, current: np.ndarray, bins: int = 10) -> FeatureDrift:
    """The drift scores of one column (numeric when both samples are numbers)."""
    if reference.dtype.kind == "f" and current.dtype.kind == "f":
        edges = drift.quantile_edges(reference, bins)
        p, q = drift.proportions(reference, edges), drift.proportions(current, edges)
        d, p_value = drift.ks_two_sample(reference, current)
        return FeatureDrift(
            name,
            "numeric",
            drift.psi(reference, current, bins),
            drift.js_divergence(p, q),
            p_value,
            ks=d,
            ref_mean=float(reference.mean()),
            cur_mean=float(current.mean()),
        )
    reference, current = reference.astype(str), current.astype(str)
    table, _ = drift.contingency(reference, current)
    p, q = table[0] / table[0].sum(), table[1] / table[1].sum()
    stat, p_value, _ = drift.chi_square(table)
    pf, qf = np.maximum(p, drift.EPS), np.maximum(q, drift.EPS)
    pf, qf = pf / pf.sum(), qf / qf.sum()
    return FeatureDrift(
        name,
        "categorical",
        float(np.sum((qf - pf) * np.log(qf / pf))),
        drift.js_divergence(p, q),
        p_value,
        chi2=stat,
    )


def compare_tables(
    reference: dict[str, np.ndarray], current: dict[str, np.ndarray], bins: int = 10
) -> list[FeatureDrift]:
    """Score every column of `reference` (which `current` must also have), worst PSI first."""
    missing = [c for c in reference if c not in current]
    if missing:
        raise GroundupError(
            f"the current table lacks the reference's column(s) {', '.join(missing)}; give two tables with the same header"
        )
    scores = [score_column(c, reference[c], current[c], bins) for c in reference]
    return sorted(scores, key=lambda s: -s.psi)


HEADERS = ["feature", "kind", "PSI", "KS D", "chi2", "p-value", "JS", "ref mean", "cur mean", "drift"]


def rows(scores: list[FeatureDrift], alpha: float) -> list[list[str]]:
    def f(v: float | None, spec: str = ".4g") -> str:
        return "" if v is None else format(v, spec)

    return [
        [
            s.name,
            s.kind,
            f(s.psi),
            f(s.ks),
            f(s.chi2),
            f(s.p_value, ".3g"),
            f(s.js),
            f(s.ref_mean),
            f(s.cur_mean),
            s.severity(alpha),
        ]
        for s in scores
    ]


def summary(scores: list[FeatureDrift], n_ref: int, n_cur: int, alpha: float) -> str:
    moved = [s.name for s in scores if s.drifted(alpha)]
    return (
        f"{len(moved)} of {len(scores)} features drifted ({', '.join(moved) or 'none'}); "
        f"reference {n_ref} rows, current {n_cur} rows. PSI over reference deciles: < {MODERATE} stable, "
        f"{MODERATE}-{MAJOR} moderate (flagged when the test also rejects at alpha={alpha}), > {MAJOR} major."
    )


def render_markdown(scores: list[FeatureDrift], n_ref: int, n_cur: int, alpha: float = 0.01) -> str:
    from groundup.reports import markdown_table

    return (
        "\n\n".join(
            [
                "# Drift report",
                summary(scores, n_ref, n_cur, alpha),
                markdown_table(HEADERS, rows(scores, alpha)),
            ]
        )
        + "\n"
    )


def render_html(scores: list[FeatureDrift], n_ref: int, n_cur: int, alpha: float = 0.01) -> str:
    colour = {"major": "#f4c7c3", "moderate": "#fce8b2", "stable": "#ffffff"}
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    body = "".join(
        f'<tr style="background:{colour[r[-1]]}">'
        + "".join(f"<td>{html.escape(c)}</td>" for c in r)
        + "</tr>"
        for r in rows(scores, alpha)
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Drift report</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:right}</style></head><body><h1>Drift report</h1>"
        f"<p>{html.escape(summary(scores, n_ref, n_cur, alpha))}</p><table><tr>{head}</tr>{body}</table></body></html>\n"
    )


def write_report(reference_csv, current_csv, out, bins: int = 10, alpha: float = 0.01) -> list[FeatureDrift]:
    """Read two CSV files, score every column and write `out` (.html -> HTML, anything else markdown)."""
    from groundup.reports import write_text

    ref, cur = read_table(reference_csv), read_table(current_csv)
    scores = compare_tables(ref, cur, bins)
    n_ref, n_cur = len(next(iter(ref.values()))), len(next(iter(cur.values())))
    render = render_html if Path(out).suffix.lower() in (".html", ".htm") else render_markdown
    write_text(out, render(scores, n_ref, n_cur, alpha))
    return scores
