"""A tiny random Llama (groundup.models.llama, the engine's real model class) and the reference the
engine is compared with: the same model run on the whole sequence with no cache at all."""

from __future__ import annotations

import contextlib
import functools
import threading
import time

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


class SlowTokenizer(CharTokenizer):
    """CharTokenizer whose `encode` burns CPU in pure Python (holding the GIL, as a slow tokenizer
    does) for `seconds_per_kb` per 1000 characters past the first 1000, like a tokenizer that is
    quadratic on a long run of spaces. `busy` is set while it works; `calls` counts its texts."""

    def __init__(self, seconds_per_kb: float = 0.06):
        self.seconds_per_kb = seconds_per_kb
        self.busy = threading.Event()
        self.calls = 0
        self.last_end = 0.0

    def encode(self, text):
        self.calls += 1
        self.busy.set()
        try:
            deadline = time.monotonic() + self.seconds_per_kb * max(0, len(text) - 1000) / 1000
            while time.monotonic() < deadline:
                sum(range(200))
            return super().encode(text)
        finally:
            self.last_end = time.monotonic()
            self.busy.clear()


@contextlib.contextmanager
def serving(model, tokenizer, engine_config=None, **server_kwargs):
    """(url, engine) of an OpenAIServer over `model` on a free loopback port, for one `with` block."""
    from groundup.serve.async_engine import AsyncEngine
    from groundup.serve.engine import Engine, EngineConfig
    from groundup.serve.server import BackgroundServer, OpenAIServer

    engine_config = engine_config or EngineConfig(
        num_blocks=128, block_size=8, max_running=16, max_tokens_per_step=256
    )
    engine = Engine(model, engine_config, eos_token_ids=[tokenizer.eos_token_id])
    async_engine = AsyncEngine(engine).start()
    server = OpenAIServer(async_engine, tokenizer, "tiny", **server_kwargs)
    try:
        with BackgroundServer(server.app) as url:
            yield url, engine
    finally:
        async_engine.shutdown()


@pytest.fixture(scope="session")
def serve_tiny(tiny_model):
    """`with serve_tiny(tokenizer, engine_config=None, **server_kwargs) as (url, engine):` the tiny
    model served by an OpenAIServer (server_kwargs: api_key, config)."""
    return functools.partial(serving, tiny_model)


@pytest.fixture(scope="session")
def slow_tokenizer():
    return SlowTokenizer(seconds_per_kb=0.06)  # 48 KB of spaces: ~3 s of pure-Python CPU work
