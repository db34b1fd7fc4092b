"""Curriculum 1.5's CUDA capstone as Triton kernels: the INT8 vector add (bit-exact against NumPy,
saturation included), its requantizing variant, and the int4 GEMV (float32 rounding against the
dequantized reference). Without a GPU they run in Triton's interpreter on tiny shapes; with one, the
same checks run on it too."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groundup.kernels import int4

pytestmark = pytest.mark.module("1.5")

tk = pytest.importorskip("groundup.kernels.triton_kernels")
if not tk.available():
    pytest.skip("Triton is not installed (pip install triton)", allow_module_level=True)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(autouse=True)
def interpreter_ready():
    if not torch.cuda.is_available() and not tk.triton.knobs.runtime.interpret:
        pytest.skip("Triton was imported before TRITON_INTERPRET=1 in this process")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [1, 1000, 2500])
def test_int8_add_is_bit_exact_with_saturation(device, n):
    g = torch.Generator().manual_seed(n)
    a = torch.randint(-128, 128, (n,), dtype=torch.int8, generator=g)
    b = torch.randint(-128, 128, (n,), dtype=torch.int8, generator=g)
    a[:2], b[:2] = (
        torch.tensor([127, -128], dtype=torch.int8)[: min(2, n)],
        torch.tensor([100, -100], dtype=torch.int8)[: min(2, n)],
    )  # overflow both ways
    expected = np.clip(a.numpy().astype(np.int16) + b.numpy().astype(np.int16), -128, 127).astype(np.int8)
    got = tk.int8_add(a, b, device=device)
    assert got.dtype == torch.int8 and got.device.type == "cpu"
    np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_quantized_add_equals_the_numpy_requantization(device):
    g = torch.Generator().manual_seed(1)
    a = torch.randint(-128, 128, (3000,), dtype=torch.int8, generator=g)
    b = torch.randint(-128, 128, (3000,), dtype=torch.int8, generator=g)
    sa, sb, sc = 0.05, 0.02, 0.04
    real = a.numpy().astype(np.float32) * np.float32(sa) + b.numpy().astype(np.float32) * np.float32(sb)
    expected = np.clip(np.floor(real * np.float32(1 / sc) + np.float32(0.5)), -128, 127).astype(np.int8)
    np.testing.assert_array_equal(tk.quantized_add(a, sa, b, sb, sc, device=device).numpy(), expected)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("m", "n", "k"), [(1, 16, 64), (2, 20, 96)])
def test_int4_gemv_equals_the_dequantized_reference(device, m, n, k):
    g = torch.Generator().manual_seed(2)
    codes = torch.randint(0, 256, (n, k // 2), dtype=torch.uint8, generator=g)
    scale = (torch.rand(n, k // 32, generator=g) * 0.1).half()
    mins = (-torch.rand(n, k // 32, generator=g)).half()
    x = torch.randn(m, k, generator=g)
    ref = int4.matmul_reference(x, codes, scale, mins)
    torch.testing.assert_close(tk.int4_gemv(x, codes, scale, mins, device=device), ref, rtol=1e-5, atol=2e-5)


def test_bad_inputs_name_the_parameter():
    a = torch.zeros(4, dtype=torch.int8)
    with pytest.raises(ValueError, match="a, b: expected int8"):
        tk.int8_add(a, torch.zeros(4, dtype=torch.int16))
    with pytest.raises(ValueError, match="sc"):
        tk.quantized_add(a, 1.0, a, 1.0, 0.0)
    with pytest.raises(ValueError, match="x, codes"):
        tk.int4_gemv(
            torch.zeros(1, 32),
            torch.zeros(16, 8, dtype=torch.uint8),
            torch.zeros(16, 1).half(),
            torch.zeros(16, 1).half(),
        )
