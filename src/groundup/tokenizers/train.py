"""Learning BPE merges: the incremental trainer, and the naive one it is checked against.

BPE training starts from bytes (ids 0..255) and repeats: count every adjacent pair of ids, make the
most frequent pair a new token, replace it everywhere. The naive way recounts the whole corpus for
every merge, O(corpus x merges). The incremental trainer does the same merges much faster:

1. Text is pre-split into chunks and only *distinct* chunks are kept, each with its count (in tiny
   Shakespeare ~1.1M bytes become ~25k distinct words), so a chunk seen 1,000 times is processed once
   with weight 1,000.
2. Pair counts are computed once. `where[pair]` lists the chunks containing the pair, so a merge
   touches only those chunks, and only the counts of the pairs beside each replaced occurrence change:
   in "x a b y" merging (a, b) -> Z removes (x, a) and (b, y) and adds (x, Z) and (Z, y).
3. A heap of (-count, pair) finds the best pair in O(log n). Entries are never updated in place:
   a changed count pushes a new entry, and a popped entry whose count is stale is dropped.

Tie-breaking is deterministic: the highest count wins, and among equal counts the smallest pair
(left id, then right id) wins. Both trainers follow this rule, so they return identical merges.

>>> learn_merges({b"aaabdaaabac": 1}, 3)   # Wikipedia's example: aa -> Z, ab -> Y, ZY -> X
[((97, 97), 256), ((97, 98), 257), ((256, 257), 258)]
"""

from __future__ import annotations

import heapq
from collections import defaultdict

Pair = tuple[int, int]


def merge_ids(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of `pair` in `ids`, left to right, by `new_id`."""
    a, b = pair
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _merge_with_deltas(word: list[int], pair: Pair, new_id: int) -> tuple[list[int], list[tuple[Pair, int]]]:
    """`merge_ids` that also lists how the counts of the neighbouring pairs change (+1/-1 each).

    Changes to `pair` itself are left out: after the merge it occurs nowhere in this word.
    """
    a, b = pair
    out: list[int] = []
    deltas: list[tuple[Pair, int]] = []
    i, n = 0, len(word)
    while i < n:
        if i + 1 < n and word[i] == a and word[i + 1] == b:
            if out:
                prev = out[-1]
                deltas += (((prev, a), -1), ((prev, new_id), 1))
            if i + 2 < n:
                nxt = word[i + 2]
                deltas += (((b, nxt), -1), ((new_id, nxt), 1))
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out, [(p, d) for p, d in deltas if p != pair]


def learn_merges(chunk_counts: dict[bytes, int], num_merges: int) -> list[tuple[Pair, int]]:
    """The first `num_merges` merges `((left, right), new_id)` over chunks with their counts.

    Stops early when no pair occurs any more (every chunk is a single token).
    """
    words = [list(chunk) for chunk in chunk_counts]
    counts = list(chunk_counts.values())
    pair_counts: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)
    for w, (word, count) in enumerate(zip(words, counts)):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += count
            where[pair].add(w)
    heap = [(-c, pair) for pair, c in pair_counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[Pair, int]] = []
    while len(merges) < num_merges and heap:
        neg_count, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -neg_count or neg_count == 0:
            continue  # stale entry: the count changed after it was pushed
        new_id = 256 + len(merges)
        merges.append((pair, new_id))
        touched: dict[Pair, int] = defaultdict(int)
        for w in where.pop(pair):
            words[w], deltas = _merge_with_deltas(words[w], pair, new_id)
            for p, d in deltas:
                touched[p] += d * counts[w]
                if d > 0:
                    where[p].add(w)
        del pair_counts[pair]
        for p, d in touched.items():
            if d:
                pair_counts[p] += d
                if pair_counts[p] > 0:
                    heapq.heappush(heap, (-pair_counts[p], p))
    return merges


def learn_merges_naive(chunks: list[bytes], num_merges: int) -> list[tuple[Pair, int]]:
    """The textbook trainer: recount all pairs of all chunks for every merge. Reference only."""
    words = [list(chunk) for chunk in chunks]
    merges: list[tuple[Pair, int]] = []
    for new_id in range(256, 256 + num_merges):
        pair_counts: dict[Pair, int] = defaultdict(int)
        for word in words:
            for pair in zip(word, word[1:]):
                pair_counts[pair] += 1
        if not pair_counts:
            break
        pair = min(pair_counts, key=lambda p: (-pair_counts[p], p))
        merges.append((pair, new_id))
        words = [merge_ids(word, pair, new_id) for word in words]
    return merges
