"""End to end through HTTP with the official `openai` client against a server started here (tiny
model, loopback, free port): texts equal the reference greedy decoding of the same model."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
import torch

from groundup.generate.chat import render_chat
from groundup.serve.async_engine import AsyncEngine
from groundup.serve.engine import Engine, EngineConfig
from groundup.serve.server import BackgroundServer, OpenAIServer

pytestmark = pytest.mark.module("2.2")
KEY = "test-key"
NUM_BLOCKS = 128


@pytest.fixture(scope="module")
def served(tiny_model, char_tokenizer):
    config = EngineConfig(num_blocks=NUM_BLOCKS, block_size=8, max_running=16, max_tokens_per_step=256)
    engine = Engine(tiny_model, config, eos_token_ids=[char_tokenizer.eos_token_id])
    async_engine = AsyncEngine(engine).start()
    server = OpenAIServer(async_engine, char_tokenizer, "tiny", api_key=KEY)
    with BackgroundServer(server.app) as url:
        yield url, engine
    async_engine.shutdown()


@pytest.fixture(scope="module")
def client(served):
    return openai.OpenAI(base_url=served[0] + "/v1", api_key=KEY, max_retries=0, timeout=60)


def expected(model, tok, prompt_ids, max_tokens):
    ids = model.greedy(prompt_ids, max_tokens, eos=tok.eos_token_id)
    return tok.decode(ids), ids


def wait_idle(engine, timeout=10.0):
    deadline = time.monotonic() + timeout
    while engine.block_manager.num_free != NUM_BLOCKS and time.monotonic() < deadline:
        time.sleep(0.01)
    return engine.block_manager.num_free == NUM_BLOCKS


def test_models_health_and_metrics(served, client):
    url, _ = served
    assert [m.id for m in client.models.list().data] == ["tiny"]
    assert httpx.get(url + "/health").json() == {"status": "ok"}
    text = httpx.get(url + "/metrics").text
    for name in (
        "groundup_time_to_first_token_seconds_bucket",
        "groundup_kv_blocks_used",
        "groundup_running",
    ):
        assert name in text


def test_completion_equals_reference_greedy_with_logprobs(client, tiny_model, char_tokenizer):
    prompt = "The quick brown fox"
    text, ids = expected(tiny_model, char_tokenizer, char_tokenizer.encode(prompt), 12)
    r = client.completions.create(model="tiny", prompt=prompt, max_tokens=12, temperature=0, logprobs=1)
    assert r.choices[0].text == text
    assert r.usage.prompt_tokens == len(prompt) and r.usage.completion_tokens == len(ids)
    full = torch.log_softmax(tiny_model.full_logits(char_tokenizer.encode(prompt) + ids), -1)
    ref = [float(full[len(prompt) - 1 + i, t]) for i, t in enumerate(ids)]
    assert r.choices[0].logprobs.token_logprobs == pytest.approx(ref, abs=1e-4)


def test_streamed_chat_equals_unstreamed_and_reference(client, tiny_model, char_tokenizer):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    prompt_ids = char_tokenizer.encode(render_chat(char_tokenizer.chat_template, messages))
    text, _ = expected(tiny_model, char_tokenizer, prompt_ids, 15)
    chunks = list(
        client.chat.completions.create(
            model="tiny", messages=messages, max_tokens=15, temperature=0, stream=True
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    whole = client.chat.completions.create(model="tiny", messages=messages, max_tokens=15, temperature=0)
    assert whole.choices[0].message.content == text


def test_n_and_seed(client):
    r = client.completions.create(model="tiny", prompt="abc", max_tokens=8, n=2, temperature=1.0, seed=3)
    again = client.completions.create(model="tiny", prompt="abc", max_tokens=8, n=2, temperature=1.0, seed=3)
    assert [c.index for c in r.choices] == [0, 1]
    assert [c.text for c in r.choices] == [c.text for c in again.choices]  # seeded: reproducible
    greedy = client.completions.create(model="tiny", prompt="abc", max_tokens=8, n=2, temperature=0)
    assert greedy.choices[0].text == greedy.choices[1].text


def test_stop_string_cuts_the_text(client, tiny_model, char_tokenizer):
    prompt = "Once upon a time"
    text, _ = expected(tiny_model, char_tokenizer, char_tokenizer.encode(prompt), 20)
    stop = text[5:7]
    r = client.completions.create(model="tiny", prompt=prompt, max_tokens=20, temperature=0, stop=[stop])
    assert r.choices[0].text == text[: text.index(stop)]
    assert r.choices[0].finish_reason == "stop"
    streamed = client.completions.create(
        model="tiny", prompt=prompt, max_tokens=20, temperature=0, stop=stop, stream=True
    )
    assert "".join(c.choices[0].text for c in streamed if c.choices) == text[: text.index(stop)]


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(model="nope", prompt="x"), openai.NotFoundError),
        (dict(model="tiny", prompt="x", max_tokens=-1), openai.BadRequestError),
        (dict(model="tiny", prompt="x", max_tokens=10**9), openai.BadRequestError),
        (dict(model="tiny", prompt="x" * 300), openai.BadRequestError),  # longer than the context
        (dict(model="tiny", prompt="x", temperature="hot"), openai.BadRequestError),
        (dict(model="tiny", prompt=[1, 2, 999]), openai.BadRequestError),  # token id out of the vocabulary
    ],
    ids=["unknown-model", "negative-max-tokens", "huge-max-tokens", "too-long", "wrong-type", "bad-token-id"],
)
def test_bad_requests_get_openai_errors(client, kwargs, error):
    with pytest.raises(error) as info:
        client.completions.create(**kwargs)
    assert info.value.body["message"]  # OpenAI-style {"error": {"message": ...}} body
    assert client.completions.create(model="tiny", prompt="ok", max_tokens=2).choices  # still serving


def test_malformed_json_and_auth(served):
    url, _ = served
    r = httpx.post(
        url + "/v1/completions",
        content=b"{not json",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(url + "/v1/completions", json={"model": "tiny", "prompt": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).models.list()


def test_disconnect_mid_stream_frees_the_sequence(served):
    url, engine = served
    body = {"model": "tiny", "prompt": "stream me", "max_tokens": 200, "stream": True, "temperature": 0}
    with httpx.stream(
        "POST", url + "/v1/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ) as r:
        lines = r.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        assert json.loads(first[6:])["choices"]
    assert wait_idle(engine), "the disconnected request still holds KV blocks"
    assert 'finish_reason="abort"' in engine.metrics.render()


CHAT = "chat/completions"
TOO_LONG = "context_length_exceeded"


@pytest.mark.parametrize(
    "endpoint, body, param, code",
    [
        ("completions", dict(prompt="x" * 300), "prompt", TOO_LONG),
        (CHAT, dict(messages=[{"role": "user", "content": "x" * 300}]), "messages", TOO_LONG),
        ("completions", dict(prompt="x", max_tokens=10**9), "max_tokens", TOO_LONG),
        (CHAT, dict(messages=[{"role": "user", "content": "x"}], max_tokens=300), "max_tokens", TOO_LONG),
        ("completions", dict(prompt=[1, 2, 999]), "prompt", "invalid_token_id"),
        ("completions", dict(prompt=[]), "prompt", None),
        ("completions", dict(prompt="x", n=99), "n", None),
    ],
    ids=[
        "long-prompt",
        "long-messages",
        "huge-max-tokens",
        "chat-huge-max-tokens",
        "bad-token-id",
        "empty",
        "n",
    ],
)
def test_request_errors_name_the_field_and_code(served, endpoint, body, param, code):
    url, _ = served
    r = httpx.post(
        f"{url}/v1/{endpoint}", json={"model": "tiny", **body}, headers={"Authorization": f"Bearer {KEY}"}
    )
    error = r.json()["error"]
    assert r.status_code == 400 and error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code), error


def test_a_request_larger_than_the_kv_pool_is_refused_and_defaults_fit_the_pool(tiny_model, char_tokenizer):
    """A 4-block pool of 8 tokens holds 32 tokens per sequence, far below the 256-token context."""
    engine = Engine(
        tiny_model, EngineConfig(num_blocks=4, block_size=8), eos_token_ids=[char_tokenizer.eos_token_id]
    )
    async_engine = AsyncEngine(engine).start()
    try:
        check_pool_limits(OpenAIServer(async_engine, char_tokenizer, "tiny"))
    finally:
        async_engine.shutdown()


def check_pool_limits(server):
    with BackgroundServer(server.app) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=60)
        with pytest.raises(openai.BadRequestError) as info:
            client.completions.create(model="tiny", prompt="abc", max_tokens=100)
        error = info.value.body
        assert (error["param"], error["code"]) == ("max_tokens", TOO_LONG)
        assert "KV blocks" in error["message"]
        with pytest.raises(openai.BadRequestError) as info:
            client.completions.create(model="tiny", prompt="x" * 40)
        assert (info.value.body["param"], info.value.body["code"]) == ("prompt", TOO_LONG)
        r = client.completions.create(model="tiny", prompt="y" * 20, temperature=0)  # no max_tokens given
        assert 1 <= r.usage.completion_tokens <= 12  # the default shrinks to what the pool leaves


@pytest.mark.parametrize("chat", [False, True], ids=["completions", "chat"])
def test_streamed_and_collected_answers_agree_for_n_choices_with_usage(client, chat):
    """One SSE/collect path for both endpoints: per-choice text, finish reason and usage agree."""
    create = client.chat.completions.create if chat else client.completions.create
    prompt = dict(messages=[{"role": "user", "content": "Say"}]) if chat else dict(prompt="Say")
    kwargs = dict(model="tiny", max_tokens=10, n=2, temperature=0.8, seed=5, **prompt)
    whole = create(**kwargs)
    chunks = list(create(stream=True, stream_options={"include_usage": True}, **kwargs))
    texts, finish = ["", ""], [None, None]
    for c in chunks[:-1]:
        for ch in c.choices:
            texts[ch.index] += (ch.delta.content or "") if chat else ch.text
            finish[ch.index] = ch.finish_reason or finish[ch.index]
    expect = [c.message.content if chat else c.text for c in whole.choices]
    assert texts == expect and finish == [c.finish_reason for c in whole.choices]
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage
