"""Engine equivalences: continuous batching, chunked prefill, prefix caching, preemption and
speculative decoding all give exactly the greedy tokens of running each request alone without a cache."""

from __future__ import annotations

import random

import pytest

from groundup.generate import SamplingParams
from groundup.serve.engine import Engine, EngineConfig
from groundup.serve.limits import OutOfBlocks, RequestError

pytestmark = pytest.mark.module("2.2")


def prompts(n=6, seed=0, shared=0, vocab=96):
    rng = random.Random(seed)
    system = [rng.randrange(vocab) for _ in range(shared)]
    return [system + [rng.randrange(vocab) for _ in range(rng.randint(1, 40))] for _ in range(n)]


@pytest.fixture(scope="module")
def references(tiny_model):
    cache = {}

    def ref(prompt, max_tokens):
        key = (tuple(prompt), max_tokens)
        if key not in cache:
            cache[key] = tiny_model.greedy(prompt, max_tokens)
        return cache[key]

    return ref


def greedy(max_tokens):
    return SamplingParams(temperature=0.0, max_tokens=max_tokens)


def run(model, config, ps, max_tokens=12):
    engine = Engine(model, config)
    seqs = engine.generate(ps, greedy(max_tokens))
    assert engine.block_manager.num_free == config.num_blocks, "blocks leaked"
    return engine, [s.output_ids for s in seqs]


@pytest.mark.parametrize(
    "config",
    [
        EngineConfig(num_blocks=64, block_size=4, max_running=4, max_tokens_per_step=64),
        EngineConfig(num_blocks=64, block_size=4, max_running=8, max_tokens_per_step=7),  # chunked
        EngineConfig(num_blocks=64, block_size=4, continuous=False),
    ],
    ids=["continuous", "chunked-prefill", "static"],
)
def test_batched_equals_one_at_a_time(tiny_model, references, config):
    ps = prompts(7)
    _, outs = run(tiny_model, config, ps)
    assert outs == [references(p, 12) for p in ps]


def test_prefix_cache_gives_identical_outputs_and_hits(tiny_model, references):
    ps = prompts(6, seed=1, shared=24)
    cached, outs = run(tiny_model, EngineConfig(num_blocks=96, block_size=4, max_running=2), ps)
    _, plain = run(
        tiny_model, EngineConfig(num_blocks=96, block_size=4, max_running=2, prefix_caching=False), ps
    )
    assert outs == plain == [references(p, 12) for p in ps]
    # the 24-token system prompt is 6 blocks; the two requests admitted together in step 1 both miss
    assert cached.block_manager.stats().prefix_hits == 4 * 6


def test_preemption_with_prefix_cache_under_a_tiny_pool(tiny_model, references):
    """The nano-vllm failure case: shared prefixes + preemption by recompute + a pool too small."""
    ps = prompts(8, seed=2, shared=12)
    config = EngineConfig(num_blocks=18, block_size=4, max_running=8, max_tokens_per_step=32)
    engine, outs = run(tiny_model, config, ps, max_tokens=16)
    assert engine.metrics.preemptions > 0, "the pool was meant to force preemptions"
    assert outs == [references(p, 16) for p in ps]


@pytest.mark.parametrize("mode", ["ngram", "draft"])
def test_speculative_greedy_equals_target_greedy(tiny_model, references, mode):
    rng = random.Random(3)
    base = [rng.randrange(96) for _ in range(10)]
    ps = [base * 3, base + base[:5], prompts(1, seed=4)[0]]  # repetitive prompts give lookup hits
    config = EngineConfig(num_blocks=64, block_size=4, speculative=mode, num_speculative_tokens=4)
    engine, outs = run(tiny_model, config, ps, max_tokens=20)
    assert outs == [references(p, 20) for p in ps]
    assert engine.metrics.drafted > 0


def test_abort_frees_blocks_within_one_step(tiny_model):
    engine = Engine(tiny_model, EngineConfig(num_blocks=32, block_size=4))
    keep = engine.add_request(prompts(1)[0], greedy(30))
    gone = engine.add_request(prompts(1, seed=5)[0], greedy(30))
    engine.step()
    engine.step()
    engine.abort(gone.seq_id)
    engine.step()
    assert gone.finish_reason.value == "abort" and gone.block_table == []
    assert engine.block_manager.num_free == 32 - len(keep.block_table)
    while engine.has_work():
        engine.step()
    assert engine.block_manager.num_free == 32


def test_requests_that_can_never_fit_are_refused(tiny_model):
    engine = Engine(tiny_model, EngineConfig(num_blocks=4, block_size=4))
    with pytest.raises(OutOfBlocks, match="KV blocks"):
        engine.add_request(list(range(10)), greedy(10))
    with pytest.raises(RequestError, match="context"):
        engine.add_request(list(range(10)), greedy(tiny_model.max_context))


def test_n_forks_share_the_prompt_copy_on_write_and_equal_independent_runs(tiny_model):
    """n = 3 completions of one prompt: prefilled once, blocks shared then copied on write; each
    fork's tokens equal a separate request with the same seed."""
    prompt = prompts(1, seed=9)[0][:18]  # a partial last block, shared until written
    params = [SamplingParams(temperature=1.0, max_tokens=10, seed=s) for s in (1, 2, 3)]
    engine = Engine(tiny_model, EngineConfig(num_blocks=64, block_size=4))
    seqs = [engine.make_sequence(prompt, p) for p in params]
    engine.add(seqs[0], forks=seqs[1:])
    engine.run_until_done()
    alone = Engine(tiny_model, EngineConfig(num_blocks=64, block_size=4)).generate
    assert [s.output_ids for s in seqs] == [alone([prompt], p)[0].output_ids for p in params]
    assert engine.block_manager.stats().cow_copies >= 2
    assert engine.metrics.steps and engine.block_manager.num_free == 64
    assert len({tuple(s.output_ids) for s in seqs}) > 1  # really different samples


def test_abort_a_fork_before_and_after_it_forks(tiny_model):
    engine = Engine(tiny_model, EngineConfig(num_blocks=64, block_size=4))
    seqs = [engine.make_sequence(prompts(1, seed=10)[0], greedy(20)) for _ in range(3)]
    engine.add(seqs[0], forks=seqs[1:])
    engine.abort(seqs[1].seq_id)  # still waiting for the parent's prefill
    engine.step()
    engine.step()
    engine.abort(seqs[2].seq_id)  # forked already
    engine.run_until_done()
    assert [s.finish_reason.value for s in seqs] == ["length", "abort", "abort"]
    assert engine.block_manager.num_free == 64


def test_forks_after_a_chunked_prefill_that_ends_with_drafts(tiny_model, references):
    """The prompt's last chunk is one token plus prompt-lookup drafts; the forks must take the prompt's
    KV only (explicit: the old add/subtract of computed tokens counted the drafts and crashed)."""
    rng = random.Random(3)
    prompt = [rng.randrange(96) for _ in range(6)] * 3  # 18 tokens, repetitive: lookup drafts exist
    config = EngineConfig(num_blocks=64, block_size=4, max_tokens_per_step=17, speculative="ngram")
    engine = Engine(tiny_model, config)
    seqs = [engine.make_sequence(prompt, greedy(12)) for _ in range(3)]
    engine.add(seqs[0], forks=seqs[1:])
    engine.run_until_done()
    assert [s.output_ids for s in seqs] == [references(prompt, 12)] * 3
    assert engine.metrics.drafted > 0 and engine.block_manager.num_free == 64
