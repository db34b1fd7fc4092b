"""The parts of OpenAI's API that clients use and the server once got wrong (issue 14, section 6), each
checked with the official `openai` client where it has the call: `max_completion_tokens`, content
parts, batched prompts, `models.retrieve`, the `Bearer` scheme in any case, /metrics gauges when idle,
error labels, and the refusal of fields the server cannot honour."""

from __future__ import annotations

import re
import time

import httpx
import openai
import pytest

from groundup.generate.chat import render_chat

pytestmark = pytest.mark.module("2.2")
KEY = "test-key"
TOO_LONG = "context_length_exceeded"


@pytest.fixture(scope="module")
def served(serve_tiny, char_tokenizer):
    with serve_tiny(char_tokenizer, api_key=KEY) as (url, engine):
        yield url, engine


@pytest.fixture(scope="module")
def client(served):
    return openai.OpenAI(base_url=served[0] + "/v1", api_key=KEY, max_retries=0, timeout=60)


def post(url: str, path: str, body: dict, key: str = f"Bearer {KEY}") -> httpx.Response:
    return httpx.post(url + path, json={"model": "tiny", **body}, headers={"Authorization": key}, timeout=60)


def greedy_text(model, tok, prompt_ids, max_tokens) -> str:
    return tok.decode(model.greedy(prompt_ids, max_tokens, eos=tok.eos_token_id))


def chat_ids(tok, messages) -> list[int]:
    return tok.encode(render_chat(tok.chat_template, messages))


def test_max_completion_tokens_limits_the_output(served, client, tiny_model, char_tokenizer):
    messages = [{"role": "user", "content": "Count"}]
    r = client.chat.completions.create(
        model="tiny", messages=messages, max_completion_tokens=4, temperature=0
    )
    assert r.usage.completion_tokens == 4 and r.choices[0].finish_reason == "length"
    assert r.choices[0].message.content == greedy_text(
        tiny_model, char_tokenizer, chat_ids(char_tokenizer, messages), 4
    )
    r = client.completions.create(
        model="tiny", prompt="abc", temperature=0, extra_body={"max_completion_tokens": 3}
    )
    assert r.usage.completion_tokens == 3
    with pytest.raises(openai.BadRequestError) as info:  # both given, and different
        client.chat.completions.create(model="tiny", messages=messages, max_tokens=5, max_completion_tokens=4)
    assert info.value.body["param"] == "max_completion_tokens"
    with pytest.raises(openai.BadRequestError) as info:  # too many: the error names the field sent
        client.chat.completions.create(model="tiny", messages=messages, max_completion_tokens=10**6)
    assert (info.value.body["param"], info.value.body["code"]) == ("max_completion_tokens", TOO_LONG)


def test_message_content_as_text_parts(client, tiny_model, char_tokenizer):
    parts = [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]
    r = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": parts}], max_tokens=8, temperature=0
    )
    same = chat_ids(char_tokenizer, [{"role": "user", "content": "Hi\nthere"}])  # parts joined by newlines
    assert r.choices[0].message.content == greedy_text(tiny_model, char_tokenizer, same, 8)
    image = {"type": "image_url", "image_url": {"url": "http://x/cat.png"}}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": [parts[0], image]}], max_tokens=8
        )
    assert info.value.body["param"] == "messages.0.content" and "image_url" in info.value.body["message"]


@pytest.mark.parametrize("as_ids", [False, True], ids=["texts", "token-ids"])
def test_a_batch_of_prompts_gives_n_choices_per_prompt_in_order(client, tiny_model, char_tokenizer, as_ids):
    texts = ["abc", "hello", "z"]
    prompts = [char_tokenizer.encode(t) for t in texts] if as_ids else texts
    r = client.completions.create(model="tiny", prompt=prompts, n=2, max_tokens=6, temperature=0)
    assert [c.index for c in r.choices] == list(range(6))
    want = [greedy_text(tiny_model, char_tokenizer, char_tokenizer.encode(t), 6) for t in texts]
    assert [c.text for c in r.choices] == [w for w in want for _ in range(2)]  # choice i*n + j: prompt i
    assert r.usage.prompt_tokens == sum(map(len, texts)) and r.usage.completion_tokens == 6 * 6
    streamed = ["" for _ in range(6)]
    for chunk in client.completions.create(
        model="tiny", prompt=prompts, n=2, max_tokens=6, temperature=0, stream=True
    ):
        for c in chunk.choices:
            streamed[c.index] += c.text
    assert streamed == [c.text for c in r.choices]
    echoed = client.completions.create(model="tiny", prompt=prompts, max_tokens=2, temperature=0, echo=True)
    assert [c.text[: len(t)] for c, t in zip(echoed.choices, texts)] == texts


def test_models_retrieve(client):
    assert client.models.retrieve("tiny").id == "tiny"
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-4")
    assert (info.value.body["param"], info.value.body["code"]) == ("model", "model_not_found")


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_bearer_scheme_is_case_insensitive(served, scheme):
    assert (
        httpx.get(served[0] + "/v1/models", headers={"Authorization": f"{scheme} {KEY}"}).status_code == 200
    )
    for wrong in (f"Basic {KEY}", f"{scheme} nope", KEY):
        r = httpx.get(served[0] + "/v1/models", headers={"Authorization": wrong})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def gauges(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics").text
    return {name: float(v) for name, v in re.findall(r"^groundup_(\w+) ([\d.]+)$", text, re.M)}


def test_metrics_gauges_follow_the_engine_and_are_zero_when_idle(served, client):
    url, engine = served
    stream = client.completions.create(model="tiny", prompt="go", max_tokens=60, n=3, stream=True)
    next(iter(stream))
    busy = gauges(url)
    assert busy["running"] >= 1 and busy["kv_blocks_used"] >= 1, busy
    for _ in stream:
        pass
    deadline = time.monotonic() + 10
    while engine.has_work() and time.monotonic() < deadline:
        time.sleep(0.01)
    idle = gauges(url)
    assert (idle["running"], idle["waiting"], idle["kv_blocks_used"]) == (0, 0, 0), idle
    assert idle["kv_blocks_total"] == 128


@pytest.mark.parametrize(
    "body, param, code",
    [
        (dict(prompt=[1, 2, 999]), "prompt", "invalid_token_id"),
        (dict(prompt=[[1, 2], [3, -1]]), "prompt", "invalid_token_id"),
        (dict(prompt="x" * 300), "prompt", TOO_LONG),
        (dict(prompt=["ok", "x" * 300]), "prompt", TOO_LONG),
        (dict(prompt=[1, "a"]), "prompt", None),  # none of the four shapes: one error, not one per shape
    ],
    ids=["oov-id", "oov-id-in-batch", "too-long", "too-long-in-batch", "wrong-shape"],
)
def test_completion_errors_name_the_prompt(served, body, param, code):
    r = post(served[0], "/v1/completions", {**body, "max_tokens": 4})
    error = r.json()["error"]
    assert r.status_code == 400 and (error["param"], error["code"]) == (param, code), error


def test_malformed_json_is_named_and_has_no_param(served):
    r = httpx.post(
        served[0] + "/v1/completions",
        content=b'{"model": "tiny", "prompt": }',
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    error = r.json()["error"]
    assert r.status_code == 400 and "JSON" in error["message"] and error["param"] is None, error


@pytest.mark.parametrize(
    "field, value",
    [
        ("response_format", {"type": "json_object"}),
        ("response_format", {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}),
        ("tools", [{"type": "function", "function": {"name": "f", "parameters": {}}}]),
        ("tool_choice", "auto"),
        ("functions", [{"name": "f", "parameters": {}}]),
        ("function_call", {"name": "f"}),
    ],
)
def test_unsupported_chat_fields_are_refused_by_name(client, field, value):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=2, **{field: value}
        )
    assert (info.value.body["param"], info.value.body["code"]) == (field, "unsupported_parameter")


def test_no_op_values_of_those_fields_are_accepted(client):
    r = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=2,
        response_format={"type": "text"},
        tool_choice="none",
    )
    assert r.choices[0].message.content is not None
