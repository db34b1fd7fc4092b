"""Adversarial tokenizer inputs (1 MB each: whitespace runs, CJK, huge words, emoji) vs tiktoken / HF tokenizers.

A prompt that is one unbroken run (64 KB of spaces, 16k CJK characters, one 32k-letter word) used to
take seconds to minutes, because merging a chunk was quadratic in its length. Each input here is
1 MB of UTF-8 (256 KB with --quick), tokenized by ours and by the reference on the same vocabulary:

    cl100k   groundup `load_tiktoken()`          vs tiktoken (same ranks, same pattern), and vs HF
                                                    tokenizers on the same ranks (transformers'
                                                    TikTokenConverter)
    smollm2  groundup `from_gguf(...)`           vs HF tokenizers converted from the same GGUF by
                                                    transformers, SmolLM2's pre-tokenizer restored
    minilm   groundup `WordPiece.from_pretrained` vs HF tokenizers on the model's tokenizer.json

Ids are checked equal before timing. Our chunk cache is emptied before every timed call (neither
peer keeps long words across calls; within one call ours still reuses a repeated word). Everything
runs on one thread. `speedup` = peer time / our time; the goal is `ours_over_peer` <= 3.
"""

from __future__ import annotations

import copy
import os
import random

from benchmarks.harness import Report
from groundup.data import cl100k_ranks_path, minilm_dir, smollm2_gguf_path

GOAL = 3.0  # ours may take at most this many times the reference's time


def adversarial_inputs(size: int) -> dict[str, str]:
    """Texts of `size` UTF-8 bytes (a few bytes short where a character does not fit), one kind each."""
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    word = "".join(rng.choice(letters) for _ in range(size // 10 - 1))
    words100 = " ".join("".join(rng.choice(letters) for _ in range(100)) for _ in range(size // 101))
    return {
        "spaces": " " * size,
        "newlines": "\n" * size,
        "tabs": "\t" * size,
        "cjk": "".join(chr(0x4E00 + (i * 7919) % 0x5200) for i in range(size // 3)),
        "word x10": " ".join([word] * 10),  # one word of size/10 letters, repeated
        "one word": "x" * size,
        "emoji zwj": "👨\u200d👩\u200d👧\u200d👦" * (size // 25),
        "punctuation": ("!@#$%^&*()-=+[]{};:,.<>/?~`|\\\"'" * size)[:size],
        "100-letter words": words100,
        "special look-alikes": ("<|endoftext|<|im_start|[CLS[SEP " * size)[:size],
    }


def run(report: Report, quick: bool) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ["RAYON_NUM_THREADS"] = "1"
    size = (1 << 18) if quick else (1 << 20)
    repeats = 1 if quick else 3
    texts = adversarial_inputs(size)
    for name, ours, peer, peer_name in tokenizer_pairs():
        for kind, text in texts.items():
            _compare(report, f"{name} {kind}", ours, peer, peer_name, text, repeats)


def tokenizer_pairs():
    """(name, ours, peer, peer name): `ours(text)` and `peer(text)` return lists of ids."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe
    from tokenizers import Tokenizer, pre_tokenizers
    from transformers import AutoTokenizer
    from transformers.convert_slow_tokenizer import TikTokenConverter

    from groundup.tokenizers import GPT4_SPLIT_PATTERN, WordPiece, from_gguf, load_tiktoken

    cl100k = load_tiktoken()
    tt = tiktoken.Encoding(
        "cl100k_base",
        pat_str=GPT4_SPLIT_PATTERN,
        mergeable_ranks=load_tiktoken_bpe(str(cl100k_ranks_path())),
        special_tokens=dict(cl100k.special_tokens),
    )
    yield "cl100k", cl100k, tt.encode, "tiktoken"
    converted = TikTokenConverter(vocab_file=str(cl100k_ranks_path()), pattern=GPT4_SPLIT_PATTERN).converted()
    yield "cl100k", cl100k, lambda text: converted.encode(text).ids, "HF tokenizers from cl100k ranks"

    path = smollm2_gguf_path()
    smollm2 = from_gguf(path)
    hf = copy.deepcopy(AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name).backend_tokenizer)
    hf.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    yield "smollm2", smollm2, lambda text: hf.encode(text).ids, "HF tokenizers from GGUF"

    minilm = WordPiece.from_pretrained()
    wp = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    wp.no_truncation()
    wp.no_padding()
    yield "minilm", minilm, lambda text: wp.encode(text).ids, "HF tokenizers"


def _compare(report: Report, case: str, tok, peer, peer_name: str, text: str, repeats: int) -> None:
    def ours():
        tok._cache.clear()
        return list(tok.encode(text))

    assert ours() == peer(text), f"{case}: ids differ from {peer_name}; fix correctness before timing"
    row = report.compare(
        case,
        ours,
        lambda: peer(text),
        peer_name=peer_name,
        work=len(text.encode()) / 1e6,
        unit="MB",
        warmup=0,
        repeats=repeats,
    )
    row["ours_over_peer"] = row["ours_median_s"] / row["peer_median_s"]
    row["within_goal"] = row["ours_over_peer"] <= GOAL
    print(
        f"{case:36s} ours {row['ours_median_s']:7.3f} s  {peer_name} {row['peer_median_s']:7.3f} s  "
        f"ours/peer {row['ours_over_peer']:5.2f}",
        flush=True,
    )
