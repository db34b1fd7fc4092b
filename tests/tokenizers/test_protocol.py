"""Every tokenizer through the one `Tokenizer` protocol, the common "exactly this text" call against
each reference, `CharTokenizer`, and the package's imports (no cycle, files apart from classes)."""

from __future__ import annotations

import ast
import doctest
from pathlib import Path

import numpy as np
import pytest

import groundup.tokenizers as package
from groundup.errors import GroundupError
from groundup.tokenizers import CharTokenizer, RegexBPE, Tokenizer, load_named
from groundup.tokenizers.wordpiece import Encoding

pytestmark = pytest.mark.module("3.2")

TEXT = "the quick brown fox jumps over the lazy dog. 42 times!"
SAMPLE = "First Citizen:\nBefore we proceed any further, hear me speak. " * 5


@pytest.fixture(scope="module")
def tokenizers(cl100k, smollm2, minilm):
    trained = RegexBPE("gpt4", {"<|endoftext|>": 400}).train(SAMPLE, 256 + 40)
    return {
        "cl100k": cl100k,
        "regex_bpe": trained,
        "smollm2": smollm2,
        "minilm": minilm,
        "char": CharTokenizer.from_text(TEXT + SAMPLE),
    }


# name: (vocab size, one special token and its id, BOS, EOS, has a chat template)
EXPECTED = {
    "cl100k": (100277, ("<|endoftext|>", 100257), None, 100257, False),
    "regex_bpe": (401, ("<|endoftext|>", 400), None, 400, False),
    "smollm2": (49152, ("<|im_start|>", 1), 1, 2, True),
    "minilm": (30522, ("[CLS]", 101), None, None, False),
    "char": (None, None, None, None, False),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_tokenizer_satisfies_the_protocol(tokenizers, name):
    tok = tokenizers[name]
    vocab_size, special, bos, eos, has_template = EXPECTED[name]
    assert isinstance(tok, Tokenizer)
    ids = tok.encode(TEXT)
    assert tok.decode(ids) == TEXT
    plain = tok.encode(TEXT, add_special_tokens=False, allowed_special="all")
    assert tok.decode_bytes(plain) == TEXT.encode()
    assert all(isinstance(i, int) and 0 <= i < tok.vocab_size for i in ids)
    assert tok.vocab_size == (vocab_size or len(set(TEXT + SAMPLE)))
    assert (tok.bos_token_id, tok.eos_token_id, tok.chat_template is not None) == (bos, eos, has_template)
    if special is None:
        assert tok.special_tokens == {}
        return
    text, token_id = special
    assert tok.special_tokens[text] == token_id and tok.id_to_token(token_id) == text
    raw = tok.encode(f"{TEXT}{text}{TEXT}", add_special_tokens=False, allowed_special="all")
    assert raw.count(token_id) == 1 and raw[0] != bos


def test_the_common_call_equals_each_reference(tokenizers, tiktoken_cl100k, hf_smollm2, hf_minilm):
    """The call for "exactly this text" (nothing added, specials in it allowed) is the same for all."""
    text = "Hello <|endoftext|> [MASK] <|im_start|>, world!"
    ours = {
        name: tokenizers[name].encode(text, add_special_tokens=False, allowed_special="all")
        for name in ("cl100k", "smollm2", "minilm")
    }
    assert ours["cl100k"] == tiktoken_cl100k.encode(text, allowed_special="all")
    assert ours["smollm2"] == hf_smollm2.encode(text, add_special_tokens=False).ids
    ref = hf_minilm.encode(text, add_special_tokens=False)
    assert ours["minilm"] == [i for i, keep in zip(ref.ids, ref.attention_mask) if keep]
    assert tokenizers["smollm2"].encode("hi", add_special_tokens=False, add_bos=True)[0] == 1  # explicit wins


def test_wordpiece_encoding_is_the_list_of_ids(minilm):
    enc = minilm.encode("Hello, world!")
    assert isinstance(enc, Encoding) and isinstance(enc, list)
    assert enc == enc.ids == [101, 7592, 1010, 2088, 999, 102] and type(enc.ids) is list
    assert enc.tokens == ["[CLS]", "hello", ",", "world", "!", "[SEP]"] and enc.attention_mask == [1] * 6
    assert minilm.tokenize("[MASK] x", allowed_special=()) == ["[", "mask", "]", "x"]
    assert minilm.decode_bytes(minilm.encode("héllo")) == b"[CLS] hello [SEP]"


def test_char_tokenizer():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert tok.encode("low") == [4, 5, 7] and tok.id_to_token(7) == "w"
    assert tok.decode(np.array([3, 2, 4, 4, 5])) == "hello"
    with pytest.raises(GroundupError, match=r"characters \['!', 'x'\] are not in the vocabulary of 8"):
        tok.encode("hex!")
    with pytest.raises(GroundupError) as info:
        tok.encode("ABCDEFGHIJKL")
    assert "'J'" in str(info.value) and "'K'" not in str(info.value)  # up to 10 named
    with pytest.raises(ValueError, match="unknown token id 8"):
        tok.decode([8])
    with pytest.raises(ValueError, match="not special tokens"):
        tok.encode("he", allowed_special={"<|endoftext|>"})
    with pytest.raises(ValueError, match="distinct"):
        CharTokenizer(["a", "a"])


def test_load_named_and_loader_errors(tmp_path):
    assert isinstance(load_named("cl100k"), RegexBPE)
    with pytest.raises(GroundupError, match="neither a tokenizer name"):
        load_named(str(tmp_path / "missing"))
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\x00\x01")
    with pytest.raises(GroundupError, match="cannot tell what tokenizer"):
        load_named(str(odd))


def _imports(path: Path, module: str) -> set[str]:
    """groundup.tokenizers modules that `path` imports anywhere, function bodies included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("groundup.tokenizers"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("groundup.tokenizers")} - {module}


def test_no_import_cycle_inside_the_package():
    """What import-linter forbids: a cycle of imports, lazy ones inside functions counted too."""
    root = Path(package.__file__).parent
    names = {p.stem: p for p in root.glob("*.py")}
    graph = {}
    for stem, path in names.items():
        module = "groundup.tokenizers" if stem == "__init__" else f"groundup.tokenizers.{stem}"
        graph[module] = {m for m in _imports(path, module) if m == "groundup.tokenizers" or m.count(".") == 2}
    graph = {m: {d for d in deps if d in graph} for m, deps in graph.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            assert state.get(dep) != 1, "import cycle: " + " -> ".join([*path, module, dep])
            if dep not in state:
                visit(dep, [*path, module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert "groundup.tokenizers.loaders" not in graph["groundup.tokenizers.base"]
    assert graph["groundup.tokenizers.io"] <= {"groundup.tokenizers.bytelevel"}  # files: no tokenizer class


def test_docstring_examples_hold():
    from groundup.tokenizers import cache, char, merge, specials

    for module in (cache, char, merge, specials):
        assert doctest.testmod(module).failed == 0, module.__name__
