"""A byte-level BPE tokenizer between Hugging Face's `tokenizer.json` and GGUF's `tokenizer.*` keys.

Both hold the same three things: the vocabulary (token strings spelled with GPT-2's byte characters,
'Ġthe' = b' the'), the merges ("Ġ t" = merge 'Ġ' and 't', best first) and the special tokens. They
differ in how they say the rest:

    tokenizer.json                                  GGUF
    model.vocab {token: id} + added_tokens          tokenizer.ggml.tokens [token by id]
    added_tokens[].special                          tokenizer.ggml.token_type 3 (control) / 4 (user) / 1
    model.merges ["a b"] or [["a", "b"]]            tokenizer.ggml.merges ["a b"]
    pre_tokenizer (Digits + ByteLevel, Split, ...)  tokenizer.ggml.pre "smollm" | "gpt2" | "llama-bpe"
    tokenizer_config.json bos/eos/pad/unk_token     tokenizer.ggml.bos/eos/padding/unknown_token_id
    tokenizer_config.json chat_template             tokenizer.chat_template

llama.cpp names the pre-tokenizer (which regexes split the text before BPE) where tokenizer.json
describes it; we recognise the three structures llama.cpp calls smollm, gpt2 and llama-bpe.
"""

from __future__ import annotations

import json
from pathlib import Path

from groundup.errors import GroundupError
from groundup.formats.gguf import ValueType

NORMAL, UNUSED, CONTROL, USER_DEFINED = 1, 5, 3, 4
SPECIAL_KEYS = {"bos": "bos_token", "eos": "eos_token", "unknown": "unk_token", "padding": "pad_token"}
BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
PRE_TOKENIZERS = {
    "gpt2": BYTE_LEVEL,
    "smollm": {
        "type": "Sequence",
        "pretokenizers": [{"type": "Digits", "individual_digits": True}, BYTE_LEVEL],
    },
}


def _load_json(path: Path, required: bool = True) -> dict:
    if not path.is_file():
        if required:
            raise GroundupError(f"{path} is missing; a Hugging Face model folder needs it")
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise GroundupError(f"{path} is not valid JSON ({exc})") from exc


def pre_tokenizer_name(pre: dict | None, where: Path) -> str:
    """llama.cpp's name for the pre-tokenizer that tokenizer.json describes."""
    steps = (pre or {}).get("pretokenizers", [pre]) if (pre or {}).get("type") == "Sequence" else [pre or {}]
    kinds = [s.get("type") for s in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt2"
    if (
        kinds == ["Digits", "ByteLevel"]
        and steps[0].get("individual_digits")
        and steps[1].get("use_regex", True)
    ):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and r"\p{N}{1,3}" in str(steps[0].get("pattern")):
        return "llama-bpe"
    raise GroundupError(
        f"{where}: pre-tokenizer {kinds} is not one we can name for llama.cpp; supported: ByteLevel (gpt2), "
        "Digits + ByteLevel (smollm), Split(Llama 3 regex) + ByteLevel (llama-bpe)"
    )


def _token_text(value) -> str | None:
    return value.get("content") if isinstance(value, dict) else value


def gguf_tokenizer_fields(
    folder: Path, vocab_size: int | None = None
) -> list[tuple[str, object, ValueType, ValueType | None]]:
    """(key, value, type, item type) for every GGUF tokenizer key, from `folder`'s tokenizer files."""
    where = folder / "tokenizer.json"
    spec = _load_json(where)
    config = _load_json(folder / "tokenizer_config.json", required=False)
    model = spec.get("model", {})
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise GroundupError(
            f"{where}: model type {model.get('type')!r}{' with byte_fallback' if model.get('byte_fallback') else ''}"
            " is not supported; only byte-level BPE tokenizers (GPT-2, SmolLM2, Llama 3 style) convert"
        )
    vocab = dict(model.get("vocab", {}))
    added = {t["id"]: t for t in spec.get("added_tokens", [])}
    for i, t in added.items():
        vocab[t["content"]] = i
    by_id = {i: token for token, i in vocab.items()}
    size = max(vocab_size or 0, max(by_id) + 1)
    tokens, types = [], []
    for i in range(size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(UNUSED)
        else:
            tokens.append(by_id[i])
            types.append((CONTROL if added[i].get("special") else USER_DEFINED) if i in added else NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    fields = [
        ("tokenizer.ggml.model", "gpt2", ValueType.STRING, None),
        ("tokenizer.ggml.pre", pre_tokenizer_name(spec.get("pre_tokenizer"), where), ValueType.STRING, None),
        ("tokenizer.ggml.tokens", tokens, ValueType.ARRAY, ValueType.STRING),
        ("tokenizer.ggml.token_type", types, ValueType.ARRAY, ValueType.INT32),
        ("tokenizer.ggml.merges", merges, ValueType.ARRAY, ValueType.STRING),
    ]
    for short, key in SPECIAL_KEYS.items():
        text = _token_text(config.get(key))
        if text is not None and text in vocab:
            fields.append((f"tokenizer.ggml.{short}_token_id", vocab[text], ValueType.UINT32, None))
    for flag, key in (("add_bos_token", "add_bos_token"), ("add_eos_token", "add_eos_token")):
        if isinstance(config.get(key), bool):
            fields.append((f"tokenizer.ggml.{flag}", config[key], ValueType.BOOL, None))
    if isinstance(config.get("add_prefix_space"), bool):
        fields.append(("tokenizer.ggml.add_space_prefix", config["add_prefix_space"], ValueType.BOOL, None))
    template = config.get("chat_template")
    if template is None and (folder / "chat_template.jinja").is_file():
        template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    if isinstance(template, str):
        fields.append(("tokenizer.chat_template", template, ValueType.STRING, None))
    return fields


def hf_tokenizer_files(metadata: dict) -> dict[str, dict]:
    """tokenizer.json and tokenizer_config.json (as JSON objects) for a GGUF's byte-level BPE vocabulary."""
    if metadata.get("tokenizer.ggml.model") != "gpt2":
        raise GroundupError(
            f"tokenizer.ggml.model is {metadata.get('tokenizer.ggml.model')!r}; only byte-level BPE ('gpt2') converts"
        )
    pre = metadata.get("tokenizer.ggml.pre", "gpt2")
    pre = "gpt2" if pre == "default" else pre
    if pre not in PRE_TOKENIZERS:
        raise GroundupError(
            f"pre-tokenizer {pre!r} cannot be written to tokenizer.json; supported: {', '.join(PRE_TOKENIZERS)}"
        )
    tokens, types = metadata["tokenizer.ggml.tokens"], metadata.get("tokenizer.ggml.token_type", [])
    special = {i for i, t in enumerate(types) if t in (CONTROL, USER_DEFINED)}
    added = [
        {"id": i, "content": tokens[i], "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": types[i] != CONTROL, "special": types[i] == CONTROL}
        for i in sorted(special)
    ]  # fmt: skip
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": PRE_TOKENIZERS[pre],
        "post_processor": {**BYTE_LEVEL, "trim_offsets": False},
        "decoder": BYTE_LEVEL,
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
            "vocab": {t: i for i, t in enumerate(tokens) if types[i] != UNUSED} if types else dict(zip(tokens, range(len(tokens)))),
            "merges": list(metadata.get("tokenizer.ggml.merges", [])),
        },
    }  # fmt: skip
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": metadata.get("llama.context_length"),
    }
    for short, key in SPECIAL_KEYS.items():
        i = metadata.get(f"tokenizer.ggml.{short}_token_id")
        if i is not None and 0 <= i < len(tokens):
            config[key] = tokens[i]
    for flag in ("add_bos_token", "add_eos_token"):
        if f"tokenizer.ggml.{flag}" in metadata:
            config[flag] = bool(metadata[f"tokenizer.ggml.{flag}"])
    if "tokenizer.ggml.add_space_prefix" in metadata:
        config["add_prefix_space"] = bool(metadata["tokenizer.ggml.add_space_prefix"])
    if "tokenizer.chat_template" in metadata:
        config["chat_template"] = metadata["tokenizer.chat_template"]
    if config.get("add_bos_token") and "bos_token" in config:
        bos = config["bos_token"]
        spec["post_processor"] = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [metadata["tokenizer.ggml.bos_token_id"]], "tokens": [bos]}},
        }  # fmt: skip
    return {"tokenizer.json": spec, "tokenizer_config.json": config}
