"""`groundup serve`'s engine flags are derived from EngineConfig: same names and defaults as ever."""

from __future__ import annotations

import argparse

import pytest

from groundup.commands.serve import add_engine_arguments, engine_config
from groundup.serve.config import EngineConfig

pytestmark = pytest.mark.module("2.2")


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_engine_arguments(parser)
    return engine_config(parser.parse_args(argv))


def test_no_flags_is_the_default_engine_config():
    assert parse() == EngineConfig()
    assert (EngineConfig().num_blocks, EngineConfig().max_running) == (1024, 32)


def test_each_flag_sets_its_field():
    argv = "--max-running 3 --kv-blocks 8 --block-size 4 --max-tokens-per-step 64 --speculative ngram"
    config = parse(*argv.split(), "--num-speculative-tokens", "2", "--no-prefix-caching")
    assert config == EngineConfig(
        max_running=3,
        num_blocks=8,
        block_size=4,
        max_tokens_per_step=64,
        speculative="ngram",
        num_speculative_tokens=2,
        prefix_caching=False,
    )
    with pytest.raises(SystemExit):
        parse("--speculative", "medusa")
