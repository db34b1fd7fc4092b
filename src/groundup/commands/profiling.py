"""`groundup bench NAME`: run a benchmark from the checkout's benchmarks/ folder (ours vs peer).
`groundup profile decode|qat`: where a decode step's time goes (torch.profiler, the bandwidth roofline),
and TensorBoard histograms of a quantization-aware training run (curriculum 1.6)."""

from __future__ import annotations

import argparse
import subprocess
import sys

from groundup.argtypes import positive_int
from groundup.outputs import add_out_option, out_dir

# forms of `groundup.generate.load_model(weights=...)`, optionally ":kernel" (quantized layers' kernel)
CONFIG_HELP = (
    "what to profile: a --weights form (float32, bfloat16, auto, int8, int4), optionally with the "
    "quantized layers' kernel: auto:reference (dequantize + matmul), auto:torch (PyTorch's int4), auto:native, "
    "auto:dot8 (ours with int8 activations); a quantized form runs its single-token step in C (the native decode "
    "step), ':eager' keeps PyTorch's step (auto:eager, auto:dot8:eager)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    register_profile(subparsers)
    p = subparsers.add_parser(
        "bench",
        help="run a benchmark: ours vs the production peer in one run",
        description="Runs `python -m benchmarks NAME` in the groundup checkout; results go to "
        "./groundup-out/bench/NAME.json (or --out DIR; the committed benchmarks/results/ with --write-docs). "
        "Use `groundup bench --list` to see the benchmarks.",
    )
    p.add_argument("name", nargs="?", help="benchmark name, or 'all'")
    p.add_argument("--list", action="store_true", help="list the benchmarks")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    add_out_option(p, "bench", docs="benchmarks/results", what="results folder")
    p.set_defaults(func=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    from groundup.argtypes import UsageError
    from groundup.checkout import repo_root
    from groundup.outputs import chosen_dir, prepare_dir

    cmd = [sys.executable, "-m", "benchmarks"]
    if args.list:
        return subprocess.run([*cmd, "--list"], cwd=repo_root()).returncode
    names = sorted(p.stem.removeprefix("bench_") for p in (repo_root() / "benchmarks").glob("bench_*.py"))
    if args.name not in (*names, "all"):
        raise UsageError(f"name a benchmark: {', '.join(names)} (or all); got {args.name!r}")
    where = ["--write-docs"] if args.write_docs else ["--out", str(prepare_dir(chosen_dir(args)).resolve())]
    cmd += [args.name, *(["--quick"] if args.quick else []), *where]
    return subprocess.run(cmd, cwd=repo_root()).returncode


def register_profile(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("profile", help="profile the decode step, or log QAT histograms to TensorBoard")
    sub = p.add_subparsers(dest="what", required=True)
    d = sub.add_parser(
        "decode",
        help="torch.profiler trace + top operators + bandwidth roofline of greedy decoding",
        description="Profiles greedy decoding of the model (default: the bundled SmolLM2) in each "
        "configuration, writes a Chrome trace per configuration (open in https://ui.perfetto.dev), "
        "a markdown report with the top operators and the memory-bandwidth roofline, and plots.",
    )
    d.add_argument(
        "configs", nargs="*", default=["float32", "auto"], help=CONFIG_HELP + " (default: float32 auto)"
    )
    d.add_argument("--model", default=None, help="a GGUF file or a `groundup train gpt` run directory")
    d.add_argument("--tokens", type=positive_int, default=16, help="decoded tokens per measurement")
    d.add_argument("--threads", type=positive_int, default=1, help="torch threads")
    d.add_argument("--top", type=positive_int, default=12, help="operators listed per configuration")
    add_out_option(
        d, "profile-decode", docs="docs/notes/1.6-decode-profile", what="folder for traces, report and plots"
    )
    d.set_defaults(func=profile_decode_command)
    q = sub.add_parser(
        "qat",
        help="TensorBoard histograms of weights and activations during quantization-aware training",
        description="Fine-tunes LeNet-5 with fake-quantized INT8 weights and activations on the MNIST "
        "5k digits and logs weight/activation histograms every step (`tensorboard --logdir OUT`).",
    )
    q.add_argument("--steps", type=positive_int, default=30, help="training steps")
    add_out_option(q, "profile-qat", what="TensorBoard log folder")
    q.set_defaults(func=profile_qat_command)


def profile_decode_command(args: argparse.Namespace) -> int:
    out = out_dir(args)
    import torch

    from groundup.generate.loading import WEIGHTS, load_model
    from groundup.models.quantized import use_kernel
    from groundup.profiling.decode_report import run_decode_study

    for config in args.configs:
        form, _, kernel = config.removesuffix(":eager").partition(":")
        if form not in WEIGHTS or kernel not in ("", "native", "dot8", "torch", "reference"):
            raise ValueError(f"configs: {config!r} is not FORM[:KERNEL][:eager]; {CONFIG_HELP}")

    def load(config: str):
        form, _, kernel = config.removesuffix(":eager").partition(":")
        model, tokenizer = load_model(args.model, weights=form)
        if kernel:
            use_kernel(model, kernel)
        if config.endswith(":eager"):
            model.decode_step = None  # PyTorch's single-token step instead of the native one
        return model, tokenizer

    torch.set_num_threads(args.threads)
    report = run_decode_study(args.configs, out, load, tokens=args.tokens, top=args.top)
    print(report.read_text())
    return 0


def profile_qat_command(args: argparse.Namespace) -> int:
    """LeNet-5 with fake-quantized INT8 weights and activations, fine-tuned on MNIST 5k, histograms logged."""
    out = out_dir(args)
    import torch

    from groundup.models.cnn import LeNet5
    from groundup.profiling.tensorboard import HistogramLogger, read_histograms
    from groundup.quant.model import swap_quant_layers
    from groundup.quant.modules import QuantConfig, QuantConv2d, QuantLinear
    from groundup.train.tasks import load_mnist

    torch.manual_seed(0)
    data = load_mnist()
    model = swap_quant_layers(LeNet5(), QuantConfig(mode="fake", observer="moving_average"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with HistogramLogger(out, layer_types=(QuantLinear, QuantConv2d)) as logger:
        for step in range(args.steps):
            batch = torch.randint(0, len(data.x_train), (64,))
            with logger.activations(model):
                loss = torch.nn.functional.cross_entropy(model(data.x_train[batch]), data.y_train[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            logger.log(model, step)
    tags = read_histograms(out)
    print(f"wrote {len(tags)} histogram series to {out}; view them with `tensorboard --logdir {out}`")
    return 0
