"""Capstone (0.4): the RNN encoder-decoder translating written dates to ISO, without attention, with
additive (Bahdanau) and with multiplicative (Luong) attention; exact-match accuracy and alignment plots.

Same data, initial seed, batches and optimizer for the three models; the test set holds dates that
are not in the training set. The alignment plot of a trained attentive model shows, for every output
character, where in the source it looked: the year digits on the year, the month digits on the month
name (all of it, or its first letters), the day digits on the day, and the weekday ignored.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from groundup.models.seq2seq import Seq2Seq, Seq2SeqConfig
from groundup.train.studies.seq_data import BOS, CharVocab, encode_pairs, random_dates

VARIANTS = ("none", "bahdanau", "luong")


def make_data(n_train: int, n_test: int, seed: int):
    """Disjoint train and test pairs, and the two character vocabularies built from the training side."""
    train = random_dates(n_train, seed)
    seen = {s for s, _ in train}
    test = [p for p in random_dates(2 * n_test, seed + 1) if p[0] not in seen][:n_test]
    return train, test, CharVocab([s for s, _ in train]), CharVocab([t for _, t in train])


def train_model(attention, train_pairs, src_vocab, tgt_vocab, *, steps, batch_size=64, lr=3e-3, seed=0):
    """Adam with teacher forcing on random batches; returns (model in eval mode, per-step losses)."""
    torch.manual_seed(seed)
    model = Seq2Seq(Seq2SeqConfig(len(src_vocab), len(tgt_vocab), attention=attention))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 10)
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(train_pairs), (batch_size,), generator=g).tolist()
        b = encode_pairs([train_pairs[i] for i in idx], src_vocab, tgt_vocab)
        logits, _ = model(b.src, b.src_mask, b.tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b.tgt_out.reshape(-1), ignore_index=0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    return model.eval(), losses


def translate(model, pairs, src_vocab, tgt_vocab, batch_size: int = 500):
    """Greedy translations of every source and the attention weights of each (list of (T, S))."""
    outputs, weights = [], []
    length = max(len(t) for _, t in pairs) + 1
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        b = encode_pairs(chunk, src_vocab, tgt_vocab)
        tokens, w = model.greedy(b.src, b.src_mask, length, tgt_vocab.index[BOS])
        for row, (src, _) in enumerate(chunk):
            text = tgt_vocab.decode(tokens[row])
            outputs.append(text)
            weights.append(w[row, : len(text) + 1, : len(src)])
    return outputs, weights


def exact_match(outputs: list[str], pairs) -> float:
    return sum(o == t for o, (_, t) in zip(outputs, pairs)) / len(pairs)


def plot_alignments(examples, path, title: str) -> Path:
    """One heatmap per (source, output, weights (T, S)) example: output characters down, source across."""
    from groundup.reports import figure

    with figure(path, nrows=1, ncols=len(examples), figsize=(5.2 * len(examples), 3.6), squeeze=False) as (
        fig,
        axes,
    ):
        for ax, (src, out, w) in zip(axes[0], examples):
            ax.imshow(w[: len(out)].numpy(), cmap="Greys", vmin=0, vmax=1, aspect="auto")
            ax.set_xticks(range(len(src)), list(src.replace(" ", "\u00b7")), fontsize=7)
            ax.set_yticks(range(len(out)), list(out), fontsize=7)
            ax.set_xlabel("source")
            ax.set_ylabel("output")
        fig.suptitle(title, fontsize=10)
    return Path(path)


def alignment_score(pairs, weights) -> float:
    """Share of the year digits' attention that lands on the source's year (where the year is written
    as 4 digits, which every format does): a number for "the alignment is right"."""
    shares = []
    for (src, tgt), w in zip(pairs, weights):
        start = src.rfind(tgt[:4])
        if start < 0 or w.shape[0] < 4:
            continue
        shares.append(w[:4, start : start + 4].sum(-1).mean().item())
    return sum(shares) / max(len(shares), 1)


def run(
    out_dir,
    steps: int = 600,
    batch_size: int = 128,
    n_train: int = 10000,
    n_test: int = 1000,
    seed: int = 0,
    variants=VARIANTS,
    echo=print,
):
    """Train the variants asked for (each saved as out_dir/VARIANT.json with its alignment PNG, so
    variants may run in separate processes), then write seq2seq.md, the loss curves and results.json
    from every variant present."""
    from groundup.reports import write_json

    out = Path(out_dir)
    train_pairs, test_pairs, src_vocab, tgt_vocab = make_data(n_train, n_test, seed)
    for attention in variants:
        if attention not in VARIANTS:
            raise ValueError(f"variants must be among {', '.join(VARIANTS)}, got {attention!r}")
        start = time.perf_counter()
        model, losses = train_model(
            attention, train_pairs, src_vocab, tgt_vocab, steps=steps, batch_size=batch_size, seed=seed
        )
        seconds = time.perf_counter() - start
        outputs, weights = translate(model, test_pairs, src_vocab, tgt_vocab)
        acc = exact_match(outputs, test_pairs)
        aligned = alignment_score(test_pairs, weights) if attention != "none" else None
        echo(f"{attention:9s} exact match {acc:.4f}  year alignment {aligned}  {seconds:.0f} s")
        result = {
            "exact_match": acc,
            "year_alignment": aligned,
            "params": sum(p.numel() for p in model.parameters()),
            "seconds": seconds,
            "losses": losses,
        }
        write_json(out / f"{attention}.json", result)
        if attention != "none":
            picks = [i for i in range(len(test_pairs)) if outputs[i] == test_pairs[i][1]][:3]
            picks = picks or [0, 1, 2]  # an untrained model's attempts, when none is right
            examples = [(test_pairs[i][0], outputs[i], weights[i]) for i in picks]
            plot_alignments(examples, out / f"alignment_{attention}.png", f"{attention} attention")
    return write_summary(out, test_pairs, steps=steps, batch_size=batch_size, n_train=n_train)


def write_summary(out: Path, test_pairs, *, steps: int, batch_size: int, n_train: int) -> dict:
    """seq2seq.md, seq2seq_loss.png and results.json from the variants saved in `out`."""
    import json

    from groundup.reports import markdown_table, plot_curves, smooth, write_json, write_report

    results = {
        v: json.loads((out / f"{v}.json").read_text()) for v in VARIANTS if (out / f"{v}.json").exists()
    }
    rows = [
        [
            v,
            r["params"],
            r["exact_match"],
            "-" if r["year_alignment"] is None else f"{r['year_alignment']:.3f}",
            f"{r['seconds']:.0f}",
        ]
        for v, r in results.items()
    ]
    curves = {v: smooth(r["losses"], 25) for v, r in results.items()}
    plot_curves(
        out / "seq2seq_loss.png", curves, "date translation: training loss", "cross-entropy", log=True
    )
    summary = {v: {k: x for k, x in r.items() if k != "losses"} for v, r in results.items()}
    write_json(
        out / "results.json", {"steps": steps, "n_train": n_train, "n_test": len(test_pairs), **summary}
    )
    samples = test_pairs[:8]
    sections = [
        "Data: the translation substitute of `train/studies/seq_data.py`, written dates in eight formats "
        f"to ISO 8601 ({n_train:,} training pairs, {len(test_pairs):,} test pairs whose sources are not in "
        "the training set). Examples:\n\n" + "\n".join(f"- `{s}` -> `{t}`" for s, t in samples),
        f"Model: bidirectional GRU encoder (embedding 32, hidden 64 per direction), GRU decoder, Adam 3e-3 "
        f"with cosine decay, batch {batch_size}, {steps} steps, gradient clipping 1.0, same seed for all three.",
        markdown_table(
            ["attention", "parameters", "exact match (test)", "year attention on the year", "train s"], rows
        ),
        "![loss](seq2seq_loss.png)",
        "Alignments (output characters down, source characters across):",
        *(f"![{v}](alignment_{v}.png)" for v in results if v != "none"),
    ]
    write_report(out / "seq2seq.md", "RNN encoder-decoder with attention: date translation", sections)
    return summary
