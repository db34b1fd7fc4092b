"""Which Linears and norms of a decoder-only model the LLM quantizers touch, found by name.

Every method here needs the same map of a pre-norm decoder block (Llama, Mistral, SmolLM2, ...):

    x ─ attn_norm ─ q,k,v (or one fused qkv) ─ attention ─ o ─(+)─ h
    h ─ mlp_norm ─ gate,up (or one fused gate_up) ─ silu(gate)·up ─ down ─(+)

`decoder_blocks(model)` finds the ModuleList of blocks and, in each, the modules whose attribute names
match the usual spellings (groundup's fused `qkv`/`gate_up`, HF `q_proj`/`input_layernorm`, llama.cpp
`attn_q`/`ffn_gate`, Meta `wq`/`w1`). A fused projection is fine: its output rows are independent, and
`v_rows`/`up_rows` say which rows feed o and down (for AWQ's scale folding). A block without this shape
is refused with a ValueError naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

NAMES: dict[str, tuple[str, ...]] = {
    "attn_norm": ("attn_norm", "input_layernorm", "attention_norm", "norm1", "ln_1"),
    "mlp_norm": ("mlp_norm", "ffn_norm", "post_attention_layernorm", "norm2", "ln_2"),
    "qkv": ("qkv", "qkv_proj", "attn_qkv", "wqkv"),
    "q": ("q_proj", "wq", "attn_q"),
    "k": ("k_proj", "wk", "attn_k"),
    "v": ("v_proj", "wv", "attn_v"),
    "o": ("o_proj", "wo", "attn_output", "out_proj", "out"),
    "gate_up": ("gate_up", "gate_up_proj", "w13"),
    "gate": ("gate_proj", "w1", "ffn_gate"),
    "up": ("up_proj", "w3", "ffn_up"),
    "down": ("down_proj", "w2", "ffn_down", "down"),
}
ATTN_INPUTS = (("qkv",), ("q", "k", "v"))
MLP_INPUTS = (("gate_up",), ("gate", "up"))


@dataclass
class Block:
    """One decoder block: its parts by role and their dotted paths from the model root."""

    module: nn.Module
    parts: dict[str, nn.Module]
    paths: dict[str, str]
    attn_in: tuple[str, ...]  # Linears reading the attention norm's output
    mlp_in: tuple[str, ...]  # Linears reading the MLP norm's output

    def linears(self) -> dict[str, nn.Linear]:
        """Every Linear of the block, in the order data flows through them."""
        return {role: self.parts[role] for role in (*self.attn_in, "o", *self.mlp_in, "down")}

    def linears_paths(self) -> list[str]:
        return [self.paths[role] for role in self.linears()]

    def v_rows(self) -> tuple[nn.Linear, slice] | None:
        """The Linear and output rows that produce o's input, or None when they cannot be told apart."""
        if "v" in self.parts:
            return self.parts["v"], slice(None)
        qkv, o = self.parts["qkv"], self.parts["o"]
        if qkv.out_features == 3 * o.in_features:  # equal q, k and v widths (no grouped KV heads)
            return qkv, slice(2 * o.in_features, None)
        return None

    def up_rows(self) -> tuple[nn.Linear, slice]:
        """The Linear and output rows multiplied by silu(gate), i.e. whose output feeds down."""
        if "up" in self.parts:
            return self.parts["up"], slice(None)
        hidden = self.parts["down"].in_features
        return self.parts["gate_up"], slice(hidden, 2 * hidden)


def _find_blocks(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The largest ModuleList whose entries all contain Linears (the decoder stack)."""
    best = None
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            if all(any(isinstance(m, nn.Linear) for m in child.modules()) for child in module):
                if best is None or len(module) > len(best[1]):
                    best = (name, module)
    if best is None:
        raise ValueError(
            f"{type(model).__name__} has no list of decoder blocks with Linear layers; these quantizers cover "
            "decoder-only transformers (Llama family)"
        )
    return best


def _locate(block: nn.Module) -> dict[str, tuple[str, nn.Module]]:
    found = {}
    for path, module in block.named_modules():
        leaf = path.rsplit(".", 1)[-1]
        for role, names in NAMES.items():
            if leaf in names and role not in found:
                found[role] = (path, module)
    return found


def _pick(found: dict, options: tuple[tuple[str, ...], ...], what: str, where: str) -> tuple[str, ...]:
    for roles in options:
        if all(role in found for role in roles):
            return roles
    raise ValueError(
        f"{where} has no {what} ({' or '.join('/'.join(r) for r in options)}); these quantizers cover "
        "Llama-style blocks: norm -> q/k/v -> o, norm -> gate/up -> down"
    )


def decoder_blocks(model: nn.Module) -> list[Block]:
    """Every decoder block of `model` with its norms and Linears by role."""
    prefix, blocks = _find_blocks(model)
    result = []
    for index, module in enumerate(blocks):
        where = f"block {index} of {type(model).__name__}"
        found = _locate(module)
        attn_in = _pick(found, ATTN_INPUTS, "attention input projection", where)
        mlp_in = _pick(found, MLP_INPUTS, "gated MLP input projection", where)
        roles = ("attn_norm", "mlp_norm", *attn_in, "o", *mlp_in, "down")
        missing = [r for r in roles if r not in found]
        if missing:
            raise ValueError(
                f"{where} has no {', '.join(missing)} (looked for {[NAMES[r] for r in missing]})"
            )
        for role in (*attn_in, "o", *mlp_in, "down"):
            if not isinstance(found[role][1], nn.Linear):
                raise ValueError(
                    f"{where}: {found[role][0]} is a {type(found[role][1]).__name__}, expected a float nn.Linear "
                    "(is the model already quantized?)"
                )
        result.append(
            Block(
                module,
                parts={r: found[r][1] for r in roles},
                paths={
                    r: f"{prefix}.{index}.{found[r][0]}" if prefix else f"{index}.{found[r][0]}"
                    for r in roles
                },
                attn_in=attn_in,
                mlp_in=mlp_in,
            )
        )
    return result


def set_module(root: nn.Module, path: str, new: nn.Module) -> None:
    """Replace the submodule at dotted `path` by `new`."""
    parent_path, _, name = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, name, new)
