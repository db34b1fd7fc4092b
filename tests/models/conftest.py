"""Fixtures for tests on the real SmolLM2-135M-Instruct: ours (`smollm2`), transformers' from the
same GGUF (`hf_smollm2`, float32) and our tokenizer, each loaded once per test process (see
real_models.py; tests/generate and tests/eval have the same fixtures over the same cache)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

_spec = importlib.util.spec_from_file_location(
    "_real_models_loader", Path(__file__).with_name("real_models.py")
)
_loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_loader)
real_models = _loader.load_shared()


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's real-model checks on one torch thread (restored afterwards): with `-n 2` on two
    shared cores, two-thread kernels spin against each other and run many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smollm2():
    """Our Llama from the bundled GGUF, in eval mode."""
    return real_models.ours()


@pytest.fixture(scope="session")
def hf_smollm2():
    """transformers' LlamaForCausalLM loaded from the same GGUF file (`gguf_file=`), float32."""
    pytest.importorskip("transformers")
    return real_models.transformers_model()


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    return real_models.tokenizer()
