"""groundup.tokenizers vs tiktoken / HF tokenizers: BPE training, cl100k encode, WordPiece and GGUF encode.

All on one thread: HF tokenizers runs with TOKENIZERS_PARALLELISM=false (it would otherwise use both
cores of this shared machine, where ours uses one); tiktoken's `encode` is single-threaded anyway.
Training: ours (RegexBPE, GPT-4 split) and HF's BpeTrainer (ByteLevel split, byte alphabet) both to a
vocabulary of 1024 on tiny Shakespeare. The naive trainer (recount every pair of the whole corpus for
each merge) would take minutes for 768 merges, so it is compared on the same number of merges
(64 full, 16 quick) on the same text. Encode rows report MB/s of UTF-8 input; "warm" reuses the chunk
cache across repeats, "cold" empties it before each call.
"""

from __future__ import annotations

import copy
import os

import regex

from benchmarks.harness import Report
from groundup.data import load_text, minilm_dir, smollm2_gguf_path


def run(report: Report, quick: bool) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    repeats = 3 if quick else 5
    shakespeare = load_text("tinyshakespeare")
    wiki = load_text("wikitext2", "test")
    if quick:
        shakespeare, wiki = shakespeare[:300_000], wiki[:300_000]
    bench_training(report, shakespeare, quick, repeats)
    bench_cl100k(report, wiki, repeats)
    bench_wordpiece(report, wiki, repeats)
    bench_gguf(report, wiki, repeats)


def bench_training(report: Report, text: str, quick: bool, repeats: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from groundup.tokenizers import GPT4_SPLIT_PATTERN, RegexBPE
    from groundup.tokenizers.train import learn_merges_naive

    def ours():
        return RegexBPE("gpt4").train(text, 1024)

    def hf():
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=1024, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
        tok.train_from_iterator([text], trainer)
        return tok

    mb = len(text.encode()) / 1e6
    report.compare("train vocab 1024", ours, hf, peer_name="HF tokenizers BpeTrainer", repeats=repeats, mb=mb)
    merges = 16 if quick else 64
    chunks = [c.encode() for c in regex.findall(GPT4_SPLIT_PATTERN, text)]
    report.compare(
        f"train {merges} merges",
        lambda: RegexBPE("gpt4").train(text, 256 + merges),
        lambda: learn_merges_naive(chunks, merges),
        peer_name="naive recount-every-merge",
        repeats=1,
        warmup=0,
        mb=mb,
    )


def bench_cl100k(report: Report, text: str, repeats: int) -> None:
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    from groundup.data import cl100k_ranks_path
    from groundup.tokenizers import GPT4_SPLIT_PATTERN, load_tiktoken

    ours = load_tiktoken()
    specials = dict(ours.special_tokens)
    ref = tiktoken.Encoding(
        "cl100k_base",
        pat_str=GPT4_SPLIT_PATTERN,
        mergeable_ranks=load_tiktoken_bpe(str(cl100k_ranks_path())),
        special_tokens=specials,
    )
    assert ours.encode(text) == ref.encode(text), "ids differ: fix correctness before timing"
    mb = len(text.encode()) / 1e6

    def cold():
        ours._cache.clear()
        return ours.encode(text)

    for case, fn in (("cl100k encode warm", lambda: ours.encode(text)), ("cl100k encode cold", cold)):
        row = report.compare(
            case, fn, lambda: ref.encode(text), peer_name="tiktoken", repeats=repeats, work=mb, unit="MB"
        )
        row["throughput_ratio"] = row["speedup"]


def bench_wordpiece(report: Report, text: str, repeats: int) -> None:
    from tokenizers import Tokenizer

    from groundup.tokenizers import WordPiece

    lines = text.split("\n")
    ours = WordPiece.from_pretrained()
    ref = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    ref.no_truncation()
    ref.no_padding()
    assert [ours.encode(x).ids for x in lines] == [e.ids for e in ref.encode_batch(lines)]
    report.compare(
        "wordpiece encode lines",
        lambda: [ours.encode(x) for x in lines],
        lambda: ref.encode_batch(lines),
        peer_name="HF tokenizers (1 thread)",
        repeats=repeats,
        work=len(text.encode()) / 1e6,
        unit="MB",
    )


def bench_gguf(report: Report, text: str, repeats: int) -> None:
    from tokenizers import pre_tokenizers
    from transformers import AutoTokenizer

    from groundup.tokenizers import from_gguf

    path = smollm2_gguf_path()
    ours = from_gguf(path)
    hf = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    ref = copy.deepcopy(hf.backend_tokenizer)
    ref.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    assert ours.encode(text) == ref.encode(text).ids
    report.compare(
        "smollm2 (GGUF) encode warm",
        lambda: ours.encode(text),
        lambda: ref.encode(text),
        peer_name="HF tokenizers from GGUF (1 thread)",
        repeats=repeats,
        work=len(text.encode()) / 1e6,
        unit="MB",
    )
