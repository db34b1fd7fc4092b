"""`groundup gguf info|convert|from-hf|to-hf|compare`: inspect, re-quantize, convert and compare GGUF models."""

from __future__ import annotations

import argparse

from groundup.argtypes import int_range

# llama.cpp's file types (formats/mixtures.py FILE_TYPES), listed here so --help needs no NumPy
FILE_TYPES = (
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k_s", "q3_k_m", "q3_k_l",
    "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k",
)  # fmt: skip


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


def _summary(path) -> str:
    import collections

    from groundup.formats.gguf import GGUFReader

    counts = collections.Counter(t.ggml_type.name for t in GGUFReader(path).tensors.values())
    return ", ".join(f"{n} {name}" for name, n in counts.most_common())


def convert(args: argparse.Namespace) -> int:
    from groundup.formats.convert import convert as run_convert
    from groundup.outputs import prepare_file

    gguf_file(args.input)
    prepare_file(args.output, "OUTPUT")
    out = run_convert(args.input, args.output, args.type, pure=args.pure, order=args.order)
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {args.type}: {_summary(out)})")
    return 0


def from_hf(args: argparse.Namespace) -> int:
    from groundup.formats.convert_hf import hf_to_gguf

    out = hf_to_gguf(args.folder, args.output, args.type, pure=args.pure)
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {args.type}: {_summary(out)})")
    return 0


def to_hf(args: argparse.Namespace) -> int:
    from groundup.formats.convert_hf import gguf_to_hf

    folder = gguf_to_hf(args.file, args.folder, args.dtype)
    print(f"wrote {folder}: " + ", ".join(sorted(p.name for p in folder.iterdir())))
    return 0


def compare(args: argparse.Namespace) -> int:
    from groundup.export.compare import CompareConfig, compare_files, render_table

    config = CompareConfig(eval_windows=args.windows, eval_len=args.window_len, decode_tokens=args.tokens)
    rows = compare_files(args.files, config, prompt=args.prompt, progress=lambda m: print(m, flush=True))
    print(render_table(rows))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("gguf", help="inspect, re-quantize, convert and compare GGUF model files")
    sub = parser.add_subparsers(dest="gguf_command", metavar="ACTION", required=True)
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = sub.add_parser(
        "info", help="print metadata and the tensor table (like gguf-dump)", formatter_class=fmt
    )
    p.add_argument("file", help="a .gguf file")
    p.set_defaults(func=info)

    p = sub.add_parser(
        "convert",
        help="re-quantize a model to a llama.cpp file type (q4_k_m, q8_0, ...)",
        description="Re-quantize every matrix to the type llama.cpp's quantize would choose for the file "
        "type (K-quant mixtures included; rows that K-quants cannot split fall back as in llama.cpp).",
        formatter_class=fmt,
    )
    p.add_argument("input", help="source .gguf file")
    p.add_argument("output", help="destination .gguf file")
    p.add_argument("--type", default="q8_0", choices=FILE_TYPES, help="llama.cpp file type")
    p.add_argument("--pure", action="store_true", help="every matrix gets the base type (no mixture rules)")
    p.add_argument(
        "--order", default="source", choices=["source", "llama.cpp"], help="tensor order in the output file"
    )
    p.set_defaults(func=convert)

    p = sub.add_parser(
        "from-hf",
        help="convert a Hugging Face Llama folder (config.json, safetensors, tokenizer.json) to GGUF",
        formatter_class=fmt,
    )
    p.add_argument("folder", help="Hugging Face model folder")
    p.add_argument("output", help="destination .gguf file")
    p.add_argument("--type", default="f16", choices=FILE_TYPES, help="llama.cpp file type")
    p.add_argument("--pure", action="store_true", help="every matrix gets the base type (no mixture rules)")
    p.set_defaults(func=from_hf)

    p = sub.add_parser(
        "to-hf",
        help="write a GGUF Llama as a Hugging Face folder that transformers loads",
        formatter_class=fmt,
    )
    p.add_argument("file", help="source .gguf file")
    p.add_argument("folder", help="destination folder (created)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16"], help="weight dtype")
    p.set_defaults(func=to_hf)

    p = sub.add_parser(
        "compare",
        help="size, load time, WikiText-2 perplexity, decode speed and a sample for each GGUF file",
        formatter_class=fmt,
    )
    p.add_argument("files", nargs="+", help=".gguf files (Llama architecture)")
    p.add_argument("--windows", type=int_range(1), default=8, help="WikiText-2 test windows")
    p.add_argument("--window-len", type=int_range(8), default=256, help="tokens per window")
    p.add_argument("--tokens", type=int_range(1), default=32, help="greedy tokens for speed and the sample")
    p.add_argument("--prompt", default="The history of the city of Paris", help="prompt of the sample")
    p.set_defaults(func=compare)
