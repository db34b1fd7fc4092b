"""BERT (Devlin et al. 2019, arXiv:1810.04805), built from the shared Transformer blocks (curriculum 0.10).

BERT is an encoder-only Transformer with post-norm blocks, the 2017 layout:

    x = LN(word[id] + position[t] + token_type[s])              embeddings (`transformer.Embedding`)
    x = LN(x + Attention(x))  ;  x = LN(x + MLP(x))             each layer (`transformer.Block`, norm="post")
    pooled = tanh(W x[CLS] + b)                                 the pooler, read by NSP and classification

Every token sees every other token (`NoCache(causal=False)`); padded positions are hidden from
attention by the key mask. Pretraining heads: `MLMHead` (dense, GELU, LN, then a decoder tied to the
word embeddings) and the 2-way next-sentence head; fine-tuning head: `BertClassifier`.

`Bert.from_pretrained(folder)` reads a Hugging Face BERT folder (`config.json` + `model.safetensors`,
e.g. the bundled all-MiniLM-L6-v2), renaming its tensors onto ours (separate q/k/v become the fused
projection). `Bert.embed(texts)` gives sentence embeddings as sentence-transformers computes them:
mean of the final token states over the attention mask, then L2 normalisation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from groundup.errors import GroundupError
from groundup.models.layers import ACTIVATIONS, NoCache
from groundup.models.transformer import Block, Embedding, TransformerConfig
from groundup.tokenizers.wordpiece import WordPiece

# transformers' `hidden_act` names -> ours
HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}


def config_from_hf(hf: dict, source: str = "config.json") -> TransformerConfig:
    """A post-norm `TransformerConfig` from a transformers BERT `config.json`; one-line error otherwise."""
    model_type = hf.get("model_type")
    if model_type != "bert":
        raise GroundupError(
            f"{source} describes model_type {model_type!r} ({', '.join(hf.get('architectures') or ['?'])}); "
            "Bert.from_pretrained reads BERT checkpoints (model_type 'bert'): pass a BERT folder"
        )
    act = hf.get("hidden_act", "gelu")
    if act not in HF_ACTIVATIONS:
        raise GroundupError(
            f"{source}: hidden_act {act!r} is not supported; known: {', '.join(HF_ACTIVATIONS)}"
        )
    hidden, inner = hf["hidden_size"], hf["intermediate_size"]
    if inner % hidden:
        raise GroundupError(f"{source}: intermediate_size {inner} is not a multiple of hidden_size {hidden}")
    return TransformerConfig(
        vocab_size=hf["vocab_size"],
        block_size=hf["max_position_embeddings"],
        n_layer=hf["num_hidden_layers"],
        n_head=hf["num_attention_heads"],
        n_embd=hidden,
        dropout=hf.get("hidden_dropout_prob", 0.1),
        norm="post",
        pos="learned",
        activation=HF_ACTIVATIONS[act],
        mlp_ratio=inner // hidden,
        norm_eps=hf.get("layer_norm_eps", 1e-12),
        type_vocab_size=hf.get("type_vocab_size", 2),
        embed_norm=True,
    )


def bert_config(**overrides) -> TransformerConfig:
    """A BERT-shaped config (post-norm, token types, normalised embeddings); BERT-base by default."""
    base = dict(vocab_size=30522, block_size=512, n_layer=12, n_head=12, n_embd=768, dropout=0.1, norm="post")
    base |= dict(pos="learned", activation="gelu", norm_eps=1e-12, type_vocab_size=2, embed_norm=True)
    return TransformerConfig(**(base | overrides))


@torch.no_grad()
def init_bert_weights(model: nn.Module, std: float = 0.02) -> None:
    """BERT's initialisation: N(0, std) for Linear and Embedding weights, zero biases, LN at identity."""
    for m in model.modules():
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=std)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


@dataclass
class BertOutput:
    """What the encoder returns."""

    last_hidden_state: torch.Tensor  # (B, T, C)
    pooled: torch.Tensor | None  # (B, C): tanh(W h[CLS] + b); None without a pooler
    hidden_states: tuple[torch.Tensor, ...] | None = None  # n_layer + 1 of (B, T, C), embeddings first


@dataclass
class TextBatch:
    """Texts as padded tensors; `truncated` lists the texts cut to fit `max_length`."""

    input_ids: torch.Tensor  # (B, T) int64
    attention_mask: torch.Tensor  # (B, T) int64, 0 on padding
    token_type_ids: torch.Tensor  # (B, T) int64
    truncated: list[int]


def encode_texts(
    tokenizer: WordPiece,
    texts: list[str] | list[tuple[str, str]],
    max_length: int,
    *,
    truncate: bool = True,
) -> TextBatch:
    """[CLS] text [SEP] (or a pair) per text, padded to the longest; too long: cut, or an error."""
    full = tokenizer.encode_batch(texts)
    truncated = [i for i, e in enumerate(full) if len(e) > max_length]
    if truncated and not truncate:
        i = truncated[0]
        raise GroundupError(
            f"text {i} has {len(full[i])} tokens, over the maximum length {max_length}; "
            "shorten it, raise max_length, or allow truncation"
        )
    encs = tokenizer.encode_batch(texts, max_length=max_length) if truncated else full
    width = max(len(e) for e in encs)
    pad = tokenizer.special_tokens["[PAD]"]
    ids = torch.full((len(encs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(encs), width), dtype=torch.long)
    types = torch.zeros((len(encs), width), dtype=torch.long)
    for row, e in enumerate(encs):
        ids[row, : len(e)] = torch.tensor(e.ids)
        mask[row, : len(e)] = 1
        types[row, : len(e)] = torch.tensor(e.type_ids)
    return TextBatch(ids, mask, types, truncated)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states over the real (mask = 1) tokens: (B, T, C), (B, T) -> (B, C)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class Bert(nn.Module):
    """The BERT encoder: embeddings, post-norm blocks, optional pooler.

    forward(input_ids (B, T), attention_mask (B, T) | None, token_type_ids (B, T) | None) -> BertOutput
    """

    def __init__(self, cfg: TransformerConfig, *, pooler: bool = True):
        super().__init__()
        if cfg.norm != "post" or cfg.pos != "learned" or not cfg.type_vocab_size:
            raise ValueError(
                "cfg: BERT needs norm='post', pos='learned' and type_vocab_size > 0 (see bert_config)"
            )
        self.cfg = cfg
        self.embeddings = Embedding(cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.pooler = nn.Linear(cfg.n_embd, cfg.n_embd) if pooler else None
        self.tokenizer: WordPiece | None = None  # set by from_pretrained; embed() uses it
        self.max_length = cfg.block_size  # the sentence-transformers folder may lower it
        init_bert_weights(self)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        *,
        output_hidden_states: bool = False,
    ) -> BertOutput:
        positions = self.embeddings.positions(input_ids.shape[-1])
        x = self.embeddings(input_ids, positions, token_type_ids)  # (B, T, C)
        key_mask = attention_mask.bool() if attention_mask is not None else None
        attention = NoCache(
            causal=False, dropout=self.cfg.dropout if self.training else 0.0, key_mask=key_mask
        )
        states = [x]
        for layer, block in enumerate(self.blocks):
            x = block(x, attention, layer)  # (B, T, C): every token sees every real token
            states.append(x)
        pooled = torch.tanh(self.pooler(x[:, 0])) if self.pooler is not None else None  # (B, C)
        return BertOutput(x, pooled, tuple(states) if output_hidden_states else None)

    # ---- sentence embeddings -------------------------------------------------------------------

    @torch.no_grad()
    def embed(
        self,
        texts: list[str],
        *,
        tokenizer: WordPiece | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        truncate: bool = True,
        normalize: bool = True,
    ) -> torch.Tensor:
        """Sentence embeddings (n, C): mean-pooled final states, L2-normalised (sentence-transformers).

        Texts are sorted by length so each batch pads little; the rows come back in input order.
        Texts longer than `max_length` (default: the model folder's, 256 for all-MiniLM-L6-v2) are cut,
        or raise GroundupError with `truncate=False`.
        """
        tok = tokenizer or self.tokenizer
        if tok is None:
            raise GroundupError("embed needs a tokenizer: load with Bert.from_pretrained or pass tokenizer=")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        max_length = min(max_length or self.max_length, self.cfg.block_size)
        was_training = self.training
        self.eval()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = torch.empty(len(texts), self.cfg.n_embd)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = encode_texts(tok, [texts[i] for i in rows], max_length, truncate=truncate)
            hidden = self(batch.input_ids, batch.attention_mask, batch.token_type_ids).last_hidden_state
            pooled = mean_pool(hidden, batch.attention_mask)  # (b, C)
            out[rows] = F.normalize(pooled, dim=-1) if normalize else pooled
        self.train(was_training)
        return out

    # ---- loading a Hugging Face folder -----------------------------------------------------------

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None) -> Bert:
        """A BERT folder (config.json, model.safetensors, vocab.txt); default: the bundled all-MiniLM-L6-v2.

        The folder's WordPiece vocabulary becomes `model.tokenizer`; sentence-transformers'
        `sentence_bert_config.json`, when present, sets `model.max_length`. Returns the model in eval mode.
        """
        folder = Path(directory) if directory is not None else _minilm_dir()
        cfg, state = read_hf_folder(folder)
        model = cls(cfg, pooler=any(k.startswith("pooler.") for k in state))
        model.load_hf_state_dict(state)
        if (folder / "vocab.txt").is_file():
            model.tokenizer = WordPiece.from_pretrained(folder)
        st_config = folder / "sentence_bert_config.json"
        if st_config.is_file():
            model.max_length = json.loads(st_config.read_text()).get("max_seq_length", model.max_length)
        return model.eval()

    def load_hf_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy a transformers `BertModel` state dict (with or without the 'bert.' prefix) into this model."""
        ours = hf_to_ours(state, self.cfg.n_layer, self.pooler is not None)
        missing = sorted(set(self.state_dict()) - set(ours))
        if missing:
            raise GroundupError(
                f"the checkpoint lacks {missing[0]} (and {len(missing) - 1} more): is it a BERT?"
            )
        self.load_state_dict(ours)


def keep_layers(bert: Bert, layers: list[int]) -> Bert:
    """A shallower BERT made of copies of `bert`'s embeddings, the blocks `layers` (in that order) and
    its pooler: how a distillation student is initialised from its teacher."""
    if not layers or any(not 0 <= i < bert.cfg.n_layer for i in layers):
        raise ValueError(f"layers must name blocks 0..{bert.cfg.n_layer - 1}, got {layers}")
    student = Bert(replace(bert.cfg, n_layer=len(layers)), pooler=bert.pooler is not None)
    student.embeddings.load_state_dict(bert.embeddings.state_dict())
    for new, old in enumerate(layers):
        student.blocks[new].load_state_dict(bert.blocks[old].state_dict())
    if bert.pooler is not None:
        student.pooler.load_state_dict(bert.pooler.state_dict())
    student.tokenizer, student.max_length = bert.tokenizer, bert.max_length
    return student


def _minilm_dir() -> Path:
    from groundup.data.assets import minilm_dir

    return minilm_dir()


def read_hf_folder(folder: Path) -> tuple[TransformerConfig, dict[str, torch.Tensor]]:
    """config.json and model.safetensors of a Hugging Face folder, checked to be BERT."""
    from safetensors.torch import load_file

    config, weights = folder / "config.json", folder / "model.safetensors"
    if not folder.is_dir():
        raise GroundupError(f"{folder} is not a folder: pass a BERT folder (config.json + model.safetensors)")
    if not config.is_file():
        found = ", ".join(sorted(p.name for p in folder.iterdir())[:6]) or "nothing"
        raise GroundupError(f"{folder} has no config.json (found: {found}): pass a BERT folder")
    cfg = config_from_hf(json.loads(config.read_text()), str(config))
    if not weights.is_file():
        raise GroundupError(f"{folder} has no model.safetensors: save the checkpoint as safetensors")
    return cfg, load_file(str(weights))


def hf_to_ours(state: dict[str, torch.Tensor], n_layer: int, pooler: bool) -> dict[str, torch.Tensor]:
    """transformers' BERT tensor names -> ours; q, k, v are concatenated into the fused projection."""
    s = {k.removeprefix("bert."): v for k, v in state.items()}
    out = {
        "embeddings.wte.weight": s.get("embeddings.word_embeddings.weight"),
        "embeddings.wpe.weight": s.get("embeddings.position_embeddings.weight"),
        "embeddings.wtt.weight": s.get("embeddings.token_type_embeddings.weight"),
        "embeddings.ln.weight": s.get("embeddings.LayerNorm.weight"),
        "embeddings.ln.bias": s.get("embeddings.LayerNorm.bias"),
    }
    if pooler:
        out |= {"pooler.weight": s.get("pooler.dense.weight"), "pooler.bias": s.get("pooler.dense.bias")}
    for i in range(n_layer):
        hf, us = f"encoder.layer.{i}.", f"blocks.{i}."
        for kind in ("weight", "bias"):
            qkv = [s.get(f"{hf}attention.self.{n}.{kind}") for n in ("query", "key", "value")]
            out[f"{us}attn.qkv.{kind}"] = torch.cat(qkv) if all(t is not None for t in qkv) else None
            for ours, theirs in (
                ("attn.out", "attention.output.dense"),
                ("ln_1", "attention.output.LayerNorm"),
                ("mlp.fc", "intermediate.dense"),
                ("mlp.proj", "output.dense"),
                ("ln_2", "output.LayerNorm"),
            ):
                out[f"{us}{ours}.{kind}"] = s.get(f"{hf}{theirs}.{kind}")
    return {k: v for k, v in out.items() if v is not None}


# ---- heads ---------------------------------------------------------------------------------------------


class MLMHead(nn.Module):
    """Masked-LM head: dense -> activation -> LN, then scores over the vocabulary with the word
    embedding matrix as decoder (tied weights) plus a per-token bias. (B, T, C) -> (B, T, vocab)."""

    def __init__(self, cfg: TransformerConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.dense = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.act = ACTIVATIONS[cfg.activation]()
        self.ln = nn.LayerNorm(cfg.n_embd, eps=cfg.norm_eps)
        self.decoder = word_embeddings  # shared, not copied: one matrix reads and writes words
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(self.ln(self.act(self.dense(hidden))), self.decoder.weight, self.bias)


class BertForPreTraining(nn.Module):
    """BERT with both pretraining heads: masked-LM logits (B, T, vocab) and next-sentence logits (B, 2)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.bert = Bert(cfg)
        self.mlm = MLMHead(cfg, self.bert.embeddings.wte)
        self.nsp = nn.Linear(cfg.n_embd, 2)
        init_bert_weights(self.mlm.dense)
        init_bert_weights(self.nsp)

    def forward(
        self, input_ids, attention_mask=None, token_type_ids=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.bert(input_ids, attention_mask, token_type_ids)
        return self.mlm(out.last_hidden_state), self.nsp(out.pooled)

    def load_hf_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """A transformers `BertForPreTraining` state dict (bert.*, cls.predictions.*, cls.seq_relationship.*)."""
        self.bert.load_hf_state_dict(state)
        names = {
            "mlm.dense": "cls.predictions.transform.dense",
            "mlm.ln": "cls.predictions.transform.LayerNorm",
            "nsp": "cls.seq_relationship",
        }
        ours = {f"{o}.{k}": state[f"{t}.{k}"] for o, t in names.items() for k in ("weight", "bias")}
        ours["mlm.bias"] = state["cls.predictions.bias"]
        self.load_state_dict(ours, strict=False)


POOLINGS = ("pooler", "mean")


class BertClassifier(nn.Module):
    """Sequence classification: dropout then a linear layer on the pooled sentence vector.

    `pooling="pooler"` reads tanh(W h[CLS] + b) as transformers' BertForSequenceClassification does;
    "mean" averages the real tokens' final states (how all-MiniLM-L6-v2 was trained to embed).
    forward(input_ids, attention_mask, token_type_ids) -> logits (B, n_classes).
    """

    def __init__(self, bert: Bert, n_classes: int, pooling: str = "pooler", dropout: float | None = None):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        if pooling == "pooler" and bert.pooler is None:
            raise ValueError("pooling='pooler' needs a Bert with a pooler; use pooling='mean'")
        self.bert, self.pooling = bert, pooling
        self.drop = nn.Dropout(bert.cfg.dropout if dropout is None else dropout)
        self.head = nn.Linear(bert.cfg.n_embd, n_classes)
        init_bert_weights(self.head)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        out = self.bert(input_ids, attention_mask, token_type_ids)
        if self.pooling == "pooler":
            pooled = out.pooled
        else:
            mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
            pooled = mean_pool(out.last_hidden_state, mask)
        return self.head(self.drop(pooled))  # (B, n_classes)


@torch.no_grad()
def attention_maps(
    bert: Bert, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Attention weights of every layer and head, (L, B, H, T, T), recomputed from each block's input.

    The blocks attend through fused kernels that never form the weights; here softmax(q k^T / sqrt(d))
    is formed explicitly from the same projections, for plots and for checks against transformers.
    """
    out = bert(input_ids, attention_mask, output_hidden_states=True)
    maps = []
    for x, block in zip(out.hidden_states[:-1], bert.blocks):  # block i reads hidden state i
        attn = block.attn
        q, k, _ = attn.qkv(x).split(attn.n_heads * attn.head_dim, dim=-1)
        q = q.unflatten(-1, (attn.n_heads, attn.head_dim)).transpose(1, 2)  # (B, H, T, D)
        k = k.unflatten(-1, (attn.n_heads, attn.head_dim)).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) * attn.scale  # (B, H, T, T)
        if attention_mask is not None:
            scores = scores.masked_fill(~attention_mask.bool()[:, None, None, :], float("-inf"))
        maps.append(scores.softmax(-1))
    return torch.stack(maps)
