"""Vision Transformer (Dosovitskiy et al. 2020): an image as a sequence of patches (curriculum 3.3).

    image (B, C, H, W) -conv k=p, stride=p-> (B, D, H/p, W/p) -flatten-> N = HW/p^2 patch tokens (B, N, D)
    prepend a learned class token -> (B, N+1, D), add learned positions
    L pre-norm blocks: x = x + Attn(LN(x)); x = x + MLP(LN(x))     (bidirectional attention)
    logits = head(LN(x[:, 0]))                                       the class token's final state

The blocks are the shared Transformer blocks (`transformer.Block`, pre-norm, `NoCache(causal=False)`),
not a second stack. The patch embedding is a convolution whose kernel equals its stride, i.e. one
Linear applied to each non-overlapping p x p patch.

`vit_b_16()` is torchvision's ViT-B/16 (86,567,656 parameters); `from_torchvision_state_dict` renames
torchvision's weights onto ours (the tests compare outputs with copied weights). `tiny_vit()` is the
small model trained on 28x28 digits.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from groundup.models.cnn import ImageClassifier, ImageShapeError
from groundup.models.layers import NoCache
from groundup.models.transformer import Block, TransformerConfig


class VisionTransformer(ImageClassifier):
    """ViT classifier: patch embedding, class token, learned positions, pre-norm blocks, LayerNorm, head.

    LayerNorms use eps 1e-6 as in the published model.
    """

    def __init__(
        self,
        image_size: int = 224,
        patch_size: int = 16,
        num_classes: int = 1000,
        in_channels: int = 3,
        *,
        dim: int = 768,
        depth: int = 12,
        heads: int = 12,
        mlp_ratio: int = 4,
        dropout: float = 0.0,
        eps: float = 1e-6,
    ):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"patch_size {patch_size} must divide image_size {image_size}")
        self.in_channels, self.image_size, self.patch_size = in_channels, image_size, patch_size
        self.min_size = image_size
        n_tokens = (image_size // patch_size) ** 2 + 1
        cfg = TransformerConfig(n_layer=depth, n_head=heads, n_embd=dim, mlp_ratio=mlp_ratio, dropout=dropout)
        cfg.block_size = n_tokens
        self.conv_proj = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.empty(1, n_tokens, dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(depth))
        self.ln = nn.LayerNorm(dim, eps=eps)
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                m.eps = eps
        self.head = nn.Linear(dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        fan_in = self.conv_proj.in_channels * self.patch_size**2
        nn.init.trunc_normal_(self.conv_proj.weight, std=(1.0 / fan_in) ** 0.5)
        nn.init.zeros_(self.conv_proj.bias)
        for block in self.blocks:
            for linear in (block.mlp.fc, block.mlp.proj):
                nn.init.xavier_uniform_(linear.weight)
                nn.init.normal_(linear.bias, std=1e-6)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def check_input(self, x: torch.Tensor) -> None:
        s, c = self.image_size, self.in_channels
        if x.dim() != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise ImageShapeError(
                f"VisionTransformer expects images (B, {c}, {s}, {s}), got {tuple(x.shape)}"
            )

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) -> class token + patch tokens with positions (B, N+1, D)."""
        x = self.conv_proj(x).flatten(2).transpose(1, 2)  # (B, N, D), patches in row-major order
        cls = self.class_token.expand(x.shape[0], -1, -1)  # (B, 1, D)
        return self.dropout(torch.cat([cls, x], dim=1) + self.pos_embedding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        h = self.tokens(x)
        attention = NoCache(causal=False)
        for layer, block in enumerate(self.blocks):
            h = block(h, attention, layer)  # (B, N+1, D): every token attends to every token
        return self.head(self.ln(h)[:, 0])  # (B, num_classes)


def vit_b_16(num_classes: int = 1000) -> VisionTransformer:
    """ViT-B/16 at 224x224: 12 blocks, 12 heads, width 768, MLP 3072 (86,567,656 parameters)."""
    return VisionTransformer(224, 16, num_classes, dim=768, depth=12, heads=12)


def tiny_vit(num_classes: int = 10, image_size: int = 28, in_channels: int = 1) -> VisionTransformer:
    """A ViT for 28x28 digits: 7x7 patches (16 tokens + class token), width 64, 4 blocks, 4 heads."""
    return VisionTransformer(image_size, 7, num_classes, in_channels, dim=64, depth=4, heads=4, mlp_ratio=2)


_TORCHVISION_NAMES = [  # torchvision ViT name pattern -> ours
    (r"^encoder\.pos_embedding$", "pos_embedding"),
    (r"^encoder\.ln\.", "ln."),
    (r"^heads\.head\.", "head."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.self_attention\.in_proj_", r"blocks.\1.attn.qkv."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.self_attention\.out_proj\.", r"blocks.\1.attn.out."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.mlp\.0\.", r"blocks.\1.mlp.fc."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.mlp\.3\.", r"blocks.\1.mlp.proj."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.", r"blocks.\1."),
]


def from_torchvision_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's ViT state dict renamed to ours. Attention's fused in-projection is ordered q, k, v
    in both, so tensors move unchanged (`...self_attention.in_proj_weight` -> `blocks.i.attn.qkv.weight`)."""
    out = {}
    for name, tensor in state.items():
        new = name
        for pattern, repl in _TORCHVISION_NAMES:
            new, n = re.subn(pattern, repl, name)
            if n:
                break
        out[new] = tensor
    return out
