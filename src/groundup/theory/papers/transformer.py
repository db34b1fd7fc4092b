"""Attention Is All You Need (Vaswani et al. 2017) at small scale: the encoder-decoder Transformer on a
translation substitute (`translation_task`: WikiText-2 sentences clause-reversed and ciphered).

The paper's recipe, kept: post-norm blocks (`x = LayerNorm(x + sublayer(x))`), sinusoidal positions,
label smoothing eps_ls = 0.1, Adam with beta = (0.9, 0.98), eps = 1e-9, and the warmup schedule

    lrate = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)

(linear growth for `warmup` steps, then decay as 1/sqrt(step)), greedy decoding, BLEU on held-out
sentences. The ablations are the paper's Table 3 rows (A) (heads at a fixed d_model, d_k = d_model/h)
and (E) (learned instead of sinusoidal positions), plus no positions at all, and label smoothing off
(the paper: smoothing "hurts perplexity ... but improves accuracy and BLEU").
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from groundup.models.transformer import EncoderDecoder, TransformerConfig
from groundup.theory.papers.translation_task import BOS, EOS, TranslationTask, length_batches


def noam_lr(step: int, d_model: int, warmup: int, factor: float = 1.0) -> float:
    """The paper's learning rate at `step` (counted from 1): factor * d^-0.5 * min(s^-0.5, s * w^-1.5)."""
    if step < 1 or warmup < 1:
        raise ValueError(f"step and warmup must be >= 1, got step={step}, warmup={warmup}")
    return factor * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def label_smoothed_loss(logits: torch.Tensor, target: torch.Tensor, eps: float) -> torch.Tensor:
    """Cross-entropy against (1 - eps) * one_hot + eps / V (eps spread over all V classes, the true one
    included, as torch's `label_smoothing`). logits (N, V), target (N,) -> scalar mean."""
    logp = logits.log_softmax(-1)  # (N, V)
    nll = -logp.gather(-1, target[:, None]).squeeze(-1)  # (N,)
    uniform = -logp.mean(-1)  # (N,): cross-entropy against the uniform distribution
    return ((1 - eps) * nll + eps * uniform).mean()


@dataclass(frozen=True)
class Variant:
    """One row of the ablation: the base model is the paper's (post-norm, sinusoidal, 4 heads, ls 0.1)."""

    name: str = "base"
    n_head: int = 4
    pos: str = "sinusoidal"  # sinusoidal | learned | none
    label_smoothing: float = 0.1
    d_model: int = 64
    n_layer: int = 2
    dropout: float = 0.1
    warmup: int = 400
    lr_factor: float = 1.0
    batch_size: int = 64


VARIANTS = (
    Variant(),
    Variant("1 head", n_head=1),
    Variant("8 heads", n_head=8),
    Variant("learned positions", pos="learned"),
    Variant("no positions", pos="none"),
    Variant("no label smoothing", label_smoothing=0.0),
)


def make_model(task: TranslationTask, v: Variant, block_size: int) -> EncoderDecoder:
    """The shared `EncoderDecoder` in the paper's configuration (ReLU FFN of 4 d_model, post-norm).

    Token embeddings start at N(0, 1), the scale the paper's sqrt(d_model) multiplier gives its
    embeddings, so tokens are not drowned by the unit-amplitude sinusoids; `pos="none"` zeroes the
    sinusoid tables, leaving the encoder blind to word order (the decoder still counts through its mask).
    """
    cfg = TransformerConfig(
        vocab_size=task.vocab_size,
        block_size=block_size,
        n_layer=v.n_layer,
        n_head=v.n_head,
        n_embd=v.d_model,
        dropout=v.dropout,
        norm="post",
        pos="sinusoidal" if v.pos == "none" else v.pos,
        activation="relu",
        tie_weights=False,
    )
    model = EncoderDecoder(cfg)
    for embed in (model.src_embed, model.tgt_embed):
        torch.nn.init.normal_(embed.wte.weight, std=1.0)
        if v.pos == "none":
            embed.pe.zero_()
    return model


def param_groups(model: EncoderDecoder, d_model: int) -> list[dict]:
    """Adam groups: the token embeddings step sqrt(d_model) times faster. The paper multiplies embeddings
    by sqrt(d_model); for Adam, whose steps do not depend on the gradient's scale, that is the same as
    embeddings sqrt(d_model) times larger at init (`make_model`) that also move sqrt(d_model) times faster."""
    embeddings = [model.src_embed.wte.weight, model.tgt_embed.wte.weight]
    rest = [p for p in model.parameters() if all(p is not e for e in embeddings)]
    return [{"params": embeddings, "scale": d_model**0.5}, {"params": rest, "scale": 1.0}]


def teacher_forced(tgt: torch.Tensor, bos: int, eos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """tgt (B, T) -> decoder input <bos> y (B, T+1) and the tokens it predicts, y <eos> (B, T+1)."""
    B = tgt.shape[0]
    return (
        torch.cat([torch.full((B, 1), bos), tgt], 1),
        torch.cat([tgt, torch.full((B, 1), eos)], 1),
    )


@torch.no_grad()
def translate_all(model: EncoderDecoder, task: TranslationTask, pairs, batch_size: int = 200) -> list[str]:
    """Greedy translations of the sources of `pairs` (in their order), cut at the first <eos>."""
    model.eval()
    bos, eos = task.tgt_vocab.index(BOS), task.tgt_vocab.index(EOS)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]))
    out: dict[int, str] = {}
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        by_length: dict[int, list[int]] = {}
        for i in chunk:
            by_length.setdefault(len(pairs[i][0]), []).append(i)
        for length, rows in by_length.items():
            src = torch.tensor([task.ids(pairs[i][0], "src") for i in rows])  # (b, S)
            limit = min(length + 4, model.cfg.block_size - 1)
            for i, ids in zip(rows, model.greedy_decode(src, limit, bos).tolist(), strict=True):
                ids = ids[: ids.index(eos)] if eos in ids else ids
                out[i] = " ".join(task.words(ids, "tgt"))
    model.train()
    return [out[i] for i in range(len(pairs))]


@torch.no_grad()
def held_out_loss(model: EncoderDecoder, task: TranslationTask, pairs) -> float:
    """Mean per-token cross-entropy (no smoothing) of the references, teacher-forced: log perplexity."""
    model.eval()
    bos, eos = task.tgt_vocab.index(BOS), task.tgt_vocab.index(EOS)
    total, count = 0.0, 0
    for src, tgt in length_batches(task, pairs, 256):
        tgt_in, tgt_out = teacher_forced(tgt, bos, eos)
        logits = model(src, tgt_in)  # (B, T+1, V)
        total += float(F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), reduction="sum"))
        count += tgt_out.numel()
    model.train()
    return total / count


def bleu(hypotheses: list[str], pairs) -> float:
    """Corpus BLEU (sacrebleu's defaults: 13a, exp smoothing; ours, tested equal to sacrebleu's)."""
    from groundup.nlp.metrics import corpus_bleu

    return corpus_bleu(hypotheses, [[" ".join(t) for _, t in pairs]]).score


def train_translation(task: TranslationTask, v: Variant, epochs: int, seed: int, evals: int = 4, log=None):
    """Train one variant; returns (model, record) with per-step losses and lrs and held-out
    (epoch, loss, BLEU) checkpoints. The batch order depends on `seed` only, the same for every variant."""
    torch.manual_seed(seed)
    block_size = max(len(s) for s, _ in task.train + task.test) + 5
    model = make_model(task, v, block_size)
    opt = torch.optim.Adam(param_groups(model, v.d_model), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    g = torch.Generator().manual_seed(seed)
    bos, eos = task.tgt_vocab.index(BOS), task.tgt_vocab.index(EOS)
    record = {"losses": [], "lrs": [], "checkpoints": []}
    step, start = 0, time.process_time()
    marks = {round(epochs * (k + 1) / evals) for k in range(evals)}
    for epoch in range(1, epochs + 1):
        for src, tgt in length_batches(task, task.train, v.batch_size, g):
            step += 1
            lr = noam_lr(step, v.d_model, v.warmup, v.lr_factor)
            for group in opt.param_groups:
                group["lr"] = lr * group["scale"]
            tgt_in, tgt_out = teacher_forced(tgt, bos, eos)
            logits = model(src, tgt_in)  # (B, T+1, V)
            loss = label_smoothed_loss(logits.flatten(0, 1), tgt_out.flatten(), v.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            record["losses"].append(loss.item())
            record["lrs"].append(lr)
        if epoch in marks:
            hyps = translate_all(model, task, task.test)
            point = {"epoch": epoch, "step": step, "loss": held_out_loss(model, task, task.test)}
            point["bleu"] = bleu(hyps, task.test)
            record["checkpoints"].append(point)
            if log:
                log(
                    f"  {v.name} seed {seed} epoch {epoch}: held-out loss {point['loss']:.3f} BLEU {point['bleu']:.1f}"
                )
    record["cpu_s"] = time.process_time() - start
    record["steps"] = step
    return model, record


def baselines(task: TranslationTask) -> dict[str, float]:
    """BLEU of rule-based outputs that know part of the rule: the cipher applied word by word in source
    order (no reordering), and the source itself (nothing learned)."""
    monotone = [" ".join(task.cipher.encode(s)) for s, _ in task.test]
    copy = [" ".join(s) for s, _ in task.test]
    return {"dictionary, source order": bleu(monotone, task.test), "copy source": bleu(copy, task.test)}


def summarize(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Mean and spread (min, max) over seeds of the final BLEU and held-out loss of each variant."""
    table = {}
    for name, records in runs.items():
        finals = [r["checkpoints"][-1] for r in records]
        bleus, losses = [f["bleu"] for f in finals], [f["loss"] for f in finals]
        table[name] = {
            "bleu_mean": sum(bleus) / len(bleus),
            "bleu": bleus,
            "loss_mean": sum(losses) / len(losses),
            "perplexity_mean": math.exp(sum(losses) / len(losses)),
            "loss": losses,
        }
    return table


PAPER = {  # Table 3 of the paper, EN-DE newstest2013 (dev): BLEU (perplexity per wordpiece)
    "base": "h = 4: 25.5 (5.00)",
    "1 head": "h = 1: 24.9 (5.29), -0.9 vs best",
    "8 heads": "h = 8 (base): 25.8 (4.92)",
    "learned positions": "row (E): 25.7 (4.92), ~ sinusoidal",
    "no positions": "not run",
    "no label smoothing": "eps_ls = 0: 25.3 (4.67): ppl better, BLEU worse",
}


def transformer_study(
    out: Path,
    epochs: int = 30,
    seed: int = 0,
    seeds: int = 2,
    variants=VARIANTS,
    seeded_variants: int = 3,
    train_sentences: int | None = None,
    test_sentences: int | None = None,
) -> Path:
    """Train every variant for `epochs`: the first `seeded_variants` (the head comparison) with seeds
    seed..seed+seeds-1, the others with `seed` only (the task itself is fixed, seed 0); writes report.md,
    results.json (also after each run, as a partial record) and transformer.png. `*_sentences` trim the
    task (for tests)."""
    from groundup.reports import figure, markdown_table, smooth, write_report
    from groundup.theory.papers.translation_task import build_task

    task = build_task()
    task.train, task.test = task.train[:train_sentences], task.test[:test_sentences]
    runs: dict[str, list[dict]] = {}
    examples = []
    for s in range(seed, seed + seeds):
        for v in variants if s == seed else variants[:seeded_variants]:
            model, record = train_translation(task, v, epochs, s, log=print)
            runs.setdefault(v.name, []).append(record)
            (out / "results.json").write_text(
                json.dumps({"complete": False, "summary": summarize(runs)}, indent=1)
            )
            if v.name == variants[0].name and s == seed:
                hyps = translate_all(model, task, task.test[:3])
                examples = [
                    (" ".join(a), " ".join(b), h) for (a, b), h in zip(task.test[:3], hyps, strict=True)
                ]
    table, base = summarize(runs), baselines(task)
    results = {
        "task": {
            "train_pairs": len(task.train),
            "test_pairs": len(task.test),
            "vocab_size": task.vocab_size,
            "unk_rate_test": sum(w == "<unk>" for s, _ in task.test for w in s)
            / sum(len(s) for s, _ in task.test),
        },
        "epochs": epochs,
        "complete": True,
        "seeds": list(range(seed, seed + seeds)),
        "variants": {v.name: asdict(v) for v in variants},
        "summary": table,
        "baselines": base,
        "runs": {k: [{kk: vv for kk, vv in r.items() if kk != "lrs"} for r in rs] for k, rs in runs.items()},
        "examples": examples,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    with figure(out / "transformer.png", ncols=2, figsize=(11, 4)) as (fig, (ax1, ax2)):
        for name, records in runs.items():
            ax1.plot(smooth(records[0]["losses"], 20), label=name)
            points = records[0]["checkpoints"]
            ax2.plot(
                [p["epoch"] for p in points],
                [
                    sum(r["checkpoints"][i]["bleu"] for r in records) / len(records)
                    for i in range(len(points))
                ],
                marker="o",
                label=name,
            )
        ax1.set(
            xlabel="step", ylabel="training loss (label-smoothed, nats)", title=f"seed {seed}", yscale="log"
        )
        ax2.set(xlabel="epoch", ylabel="held-out BLEU (mean over seeds)", title="greedy decoding")
        ax1.legend(fontsize=7)
        ax2.legend(fontsize=7)
    rows = [
        [
            name,
            f"{row['bleu_mean']:.1f}",
            " / ".join(f"{b:.1f}" for b in row["bleu"]),
            f"{row['perplexity_mean']:.2f}",
            PAPER.get(name, ""),
        ]
        for name, row in table.items()
    ]
    rows += [[name, f"{b:.1f}", "", "", "rule-based baseline"] for name, b in base.items()]
    v0 = variants[0]
    return write_report(
        out / "report.md",
        "Attention Is All You Need (Vaswani et al. 2017): a small Transformer on a WikiText-2 cipher task",
        [
            f"Task: {len(task.train):,} training and {len(task.test)} held-out WikiText-2 sentences (4-16 tokens, "
            f"{task.vocab_size}-entry vocabularies, {results['task']['unk_rate_test']:.0%} of held-out source tokens <unk>), "
            "target = each clause reversed, then each word ciphered to a pseudo-word.",
            f"Model: encoder-decoder, {v0.n_layer}+{v0.n_layer} post-norm layers, d_model {v0.d_model}, FFN {4 * v0.d_model}, "
            f"dropout {v0.dropout}; Adam (0.9, 0.98, 1e-9), lrate = {v0.lr_factor:g} * d^-0.5 * min(s^-0.5, s * {v0.warmup}^-1.5), "
            f"batch {v0.batch_size} sentences of one length, {epochs} epochs ({runs[v0.name][0]['steps']} steps), "
            f"seeds {', '.join(map(str, results['seeds']))} for the first {seeded_variants} rows, seed {seed} for the "
            "others; token embeddings at N(0, 1) stepping sqrt(d_model) times faster (the paper's sqrt(d_model) "
            "multiplier); greedy decoding; BLEU = sacrebleu's corpus BLEU "
            "(13a, exp smoothing; computed by `groundup.nlp.metrics.corpus_bleu`, tested equal).",
            markdown_table(
                [
                    "variant",
                    "BLEU (mean)",
                    "BLEU per seed",
                    "held-out perplexity",
                    "paper (Table 3, EN-DE dev)",
                ],
                rows,
            ),
            "Example (seed 0, base):\n\n"
            + "\n".join(f"- source: `{a}`\n  - reference: `{b}`\n  - ours: `{h}`" for a, b, h in examples),
            "![curves](transformer.png)",
        ],
    )
