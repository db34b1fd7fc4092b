"""Training tests: one intra-op thread (results must not depend on thread scheduling, and the shared
machine is oversubscribed otherwise) and a small hermetic character corpus."""

from __future__ import annotations

import random

import pytest


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory):
    """About 20k characters of seeded pseudo-English with enough structure to learn from."""
    rng = random.Random(0)
    words = "the king and queen of england speak to my lord with love and fear in their hearts".split()
    lines = [
        " ".join(rng.choice(words) for _ in range(rng.randint(4, 10))).capitalize() + "." for _ in range(500)
    ]
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def tiny_overrides(corpus_file):
    """tiny_overrides(**extra): config overrides for a seconds-long run on the test corpus."""

    def make(**extra) -> dict:
        return dict(data_path=str(corpus_file), progress=False, threads=1, **extra)

    return make
