"""Capstone 1.3: compress a fine-tuned BERT sentence classifier by pruning and by distillation.

1. Teacher: all-MiniLM-L6-v2 (6 layers, 384 wide) fine-tuned on the sentence classification set.
2. Iterative magnitude pruning of the teacher's encoder (every Linear weight of the 6 blocks, one
   global threshold) to 30%, then 50%, then 70% sparsity, fine-tuning with the masks re-applied after
   every step between the levels (`groundup.compress.prune`).
3. Students with 2 (and 3) layers, initialised from teacher blocks (embeddings, the chosen blocks,
   pooler and head copied), trained on the distillation loss α·T²·KL(teacher ‖ student) + (1-α)·CE
   (`groundup.compress.distill`), beside the same student trained on the labels alone; then the
   2-layer student pruned to 50%.

Every model is scored on the same held-out sentences: accuracy with its 95% Wilson interval, parameter
count, non-zero parameters, size on disk (dense safetensors, and values + 1-bit mask for the pruned
tensors) and CPU latency per sentence (batch 1, one thread, median). Each stage's weights are cached
(`~/.cache/groundup/capstones/bert/`), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import copy
import math
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from groundup.compress.distill import distillation_loss
from groundup.compress.prune import apply_masks, magnitude_masks
from groundup.models.bert import Bert, BertClassifier, encode_texts, keep_layers
from groundup.nlp.datasets import load_tweet_sentiment
from groundup.reports import markdown_table, write_json, write_report
from groundup.train.text_classifier import FinetuneConfig, accuracy, finetune, predict_logits


@dataclass
class StudyConfig:
    """Sizes and settings of the capstone run."""

    train_size: int = 1200
    test_size: int = 500
    epochs: float = 1.0  # teacher fine-tuning
    prune_levels: tuple[float, ...] = (0.3, 0.5, 0.7)
    prune_epochs: float = 0.15  # fine-tuning after each pruning level
    student_layers: tuple[tuple[int, ...], ...] = ((2, 5),)
    student_epochs: float = 1.0
    temperature: float = 2.0
    alpha: float = 0.5
    student_prune: float = 0.5
    max_length: int = 40
    latency_sentences: int = 100
    seed: int = 0


def encoder_weights(model: BertClassifier) -> dict[str, torch.Tensor]:
    """The Linear weights of the encoder blocks: what magnitude pruning removes (embeddings, pooler and
    head stay dense, as in the BERT pruning literature)."""
    return {
        f"bert.{n}": p for n, p in model.bert.named_parameters() if n.startswith("blocks.") and p.dim() == 2
    }


def size_on_disk(model: nn.Module, masks: dict[str, torch.Tensor] | None = None) -> tuple[int, int]:
    """(bytes of the dense safetensors file, bytes when pruned tensors keep only their non-zero float32
    values plus a 1-bit mask)."""
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        save_file(state, str(path))
        dense = path.stat().st_size
    sparse = dense
    for name in masks or {}:
        t = state[name]
        sparse -= t.numel() * t.element_size()
        sparse += int((t != 0).sum()) * t.element_size() + math.ceil(t.numel() / 8)
    return dense, sparse


@torch.no_grad()
def latency_ms(model: nn.Module, tokenizer, texts: list[str], max_length: int) -> float:
    """Median milliseconds per sentence at batch size 1 on one thread (tokenization included)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model.eval()
    times = []
    try:
        for text in texts:
            start = time.perf_counter()
            b = encode_texts(tokenizer, [text], max_length)
            model(b.input_ids, b.attention_mask, b.token_type_ids)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 1000 * statistics.median(times)


class Study:
    """One capstone run: data, cached stages, and the rows of the table."""

    def __init__(self, cfg: StudyConfig, out: Path, cache: Path, log=print):
        self.cfg, self.out, self.cache, self.log = cfg, out, cache, log
        data = load_tweet_sentiment()
        self.train, self.test = data.split(cfg.test_size, cfg.seed, cfg.train_size)
        self.source = data.source
        base = Bert.from_pretrained()
        self.tokenizer = base.tokenizer
        self.base = base
        self.rows: list[dict] = []
        self.teacher_acc: float | None = None

    def finetune_cfg(self, epochs: float) -> FinetuneConfig:
        return FinetuneConfig(epochs=epochs, max_length=self.cfg.max_length, seed=self.cfg.seed)

    def cached(self, name: str, model: nn.Module, train_fn) -> nn.Module:
        """Load `name`'s weights from the cache, or run `train_fn(model)` and store them."""
        from safetensors.torch import load_file, save_file

        path = self.cache / f"{name}.safetensors"
        if path.exists():
            model.load_state_dict(load_file(str(path)))
            self.log(f"[{name}] loaded from {path}")
            return model.eval()
        start = time.time()
        train_fn(model)
        self.log(f"[{name}] trained in {time.time() - start:.0f} s")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
        tmp.replace(path)
        return model.eval()

    def train_fn(self, epochs: float, masks=None, loss_fn=None, name=""):
        def run(model):
            step_log = lambda s, n, loss: s % 10 == 0 and self.log(f"[{name}] step {s}/{n} loss {loss:.4f}")  # noqa: E731
            after = (lambda m: apply_masks(m, masks)) if masks else None
            finetune(
                model,
                self.tokenizer,
                self.train,
                self.finetune_cfg(epochs),
                loss_fn=loss_fn,
                after_step=after,
                log=step_log,
            )

        return run

    def score(self, name: str, model: BertClassifier, masks=None, note: str = "") -> dict:
        logits = predict_logits(model, self.tokenizer, self.test.texts, max_length=self.cfg.max_length)
        acc = accuracy(logits, self.test.labels)
        params = sum(p.numel() for p in model.parameters())
        nonzero = sum(int((p != 0).sum()) for p in model.parameters())
        dense, sparse = size_on_disk(model, masks)
        ms = latency_ms(
            model, self.tokenizer, self.test.texts[: self.cfg.latency_sentences], self.cfg.max_length
        )
        self.teacher_acc = acc.value if self.teacher_acc is None else self.teacher_acc
        row = dict(
            model=name, params=params, nonzero=nonzero, accuracy=acc.value, ci_low=acc.low, ci_high=acc.high,
            drop=self.teacher_acc - acc.value, dense_mb=dense / 2**20, sparse_mb=sparse / 2**20,
            latency_ms=ms, note=note,
        )  # fmt: skip
        self.rows.append(row)
        self.log(f"[{name}] {acc}  latency {ms:.1f} ms")
        write_json(self.out / "results.json", {"config": asdict(self.cfg), "rows": self.rows})
        return row


def run_study(out: Path, cfg: StudyConfig | None = None, cache: Path | None = None, log=print) -> Path:
    """Run (or resume) every stage and write `out/report.md` with the compression table."""
    from groundup.data.datasets import cache_dir

    cfg = cfg or StudyConfig()
    cache = cache or cache_dir() / "capstones" / "bert" / f"n{cfg.train_size}_s{cfg.seed}"
    study = Study(cfg, out, cache, log)
    torch.manual_seed(cfg.seed)
    teacher = BertClassifier(copy.deepcopy(study.base), 2, pooling="mean")
    teacher = study.cached("teacher", teacher, study.train_fn(cfg.epochs, name="teacher"))
    study.score("teacher: MiniLM-L6 fine-tuned", teacher, note="6 layers, dense")

    pruned, masks = copy.deepcopy(teacher), {}
    for level in cfg.prune_levels:
        masks = magnitude_masks(pruned, level, "global", weights=encoder_weights(pruned))
        apply_masks(pruned, masks)
        name = f"pruned{round(level * 100)}"
        pruned = study.cached(name, pruned, study.train_fn(cfg.prune_epochs, masks, name=name))
        apply_masks(pruned, masks)
        study.score(f"teacher pruned {level:.0%} (encoder)", pruned, masks, note="iterative, fine-tuned")

    teacher_logits = predict_logits(teacher, study.tokenizer, study.train.texts, max_length=cfg.max_length)

    def kd(logits, labels, rows):
        return distillation_loss(logits, teacher_logits[rows], labels, cfg.temperature, cfg.alpha)

    for layers in cfg.student_layers:
        tag = "".join(map(str, layers))
        for mode in ("distilled", "labels only"):
            torch.manual_seed(cfg.seed)
            student = BertClassifier(keep_layers(teacher.bert, list(layers)), 2, pooling="mean")
            student.head.load_state_dict(teacher.head.state_dict())
            name = f"student{tag}_{'kd' if mode == 'distilled' else 'ce'}"
            loss_fn = kd if mode == "distilled" else None
            student = study.cached(
                name, student, study.train_fn(cfg.student_epochs, loss_fn=loss_fn, name=name)
            )
            study.score(
                f"{len(layers)}-layer student, {mode}", student, note=f"teacher blocks {list(layers)}"
            )
            if mode == "distilled" and layers == cfg.student_layers[0] and cfg.student_prune:
                masks = magnitude_masks(
                    student, cfg.student_prune, "global", weights=encoder_weights(student)
                )
                apply_masks(student, masks)
                name = f"student{tag}_kd_pruned"
                student = study.cached(
                    name, student, study.train_fn(cfg.prune_epochs, masks, loss_fn=kd, name=name)
                )
                apply_masks(student, masks)
                study.score(
                    f"{len(layers)}-layer student distilled, pruned {cfg.student_prune:.0%}", student, masks,
                    note="distillation loss while fine-tuning",
                )  # fmt: skip
    return write_study_report(study)


def write_study_report(study: Study) -> Path:
    cfg, rows = study.cfg, study.rows
    table = markdown_table(
        ["model", "parameters", "non-zero", "accuracy (95% CI)", "drop", "safetensors MB", "sparse MB",
         "latency ms/sentence", "note"],
        [[r["model"], f"{r['params']:,}", f"{r['nonzero']:,}",
          f"{r['accuracy']:.2%} ({r['ci_low']:.1%}–{r['ci_high']:.1%})", f"{r['drop'] * 100:+.1f} pt",
          f"{r['dense_mb']:.1f}", f"{r['sparse_mb']:.1f}", f"{r['latency_ms']:.1f}", r["note"]] for r in rows],
    )  # fmt: skip
    majority = max(study.test.labels.count(c) for c in set(study.test.labels)) / len(study.test)
    sections = [
        f"Data: {study.source}, binary (negative / positive, neutral tweets and duplicates dropped); "
        f"{len(study.train):,} training and {len(study.test):,} held-out tweets from one seeded shuffle "
        f"(seed {cfg.seed}); majority class {majority:.1%} of the test set. Max length {cfg.max_length} tokens.",
        f"Teacher: all-MiniLM-L6-v2 (our `Bert.from_pretrained`) + mean pooling + linear head, fine-tuned "
        f"{cfg.epochs:g} epoch(s) with AdamW (lr 5e-5, warmup 10%, linear decay, batch 32). Pruning: global "
        f"magnitude over the encoder's Linear weights at {', '.join(f'{p:.0%}' for p in cfg.prune_levels)}, "
        f"each level fine-tuned {cfg.prune_epochs:g} epoch with the masks held. Students: teacher blocks copied, "
        f"{cfg.student_epochs:g} epochs, distillation T = {cfg.temperature}, α = {cfg.alpha} vs labels only.",
        table,
        "Drop: teacher accuracy minus the model's, in percentage points. Parameters count every tensor "
        "(the 11.7M-entry word embedding is half of MiniLM and is not pruned). 'sparse MB' stores each pruned "
        "tensor as its non-zero float32 values plus a 1-bit mask; the dense file is what safetensors writes. "
        "Latency: batch 1, one thread, tokenization included, median over "
        f"{cfg.latency_sentences} test tweets, on a shared 2-core machine (see the load above): compare rows, "
        "not absolute values. Unstructured zeros do not make dense matmuls faster; removing layers does.",
    ]
    return write_report(
        study.out / "report.md", "Capstone 1.3: compressing a BERT sentence classifier", sections
    )


def plot_attention(
    model: BertClassifier, tokenizer, texts: list[str], path: Path, layer: int = -1, head: int = 0
):
    """A PNG of one head's attention weights (rows: queries, columns: keys) for each of `texts`."""
    from groundup.models.bert import attention_maps
    from groundup.reports import figure

    with figure(path, ncols=len(texts), figsize=(4.2 * len(texts), 4.2)) as (_, axes):
        for ax, text in zip(axes if len(texts) > 1 else [axes], texts):
            b = encode_texts(tokenizer, [text], 64)
            weights = attention_maps(model.bert, b.input_ids, b.attention_mask)[layer, 0, head]  # (T, T)
            tokens = [tokenizer.id_to_token(i) for i in b.input_ids[0].tolist()]
            ax.imshow(weights.numpy(), cmap="viridis", vmin=0.0)
            ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=7)
            ax.set_yticks(range(len(tokens)), tokens, fontsize=7)
            ax.set_title(f"layer {layer % model.bert.cfg.n_layer}, head {head}", fontsize=9)
    return path
