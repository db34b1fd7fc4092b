"""Shared test setup: the curriculum plugin (module markers + results file) and common fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Two xdist workers share two cores: one BLAS/torch thread each avoids oversubscription, which made
# small torch steps ~30x slower under load. Set before any test module imports numpy or torch.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

pytest_plugins = ["groundup.curriculum.pytest_plugin", "pytester"]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The corpora folder ($GROUNDUP_DATA); tests that need real text skip with a reason without it."""
    value = os.environ.get("GROUNDUP_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("set GROUNDUP_DATA to the corpora folder (make test does) to run this check")
    return Path(value)


# The real SmolLM2-135M-Instruct, ours and transformers', each loaded at most once per test process
# (session scope) and shared by tests/models, tests/generate and tests/eval.


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Every torch check runs on one intra-op thread (restored afterwards): with `-n 2` on two shared
    cores, two-thread kernels spin against each other and run many times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smollm2():
    """Our Llama from the bundled GGUF, in eval mode."""
    from groundup.data import smollm2_gguf_path
    from groundup.models.llama import Llama

    return Llama.from_gguf(smollm2_gguf_path())


@pytest.fixture(scope="session")
def hf_smollm2():
    """transformers' LlamaForCausalLM loaded from the same GGUF file (`gguf_file=`), float32."""
    transformers = pytest.importorskip("transformers")
    import torch

    from groundup.data import smollm2_gguf_path

    path = smollm2_gguf_path()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    return model.eval()


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """Our tokenizer read from the GGUF metadata."""
    from groundup.data import smollm2_gguf_path
    from groundup.tokenizers.gguf import from_gguf

    return from_gguf(smollm2_gguf_path())
