"""A GPT trained here is served by the same engine and server as SmolLM2: a tiny character-level GPT
(a few training steps, written as a `groundup train gpt` run directory) answers the official `openai`
client with `groundup.generate`'s greedy text, and the paged engine under continuous batching gives
exactly `generate`'s greedy tokens for every request; `groundup serve --model RUN_DIR` works."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import openai
import pytest
import torch

from groundup.generate import SamplingParams, generate
from groundup.serve.async_engine import AsyncEngine
from groundup.serve.engine import Engine, EngineConfig
from groundup.serve.launch import load_engine
from groundup.serve.server import BackgroundServer, OpenAIServer
from groundup.train.config import TrainConfig
from groundup.train.trainer import train

pytestmark = pytest.mark.module("2.2")
TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat by a log.\n" * 40
PROMPTS = ["the cat", "a dog met on", "t", "the dog sat on the log. the"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpt-run")
    cfg = TrainConfig(
        n_layer=2,
        n_head=2,
        n_embd=32,
        block_size=64,
        batch_size=8,
        max_iters=30,
        lr=1e-2,
        warmup_iters=3,
        lr_decay_iters=30,
        eval_interval=30,
        eval_iters=1,
        progress=False,
        threads=1,
    )
    train(cfg, out, text=TEXT)
    return out


@pytest.fixture(scope="module")
def loaded(run_dir):
    engine, tokenizer, name = load_engine(run_dir, EngineConfig(num_blocks=64, block_size=4, max_running=4))
    return engine, tokenizer, name


def greedy(model, tokenizer, prompt: str, max_tokens: int):
    with torch.inference_mode():
        return generate(
            model, tokenizer.encode(prompt), SamplingParams(temperature=0, max_tokens=max_tokens), tokenizer
        )


def test_paged_continuous_batching_equals_generate_on_a_trained_gpt(loaded):
    """Mixed prompt lengths, 4-token blocks, a 9-token budget (chunked prefill), 3 running at most."""
    _, tokenizer, _ = loaded
    model = loaded[0].model
    config = EngineConfig(num_blocks=64, block_size=4, max_running=3, max_tokens_per_step=9)
    engine = Engine(model, config)
    prompts = [tokenizer.encode(p) for p in PROMPTS]
    seqs = engine.generate(prompts, SamplingParams(temperature=0, max_tokens=20))
    assert [s.output_ids for s in seqs] == [greedy(model, tokenizer, p, 20).token_ids for p in PROMPTS]
    assert engine.block_manager.num_free == config.num_blocks


@pytest.fixture(scope="module")
def client(loaded):
    engine, tokenizer, name = loaded
    async_engine = AsyncEngine(engine).start()
    server = OpenAIServer(async_engine, tokenizer, name)
    with BackgroundServer(server.app) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=60)
    async_engine.shutdown()


def test_openai_client_completion_equals_generate(client, loaded, run_dir):
    engine, tokenizer, name = loaded
    assert name == run_dir.name and [m.id for m in client.models.list().data] == [name]
    for prompt in PROMPTS[:2]:
        r = client.completions.create(model=name, prompt=prompt, max_tokens=24, temperature=0)
        assert r.choices[0].text == greedy(engine.model, tokenizer, prompt, 24).text
        assert r.usage.prompt_tokens == len(prompt) and r.choices[0].finish_reason == "length"


def test_chat_and_unknown_characters_are_clear_400s(client, loaded):
    name = loaded[2]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}], max_tokens=4)
    error = info.value.body
    assert error["param"] == "messages" and "no chat template" in error["message"]
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=name, prompt="Zebra?", max_tokens=4)  # not in the vocabulary
    assert info.value.body["param"] == "prompt" and "vocabulary" in info.value.body["message"]


def test_groundup_serve_cli_serves_the_run_directory(run_dir, loaded):
    """`groundup serve --model RUN_DIR` in a subprocess, queried with the openai client."""
    engine, tokenizer, name = loaded
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "groundup", "serve", "--model", str(run_dir), "--port", str(port)]
    cmd += ["--kv-blocks", "32", "--block-size", "4", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0, timeout=60
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        r = client.completions.create(model=name, prompt=PROMPTS[0], max_tokens=16, temperature=0)
        assert r.choices[0].text == greedy(engine.model, tokenizer, PROMPTS[0], 16).text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
