"""The int4/int8 group matmuls (`groundup.kernels`): our compiled kernel and PyTorch's int4 kernel
against the dequantize-then-float32-matmul reference, and the fallback when nothing can be compiled.

Tolerances: our kernel rebuilds each weight exactly and only sums in another order than the float32
GEMM, so it agrees to float32 rounding (atol 1e-5 · |x|·|w| scale, here 2e-5 on outputs of ~10);
PyTorch's int4 kernel rounds activations, scales and zeros to bfloat16 (8 significant bits), so it is
held to 2% of the output's range."""

from __future__ import annotations

import pytest
import torch

from groundup.kernels import int4, int8, native

pytestmark = pytest.mark.module("1.5")

SHAPES = [(1, 48, 96), (3, 40, 64), (5, 16, 256), (9, 32, 32)]  # (M rows of x, N, K)


def group_int4(n: int, k: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 256, (n, k // 2), dtype=torch.uint8, generator=g)
    scale = (torch.rand(n, k // 32, generator=g) * 0.1 + 0.01).half()
    mins = (-torch.rand(n, k // 32, generator=g) * 0.8).half()
    return codes, scale, mins


def needs_native():
    if not native.available():
        pytest.skip("the compiled kernel did not build here (no C compiler): the fallback tests cover it")


def test_pack_and_unpack_are_inverse_in_ggml_nibble_order():
    q = torch.randint(0, 16, (4, 64), dtype=torch.uint8)
    codes = int4.pack(q)
    assert codes.shape == (4, 32) and torch.equal(int4.unpack(codes), q)
    assert int(codes[0, 0]) == int(q[0, 0]) | int(q[0, 16]) << 4  # byte j: weights j and j + 16


@pytest.mark.parametrize(("m", "n", "k"), SHAPES)
def test_our_int4_kernel_equals_the_float_reference(m, n, k):
    needs_native()
    codes, scale, mins = group_int4(n, k)
    x = torch.randn(m, k)
    ref = int4.matmul_reference(x, codes, scale, mins)
    torch.testing.assert_close(int4.matmul_native(x, codes, scale, mins), ref, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize(("m", "n", "k"), SHAPES)
@pytest.mark.parametrize("with_min", [False, True])
def test_our_int8_kernel_equals_the_float_reference(m, n, k, with_min):
    needs_native()
    codes = torch.randint(-128, 128, (n, k), dtype=torch.int8)
    _, scale, mins = group_int4(n, k)
    mins = mins if with_min else None
    x = torch.randn(m, k)
    ref = int8.matmul_reference(x, codes, scale, mins)
    torch.testing.assert_close(int8.matmul_native(x, codes, scale, mins), ref, rtol=1e-5, atol=1e-4)


def test_our_dequantization_is_bit_exact():
    needs_native()
    codes, scale, mins = group_int4(32, 128)
    assert torch.equal(native.q4_dequantize(codes, scale, mins), int4.dequantize(codes, scale, mins))
    c8 = torch.randint(-128, 128, (32, 128), dtype=torch.int8)
    assert torch.equal(native.q8_dequantize(c8, scale), int8.dequantize(c8, scale))
    assert torch.equal(native.q8_dequantize(c8, scale, mins), int8.dequantize(c8, scale, mins))


def test_our_kernel_splits_rows_across_threads_with_the_same_result():
    needs_native()
    codes, scale, mins = group_int4(64, 256)
    x = torch.randn(2, 256)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = int4.matmul_native(x, codes, scale, mins)
        torch.set_num_threads(2)
        two = int4.matmul_native(x, codes, scale, mins)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)  # each output is summed by one thread in one order


def test_our_kernel_rejects_wrong_dtypes_and_shapes():
    needs_native()
    codes, scale, mins = group_int4(16, 64)
    with pytest.raises(ValueError, match="x: expected contiguous float32"):
        native.q4_matmul(torch.randn(1, 64).double(), codes, scale, mins)
    with pytest.raises(ValueError, match="codes"):
        native.q4_matmul(torch.randn(1, 64), codes[:, :-1].contiguous(), scale, mins)
    with pytest.raises(ValueError, match="scale"):
        native.q4_matmul(torch.randn(1, 64), codes, scale.float(), mins)


@pytest.mark.parametrize(("m", "n", "k"), [(1, 48, 96), (4, 16, 256)])
def test_pytorch_int4_kernel_equals_the_reference_within_bfloat16(m, n, k):
    codes, scale, mins = group_int4(n, k)
    x = torch.randn(m, k)
    ref = int4.matmul_reference(x, codes, scale, mins)
    packed, scales_and_zeros = int4.torch_pack(codes, scale, mins)
    got = int4.matmul_torch(x, packed, scales_and_zeros)
    assert got.dtype == torch.float32 and got.shape == (m, n)
    assert (got - ref).abs().max() <= 0.02 * ref.abs().max()


def test_pytorch_int8_kernel_on_a_per_row_requantization():
    w = torch.randn(32, 64)
    codes, scales = int8.channelwise(w)
    x = torch.randn(2, 64)
    ref = x @ (codes.float() * scales[:, None]).T
    got = int8.matmul_torch(x, codes, scales)
    assert (got - ref).abs().max() <= 0.02 * ref.abs().max()


def test_no_compiler_warns_once_and_the_layer_falls_back(monkeypatch):
    """A machine without a C compiler: one warning naming the missing compiler and the fallback; the
    quantized layer then runs PyTorch's int4 kernel (or the reference) and still matches."""
    from groundup.models.quantized import GroupWeight, QuantizedLinear

    monkeypatch.setattr(native, "find_compiler", lambda: None)
    native.load.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="no C compiler found.*falling back to PyTorch"):
            assert not native.available()
        assert native.describe() == "unavailable"
        with pytest.raises(RuntimeError, match="unavailable"):
            native.q4_matmul(torch.randn(1, 64), *group_int4(16, 64))
        weight = GroupWeight(4, *group_int4(48, 64))
        layer = QuantizedLinear(weight)
        assert layer.kernel == "torch"
        odd = QuantizedLinear(GroupWeight(4, *group_int4(40, 64)))  # N % 16 != 0: PyTorch cannot pack it
        assert odd.kernel == "reference"
        x = torch.randn(1, 64)
        ref = int4.matmul_reference(x, weight.codes, weight.scale, weight.min)
        assert (layer(x) - ref).abs().max() <= 0.02 * ref.abs().max()
        torch.testing.assert_close(odd(x), int4.matmul_reference(x, odd.codes, odd.scale, odd.min))
    finally:
        native.load.cache_clear()


def test_switched_off_by_environment(monkeypatch):
    monkeypatch.setenv("GROUNDUP_NATIVE_KERNELS", "0")
    native.load.cache_clear()
    try:
        assert native.load() is None
    finally:
        monkeypatch.undo()
        native.load.cache_clear()


def test_a_failing_build_warns_with_the_compiler_error(monkeypatch, tmp_path):
    """A compiler that exists but fails (here: a script that always exits 1) is a warning, not a crash."""
    fake = tmp_path / "cc"
    fake.write_text("#!/bin/sh\necho 'fatal: no such thing' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(native, "find_compiler", lambda: str(fake))
    monkeypatch.setenv("GROUNDUP_KERNEL_CACHE", str(tmp_path / "cache"))
    native.load.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="fatal: no such thing"):
            assert native.load() is None
    finally:
        native.load.cache_clear()


@pytest.mark.parametrize("bits", [4, 8])
def test_quantized_linear_decode_step_equals_the_general_path(bits):
    """QuantizedLinear calls the compiled function directly for contiguous float32 rows (the decode
    case); other inputs (bfloat16, strided, more rows) take the general path and agree with it."""
    needs_native()
    from groundup.models.quantized import GroupWeight, QuantizedLinear

    codes, scale, mins = group_int4(48, 96)
    weight = GroupWeight(4, codes, scale, mins)
    layer = QuantizedLinear(weight if bits == 4 else weight.to_int8())
    x = torch.randn(2, 3, 96)
    fast = layer(x)
    assert layer._decode_step(x) is not None and layer._decode_step(x[..., ::2]) is None
    torch.testing.assert_close(fast, layer._matmul(x), rtol=0, atol=0)
    torch.testing.assert_close(fast, int4.matmul_reference(x, codes, scale, mins), rtol=1e-5, atol=2e-5)
    strided = torch.randn(96, 2).T  # (2, 96), not contiguous
    torch.testing.assert_close(layer(strided), layer(strided.contiguous()), rtol=0, atol=0)
    # bfloat16 x: rounding x (2^-9 relative per element) moves an output by at most 2^-9 sum|w||x|,
    # and rounding each side's output to bfloat16 adds 2^-9 |y| apiece (a bound, not a loose tolerance:
    # outputs near zero from cancelling terms are where a plain rtol fails)
    terms = x.abs() @ layer.dequantize().abs().T  # (2, 3, 48): sum_k |w_nk| |x_k|
    bound = 2.0**-9 * terms + 2 * 2.0**-9 * fast.abs() + 1e-6
    assert ((layer(x.bfloat16()).float() - fast.bfloat16().float()).abs() <= bound).all()
    assert layer(torch.randn(0, 96)).shape == (0, 48)


def test_a_weight_the_kernel_cannot_read_is_refused():
    needs_native()
    codes, scale, mins = group_int4(16, 64)
    with pytest.raises(ValueError, match="codes: expected torch.uint8"):
        native.check_weight(4, codes.to(torch.int8), scale, mins)
    with pytest.raises(ValueError, match="scale"):
        native.check_weight(4, codes, scale.float(), mins)
