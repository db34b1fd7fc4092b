"""Capstone 1.1, "building a basic quantizer": LeNet-5 on real MNIST in FP32, then INT8.

1. train LeNet-5 on 4,000 MNIST digits (FP32 baseline), test on 1,000
2. calibrate on 200 training images
3. INT8 fully per-tensor (weights and activations) and INT8 per-channel weights + per-tensor
   activations, both executed with integer GEMMs (int32 accumulation), for several observers
4. table of accuracy, model size and size reduction; histograms with the chosen clipping ranges
"""

from __future__ import annotations

from pathlib import Path

import torch
from tqdm import tqdm

from groundup.models.cnn import LeNet5
from groundup.quant.affine import QScheme, calc_qparams, minmax
from groundup.quant.model import calibrate, model_nbytes, swap_quant_layers
from groundup.quant.modules import QuantConfig
from groundup.quant.observers import make_observer
from groundup.reports import figure, markdown_table, write_report
from groundup.train.tasks import accuracy, cached_classifier, load_mnist

CALIBRATION_IMAGES = 200
OBSERVER_NAMES = ("minmax", "percentile", "mse", "entropy")


def configs(observer: str) -> dict[str, QuantConfig]:
    act = QScheme(bits=8, symmetric=False)
    return {
        "INT8 per-tensor W + per-tensor A": QuantConfig(QScheme(bits=8), act, mode="int", observer=observer),
        "INT8 per-channel W + per-tensor A": QuantConfig(
            QScheme(bits=8, granularity="channel"), act, mode="int", observer=observer
        ),
    }


def main(out: Path, epochs: int = 6, seed: int = 0, observers: tuple[str, ...] = OBSERVER_NAMES) -> Path:
    torch.manual_seed(seed)
    data = load_mnist()
    baseline = cached_classifier("lenet5_fp32", LeNet5, data, epochs, seed)
    calib = data.x_train[:CALIBRATION_IMAGES]
    fp32_acc, fp32_bytes = accuracy(baseline, data.x_test, data.y_test), model_nbytes(baseline)
    rows = [["FP32", "-", fp32_acc, fp32_bytes, 1.0]]
    for observer in tqdm(observers, desc="observers", leave=False, disable=None):
        for name, config in configs(observer).items():
            model = calibrate(swap_quant_layers(baseline, config), calib.split(50))
            size = model_nbytes(model)
            rows.append([name, observer, accuracy(model, data.x_test, data.y_test), size, fp32_bytes / size])
    histograms = plot_histograms(baseline, calib, out / "histograms.png")
    table = markdown_table(["model", "activation observer", "test accuracy", "bytes", "size reduction"], rows)
    sections = [
        "LeNet-5 trained on 4,000 real MNIST digits, tested on 1,000; quantized models calibrated on "
        f"{CALIBRATION_IMAGES} training images and run with int8 GEMMs (int32 accumulation, float rescale). "
        "Sizes count weights at their bit width plus float32 scales and biases.",
        table,
        f"![weight and activation histograms]({histograms.name})\n\nWeights of conv1 and fc1 with the per-tensor "
        "min/max range (dashed) and the per-channel ranges (light); inputs of conv2 and fc1 with the ranges "
        "chosen by each observer.",
    ]
    return write_report(
        out / "report.md", "Capstone 1.1: a basic INT8 quantizer for LeNet-5 on MNIST", sections
    )


@torch.no_grad()
def plot_histograms(model: LeNet5, calib: torch.Tensor, path: Path) -> Path:
    acts: dict[str, torch.Tensor] = {}
    hooks = [
        model.conv2.register_forward_pre_hook(lambda m, a: acts.__setitem__("conv2 input", a[0])),
        model.fc1.register_forward_pre_hook(lambda m, a: acts.__setitem__("fc1 input", a[0])),
    ]
    model(calib)
    for h in hooks:
        h.remove()
    with figure(path, nrows=2, ncols=2, figsize=(11, 7), dpi=90) as (_, axes):
        for ax, name in zip(axes[0], ("conv1", "fc1")):
            w = getattr(model, name).weight
            ax.hist(w.flatten().numpy(), bins=120, color="tab:blue")
            lo, hi = minmax(w, QScheme(granularity="channel"))
            for v in torch.cat([lo.flatten(), hi.flatten()]).tolist():
                ax.axvline(v, color="tab:orange", alpha=0.15)
            amax = float(w.abs().max())
            for v in (-amax, amax):
                ax.axvline(v, color="black", linestyle="--")
            ax.set_title(f"{name} weight: per-tensor ±{amax:.3f} (dashed), per-channel (light)")
        colours = {"minmax": "black", "percentile": "tab:green", "mse": "tab:red", "entropy": "tab:purple"}
        for ax, (name, x) in zip(axes[1], acts.items()):
            ax.hist(x.flatten().numpy(), bins=120, color="tab:blue", log=True)
            for obs_name, colour in colours.items():
                scheme = QScheme(bits=8, symmetric=False)
                obs = make_observer(obs_name, scheme)
                obs(x)
                scale, zero = calc_qparams(*obs.range(), scheme)
                top = float((scheme.qmax - zero) * scale)
                ax.axvline(top, color=colour, linestyle="--", label=f"{obs_name}: {top:.2f}")
            ax.set_title(f"{name} (log counts) and the observers' clipping ranges")
            ax.legend()
    return path
