"""Loaders for the real SmolLM2-135M-Instruct, ours and transformers', each built at most once per
test process: tests/models, tests/generate and tests/eval all use them through their conftest
fixtures (`load_shared()` registers this file under one module name so every conftest sees the same
cache, whatever pytest's import mode)."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path

import torch

from groundup.data import smollm2_gguf_path

MODULE_NAME = "groundup_tests_real_models"


def load_shared():
    """This module, imported once per process under MODULE_NAME."""
    if MODULE_NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(MODULE_NAME, Path(__file__))
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[MODULE_NAME]


@functools.cache
def ours():
    from groundup.models.llama import Llama

    return Llama.from_gguf(smollm2_gguf_path())


@functools.cache
def transformers_model():
    import transformers

    path = smollm2_gguf_path()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    return model.eval()


@functools.cache
def tokenizer():
    from groundup.tokenizers.gguf import from_gguf

    return from_gguf(smollm2_gguf_path())
