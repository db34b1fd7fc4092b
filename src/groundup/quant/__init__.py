"""Quantization fundamentals: pure functions (affine, FP8, NF4, packing, metrics), observers, and
swappable quantized layers with whole-model PTQ/QAT workflows.

Stable API for other areas (e.g. groundup.quant.llm builds GPTQ/AWQ/SmoothQuant on it):

    QScheme, qrange, calc_qparams, minmax, quantize, dequantize, quantize_with, quantize_affine,
    dequantize_affine, fake_quantize, fake_quantize_affine, to_groups        (affine.py, fake_quant.py)
    round_to_fp8, quantize_fp8, E4M3, E5M2                                   (fp8.py)
    nf4_levels, quantize_nf4, dequantize_nf4, double_quantize               (nf4.py)
    pack_int4, unpack_int4                                                   (packing.py)
    mse, sqnr_db, max_error                                                  (metrics.py)
    int8_matmul, quantized_linear, weight_only_int8_linear                   (kernels.py)
    QuantConfig, QuantLinear, QuantConv2d, swap_quant_layers, calibrate, convert, model_nbytes
"""

from groundup.quant.affine import (
    QScheme,
    QTensor,
    calc_qparams,
    dequantize,
    dequantize_affine,
    minmax,
    qrange,
    quantize,
    quantize_affine,
    quantize_dequantize,
    quantize_with,
    to_groups,
)
from groundup.quant.fake_quant import fake_quantize, fake_quantize_affine
from groundup.quant.fp8 import E4M3, E5M2, quantize_fp8, round_to_fp8
from groundup.quant.kernels import int8_matmul, quantized_conv2d, quantized_linear, weight_only_int8_linear
from groundup.quant.metrics import max_error, mse, sqnr_db
from groundup.quant.model import calibrate, convert, model_nbytes, swap_quant_layers
from groundup.quant.modules import QuantConfig, QuantConv2d, QuantLinear
from groundup.quant.nf4 import NF4Tensor, dequantize_nf4, double_quantize, nf4_levels, quantize_nf4
from groundup.quant.observers import OBSERVERS, make_observer, mse_optimal_range
from groundup.quant.packing import pack_int4, unpack_int4

__all__ = [
    "E4M3",
    "E5M2",
    "OBSERVERS",
    "NF4Tensor",
    "QScheme",
    "QTensor",
    "QuantConfig",
    "QuantConv2d",
    "QuantLinear",
    "calc_qparams",
    "calibrate",
    "convert",
    "dequantize",
    "dequantize_affine",
    "dequantize_nf4",
    "double_quantize",
    "fake_quantize",
    "fake_quantize_affine",
    "int8_matmul",
    "make_observer",
    "max_error",
    "minmax",
    "model_nbytes",
    "mse",
    "mse_optimal_range",
    "nf4_levels",
    "pack_int4",
    "qrange",
    "quantize",
    "quantize_affine",
    "quantize_dequantize",
    "quantize_fp8",
    "quantize_nf4",
    "quantize_with",
    "quantized_conv2d",
    "quantized_linear",
    "round_to_fp8",
    "sqnr_db",
    "swap_quant_layers",
    "to_groups",
    "unpack_int4",
    "weight_only_int8_linear",
]
