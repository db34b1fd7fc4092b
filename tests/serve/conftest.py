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
    cfg = LlamaConfig(
        vocab_size=96,
        dim=32,
        n_layers=n_layers,
        n_heads=4,
        n_kv_heads=2,
        hidden_dim=64,
        max_context=256,
        tie_embeddings=False,
    )
    model = TinyLlama(cfg)
    with torch.no_grad():
        model.lm_head.weight.mul_(4.0)  # peaky logits: greedy argmaxes are well apart (no near-ties)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_model():
    return tiny_llama()


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny matmuls run fastest on one thread; on a loaded machine extra OpenMP threads mostly spin
    (measured 50x slower here). Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class CharTokenizer:
    """Printable ASCII, one character per id (0..94), id 95 = end of sequence; a ChatML-like template."""

    eos_token_id = 95
    bos_token_id = None
    chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )

    def encode(self, text):
        return [ord(c) - 32 if 32 <= ord(c) < 127 else ord("?") - 32 for c in text]

    def decode_bytes(self, ids):
        return "".join(chr(i + 32) if i < 95 else "" for i in ids).encode()

    def decode(self, ids):
        return self.decode_bytes(ids).decode()

    def id_to_token(self, i):
        return "<eos>" if i == 95 else chr(i + 32)


@pytest.fixture(scope="session")
def char_tokenizer():
    return CharTokenizer()
