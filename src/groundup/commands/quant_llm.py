"""`groundup quantize` (one method on the bundled SmolLM2) and `groundup quant report` (the full table).

    groundup quantize --method gptq --bits 4 --group-size 128 [--act-order] [--out DIR] [--eval-windows 4]
    groundup quant report [--quick] [--out DIR]

`--group-size 0` means per-channel. Handlers import torch and the model only when they run.
"""

from __future__ import annotations

import argparse
import time

from groundup.argtypes import float_range, int_range, non_negative_int, positive_int
from groundup.outputs import add_out_option
from groundup.quant.llm.methods import BITS, METHODS, check_request

REPORT_DOCS = "benchmarks/results/quant_llm_report"  # the committed report (`--write-docs`)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quantize",
        help="quantize the SmolLM2 GGUF model with RTN, GPTQ, AWQ, SmoothQuant or NF4",
        description="Quantize a Llama-family GGUF model (default: the bundled SmolLM2-135M, dequantized to "
        "float32) and optionally save it and measure its WikiText-2 test perplexity. Bits per method: "
        + "; ".join(f"{m}: {', '.join(map(str, b))}" for m, b in BITS.items()),
    )
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--bits", type=int_range(2, 8), default=4, help="weight bits (smoothquant: 8)")
    p.add_argument(
        "--group-size",
        type=non_negative_int,
        default=None,
        help="32, 64 or 128 (default 128 for rtn/gptq/awq), 0 = per-channel; not used by smoothquant/nf4",
    )
    p.add_argument(
        "--act-order", action="store_true", help="gptq: quantize columns by decreasing Hessian diagonal"
    )
    p.add_argument(
        "--alpha", type=float_range(0, 1), default=0.5, help="smoothquant migration strength in [0, 1]"
    )
    p.add_argument(
        "--calib-samples", type=positive_int, default=16, help="calibration windows (WikiText-2 valid)"
    )
    p.add_argument("--calib-len", type=int_range(2), default=256, help="tokens per calibration window")
    p.add_argument(
        "--eval-windows",
        type=non_negative_int,
        default=0,
        help="WikiText-2 test windows of 256 tokens to score (0: skip)",
    )
    p.add_argument("--model", default=None, help="GGUF file (default: the bundled SmolLM2-135M-Instruct)")
    p.add_argument(
        "--out",
        default=None,
        help="save the quantized model here (safetensors + manifest.json, groundup's own format): "
        "generate/chat/ppl/serve --model DIR load it, with the tokenizer of the source GGUF",
    )
    p.add_argument(
        "--gguf",
        default=None,
        help="also export a GGUF file here, loadable by generate/chat/ppl/serve --model "
        "(needs --bits 4 --group-size 32: Q4_1)",
    )
    p.set_defaults(func=quantize_command)


def add_quant_subcommands(quant_subparsers) -> None:
    p = quant_subparsers.add_parser(
        "report",
        help="perplexity/size/speed table of every LLM quantization method on SmolLM2",
        description="Quantize SmolLM2-135M with every method (RTN W8/W4/W3, GPTQ W4/W3 with and without "
        "act-order, AWQ W4, NF4+DQ, SmoothQuant W8A8) and write report.md, rows.json and a "
        "perplexity-vs-bits plot. Peer-library rows (HQQ, optimum-quanto) come from "
        "`python -m benchmarks quant_llm`.",
    )
    p.add_argument("--quick", action="store_true", help="fewer tokens and only float32/RTN W4/GPTQ W4")
    add_out_option(p, "quant-report", docs=REPORT_DOCS)
    p.add_argument(
        "--from-rows",
        default=None,
        metavar="JSON",
        help="only render report.md and the plot from saved rows (e.g. benchmarks/results/quant_llm.json)",
    )
    p.set_defaults(func=report_command)
    q = quant_subparsers.add_parser(
        "qlora",
        help="QLoRA fine-tune of NF4 SmolLM2 on an instruction set built from WikiText-2",
        description="Quantize SmolLM2 to NF4+DQ, train LoRA adapters on 'continue this Wikipedia text' "
        "examples from WikiText-2 valid, and report the loss curve and before/after perplexity on held-out "
        "examples from WikiText-2 test.",
    )
    q.add_argument("--steps", type=positive_int, default=30, help="optimizer steps")
    q.add_argument("--batch-size", type=positive_int, default=4, help="examples per step")
    q.add_argument("--lr", type=float_range(0, low_open=True), default=2e-3, help="learning rate")
    q.add_argument("--rank", type=positive_int, default=8, help="LoRA rank")
    q.add_argument(
        "--train-blocks", type=positive_int, default=6, help="adapt the Linears of the last N blocks"
    )
    q.add_argument("--max-len", type=int_range(2), default=96, help="tokens per example")
    q.add_argument("--heldout", type=positive_int, default=16, help="held-out examples")
    add_out_option(q, "quant-qlora", docs=REPORT_DOCS)
    q.set_defaults(func=qlora_command)


def quantize_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from groundup.data import smollm2_gguf_path
    from groundup.errors import GroundupError
    from groundup.generate.loading import is_quantized_dir
    from groundup.outputs import prepare_dir, prepare_file

    group_size = None if args.group_size == 0 else args.group_size
    if args.group_size is None and args.method in ("rtn", "gptq", "awq"):
        group_size = 128
    check_request(args.method, args.bits, group_size)  # fail before loading anything
    if args.gguf and (args.method not in ("rtn", "gptq", "awq") or args.bits != 4 or group_size != 32):
        raise ValueError("--gguf: only 4-bit group-32 rtn/gptq/awq weights match a ggml type (Q4_1)")
    if args.model and is_quantized_dir(args.model):
        raise GroundupError(f"--model {args.model} is quantized already; pass the GGUF file it came from")
    if args.out:  # before minutes of quantizing, not after
        prepare_dir(args.out)
    if args.gguf:
        prepare_file(args.gguf, "--gguf")

    import torch

    from groundup.generate.loading import load_model
    from groundup.quant.llm.checkpoint import save_quantized
    from groundup.quant.llm.quantize import quantize_llm
    from groundup.quant.llm.report import ReportConfig, load_setup, perplexity

    torch.set_num_threads(2)
    config = ReportConfig(
        eval_windows=max(args.eval_windows, 1), calib_samples=args.calib_samples, calib_len=args.calib_len
    )
    setup = load_setup(*load_model(args.model), config)
    start = time.perf_counter()
    model = quantize_llm(
        setup.model,
        args.method,
        args.bits,
        group_size,
        windows=setup.calib_ids,
        act_order=args.act_order,
        alpha=args.alpha,
        progress=lambda msg: print(msg, flush=True),
    )
    seconds = time.perf_counter() - start
    print(f"{args.method} W{args.bits} g{group_size or 'channel'}: {seconds:.1f} s")
    print(size_line(model, setup.linear_paths, args.model))
    if args.eval_windows:
        print(
            f"WikiText-2 test perplexity ({args.eval_windows} x {config.eval_len} tokens): {perplexity(model, setup.eval_ids):.3f}"
        )
    if args.out:
        info = {
            "method": args.method,
            "bits": args.bits,
            "group_size": group_size,
            "act_order": args.act_order,
            "source": str(Path(args.model or smollm2_gguf_path()).resolve()),  # where the tokenizer lives
        }
        print(
            f"saved {save_quantized(model, args.out, info)}: `groundup generate/chat/ppl/serve --model "
            f"{args.out}` load it (the tokenizer is read from the source GGUF, which must stay in place)"
        )
    if args.gguf:
        from groundup.quant.llm.gguf_export import export_gguf

        print(f"exported {export_gguf(model, args.model or smollm2_gguf_path(), args.gguf)}")
    return 0


def size_line(model, linear_paths: list[str], source) -> str:
    """The stored size, split into the quantized block Linears and the float32 rest, beside the source
    GGUF's size: the embedding (tied to the output head) stays float32 here, where a GGUF file stores
    it quantized too, so the quantized model can be larger than its source file."""
    from pathlib import Path

    from groundup.data import smollm2_gguf_path
    from groundup.quant.llm.report import stored_nbytes

    size, bpw = stored_nbytes(model, linear_paths)
    weights = sum(
        model.get_submodule(p).in_features * model.get_submodule(p).out_features for p in linear_paths
    )
    linear = bpw * weights / 8
    source_mb = Path(source or smollm2_gguf_path()).stat().st_size / 1e6
    return (
        f"stored size {size / 1e6:.1f} MB: {linear / 1e6:.1f} MB of block Linears at {bpw:.2f} bits/weight, "
        f"{(size - linear) / 1e6:.1f} MB of float32 embeddings and norms (the source GGUF, {source_mb:.1f} MB, "
        "stores its embedding quantized as well)"
    )


def report_command(args: argparse.Namespace) -> int:
    from groundup.outputs import chosen_dir, writing_to

    with writing_to(chosen_dir(args)) as out:  # checked before the model loads; removed if left empty
        return write_quant_report(args, out)


def write_quant_report(args: argparse.Namespace, out) -> int:
    import os

    from groundup.generate.loading import load_model
    from groundup.quant.llm.report import (
        ReportConfig,
        config_env,
        load_setup,
        measure_row,
        our_rows,
        write_report,
    )

    if args.from_rows:
        import json

        from groundup.data import read_text_file

        saved = json.loads(read_text_file(args.from_rows, "rows JSON written by `groundup quant report`"))
        print(f"wrote {write_report(saved['rows'], saved.get('env', {}), out)}")
        return 0
    config = (
        ReportConfig(eval_windows=2, eval_len=256, calib_samples=8, calib_len=128)
        if args.quick
        else ReportConfig()
    )
    setup = load_setup(*load_model(), config)
    env = config_env(config)
    rows = []
    for name, info, fn in our_rows(setup, progress=lambda msg: print(msg, flush=True)):
        if args.quick and name not in ("float32", "RTN W4 g128", "GPTQ W4 g128"):
            continue
        rows.append(measure_row(setup, name, fn, library="groundup", **info))
        print(f"{name}: perplexity {rows[-1]['perplexity']:.3f}", flush=True)
    env |= {"load_end": round(os.getloadavg()[0], 2), "threads": config.threads}
    print(f"wrote {write_report(rows, env, out)}")
    return 0


def qlora_command(args: argparse.Namespace) -> int:
    from groundup.outputs import chosen_dir, writing_to

    with writing_to(chosen_dir(args)) as out:
        return run_qlora(args, out)


def run_qlora(args: argparse.Namespace, out) -> int:
    from groundup.generate.loading import load_model
    from groundup.quant.llm.finetune import run_qlora_capstone

    model, tokenizer = load_model()
    result = run_qlora_capstone(
        model,
        tokenizer,
        out,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        r=args.rank,
        train_blocks=args.train_blocks,
        max_len=args.max_len,
        n_heldout=args.heldout,
        progress=lambda msg: print(msg, flush=True),
    )
    print(f"before {result['before']}, after {result['after']}; wrote {out / 'qlora.md'}")
    return 0
