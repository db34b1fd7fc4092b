"""The lab's fixtures: a tiny random Llama over a character vocabulary (the endpoints' logic, in
milliseconds) and a TestClient of the app over it; the browser tests use the real SmolLM2."""

from __future__ import annotations

import string

import pytest
import torch

from groundup.models.llama import Llama, LlamaConfig
from groundup.tokenizers.char import CharTokenizer


@pytest.fixture(scope="session")
def char_tokenizer() -> CharTokenizer:
    return CharTokenizer(list(string.printable))


@pytest.fixture(scope="session")
def tiny_llama(char_tokenizer):
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=char_tokenizer.vocab_size,
        dim=32,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        hidden_dim=64,
        max_context=256,
    )
    return Llama(cfg).eval()


@pytest.fixture(scope="session")
def lab_client(tiny_llama, char_tokenizer):
    from fastapi.testclient import TestClient

    from groundup.lab.app import create_app
    from groundup.lab.state import LabState

    state = LabState(model=tiny_llama, tokenizer=char_tokenizer)
    state.tokenizers = {"chars": char_tokenizer}
    state.tokenizer_names = ("chars",)
    with TestClient(create_app(state)) as client:
        yield client
