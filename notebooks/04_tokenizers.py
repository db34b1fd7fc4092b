# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. Tokenizers: byte-pair encoding from scratch to GPT-4's cl100k
#
# A language model reads integers. Byte-pair encoding (BPE) starts from the 256 byte values and
# repeatedly merges the most frequent adjacent pair into a new token, so frequent words become single
# tokens and any text, in any script, still encodes (as bytes at worst). The notes:
# [0.7 BPE](../docs/notes/0.7-bpe.md) and [3.2 tokenizers](../docs/notes/3.2-tokenizers.md).
# `tests/tokenizers/` checks cl100k against tiktoken id for id, SmolLM2's against HF tokenizers and
# WordPiece against BERT's.

# %%
from groundup.tokenizers import BasicBPE, RegexBPE
from groundup.tokenizers.loaders import load_named
from groundup.tokenizers.patterns import GPT4_SPLIT_PATTERN

text = (
    "The low tokens are the lowest and the newest are the widest. "
    "A tokenizer learns merges: the most frequent pair of tokens becomes a new token. "
) * 20

# %% [markdown]
# ## Training a byte-level BPE
#
# `BasicBPE.train(text, vocab_size)` learns `vocab_size - 256` merges. Each merge is a pair of token
# ids and the new id it becomes.

# %%
basic = BasicBPE().train(text, vocab_size=256 + 40)
for (left, right), new_id in basic.merges[:8]:
    print(
        f"{new_id}: {basic.token_bytes(left)!r} + {basic.token_bytes(right)!r} -> {basic.token_bytes(new_id)!r}"
    )
ids = basic.encode("the lowest tokenizer")
print(len(b"the lowest tokenizer"), "bytes ->", len(ids), "tokens:", [basic.token_bytes(i) for i in ids])
assert basic.decode(ids) == "the lowest tokenizer"

# %% [markdown]
# ## Splitting first: the GPT-4 regex
#
# Merging across word boundaries makes tokens like `"e t"`. GPT-2 and GPT-4 first split the text
# with a regular expression (letters, numbers of up to three digits, punctuation, spaces) and merge
# only inside each chunk. `RegexBPE` is `BasicBPE` plus that split.

# %%
regex = RegexBPE(GPT4_SPLIT_PATTERN).train(text, vocab_size=256 + 40)
print("basic:", [basic.token_bytes(i) for i in basic.encode("the newest tokens")])
print("regex:", [regex.token_bytes(i) for i in regex.encode("the newest tokens")])

# %% [markdown]
# ## The real ones, side by side
#
# The same text through GPT-4's cl100k (100k merges, read from the tiktoken rank file), SmolLM2's
# tokenizer (read from its GGUF file) and BERT's WordPiece. This is the table the lab's tokenizer
# explorer draws (`groundup lab`, then *Tokenizers*).

# %%
from groundup.lab.tokens import compare_tokenizers

sample = "Tokenizers split unbelievably long words; 1234567 and naïve café too."
tokenizers = {name: load_named(name) for name in ("cl100k", "smollm2", "minilm")}
table = compare_tokenizers(tokenizers, sample)
for row in table["tokenizers"]:
    print(f"{row['name']:8s} {row['count']:3d} tokens:", "|".join(t["text"] for t in row["tokens"]))

# %% [markdown]
# Try `groundup tokenize encode --tokenizer cl100k "your text"` on the command line, and
# `groundup tokenize train` to train one on a corpus.
