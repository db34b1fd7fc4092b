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

Names load from their submodules on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "affine": [
            "QScheme",
            "QTensor",
            "calc_qparams",
            "dequantize",
            "dequantize_affine",
            "minmax",
            "qrange",
            "quantize",
            "quantize_affine",
            "quantize_dequantize",
            "quantize_with",
            "to_groups",
        ],
        "fake_quant": ["fake_quantize", "fake_quantize_affine"],
        "fp8": ["E4M3", "E5M2", "quantize_fp8", "round_to_fp8"],
        "kernels": ["int8_matmul", "quantized_conv2d", "quantized_linear", "weight_only_int8_linear"],
        "metrics": ["max_error", "mse", "sqnr_db"],
        "model": ["calibrate", "convert", "model_nbytes", "swap_quant_layers"],
        "modules": ["QuantConfig", "QuantConv2d", "QuantLinear"],
        "nf4": ["NF4Tensor", "dequantize_nf4", "double_quantize", "nf4_levels", "quantize_nf4"],
        "observers": ["OBSERVERS", "make_observer", "mse_optimal_range"],
        "packing": ["pack_int4", "unpack_int4"],
    },
)
