"""Capstone: quantization-aware training vs post-training quantization at low weight bit widths.

Same LeNet-5 baseline as the basic quantizer. PTQ quantizes the trained FP32 weights directly and
calibrates activations on 200 images. QAT starts from the same FP32 weights, inserts fake quantization
(weights at the target width, activations INT8, STE gradients, moving-average activation ranges) and
fine-tunes for a short while before converting to integer execution. Both run on the int8 GEMM path
(sub-8-bit weight codes are int8 values in the narrower range).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from tqdm import tqdm

from groundup.models.cnn import LeNet5
from groundup.quant.affine import QScheme
from groundup.quant.model import calibrate, convert, model_nbytes, swap_quant_layers
from groundup.quant.modules import QuantConfig
from groundup.reports import markdown_table, plot_bars, write_report
from groundup.train.tasks import accuracy, cached_classifier, load_mnist, train_classifier

SETTINGS = (
    ("W4 per-channel", QScheme(bits=4, granularity="channel")),
    ("W4 per-tensor", QScheme(bits=4)),
    ("W3 per-channel", QScheme(bits=3, granularity="channel")),
    ("W2 per-channel", QScheme(bits=2, granularity="channel")),
)


def main(out: Path, epochs: int = 6, qat_epochs: int = 1, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    data = load_mnist()
    baseline = cached_classifier("lenet5_fp32", LeNet5, data, epochs, seed)
    calib = data.x_train[:200].split(50)
    # Control: QAT is extra training, so the FP32 model gets the same extra epochs at the same lr.
    fp32_more = train_classifier(
        copy.deepcopy(baseline), data.x_train, data.y_train, epochs=qat_epochs, lr=2e-4, seed=seed + 1
    )
    rows = [
        ["FP32", accuracy(baseline, data.x_test, data.y_test), "-", "-", model_nbytes(baseline)],
        [
            f"FP32 + {qat_epochs} epoch(s) at lr 2e-4 (control)",
            "-",
            "-",
            accuracy(fp32_more, data.x_test, data.y_test),
            model_nbytes(baseline),
        ],
    ]
    act = QScheme(bits=8, symmetric=False, signed=True)
    for name, weight in tqdm(SETTINGS, desc="PTQ and QAT per setting", leave=False, disable=None):
        ptq = calibrate(swap_quant_layers(baseline, QuantConfig(weight, act, mode="int")), calib)
        qat = swap_quant_layers(baseline, QuantConfig(weight, act, mode="fake", observer="moving_average"))
        train_classifier(qat, data.x_train, data.y_train, epochs=qat_epochs, lr=2e-4, seed=seed + 1)
        qat_int = convert(qat)
        rows.append(
            [
                name + " / A8",
                accuracy(ptq, data.x_test, data.y_test),
                accuracy(qat_int, data.x_test, data.y_test),
                accuracy(qat, data.x_test, data.y_test),
                model_nbytes(ptq),
            ]
        )
    headers = [
        "model",
        "FP32 or PTQ accuracy (int)",
        "QAT accuracy (int)",
        "QAT (fake-quant) or FP32 control accuracy",
        "bytes",
    ]
    out.mkdir(parents=True, exist_ok=True)
    figure = plot_bars(
        out / "qat-vs-ptq.png",
        [r[0].replace(" / A8", "") for r in rows[2:]],
        {"PTQ": [r[1] for r in rows[2:]], "QAT": [r[2] for r in rows[2:]]},
        "test accuracy",
        f"LeNet-5, INT8 activations; FP32 control {rows[1][3]:.3f}",
    )
    sections = [
        f"LeNet-5 on MNIST (4,000 train / 1,000 test). QAT: {qat_epochs} epoch(s) of fine-tuning from the FP32 "
        "weights with fake quantization (straight-through estimator), Adam lr 2e-4, then conversion to integer "
        "execution. PTQ: the same FP32 weights quantized directly, activations calibrated on 200 images.",
        markdown_table(headers, rows),
        f"![QAT vs PTQ]({figure.name})",
    ]
    return write_report(out / "qat-vs-ptq.md", "QAT vs PTQ at low-bit weights (LeNet-5, MNIST)", sections)
