"""Fixtures for the NLP toolkit checks: WikiText-2 (valid + test, the splits we have) as lines and words."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def wikitext(data_dir) -> str:
    from groundup.data import load_text

    return load_text("wikitext2", "valid") + load_text("wikitext2", "test")


@pytest.fixture(scope="session")
def wikitext_words(wikitext) -> list[str]:
    """Every distinct whitespace-separated word of WikiText-2 valid + test (18k)."""
    return sorted(set(wikitext.split()))
