"""Shared fixtures for model tests: the real SmolLM2-135M-Instruct, ours and transformers', loaded
once per test session from the bundled GGUF (both dequantized to float32)."""

from __future__ import annotations

import pytest
import torch

from groundup.data import smollm2_gguf_path


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
    from groundup.models.llama import Llama

    return Llama.from_gguf(smollm2_gguf_path())


@pytest.fixture(scope="session")
def hf_smollm2():
    """transformers' LlamaForCausalLM loaded from the same GGUF file (`gguf_file=`), float32."""
    transformers = pytest.importorskip("transformers")
    path = smollm2_gguf_path()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    return model.eval()


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    from groundup.tokenizers.gguf import from_gguf

    return from_gguf(smollm2_gguf_path())
