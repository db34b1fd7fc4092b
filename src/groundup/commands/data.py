"""`groundup data` (where assets and corpora are) and `groundup doctor` (OK/FAIL per dependency)."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform

REQUIRED = ("numpy", "scipy", "torch", "safetensors", "tqdm", "matplotlib", "pydantic", "regex", "jinja2")
OPTIONAL = (
    "fastapi",
    "uvicorn",
    "pytest",
    "hypothesis",
    "scikit-learn",
    "tiktoken",
    "tokenizers",
    "transformers",
)
OPTIONAL += ("gguf", "peft", "accelerate", "openai")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="show where bundled assets and datasets are")
    p.add_argument("name", nargs="?", help="print only this asset's or dataset's path")
    p.set_defaults(func=data_command)
    d = subparsers.add_parser(
        "doctor", help="check the environment: OK/FAIL per dependency, asset and dataset"
    )
    d.set_defaults(func=doctor_command)


def dataset_rows() -> list[tuple[str, str, str]]:
    """(name, status, path-or-error) for every bundled asset and text dataset split."""
    from groundup.data.assets import ASSETS
    from groundup.data.datasets import TEXT_DATASETS, resolve_text_file
    from groundup.errors import GroundupError

    rows = []
    for name, asset in ASSETS.items():
        try:
            rows.append((name, "OK", str(asset.path())))
        except GroundupError as exc:
            rows.append((name, "FAIL", str(exc)))
    for name, splits in TEXT_DATASETS.items():
        for split in splits:
            label = f"{name}/{split}"
            try:
                rows.append((label, "OK", str(resolve_text_file(name, split, download_ok=False))))
            except GroundupError as exc:
                rows.append((label, "MISSING", str(exc)))
    return rows


def data_command(args: argparse.Namespace) -> int:
    from groundup.data.assets import ASSETS, asset_path
    from groundup.data.datasets import TEXT_DATASETS, resolve_text_file

    if args.name in ASSETS:
        print(asset_path(args.name))
    elif args.name in TEXT_DATASETS:
        for split in TEXT_DATASETS[args.name]:
            print(resolve_text_file(args.name, split, download_ok=False))
    elif args.name:
        raise ValueError(
            f"unknown asset or dataset {args.name!r}; known: {', '.join([*ASSETS, *TEXT_DATASETS])}"
        )
    else:
        rows = dataset_rows()
        width = max(len(r[0]) for r in rows)
        for name, status, text in rows:
            print(f"{name:<{width}}  {status:<7}  {text}")
    return 0


def version_of(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def doctor_command(args: argparse.Namespace) -> int:
    failed, packages, datasets = [], [], []
    print(f"OK      python {platform.python_version()}")
    for dist in REQUIRED + OPTIONAL:
        version = version_of(dist)
        required = dist in REQUIRED
        status = "OK" if version else ("FAIL" if required else "MISSING")
        if not version:
            (failed if required else packages).append(dist)
        print(
            f"{status:<7} {dist} {version or '(not installed' + (')' if required else ', tests/benchmarks only)')}"
        )
    for name, status, text in dataset_rows():
        if status != "OK":
            (failed if status == "FAIL" else datasets).append(name)
        print(f"{status:<7} {name}: {text}")
    print(doctor_summary(failed, packages, datasets))
    return 1 if failed else 0


def doctor_summary(failed: list[str], packages: list[str], datasets: list[str]) -> str:
    """One verdict: what is missing and whether it matters."""
    if failed:
        return f"{len(failed)} required item(s) missing ({', '.join(failed)}): run `make setup`"
    if not packages and not datasets:
        return "environment OK: everything is installed and every dataset is on disk"
    missing = []
    if packages:
        missing.append(f"packages {', '.join(packages)} (only tests and benchmarks need them: `make setup`)")
    if datasets:
        missing.append(
            f"datasets {', '.join(datasets)} (commands that read them download them when online, or set "
            "GROUNDUP_DATA to a folder holding them)"
        )
    return "the library works; missing: " + "; ".join(missing)
