"""`groundup classic benchmark` (the 0.1 capstone report) and `groundup classic example NAME`.

Both run scripts from the checkout's examples/classic/ folder in a subprocess: they compare against
scikit-learn, which library code never imports. The benchmark writes to ./groundup-out/classic-benchmark/
(or --out); `--write-docs` regenerates the committed report in docs/notes/0.1-report/.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from groundup.outputs import add_out_option

EXAMPLES = {
    "pca-eig": "PCA from the eigendecomposition of the covariance matrix, checked against scikit-learn",
    "linear-regression-gd": "linear regression by gradient descent (derivation in the docstring) vs the normal equation",
    "naive-bayes": "Gaussian and multinomial Naive Bayes vs scikit-learn on the four tables",
    "kmeans-init": "k-means: random vs k-means++ initialization over many seeds",
    "logistic-penalties": "logistic regression with L1, L2 and elastic-net penalties: sparsity vs accuracy",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("classic", help="classical ML (curriculum 0.1): benchmark report and examples")
    sub = p.add_subparsers(dest="classic_command", required=True)
    b = sub.add_parser(
        "benchmark",
        help="score and fit time of every estimator vs scikit-learn, as a markdown report with plots",
        description="Writes OUT/README.md (a table per estimator and dataset), a PCA scatter per dataset "
        "and iris decision-boundary plots (PNG). Needs scikit-learn and the groundup checkout.",
    )
    add_out_option(b, "classic-benchmark", docs="docs/notes/0.1-report")
    b.add_argument("--quick", action="store_true", help="iris and wine only")
    b.set_defaults(func=benchmark_command)
    e = sub.add_parser(
        "example",
        help="run a curriculum 0.1 exercise",
        description="Exercises: " + "; ".join(f"{k}: {v}" for k, v in EXAMPLES.items()),
    )
    e.add_argument("name", choices=sorted(EXAMPLES), help="which exercise")
    e.set_defaults(func=example_command)


def run_module(module: str, *args: str) -> int:
    from pathlib import Path

    from groundup.checkout import repo_root

    # the script runs from the checkout; make an --out path absolute so it lands where the user is
    args = tuple(str(Path(a).resolve()) if prev == "--out" else a for prev, a in zip(("", *args), args))
    return subprocess.run([sys.executable, "-m", module, *args], cwd=repo_root()).returncode


def benchmark_command(args: argparse.Namespace) -> int:
    from groundup.outputs import chosen_dir, writing_to

    with writing_to(chosen_dir(args)) as out:  # checked here, before the script starts
        return run_module("examples.classic.benchmark_report", "--out", str(out), *(["--quick"] * args.quick))


def example_command(args: argparse.Namespace) -> int:
    return run_module(f"examples.classic.{args.name.replace('-', '_')}")
