"""The merge loops: the heap and rank-bucket loops make exactly the naive loop's merges, on any table.

`merge_naive` (scan for the minimum rank, merge the leftmost) is the reference. Random tables are made
up on purpose: ranks repeat across different pairs (ties), merged ids are arbitrary, and a merge may
create a pair ranked below the current one, which sends `merge_by_rank` to its heap fallback. Trained
tables and rank tables (where "abc" is both "ab"+"c" and "a"+"bc") cover the real cases.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.tokenizers import merge as merge_module
from groundup.tokenizers.merge import (
    LONG_CHUNK,
    NO_MERGE,
    MergeTable,
    RankTable,
    merge,
    merge_by_rank,
    merge_heap,
    merge_naive,
)
from groundup.tokenizers.train import learn_merges

pytestmark = pytest.mark.module("0.7", "3.2")

ALPHABET = 5  # ids 0..4 start a sequence; merged ids may be any id below 12


@st.composite
def made_up_tables(draw) -> MergeTable:
    """Up to 30 merging pairs over ids 0..11 with ranks 0..7 (so many ties) and arbitrary merged ids."""
    pair = st.tuples(st.integers(0, 11), st.integers(0, 11))
    entry = st.tuples(st.integers(0, 7), st.integers(0, 11))
    return MergeTable(draw(st.dictionaries(pair, entry, max_size=30)))


def sequences() -> st.SearchStrategy[list[int]]:
    """Random ids, long runs of one id, and repeated short patterns (ABAB..., AAB AAB ...)."""
    ids = st.integers(0, ALPHABET - 1)
    runs = st.lists(st.tuples(ids, st.integers(1, 80)), max_size=4).map(
        lambda rs: [i for i, count in rs for _ in range(count)]
    )
    patterns = st.tuples(st.lists(ids, min_size=1, max_size=4), st.integers(1, 40)).map(lambda p: p[0] * p[1])
    return st.one_of(st.lists(ids, max_size=120), runs, patterns)


def all_loops_agree(ids: list[int], table) -> list[int]:
    expected = merge_naive(list(ids), table)
    assert merge_heap(list(ids), table) == expected
    assert merge_by_rank(list(ids), table) == expected
    assert merge(list(ids), table) == expected
    return expected


@settings(max_examples=400, deadline=None)
@given(table=made_up_tables(), ids=sequences())
def test_fast_loops_equal_naive_on_made_up_tables(table, ids):
    all_loops_agree(ids, table)


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet="ab c", min_size=1, max_size=60), ids=sequences(), merges=st.integers(1, 40))
def test_fast_loops_equal_naive_on_trained_tables(text, ids, merges):
    """A table learned by BPE training (rank = merge order) never needs the heap fallback."""
    learned = learn_merges({text.encode(): 1}, merges)
    table = MergeTable({pair: (rank, new_id) for rank, (pair, new_id) in enumerate(learned)})
    ids = [97 + i % 4 for i in ids]  # a, b, c, d
    all_loops_agree(ids, table)


@settings(max_examples=200, deadline=None)
@given(
    tokens=st.lists(st.text(alphabet="abc", min_size=2, max_size=5), max_size=25, unique=True),
    text=st.one_of(st.text(alphabet="abc", max_size=150), st.sampled_from("abc").map(lambda c: c * 97)),
)
def test_fast_loops_equal_naive_on_rank_tables(tokens, text):
    """tiktoken-style ranks: a token is reached by several pairs ("ab"+"c", "a"+"bc") with one rank."""
    ranks = {bytes([b]): b for b in range(256)}
    for token in tokens:
        ranks.setdefault(token.encode(), len(ranks) + 1000)
    table = RankTable(ranks, {i: t for t, i in ranks.items()})
    all_loops_agree(list(text.encode()), table)


def test_ties_go_to_the_leftmost_pair():
    """aaaaa with aa -> X then XX -> Y: the leftmost aa merges first, so the odd a is left at the end."""
    table = MergeTable({(0, 0): (0, 5), (5, 5): (1, 7)})
    assert all_loops_agree([0] * 5, table) == [7, 0]
    assert all_loops_agree([0] * 64, table) == [7] * 16


def test_pairs_that_do_not_merge_and_short_inputs():
    table = MergeTable({(1, 2): (0, 9)})
    for ids in ([], [1], [2, 1], [1, 2], [3] * 50):
        all_loops_agree(ids, table)
    assert MergeTable()[1, 2] == NO_MERGE


# ---- work grows like n log n, not n²: counted, not timed ----------------------------------------


class CountingRank(int):
    """A rank that counts every comparison it takes part in, including those inside `min`,
    `list.index` and `heapq` (the naive loop's O(n) scans happen there, out of Python's sight)."""

    comparisons = 0

    def _count(op):
        def compare(self, other):
            CountingRank.comparisons += 1
            return op(int(self), int(other))

        return compare

    __lt__ = _count(int.__lt__)
    __le__ = _count(int.__le__)
    __gt__ = _count(int.__gt__)
    __ge__ = _count(int.__ge__)
    __eq__ = _count(int.__eq__)
    __ne__ = _count(int.__ne__)
    __hash__ = int.__hash__
    del _count


class CountingTable(dict):
    """`table` with its ranks replaced by `CountingRank`s (merged ids unchanged)."""

    def __init__(self, table) -> None:
        super().__init__()
        self.table = table

    def __missing__(self, pair):
        rank, merged = self.table[pair]
        value = self[pair] = NO_MERGE if rank == NO_MERGE[0] else (CountingRank(rank), merged)
        return value


def comparisons(fn) -> int:
    CountingRank.comparisons = 0
    fn()
    return CountingRank.comparisons


def test_counter_sees_the_naive_loops_quadratic_work():
    table = CountingTable(MergeTable({(0, 0): (0, 1), (1, 1): (1, 2), (2, 2): (2, 3)}))
    small = comparisons(lambda: merge_naive([0] * 400, table))
    large = comparisons(lambda: merge_naive([0] * 800, table))
    assert large > 3.5 * small  # doubling the run quadruples the naive loop's work


MIXED = "The quick brown fox, don't 東京タワー 👍🏽 naïve x² 3.14159\n\n    return -1;\t<|endoftext|> "
RUNS = {
    "spaces": " ",
    "newlines": "\n",
    "tabs": "\t",
    "letter": "x",
    "cjk": "漢字中文",
    "emoji zwj": "👨\u200d👩\u200d👧\u200d👦",
    "punctuation": "!@#$%^&*()",
    "letters": "abcdefghijklmnopqrstuvwxyz",
}


@pytest.mark.parametrize("kind", sorted(RUNS))
@pytest.mark.parametrize("name", ["cl100k", "smollm2"])
def test_encoding_work_grows_linearly_with_the_run(request, monkeypatch, name, kind):
    """Counted rank comparisons for a run of 4k bytes and of 8k bytes, through the tokenizer's
    encode: about 2x (n log n would allow a little more), never the 4x of a quadratic loop."""
    tok = request.getfixturevalue(name)
    attr = "_pairs" if name == "cl100k" else "_merges"
    monkeypatch.setattr(tok, attr, CountingTable(getattr(tok, attr)))
    unit = RUNS[kind]

    def work(n_bytes: int) -> int:
        tok._cache.clear()
        text = unit * (n_bytes // len(unit.encode()))
        return comparisons(lambda: tok.encode(text))

    try:
        small, large = work(4096), work(8192)
    finally:
        tok._cache.clear()
    assert large < 2.4 * small, (small, large)
    assert small < 16 * 4096  # a handful of comparisons per byte


@pytest.mark.parametrize("name", ["cl100k", "smollm2"])
def test_real_vocabularies_never_need_the_heap_fallback(request, monkeypatch, name):
    """`merge_by_rank` is only faster if a trained vocabulary keeps rank order, as argued in its docstring."""
    tok = request.getfixturevalue(name)

    def fallback(*args):
        raise AssertionError("merge_by_rank fell back to the heap loop on a real vocabulary")

    monkeypatch.setattr(merge_module, "_heap_loop", fallback)
    table = tok._pairs if name == "cl100k" else tok._merges
    for text in [unit * 64 for unit in RUNS.values()] + [MIXED * 4]:
        merge_by_rank([tok._byte_ids[b] for b in text.encode() if tok._byte_ids[b] is not None], table)
    merge_by_rank([b for b in tok._byte_ids if b is not None] * 4, table)


def test_long_chunks_leave_the_naive_loop(monkeypatch):
    def refuse(ids, table):
        assert len(ids) < LONG_CHUNK, "a long chunk went to the quadratic loop"
        return []

    monkeypatch.setattr(merge_module, "merge_naive", refuse)
    table = MergeTable({(0, 0): (0, 1)})
    assert merge([0] * LONG_CHUNK, table) == [1] * (LONG_CHUNK // 2)
