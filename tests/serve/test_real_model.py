"""The engine on the real SmolLM2-135M: batched, prefix-cached, preempted and speculative greedy
outputs equal transformers' greedy generation of each request alone; `groundup serve` end to end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import torch

from groundup.data import smollm2_gguf_path
from groundup.generate import SamplingParams
from groundup.generate.chat import render_chat
from groundup.serve.engine import Engine, EngineConfig

pytestmark = [pytest.mark.slow, pytest.mark.module("2.2")]
SYSTEM = "You are a concise assistant. Answer in one sentence, without lists or code."
QUESTIONS = ["What is the capital of France?", "Why is the sky blue?", "Name a prime number.", "What is 2+2?"]


@pytest.fixture(scope="module")
def real():
    from groundup.models.llama import Llama
    from groundup.tokenizers import from_gguf

    path = smollm2_gguf_path()
    tok = from_gguf(path)
    prompts = [
        tok.encode(
            render_chat(
                tok.chat_template, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}]
            )
        )
        for q in QUESTIONS
    ]
    return Llama.from_gguf(path), tok, prompts


@pytest.fixture(scope="module")
def hf_greedy(real):
    transformers = pytest.importorskip("transformers")
    _, tok, prompts = real
    path = smollm2_gguf_path()
    hf = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    outs = []
    with torch.inference_mode():
        for p in prompts:
            ids = torch.tensor([p])
            out = hf.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=24,
                do_sample=False,
                eos_token_id=tok.eos_token_id,
                pad_token_id=tok.eos_token_id,
            )
            outs.append(out[0, len(p) :].tolist())
    return outs


@pytest.mark.module("2.1")
@pytest.mark.parametrize(
    "config",
    [
        EngineConfig(num_blocks=256, block_size=16, max_running=2),  # later requests hit the prefix
        EngineConfig(num_blocks=14, block_size=8, max_running=4, max_tokens_per_step=48),  # preempts, chunks
        EngineConfig(num_blocks=256, block_size=16, speculative="ngram"),
        EngineConfig(num_blocks=256, block_size=16, speculative="draft", draft_layers=10),
    ],
    ids=["batched-prefix-cache", "tiny-pool-preemption", "ngram", "self-draft"],
)
def test_engine_greedy_equals_transformers_one_at_a_time(real, hf_greedy, config):
    model, tok, prompts = real
    engine = Engine(model, config, eos_token_ids=[tok.eos_token_id])
    seqs = engine.generate(prompts, SamplingParams(temperature=0, max_tokens=24))
    assert [s.output_ids for s in seqs] == hf_greedy
    assert engine.block_manager.num_free == config.num_blocks
    if config.num_blocks == 256 and config.speculative is None:
        assert engine.block_manager.stats().prefix_hits > 0  # the shared system prompt
    if config.num_blocks == 14:
        assert engine.metrics.preemptions > 0


def test_groundup_serve_cli_with_openai_client(real, hf_greedy):
    openai = pytest.importorskip("openai")
    _, tok, _ = real
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "groundup",
        "serve",
        "--port",
        str(port),
        "--kv-blocks",
        "256",
        "--threads",
        "1",
        "--api-key",
        "k",
        "--model-name",
        "smollm2",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0, timeout=120
        )
        deadline = time.monotonic() + 240
        while True:
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.5)
        r = client.chat.completions.create(
            model="smollm2",
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTIONS[0]}],
            max_tokens=24,
            temperature=0,
        )
        assert r.choices[0].message.content == tok.decode([t for t in hf_greedy[0] if t != tok.eos_token_id])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
