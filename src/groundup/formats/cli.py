"""`groundup gguf info FILE` and `groundup gguf convert IN OUT --type q8_0|q4_0|q4_1|f16|f32`."""

from __future__ import annotations

import argparse


def _short(value, limit: int = 60) -> str:
    if isinstance(value, list):
        head = ", ".join(_short(v, 20) for v in value[:4])
        return f"[{head}{', ...' if len(value) > 4 else ''}] ({len(value)} items)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def gguf_file(path: str) -> str:
    """`path` when it is a file; else a one-line error saying a GGUF model file was expected."""
    from pathlib import Path

    from groundup.errors import GroundupError

    if not Path(path).is_file():
        reason = "is a folder" if Path(path).is_dir() else "no such file"
        raise GroundupError(f"{path}: {reason}; expected a GGUF model file (.gguf)")
    return path


def info(args: argparse.Namespace) -> int:
    from groundup.formats.gguf import GGUFReader

    reader = GGUFReader(gguf_file(args.file))
    print(
        f"{reader.path}: GGUF v{reader.version}, {len(reader.fields)} metadata keys, {len(reader.tensors)} tensors"
    )
    for field in reader.fields.values():
        kind = field.type.name + (f"[{field.item_type.name}]" if field.item_type is not None else "")
        print(f"  {field.name:<42} {kind:<15} {_short(field.value)}")
    print(f"\n  {'tensor':<32} {'shape':<18} {'type':<6} {'bytes':>12}")
    for t in reader.tensors.values():
        print(f"  {t.name:<32} {str(t.shape):<18} {t.ggml_type.name:<6} {t.n_bytes:>12,}")
    total = sum(t.n_bytes for t in reader.tensors.values())
    n_params = sum(t.n_elements for t in reader.tensors.values())
    print(f"\n  {n_params:,} parameters in {total:,} bytes ({8 * total / n_params:.2f} bits per weight)")
    return 0


def convert(args: argparse.Namespace) -> int:
    from groundup.formats.convert import convert as run_convert
    from groundup.outputs import prepare_file

    gguf_file(args.input)
    prepare_file(args.output, "OUTPUT")
    out = run_convert(args.input, args.output, args.type)
    print(f"wrote {out} ({out.stat().st_size:,} bytes, matrices as {args.type})")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("gguf", help="inspect or re-quantize GGUF model files")
    sub = parser.add_subparsers(dest="gguf_command", metavar="ACTION", required=True)
    p = sub.add_parser("info", help="print metadata and the tensor table (like gguf-dump)")
    p.add_argument("file", help="a .gguf file")
    p.set_defaults(func=info)
    p = sub.add_parser("convert", help="re-quantize a model's matrices to another ggml type")
    p.add_argument("input", help="source .gguf file")
    p.add_argument("output", help="destination .gguf file")
    p.add_argument(
        "--type", default="q8_0", choices=["q8_0", "q4_0", "q4_1", "f16", "f32"], help="target type"
    )
    p.set_defaults(func=convert)
