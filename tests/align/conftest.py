import pytest
import torch

from groundup.models.llama import Llama, LlamaConfig


def make_tiny_llama(vocab_size: int, seed: int = 0) -> Llama:
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=vocab_size, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=64, max_context=256
    )
    return Llama(cfg).eval()


@pytest.fixture(scope="session")
def smol_tokenizer():
    from groundup.data import smollm2_gguf_path
    from groundup.tokenizers.gguf import from_gguf

    return from_gguf(smollm2_gguf_path())


class ByteTokenizer:
    """Bytes below 128 as ids, no chat template: a tiny vocabulary keeps training tests fast."""

    vocab_size, eos_token_id, chat_template = 128, 3, None

    def encode(self, text, add_bos=False, add_eos=False):
        return [b % 128 for b in text.encode()] + ([self.eos_token_id] if add_eos else [])

    def decode(self, ids):
        return bytes(i for i in ids if i != self.eos_token_id).decode(errors="replace")


@pytest.fixture
def tiny_llama(smol_tokenizer):
    return make_tiny_llama(smol_tokenizer.vocab_size)


@pytest.fixture
def byte_tokenizer():
    return ByteTokenizer()


@pytest.fixture
def byte_llama():
    return make_tiny_llama(ByteTokenizer.vocab_size)
