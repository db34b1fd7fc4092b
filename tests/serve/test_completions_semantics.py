"""The completions semantics evaluation and application clients rely on (issue 24, item 1): logprobs and
top alternatives equal to the model's own computed directly (no cache, whole sequence), `echo` with
the prompt's logprobs (what lm-evaluation-harness scores log-likelihood tasks with), `logit_bias`,
stop arrays, `best_of`, `stream_options.include_usage` on completions, and the vLLM-style tokenizer
helpers (/tokenize, /detokenize, /tokenizer_info)."""

from __future__ import annotations

import httpx
import openai
import pytest
import torch

pytestmark = pytest.mark.module("2.2")
TOL = 1e-4


@pytest.fixture(scope="module")
def served(serve_tiny, char_tokenizer):
    with serve_tiny(char_tokenizer) as (url, engine):
        yield url, engine


@pytest.fixture(scope="module")
def client(served):
    return openai.OpenAI(base_url=served[0] + "/v1", api_key="none", max_retries=0, timeout=60)


def direct_logprobs(model, ids) -> torch.Tensor:
    """(L, V) log-softmax of the model's logits over the whole sequence, no cache: the reference."""
    return torch.log_softmax(model.full_logits(ids).float(), dim=-1)


def test_completion_logprobs_and_top_alternatives_equal_the_models(client, tiny_model, char_tokenizer):
    tok = char_tokenizer
    prompt = tok.encode("The cat")
    r = client.completions.create(model="tiny", prompt="The cat", max_tokens=6, temperature=0, logprobs=3)
    out = tok.encode(r.choices[0].text)
    lp = r.choices[0].logprobs
    ref = direct_logprobs(tiny_model, prompt + out)
    for i, t in enumerate(out):
        row = ref[len(prompt) + i - 1]
        assert lp.token_logprobs[i] == pytest.approx(float(row[t]), abs=TOL)
        values, ids = torch.topk(row, 3)
        want = {tok.decode([int(j)]): float(v) for j, v in zip(ids, values)}
        got = lp.top_logprobs[i]
        assert set(want) <= set(got) and len(got) <= 4  # the top 3, and the chosen token (greedy: among them)
        assert all(got[k] == pytest.approx(v, abs=TOL) for k, v in want.items())
    assert lp.tokens == [tok.decode([t]) for t in out]


def test_echo_returns_the_prompt_with_its_logprobs(client, tiny_model, char_tokenizer):
    tok = char_tokenizer
    text = "Hello there"
    r = client.completions.create(
        model="tiny", prompt=text, max_tokens=1, temperature=0, logprobs=1, echo=True
    )
    c = r.choices[0]
    prompt = tok.encode(text)
    gen = tok.encode(c.text[len(text) :])
    assert c.text.startswith(text) and len(gen) == 1
    ref = direct_logprobs(tiny_model, prompt + gen)
    lp = c.logprobs
    assert lp.tokens == [tok.decode([t]) for t in prompt + gen]
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None  # the first token has no context
    for i, t in enumerate(prompt[1:] + gen, start=1):
        assert lp.token_logprobs[i] == pytest.approx(float(ref[i - 1, t]), abs=TOL)
        assert max(lp.top_logprobs[i].values()) == pytest.approx(float(ref[i - 1].max()), abs=TOL)
    assert lp.text_offset == list(range(len(prompt) + 1))  # one character per token
    # token-id prompts (what lm-eval sends) score the same
    again = client.completions.create(
        model="tiny", prompt=prompt, max_tokens=1, temperature=0, logprobs=1, echo=True
    )
    assert again.choices[0].logprobs.token_logprobs[1:] == pytest.approx(lp.token_logprobs[1:], abs=TOL)


def test_chat_logprobs_with_top_alternatives(client, tiny_model, char_tokenizer):
    r = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=4,
        temperature=0,
        logprobs=True,
        top_logprobs=2,
    )
    content = r.choices[0].logprobs.content
    assert len(content) == 4 and "".join(e.token for e in content) == r.choices[0].message.content
    for e in content:
        assert len(e.top_logprobs) == 2 and e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob
        assert e.top_logprobs[0].token == e.token  # greedy: the chosen token is the most likely
        assert e.logprob == pytest.approx(e.top_logprobs[0].logprob, abs=TOL)


def test_logit_bias_steers_sampling_but_not_the_reported_logprobs(client, char_tokenizer):
    z = char_tokenizer.encode("z")[0]
    r = client.completions.create(
        model="tiny", prompt="abc", max_tokens=5, temperature=0, logit_bias={str(z): 100}, logprobs=0
    )
    assert r.choices[0].text == "zzzzz"
    assert all(lp < 0 for lp in r.choices[0].logprobs.token_logprobs)  # the model's own, unbiased
    plain = client.completions.create(model="tiny", prompt="abc", max_tokens=1, temperature=0)
    first = char_tokenizer.encode(plain.choices[0].text)[0]
    banned = client.completions.create(
        model="tiny", prompt="abc", max_tokens=1, temperature=0, logit_bias={str(first): -100}
    )
    assert banned.choices[0].text != plain.choices[0].text
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model="tiny", prompt="abc", max_tokens=1, logit_bias={"9999": 1})
    assert info.value.body["param"] == "logit_bias"
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="tiny", prompt="abc", max_tokens=1, logit_bias={"1": 500})


def test_stop_array_cuts_at_the_earliest_stop(client):
    full = client.completions.create(model="tiny", prompt="abc", max_tokens=12, temperature=0).choices[0].text
    cut = full[4]
    r = client.completions.create(
        model="tiny", prompt="abc", max_tokens=12, temperature=0, stop=["never-there", cut]
    )
    assert r.choices[0].text == full[: full.index(cut)] and r.choices[0].finish_reason == "stop"


def test_best_of_keeps_the_n_most_likely_of_the_seeded_choices(client):
    kwargs = dict(model="tiny", prompt="abc", max_tokens=6, temperature=1.0, seed=11, logprobs=0)
    all4 = client.completions.create(n=4, **kwargs)  # choice i is sampled with seed 11 + i either way
    best = client.completions.create(n=2, extra_body={"best_of": 4}, **kwargs)

    def mean(c):
        return sum(c.logprobs.token_logprobs) / len(c.logprobs.token_logprobs)

    ranked = sorted(all4.choices, key=mean, reverse=True)[:2]
    assert sorted(c.text for c in best.choices) == sorted(c.text for c in ranked)
    assert [c.index for c in best.choices] == [0, 1]
    assert best.usage.completion_tokens == all4.usage.completion_tokens  # every generated token counts
    with pytest.raises(openai.BadRequestError):
        client.completions.create(n=2, stream=True, extra_body={"best_of": 3}, **kwargs)


def test_completion_stream_with_usage_and_logprobs(client):
    chunks = list(
        client.completions.create(
            model="tiny",
            prompt="abc",
            max_tokens=5,
            temperature=0,
            stream=True,
            logprobs=1,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    collected = client.completions.create(model="tiny", prompt="abc", max_tokens=5, temperature=0)
    assert text == collected.choices[0].text
    lps = [
        lp
        for c in chunks
        if c.choices and c.choices[0].logprobs
        for lp in c.choices[0].logprobs.token_logprobs
    ]
    assert len(lps) == 5
    assert chunks[-1].usage.completion_tokens == 5 and chunks[-1].usage.prompt_tokens == 3


def test_tokenizer_helpers(served, char_tokenizer):
    url = served[0]
    r = httpx.post(url + "/tokenize", json={"prompt": "hi you"}).json()
    assert r["tokens"] == char_tokenizer.encode("hi you") and r["count"] == 6
    chat = httpx.post(url + "/tokenize", json={"messages": [{"role": "user", "content": "x"}]}).json()
    assert chat["count"] > 1
    assert httpx.post(url + "/detokenize", json={"tokens": r["tokens"]}).json() == {"prompt": "hi you"}
    assert httpx.post(url + "/detokenize", json={"tokens": [10**6]}).status_code == 400
    assert httpx.post(url + "/tokenize", json={}).status_code == 400
    info = httpx.get(url + "/tokenizer_info").json()
    assert info["eos_token"] == "<eos>" and info["chat_template"] == char_tokenizer.chat_template
