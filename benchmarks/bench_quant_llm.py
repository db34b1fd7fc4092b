"""LLM quantization of SmolLM2-135M: groundup's RTN/GPTQ/AWQ/NF4/SmoothQuant vs HQQ and optimum-quanto.

Every row is measured on the same WikiText-2 test windows (see groundup.quant.llm.report); peers
quantize the same block Linears of the same float32 model. Rows are saved after each one, and the
markdown report with the perplexity-vs-bits plot goes to benchmarks/results/quant_llm_report/.
`quick` keeps only the float32, RTN W4, GPTQ W4 and peer W4 rows on fewer tokens.
"""

from __future__ import annotations

import os

from benchmarks.harness import Report
from groundup.generate.loading import load_model
from groundup.quant.llm.report import (
    ReportConfig,
    config_env,
    load_setup,
    measure_row,
    our_rows,
    write_report,
)


def hqq_rows(setup, bits_list=(4, 8)):
    """HQQ (half-quadratic quantization, calibration-free) on every block Linear."""
    try:
        import torch
        from hqq.core.quantize import BaseQuantizeConfig, HQQLinear
    except Exception as exc:  # a peer that does not install is reported, not fatal
        print(f"HQQ unavailable: {exc}")
        return []

    def make(bits):
        def quantize(model):
            for path in setup.linear_paths:
                parent, _, name = path.rpartition(".")
                linear = model.get_submodule(path)
                cfg = BaseQuantizeConfig(nbits=bits, group_size=128, axis=1)
                layer = HQQLinear(linear, cfg, compute_dtype=torch.float32, device="cpu")
                setattr(model.get_submodule(parent), name, layer)
            return model

        return quantize

    return [
        (f"HQQ W{b} g128", {"method": "hqq", "bits": b, "group_size": 128, "library": "hqq"}, make(b))
        for b in bits_list
    ]


def quanto_rows(setup, bits_list=(4, 8)):
    """optimum-quanto weight-only qint4/qint8 (int4 group size 128) on the decoder blocks."""
    try:
        from optimum.quanto import freeze, qint4, qint8, quantize
    except Exception as exc:
        print(f"optimum-quanto unavailable: {exc}")
        return []

    def make(bits):
        def run(model):
            quantize(model.blocks, weights=qint4 if bits == 4 else qint8)
            freeze(model.blocks)
            return model

        return run

    return [
        (
            f"quanto W{b}",
            {
                "method": "quanto",
                "bits": b,
                "group_size": 128 if b == 4 else None,
                "library": "optimum-quanto",
            },
            make(b),
        )
        for b in bits_list
    ]


def run(report: Report, quick: bool) -> None:
    config = (
        ReportConfig(eval_windows=2, eval_len=256, calib_samples=8, calib_len=128)
        if quick
        else ReportConfig()
    )
    config.threads = int(os.environ.get("QUANT_LLM_THREADS", config.threads))
    config.calib_samples = int(os.environ.get("QUANT_LLM_CALIB_SAMPLES", config.calib_samples))
    only = os.environ.get("QUANT_LLM_ROWS")  # comma-separated row names, to re-run a few rows
    setup = load_setup(*load_model(), config)
    env = config_env(config)
    report.env.update(env)  # so the saved JSON can be rendered again (groundup quant report --from-rows)
    ours = {name: (name, info, fn) for name, info, fn in our_rows(setup, progress=print)}
    peers = {name: (name, info, fn) for name, info, fn in hqq_rows(setup) + quanto_rows(setup)}
    first = ["float32", "RTN W4 g128", "GPTQ W4 g128", "AWQ W4 g128", "HQQ W4 g128", "quanto W4"]
    first += ["SmoothQuant W8A8 a=0.5", "NF4+DQ"]  # the goal rows first: a slow machine may stop us
    rows = [ours.get(n) or peers[n] for n in first if n in ours or n in peers]
    rows += [r for r in [*ours.values(), *peers.values()] if r[0] not in first]
    if quick:
        rows = [
            r for r in rows if r[0] in ("float32", "RTN W4 g128", "GPTQ W4 g128", "HQQ W4 g128", "quanto W4")
        ]
    if only:
        rows = [r for r in rows if r[0] in only.split(",")]
    for name, info, fn in rows:
        row = measure_row(setup, name, fn, **{"library": "groundup", **info})
        report.add(**row)
        report.save()
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    env["load_end"] = round(os.getloadavg()[0], 2)
    env["threads"] = config.threads
    write_report(
        report.rows, env, report.directory / ("quant_llm_report_quick" if quick else "quant_llm_report")
    )
