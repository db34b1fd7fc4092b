"""The BPE merge loop, written once for tiktoken-style ranks and for GGUF merge lists.

Encoding a chunk starts from the ids of its bytes and repeats: among adjacent pairs that merge,
take the one with the lowest rank (the leftmost on a tie) and replace it by its merged id; stop
when no adjacent pair merges. Only the two pairs beside a merge change, so the loop keeps a list of
pair ranks and updates just those two entries.

The loop reads a *merge table*, `(left id, right id) -> (rank, merged id)`. Two sources give one:

- a GGUF file lists merges ("Ġ t" per line, best first), so rank = line number (`MergeTable`);
- a tiktoken rank file lists only tokens: two adjacent tokens merge when their concatenated bytes
  are a token, whose id is also the rank (`RankTable`). That table is derived from the ranks pair by
  pair, as the loop asks: building all 233k pairs of cl100k up front takes about three times as long
  as reading its file, while one text meets a few tens of thousands of pairs.

>>> table = MergeTable({(97, 97): (0, 256), (256, 98): (1, 257)})
>>> merge([97, 97, 98, 97], table)
[257, 97]
"""

from __future__ import annotations

from groundup.tokenizers.cache import CACHE_LIMIT

NO_RANK = 1 << 62  # larger than any rank: "this pair does not merge"
NO_MERGE = (NO_RANK, -1)


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
    """Merge `ids` (changed in place and returned) by the lowest-ranked adjacent pair until none merges.

    `table[left, right]` must give `NO_MERGE` for pairs that do not merge (`MergeTable`, `RankTable`).
    `ranks[i]` is the rank of the pair ids[i], ids[i + 1].
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
