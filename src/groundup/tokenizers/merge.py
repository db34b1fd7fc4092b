"""The BPE merge loop, written once for tiktoken-style ranks and for GGUF merge lists.

Encoding a chunk starts from the ids of its bytes and repeats: among adjacent pairs that merge,
take the one with the lowest rank (the leftmost on a tie) and replace it by its merged id; stop
when no adjacent pair merges.

Three loops compute exactly that, and `merge` picks one per chunk:

- `merge_naive` keeps a list of pair ranks and scans it for the minimum: O(n) per merge, O(n²) for a
  chunk of n bytes. On the few bytes of a natural-language chunk (under `LONG_CHUNK` ids) it is the
  fastest, and it is the reference the others are tested against.
- `merge_heap` keeps the parts in a doubly linked list (arrays `nxt`/`prv` indexed by the part's
  first byte) and the candidate pairs in a heap keyed by (rank, position): O(log n) per merge, so a
  long run of spaces, CJK text or one huge word costs O(n log n) instead of O(n²). A merge changes
  only the two pairs beside it; their new ranks are pushed, and entries made stale by a merge stay
  in the heap and are skipped when popped ("lazy invalidation": a popped pair must still have the
  rank it was pushed with). The position is the index of the pair's left part in the original
  sequence; parts never move, so the smallest position among equal ranks is the leftmost pair, and
  the loops make the same merges in the same order. Used for long chunks of mostly distinct pairs.
- `merge_by_rank` is `merge_heap` with one bucket of positions per rank in place of one heap entry
  per pair: all pairs of the lowest rank are merged in one left-to-right pass. It does the same
  merges 2-3 times faster on long chunks that repeat a few pairs (runs of one character, repeated
  emoji sequences), and hands over to `merge_heap`'s loop on a table where rank order would not be
  kept (see its docstring).

The loops read a *merge table*, `(left id, right id) -> (rank, merged id)`. Two sources give one:

- a GGUF file lists merges ("Ġ t" per line, best first), so rank = line number (`MergeTable`);
- a tiktoken rank file lists only tokens: two adjacent tokens merge when their concatenated bytes
  are a token, whose id is also the rank (`RankTable`). That table is derived from the ranks pair by
  pair, as the loop asks: building all 233k pairs of cl100k up front takes about three times as long
  as reading its file, while one text meets a few tens of thousands of pairs.

>>> table = MergeTable({(97, 97): (0, 256), (256, 98): (1, 257)})
>>> merge([97, 97, 98, 97], table)
[257, 97]
>>> merge_heap([97] * 5, table) == merge_naive([97] * 5, table) == [256, 256, 97]
True
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

from groundup.tokenizers.cache import CACHE_LIMIT

NO_RANK = 1 << 62  # larger than any rank: "this pair does not merge"
NO_MERGE = (NO_RANK, -1)
LONG_CHUNK = 32  # chunks of at least this many ids leave `merge_naive` (measured crossover: docs/notes/3.2)
RUN_LIKE = 4  # `merge_by_rank` when at most 1/RUN_LIKE of a long chunk's pairs are distinct
_POS_BITS = 40  # a heap key is rank << _POS_BITS | position: one int compares faster than a tuple
_POS_MASK = (1 << _POS_BITS) - 1
_DEAD = -1  # id of a part that was merged into its left neighbour


class MergeTable(dict):
    """`(left id, right id) -> (rank, merged id)`; a pair that does not merge reads as `NO_MERGE`."""

    def __missing__(self, pair: tuple[int, int]) -> tuple[int, int]:
        return NO_MERGE


class RankTable(dict):
    """The merge table implied by mergeable ranks (`bytes -> id`), filled in as pairs are looked up.

    `token_bytes` maps each id to its bytes. Lookups are remembered, non-merging pairs included; the
    table is emptied at `CACHE_LIMIT` pairs, like the chunk cache.
    """

    def __init__(self, ranks: dict[bytes, int], token_bytes: dict[int, bytes]) -> None:
        super().__init__()
        self.ranks, self.token_bytes = ranks, token_bytes

    def __missing__(self, pair: tuple[int, int]) -> tuple[int, int]:
        if len(self) >= CACHE_LIMIT:
            self.clear()
        rank = self.ranks.get(self.token_bytes[pair[0]] + self.token_bytes[pair[1]])
        value = self[pair] = NO_MERGE if rank is None else (rank, rank)
        return value


def merge(ids: list[int], table: dict[tuple[int, int], tuple[int, int]]) -> list[int]:
    """Merge `ids` by the lowest-ranked (then leftmost) adjacent pair until none merges.

    `table[left, right]` must give `NO_MERGE` for pairs that do not merge (`MergeTable`, `RankTable`).
    Short chunks take `merge_naive`; long ones `merge_by_rank` when they repeat a few pairs (runs of
    one character, of one emoji sequence) and `merge_heap` otherwise. All three return the same ids;
    `ids` may be changed in place.
    """
    if len(ids) < LONG_CHUNK:
        return merge_naive(ids, table)
    nxt, prv, pairs = _linked(ids, table)
    loop = _rank_loop if len(set(pairs)) * RUN_LIKE <= len(pairs) else _heap_loop
    return loop(ids, table, nxt, prv, pairs)


def merge_naive(ids: list[int], table: dict[tuple[int, int], tuple[int, int]]) -> list[int]:
    """The textbook loop: scan all pair ranks for the minimum, merge it, update its two neighbours.

    O(n) per merge (the scan, and deleting from the middle of a list), so O(n²) on a chunk of n ids
    that keeps merging. `ids` is changed in place and returned; `ranks[i]` is the rank of the pair
    ids[i], ids[i + 1].
    """
    ranks = [table[pair][0] for pair in zip(ids, ids[1:])]
    while ranks:
        best = min(ranks)
        if best == NO_RANK:
            break
        i = ranks.index(best)
        ids[i : i + 2] = [table[ids[i], ids[i + 1]][1]]
        del ranks[i]
        if i < len(ranks):
            ranks[i] = table[ids[i], ids[i + 1]][0]
        if i > 0:
            ranks[i - 1] = table[ids[i - 1], ids[i]][0]
    return ids


def merge_heap(ids: list[int], table: dict[tuple[int, int], tuple[int, int]]) -> list[int]:
    """The same merges as `merge_naive` in O(n log n): a heap of pairs over a linked list of parts.

    Parts are named by the position of their first id. `ids[i]` is the id of part i (`_DEAD` once
    merged into its left neighbour), `nxt[i]`/`prv[i]` the positions of its neighbours (n / -1 at the
    ends), and `pairs[i]` the table entry `(rank, merged id)` of the pair (part i, the part after it),
    `NO_MERGE` for the last part and dead ones. A heap key `rank << _POS_BITS | i` stands for pair i
    (chunks are far shorter than 2**40 ids); it is stale when `pairs[i]` no longer has that rank.
    `ids` is changed in place.
    """
    return _heap_loop(ids, table, *_linked(ids, table))


def _linked(ids: list[int], table) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    """`nxt`, `prv` and `pairs` (see `merge_heap`) for the parts `ids`, none merged yet."""
    n = len(ids)
    pairs = [table[pair] for pair in zip(ids, ids[1:])]
    pairs.append(NO_MERGE)
    return list(range(1, n + 1)), list(range(-1, n - 1)), pairs


def _heap_loop(ids, table, nxt, prv, pairs) -> list[int]:
    """`merge_heap`'s loop over the linked list of `_linked`, or over any later state of it
    (`merge_by_rank` hands over to it)."""
    n = len(ids)
    heap = [rank << _POS_BITS | i for i, (rank, _) in enumerate(pairs) if rank != NO_RANK]
    heapify(heap)
    while heap:
        key = heappop(heap)
        i = key & _POS_MASK
        rank, merged = pairs[i]
        if rank != key >> _POS_BITS:
            continue  # stale: this pair was merged, or a neighbour merged since it was pushed
        j = nxt[i]
        ids[i], ids[j], pairs[j] = merged, _DEAD, NO_MERGE
        k = nxt[i] = nxt[j]
        if k == n:
            pairs[i] = NO_MERGE
        else:
            prv[k] = i
            entry = pairs[i] = table[merged, ids[k]]
            if entry[0] != NO_RANK:
                heappush(heap, entry[0] << _POS_BITS | i)
        h = prv[i]
        if h != -1:
            entry = pairs[h] = table[ids[h], merged]
            if entry[0] != NO_RANK:
                heappush(heap, entry[0] << _POS_BITS | h)
    return [x for x in ids if x != _DEAD]


def merge_by_rank(ids: list[int], table: dict[tuple[int, int], tuple[int, int]]) -> list[int]:
    """`merge_heap`'s merges, one round per rank: O(n log n), about three times faster on long runs.

    `where[rank]` holds the positions of pairs created with that rank, and `where.ranks` is a heap of
    the ranks that have a bucket. A round takes the lowest rank, sorts its bucket and merges its pairs
    left to right, skipping stale ones (`pairs[i]` no longer has that rank); the pairs a merge creates
    go into their ranks' buckets. That is the heap's order exactly when no merge creates a pair ranked
    at or below the rank of the round, which holds in a trained vocabulary (a token that contains a
    merged token was learned after it). On a table where it fails (made-up ones) the loop stops at
    that merge and `merge_heap`'s loop finishes from there, so every table gets the same ids.
    """
    return _rank_loop(ids, table, *_linked(ids, table))


def _rank_loop(ids, table, nxt, prv, pairs) -> list[int]:
    """`merge_by_rank`'s loop over the linked list of `_linked`."""
    n = len(ids)
    where = _Buckets()
    for i, (rank, _) in enumerate(pairs):
        if rank != NO_RANK:
            where[rank].append(i)
    while where.ranks:
        rank = heappop(where.ranks)
        todo = where.pop(rank)
        todo.sort()
        for i in todo:
            entry = pairs[i]
            if entry[0] != rank:
                continue  # stale, as in merge_heap
            merged = entry[1]
            j = nxt[i]
            ids[i], ids[j], pairs[j] = merged, _DEAD, NO_MERGE
            k = nxt[i] = nxt[j]
            h = prv[i]
            right = left = NO_MERGE
            if k != n:
                prv[k] = i
                right = table[merged, ids[k]]
            if h != -1:
                left = pairs[h] = table[ids[h], merged]
            pairs[i] = right
            if right[0] <= rank or left[0] <= rank:
                return _heap_loop(ids, table, nxt, prv, pairs)
            if right[0] != NO_RANK:
                where[right[0]].append(i)
            if left[0] != NO_RANK:
                where[left[0]].append(h)
    return [x for x in ids if x != _DEAD]


class _Buckets(dict):
    """`rank -> positions` for `merge_by_rank`; a new rank gets an empty bucket and goes on the heap `ranks`."""

    def __init__(self) -> None:
        super().__init__()
        self.ranks: list[int] = []

    def __missing__(self, rank: int) -> list[int]:
        bucket = self[rank] = []
        heappush(self.ranks, rank)
        return bucket
