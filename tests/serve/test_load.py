"""Load and faults on loopback: 64 concurrent streaming clients (bounded count and time) mixed with
clients that hang up and malformed requests; zero errors, no leaked KV blocks, memory stable."""

from __future__ import annotations

import asyncio
import gc
import random

import httpx
import openai
import psutil
import pytest

from groundup.serve.async_engine import AsyncEngine
from groundup.serve.engine import Engine, EngineConfig
from groundup.serve.server import BackgroundServer, OpenAIServer

pytestmark = pytest.mark.module("2.2")
NUM_BLOCKS = 96  # small on purpose: 64 clients do not all fit, so preemption happens under load


@pytest.fixture(scope="module")
def served(tiny_model, char_tokenizer):
    config = EngineConfig(num_blocks=NUM_BLOCKS, block_size=8, max_running=32, max_tokens_per_step=256)
    engine = Engine(tiny_model, config, eos_token_ids=[char_tokenizer.eos_token_id])
    async_engine = AsyncEngine(engine).start()
    server = OpenAIServer(async_engine, char_tokenizer, "tiny")
    with BackgroundServer(server.app) as url:
        yield url, engine, async_engine
    async_engine.shutdown()


async def one_client(client, rng, i):
    stream = await client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": f"request {i}: " + "x" * rng.randint(0, 40)}],
        max_tokens=rng.randint(4, 40),
        temperature=rng.choice([0.0, 0.8]),
        seed=i,
        stream=True,
    )
    text, finish = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
    return finish


async def hang_up(url):
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        body = {"model": "tiny", "prompt": "bye", "max_tokens": 100, "stream": True}
        async with http.stream("POST", "/v1/completions", json=body) as r:
            async for _ in r.aiter_lines():
                break  # leave after the first chunk


async def bad_request(url):
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await http.post("/v1/chat/completions", json={"model": "tiny", "messages": "not a list"})
        return r.status_code, r.json()["error"]["message"]


async def burst(url, seed, clients=64):
    rng = random.Random(seed)
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=120)
    jobs = [one_client(client, rng, i) for i in range(clients)]
    jobs += [hang_up(url) for _ in range(4)] + [bad_request(url) for _ in range(4)]
    results = await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), timeout=240)
    await client.close()
    return results


async def wait_idle(engine, async_engine, timeout=10.0):
    for _ in range(int(timeout / 0.02)):
        if engine.block_manager.num_free == NUM_BLOCKS and async_engine.num_streams == 0:
            return True
        await asyncio.sleep(0.02)
    return False


def check_burst(url, engine, async_engine, seed):
    results = asyncio.run(burst(url, seed))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    assert all(r in ("stop", "length") for r in results[:64])
    assert all(r[0] == 400 and r[1] for r in results[-4:])
    assert asyncio.run(wait_idle(engine, async_engine)), "KV blocks leaked after the burst"
    assert httpx.get(url + "/health").status_code == 200


def test_64_concurrent_streams_with_faults(served):
    url, engine, async_engine = served
    check_burst(url, engine, async_engine, seed=0)
    assert engine.metrics.preemptions > 0  # the small pool was exercised


@pytest.mark.slow
def test_memory_stable_over_bursts(served):
    url, engine, async_engine = served
    rss = []
    for seed in range(1, 4):
        check_burst(url, engine, async_engine, seed)
        gc.collect()
        rss.append(psutil.Process().memory_info().rss)
    growth = (rss[-1] - rss[0]) / 2**20
    assert growth < 32, f"memory grew by {growth:.0f} MiB over two bursts of 64 clients"
