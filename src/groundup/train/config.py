"""The training configuration: one flat dataclass, named presets, and `--key=value` overrides.

Flat on purpose (as nanoGPT's configurator, but typed and validated instead of exec'd): every knob can
be overridden from the command line with the same name, and a checkpoint stores the whole config so a
resume can check that the architecture did not change.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, fields

from groundup.errors import GroundupError

MODELS = ("gpt", "bigram_counts", "bigram", "mlp", "wavenet", "rnn", "lstm", "gru", "lstm_attention")
# the modern architectures of curriculum 3.4 (`groundup arch compare`)
MODELS += ("moe_gpt", "linear_gpt", "mamba", "rwkv", "retnet")

# Fields that decide the shapes and the computation of the model: a resume must match them exactly.
ARCH_FIELDS = (
    "model",
    "n_layer",
    "n_head",
    "n_embd",
    "n_hidden",
    "context",
    "block_size",
    "bias",
    "norm",
    "pos",
    "activation",
    "tie_weights",
    "n_experts",
    "top_k",
)

# The values each numeric field accepts: (low, high, ends), None = unbounded, ends "[]" closed, "()" open.
AT_LEAST_ONE = "n_layer n_head n_embd n_hidden context block_size n_experts top_k batch_size grad_accum max_iters eval_interval"
AT_LEAST_ZERO = "warmup_iters lr_decay_iters patience ckpt_interval threads lr min_lr weight_decay grad_clip"
LIMITS: dict[str, tuple] = {
    **dict.fromkeys((AT_LEAST_ONE + " eval_iters log_interval").split(), (1, None, "[]")),
    **dict.fromkeys(AT_LEAST_ZERO.split(), (0, None, "[]")),
    **dict.fromkeys(("dropout", "beta1", "beta2"), (0, 1, "[)")),
    "val_fraction": (0, 1, "()"),
}


def check_range(name: str, value, label: str | None = None) -> None:
    """ValueError naming `label` (default: the field) when `value` is outside LIMITS[name] or not finite."""
    low, high, ends = LIMITS[name]
    too_low = low is not None and (value <= low if ends[0] == "(" else value < low)
    too_high = high is not None and (value >= high if ends[1] == ")" else value > high)
    if too_low or too_high or not math.isfinite(value):
        if high is None:
            bounds = f"{'>' if ends[0] == '(' else '>='} {low}"
        else:
            bounds = f"in {ends[0]}{low}, {high}{ends[1]}"
        kind = "a finite number " if isinstance(value, float) else ""
        raise ValueError(f"{label or name} must be {kind}{bounds}, got {value}")


@dataclass
class TrainConfig:
    # what to train on
    model: str = "gpt"
    dataset: str = "tinyshakespeare"
    data_path: str = ""  # an explicit text file instead of `dataset`
    val_fraction: float = 0.1  # the last 10% of characters, as nanoGPT's shakespeare_char
    # architecture (each model reads the fields it needs)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    n_hidden: int = 256
    context: int = 8
    block_size: int = 64
    dropout: float = 0.0
    bias: bool = False
    norm: str = "pre"
    pos: str = "learned"
    activation: str = "gelu"
    tie_weights: bool = True
    n_experts: int = 4  # moe_gpt: experts per MoE layer
    top_k: int = 2  # moe_gpt: experts per token
    # optimisation
    batch_size: int = 12
    grad_accum: int = 1
    max_iters: int = 2000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    lr_decay_iters: int = 0  # the cosine reaches min_lr here; 0 = at max_iters
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # 0 = no clipping
    skip_nonfinite: bool = False  # skip a step whose loss or gradient is inf/NaN instead of stopping
    # evaluation, stopping, logging, checkpoints
    eval_interval: int = 250
    eval_iters: int = 20
    patience: int = 0  # stop after this many evaluations without a better val loss; 0 = never
    log_interval: int = 10
    ckpt_interval: int = 250  # also checkpoint at every evaluation and at the end; 0 = only at the end
    # execution
    seed: int = 1337
    dtype: str = "float32"  # or "bfloat16" (autocast)
    compile: bool = False
    threads: int = 0  # torch intra-op threads; 0 = leave torch's default
    progress: bool = True

    def __post_init__(self):
        if self.model not in MODELS:
            raise GroundupError(f"unknown model {self.model!r}; valid models: {', '.join(MODELS)}")
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError(f"dtype must be float32 or bfloat16, got {self.dtype!r}")
        for name in LIMITS:
            check_range(name, getattr(self, name))
        if self.model == "gpt" and self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.top_k > self.n_experts:
            raise ValueError(f"top_k ({self.top_k}) must be <= n_experts ({self.n_experts})")
        if self.lr_decay_iters == 0:
            self.lr_decay_iters = self.max_iters

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def arch(self) -> dict:
        return {name: getattr(self, name) for name in ARCH_FIELDS}


SHAKESPEARE_CHAR_CPU = dict(
    # nanoGPT's README CPU recipe for config/train_shakespeare_char.py
    n_layer=4,
    n_head=4,
    n_embd=128,
    block_size=64,
    batch_size=12,
    max_iters=2000,
    lr=1e-3,
    min_lr=1e-4,
    warmup_iters=100,
    beta2=0.99,
    dropout=0.0,
    eval_interval=250,
    eval_iters=20,
)

PRESETS: dict[str, dict] = {
    "shakespeare-char-cpu": SHAKESPEARE_CHAR_CPU,
    # a seconds-long run for tests and smoke checks
    "tiny": dict(
        n_layer=2,
        n_head=2,
        n_embd=32,
        n_hidden=32,
        block_size=16,
        batch_size=4,
        max_iters=40,
        warmup_iters=5,
        eval_interval=10,
        eval_iters=2,
        log_interval=1,
        ckpt_interval=10,
    ),
}


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


def field_type(name: str) -> type:
    return type(getattr(TrainConfig(), name))


def coerce(name: str, text: str, label: str | None = None):
    """Turn the command-line text of field `name` into the field's type, within the field's LIMITS;
    errors name the option as the user spelled it (`label`, default --name)."""
    label = label or f"--{name}"
    kind = field_type(name)
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{label} expects true or false, got {text!r}")
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{label} expects a {kind.__name__}, got {text!r}") from None
    if name in LIMITS:
        check_range(name, value, label)
    return value


def parse_overrides(args: Iterable[str]) -> dict:
    """`--key=value` or `--key value` pairs (dashes or underscores in the key) -> {field: value}."""
    valid = field_names()
    out: dict = {}
    items = list(args)
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--"):
            raise GroundupError(f"expected --key=value, got {item!r}")
        key, eq, value = item[2:].partition("=")
        name = key.replace("-", "_")
        if name not in valid:
            raise GroundupError(f"unknown config key {key!r}; valid keys: {', '.join(valid)}")
        if not eq:
            bare_flag = field_type(name) is bool and (i + 1 >= len(items) or items[i + 1].startswith("--"))
            if i + 1 >= len(items) and not bare_flag:
                raise GroundupError(f"--{key} needs a value (--{key}=VALUE)")
            value = "true" if bare_flag else items[i + 1]
            i += 0 if bare_flag else 1
        out[name] = coerce(name, value, f"--{key}")
        i += 1
    return out


def make_config(preset: str | None = None, **overrides) -> TrainConfig:
    """A preset's values, then overrides; unknown presets or keys name the valid ones."""
    values: dict = {}
    if preset is not None:
        if preset not in PRESETS:
            raise GroundupError(f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
    unknown = sorted(set(overrides) - set(field_names()))
    if unknown:
        raise GroundupError(
            f"unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(field_names())}"
        )
    values.update(overrides)
    return TrainConfig(**values)


def arch_differences(saved: dict, current: TrainConfig) -> list[str]:
    """'field: saved -> current' for every architecture field that differs."""
    return [
        f"{name}: {saved.get(name, getattr(TrainConfig, name))!r} -> {getattr(current, name)!r}"
        for name in ARCH_FIELDS
        if saved.get(name, getattr(TrainConfig, name)) != getattr(current, name)  # older runs lack new fields
    ]
