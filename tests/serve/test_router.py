"""The router over replicas (issue 24, item 3), against real `groundup serve` processes (a one-step GPT
run): requests sharing a prompt prefix land on one replica and the prefix-cache hit rate rises over
round-robin; a replica killed mid-load loses no request that had not started answering (retried on
the other) and the router keeps answering; with every replica down it answers 503 with an error body
at once. Routing itself (keys, rendezvous hashing, the least-outstanding fallback) is checked first,
without processes."""

from __future__ import annotations

import concurrent.futures
import json
import re
import signal
import subprocess
import time

import httpx
import pytest

from groundup.serve.router import Replica, Router, rendezvous, routing_key
from groundup.serve.server import BackgroundServer
from tests.serve.processes import start_serve_process, train_tiny_gpt

pytestmark = pytest.mark.module("2.1")


# -- routing, no processes ------------------------------------------------------------------------
def test_routing_key_reads_the_prompt_prefix():
    assert routing_key(json.dumps({"prompt": "abcdef"}).encode(), 3) == "abc"
    assert routing_key(json.dumps({"prompt": ["xyz", "q"]}).encode(), 2) == "xy"
    chat = {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}
    assert routing_key(json.dumps(chat).encode(), 100) == "<system>be brief<user>hi"
    assert routing_key(b"not json", 10) is None and routing_key(b"{}", 10) is None


def test_rendezvous_moves_only_the_keys_of_a_removed_replica():
    replicas = [Replica(f"http://r{i}") for i in range(4)]
    keys = [f"prefix {i}" for i in range(200)]
    before = {k: rendezvous(k, replicas).url for k in keys}
    after = {k: rendezvous(k, replicas[:3]).url for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert moved and all(before[k] == "http://r3" for k in moved)
    assert len(set(before.values())) == 4  # keys spread over all replicas


def test_affinity_yields_to_the_least_busy_past_the_slack():
    router = Router(["http://a", "http://b"], slack=2)
    home = router.choose("system prompt")
    assert router.choose("system prompt") is home
    home.outstanding = 3
    assert router.choose("system prompt") is not home  # 3 > 0 + 2
    home.outstanding = 2
    assert router.choose("system prompt") is home
    assert router.choose(None).outstanding == 0  # no prompt: least outstanding


def test_oversized_bodies_are_413_and_no_healthy_replica_is_503_with_an_error_body_at_once():
    router = Router(["http://127.0.0.1:9"], health_interval=0.2, max_body_bytes=1000)  # port 9: refused
    with BackgroundServer(router.app) as url:
        big = httpx.post(url + "/v1/completions", json={"model": "m", "prompt": "x" * 2000}, timeout=30)
        assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"  # before parsing
        start = time.perf_counter()
        r = httpx.post(url + "/v1/completions", json={"model": "m", "prompt": "x"}, timeout=30)
        assert time.perf_counter() - start < 5
        assert r.status_code == 503 and r.json()["error"]["code"] == "no_healthy_replica"
        assert httpx.get(url + "/health").status_code == 503


def test_streams_pass_through_and_a_disconnect_frees_the_replicas_blocks(serve_tiny, char_tokenizer):
    with serve_tiny(char_tokenizer) as (replica_url, engine):
        router = Router([replica_url])
        with BackgroundServer(router.app) as url:
            body = {"model": "tiny", "prompt": "abc", "max_tokens": 5, "temperature": 0}
            whole = httpx.post(url + "/v1/completions", json=body, timeout=30).json()["choices"][0]["text"]
            with httpx.stream(
                "POST", url + "/v1/completions", json={**body, "stream": True}, timeout=30
            ) as r:
                chunks = [json.loads(x[6:]) for x in r.iter_lines() if x.startswith("data: {")]
            assert "".join(c["choices"][0]["text"] for c in chunks) == whole
            bad = httpx.post(url + "/v1/completions", json={**body, "max_tokens": 10**6}, timeout=30)
            direct = httpx.post(
                replica_url + "/v1/completions", json={**body, "max_tokens": 10**6}, timeout=30
            )
            assert (
                bad.status_code == direct.status_code == 400 and bad.json() == direct.json()
            )  # 4xx pass through
            long = {**body, "max_tokens": 200, "stream": True}
            with httpx.stream("POST", url + "/v1/completions", json=long, timeout=30) as r:
                next(x for x in r.iter_lines() if x.startswith("data: {"))  # streaming, then hang up
            deadline = time.monotonic() + 10
            while engine.seqs or engine.block_manager.num_free != engine.config.num_blocks:
                assert time.monotonic() < deadline, "the replica still holds the disconnected request"
                time.sleep(0.05)
            assert 'finish_reason="abort"' in engine.metrics.render()
            assert router.replicas[0].outstanding == 0


# -- real replicas ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return train_tiny_gpt(tmp_path_factory.mktemp("gpt-router"), block_size=512)


def start_replica(run_dir) -> tuple[subprocess.Popen, str]:
    return start_serve_process(run_dir, "--model-name", "m", "--kv-blocks", "512", "--block-size", "16")


@pytest.fixture(scope="module")
def replicas(run_dir):
    procs = [start_replica(run_dir) for _ in range(2)]
    yield procs
    for proc, _ in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    return float(re.search(rf"^groundup_{name} (\S+)$", text, re.M).group(1))


def prefix_hit_rate(urls, prompts, policy) -> tuple[float, dict[str, int]]:
    """Send `prompts` one by one through a router with `policy`; the prefix-cache hit rate (cached
    prompt tokens / prompt tokens, over all replicas) and which replica served each prefix."""
    before = [(metric(u, "prefix_cache_hit_tokens_total"), metric(u, "prompt_tokens_total")) for u in urls]
    landed = {}
    with BackgroundServer(Router(urls, policy=policy, prefix_chars=128).app) as url:
        for prompt in prompts:
            r = httpx.post(
                url + "/v1/completions", json={"model": "m", "prompt": prompt, "max_tokens": 2}, timeout=60
            )
            assert r.status_code == 200, r.text
            landed.setdefault(prompt[:128], set()).add(r.headers["x-groundup-replica"])
    after = [(metric(u, "prefix_cache_hit_tokens_total"), metric(u, "prompt_tokens_total")) for u in urls]
    hits = sum(a[0] - b[0] for a, b in zip(after, before))
    total = sum(a[1] - b[1] for a, b in zip(after, before))
    return hits / total, landed


def words(n: int, width: int = 6) -> str:
    """A distinct phrase for each n, in the one-step GPT's 17-character vocabulary."""
    vocab = ("cat", "dog", "mat", "log")
    return " ".join(vocab[(n >> (2 * i)) % 4] for i in range(width))


def shared_prefix_prompts(tag: int, num_prefixes=3, per_prefix=6) -> list[str]:
    """`num_prefixes` ~160-character system prompts, each followed by `per_prefix` distinct questions,
    interleaved (as traffic from several applications arrives)."""
    prefixes = [words(tag * 16 + p) + ". " + "the cat sat on the mat. " * 6 for p in range(num_prefixes)]
    return [f"{prefixes[p]}{words(q, 3)} met a log" for q in range(per_prefix) for p in range(num_prefixes)]


def test_same_prefix_lands_on_one_replica_and_hits_its_cache_more_than_round_robin(replicas):
    urls = [u for _, u in replicas]
    affinity, landed = prefix_hit_rate(urls, shared_prefix_prompts(1), "affinity")
    round_robin, landed_rr = prefix_hit_rate(urls, shared_prefix_prompts(2), "round_robin")
    assert all(len(where) == 1 for where in landed.values())  # one replica per prefix
    assert all(len(where) == 2 for where in landed_rr.values())
    print(f"prefix-cache hit rate: affinity {affinity:.3f}, round-robin {round_robin:.3f}")
    assert affinity > round_robin + 0.1


def test_a_replica_killed_mid_load_loses_no_unstarted_request(replicas, run_dir):
    urls = [u for _, u in replicas]
    router = Router(urls, policy="least", health_interval=0.5)
    body = {"model": "m", "max_tokens": 300, "temperature": 1.0}
    with BackgroundServer(router.app) as url:

        def ask(i):
            r = httpx.post(
                url + "/v1/completions", json={**body, "prompt": "the cat " + words(i)}, timeout=120
            )
            return r.status_code, r.json()

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(ask, i) for i in range(16)]
            victim, victim_url = replicas[1]
            deadline = time.monotonic() + 60
            while metric(victim_url, "running") < 1:  # requests are in flight on the victim
                assert time.monotonic() < deadline
                time.sleep(0.02)
            victim.send_signal(signal.SIGKILL)
            results = [f.result() for f in futures]
        assert [code for code, _ in results] == [200] * 16
        assert all(b["usage"]["completion_tokens"] >= 1 for _, b in results)
        assert router.retries >= 1 and not router.replicas[1].healthy
        r = httpx.post(url + "/v1/completions", json={**body, "prompt": "a dog", "max_tokens": 4}, timeout=60)
        assert r.status_code == 200 and r.headers["x-groundup-replica"] == urls[0]
        replicas[0][0].send_signal(signal.SIGKILL)
        replicas[0][0].wait()
        start = time.perf_counter()
        r = httpx.post(url + "/v1/completions", json={**body, "prompt": "a log"}, timeout=60)
        assert r.status_code == 503 and "no healthy replica" in r.json()["error"]["message"]
        assert time.perf_counter() - start < 5
