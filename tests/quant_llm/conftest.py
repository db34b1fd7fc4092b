"""A tiny random Llama (groundup's own model class) and calibration windows for the quantizer tests."""

import pytest
import torch

from groundup.models.llama import Llama, LlamaConfig


def make_tiny_llama(n_kv_heads: int = 2, seed: int = 0) -> Llama:
    """2 blocks, dim 64, vocab 96; random norm weights so scale folding is not trivially exact."""
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=96, dim=64, n_layers=2, n_heads=4, n_kv_heads=n_kv_heads, hidden_dim=128, max_context=64
    )
    model = Llama(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(torch.rand_like(p) + 0.5)
            elif p.dim() == 2:
                p.normal_(0, 0.08)
        # a few outlier input channels, like real LLM activations
        model.embed.weight[:, :3] *= 8
    return model.eval()


@pytest.fixture
def tiny_llama():
    return make_tiny_llama()


@pytest.fixture
def windows():
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 96, (8, 32), generator=g)
