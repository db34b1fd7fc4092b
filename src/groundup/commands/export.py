"""`groundup export onnx MODEL OUT`: a model as an ONNX file with dynamic batch and sequence axes."""

from __future__ import annotations

import argparse


def onnx_command(args: argparse.Namespace) -> int:
    from groundup.export import onnx as export

    export.require("onnx")  # say how to install it before anything slow runs
    export.require("onnxscript")
    if args.model == "lenet":
        from groundup.models.cnn import LeNet5

        model = LeNet5()
        if args.weights:
            from safetensors.torch import load_file

            model.load_state_dict(load_file(args.weights))
        path = export.export_classifier(model.eval(), args.output)
        kind = "LeNet-5, images (B, 1, 28, 28) -> logits"
    else:
        from groundup.generate.loading import load_model
        from groundup.models.llama import Llama

        model, _ = load_model(None if args.model == "smollm2" else args.model)
        if isinstance(model, Llama) and not args.no_cache:
            path = export.export_llama_with_cache(model, args.output)
            kind = "Llama with KV cache: (input_ids, past_keys, past_values) -> (logits, present_keys, present_values)"
        else:
            path = export.export_causal_lm(model, args.output)
            kind = f"{type(model).__name__}: input_ids (B, T) -> logits (B, T, V)"
    print(f"wrote {path} ({path.stat().st_size:,} bytes; checked by onnx.checker): {kind}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export models to deployment formats (ONNX)")
    sub = parser.add_subparsers(dest="export_command", metavar="FORMAT", required=True)
    p = sub.add_parser(
        "onnx",
        help="export a model to ONNX (needs onnx, onnxscript, onnxruntime)",
        description="Export with torch.onnx (dynamo) and dynamic batch/sequence axes, then run onnx.checker. "
        "Llama models get a KV-cache input/output pair for step-by-step decoding in an engine.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "model",
        help="'lenet', 'smollm2' (the bundled model), a .gguf file, or a `groundup train gpt` run directory",
    )
    p.add_argument("output", help="destination .onnx file")
    p.add_argument("--weights", default=None, help="LeNet only: a .safetensors state dict to load")
    p.add_argument("--no-cache", action="store_true", help="Llama: export the plain forward (no KV cache)")
    p.set_defaults(func=onnx_command)
