"""A tiny random Llama (groundup.models.llama, the engine's real model class) and the reference the
engine is compared with: the same model run on the whole sequence with no cache at all."""

from __future__ import annotations

import pytest
import torch

from groundup.models.llama import Llama, LlamaConfig


class TinyLlama(Llama):
    @torch.inference_mode()
    def full_logits(self, ids):
        """Reference: the whole sequence at once, plain causal attention, no cache. (L, vocab)."""
        return self(torch.tensor(ids))

    def greedy(self, prompt, max_tokens, eos=None):
        """Reference greedy decoding, one request alone, recomputing everything each token."""
        ids = list(prompt)
        for _ in range(max_tokens):
            ids.append(int(self.full_logits(ids)[-1].argmax()))
            if ids[-1] == eos:
                break
        return ids[len(prompt) :]


def tiny_llama(seed=0, n_layers=4):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=96, dim=32, n_layers=n_layers, n_heads=4, n_kv_heads=2, hidden_dim=64,
                      max_context=256, tie_embeddings=False)
    model = TinyLlama(cfg)
    with torch.no_grad():
        model.lm_head.weight.mul_(4.0)  # peaky logits: greedy argmaxes are well apart (no near-ties)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_model():
    return tiny_llama()
