"""Capstone (0.8): four kinds of task through the one general loop (`train.fit`), with their metrics.

    image classification   real MNIST 5k (4,000 / 1,000), a small CNN, accuracy and macro-F1
    tabular regression     scikit-learn's diabetes table (442 patients, 10 features), an MLP, RMSE/R^2
    text classification    real lines of tiny Shakespeare vs WikiText-2, a bidirectional GRU
                           (many-to-one) over characters, accuracy and macro-F1
    language modelling     tiny Shakespeare as a uint16 token file read lazily, a small GPT, bits/char

Every task comes in batches from `train.loader.make_loader`; each runs ReduceLROnPlateau and early
stopping on its validation monitor, and the best epoch's weights are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from groundup.train.fit import FitConfig, fit
from groundup.train.loader import TextLineDataset, TokenFileDataset, make_loader, pad_collate, write_tokens
from groundup.train.tasks_zoo import ClassificationTask, LanguageModelTask, RegressionTask


@dataclass
class Problem:
    name: str
    model: nn.Module
    task: object
    train: object  # DataLoader
    val: object
    cfg: FitConfig
    data: str  # what the report says about the data


def mnist_problem(epochs: int = 6, limit: int | None = None, seed: int = 0) -> Problem:
    from groundup.models.cnn import LeNet5
    from groundup.train.tasks import load_mnist

    d = load_mnist()
    n = limit or len(d.x_train)
    train = TensorDataset(d.x_train[:n], d.y_train[:n])
    val = TensorDataset(d.x_test, d.y_test)
    torch.manual_seed(seed)
    return Problem(
        "image classification",
        LeNet5(),
        ClassificationTask(10),
        make_loader(train, 64, seed=seed),
        make_loader(val, 500, shuffle=False),
        FitConfig(
            epochs=epochs,
            lr=2e-3,
            monitor="accuracy",
            mode="max",
            plateau_patience=1,
            early_stopping=3,
            seed=seed,
        ),
        f"real MNIST 5k: {n:,} train / {len(d.x_test):,} test images, LeNet-5",
    )


def diabetes_problem(epochs: int = 200, seed: int = 0) -> Problem:
    from groundup.data import load_sklearn

    X, y = load_sklearn("diabetes")
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    test, train = order[:88], order[88:]  # 20% held out
    mean, std = X[train].mean(0), X[train].std(0)
    X = (X - mean) / std
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 1))
    return Problem(
        "tabular regression",
        model,
        RegressionTask(y[train].mean().item(), y[train].std().item()),
        make_loader(TensorDataset(X[train], y[train]), 32, seed=seed),
        make_loader(TensorDataset(X[test], y[test]), 256, shuffle=False),
        FitConfig(
            epochs=epochs,
            lr=3e-3,
            weight_decay=1e-2,
            monitor="rmse",
            plateau_patience=10,
            early_stopping=30,
            seed=seed,
        ),
        f"scikit-learn's diabetes table: {len(train)} train / {len(test)} test patients, 10 features",
    )


def text_problem(epochs: int = 4, per_class: int = 2000, seed: int = 0) -> Problem:
    from groundup.models.rnn import SequenceClassifier
    from groundup.train.studies.seq_data import text_source_lines

    texts, labels = text_source_lines(per_class, seed=seed)
    chars = sorted(set("".join(texts)))
    index = {c: i + 1 for i, c in enumerate(chars)}  # 0 is padding

    def encode(text: str) -> list[int]:
        return [index.get(c, 0) for c in text]

    cut = int(0.8 * len(texts))
    train = TextLineDataset(texts[:cut], labels[:cut], encode, max_len=80)
    val = TextLineDataset(texts[cut:], labels[cut:], encode, max_len=80)
    torch.manual_seed(seed)
    model = SequenceClassifier(len(chars) + 1, 2, kind="gru", n_embd=24, n_hidden=48, bidirectional=True)
    return Problem(
        "text classification",
        model,
        ClassificationTask(2),
        make_loader(train, 64, collate_fn=pad_collate, seed=seed),
        make_loader(val, 256, shuffle=False, collate_fn=pad_collate),
        FitConfig(
            epochs=epochs,
            lr=3e-3,
            grad_clip=1.0,
            monitor="accuracy",
            mode="max",
            plateau_patience=1,
            early_stopping=2,
            seed=seed,
        ),
        f"{cut:,} train / {len(texts) - cut:,} test lines (40-80 characters) of tiny Shakespeare (class 0) and "
        "WikiText-2 validation (class 1); bidirectional GRU over characters, final states -> 2 classes",
    )


def language_model_problem(workdir, epochs: int = 2, max_steps: int = 600, seed: int = 0) -> Problem:
    from groundup.data import load_text
    from groundup.models.gpt import GPT, GPTConfig
    from groundup.tokenizers.char import CharTokenizer

    text = load_text("tinyshakespeare")
    tokenizer = CharTokenizer.from_text(text)
    ids = tokenizer.encode(text)
    cut = int(0.9 * len(ids))
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    train = TokenFileDataset(write_tokens(workdir / "train.bin", ids[:cut]), block_size=64, stride=64)
    val = TokenFileDataset(write_tokens(workdir / "val.bin", ids[cut:]), block_size=64, stride=256)
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=64))
    return Problem(
        "language modelling",
        model,
        LanguageModelTask(),
        make_loader(train, 32, seed=seed),
        make_loader(val, 64, shuffle=False),
        FitConfig(epochs=epochs, lr=3e-3, grad_clip=1.0, max_steps=max_steps, monitor="loss", seed=seed),
        f"tiny Shakespeare, characters, in uint16 token files read through np.memmap "
        f"({len(train):,} training blocks of 64); GPT 2 layers x 64",
    )


def run(
    out_dir,
    mnist_epochs: int = 6,
    text_epochs: int = 4,
    text_per_class: int = 2000,
    lm_steps: int = 600,
    echo=print,
) -> dict:
    """Fit the four problems; write tasks.md, one metrics plot per task and results.json."""
    from groundup.reports import figure, markdown_table, write_json, write_report

    out = Path(out_dir)
    problems = [
        mnist_problem(epochs=mnist_epochs),
        diabetes_problem(),
        text_problem(epochs=text_epochs, per_class=text_per_class),
        language_model_problem(out / "tokens", epochs=1, max_steps=lm_steps),
    ]
    rows, results = [], {}
    for p in problems:
        slug = p.name.replace(" ", "_")
        res = fit(p.model, p.task, p.train, p.val, p.cfg, out=out / slug, echo=echo)
        best = res.best
        metrics = {k[4:]: v for k, v in best.items() if k.startswith("val_")}
        results[p.name] = {
            "best_epoch": best["epoch"],
            "epochs_run": len(res.history),
            "stopped_early": res.stopped_early,
            "steps": res.steps,
            "seconds": res.seconds,
            **metrics,
        }
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        rows.append([p.name, p.data, shown, f"{best['epoch']} of {len(res.history)}", f"{res.seconds:.0f}"])
        with figure(out / f"{slug}.png", ncols=2, figsize=(10, 3.6)) as (_, (left, right)):
            epochs = [r["epoch"] for r in res.history]
            left.plot(epochs, [r["train_loss"] for r in res.history], "o-", label="train loss")
            left.plot(epochs, [r["val_loss"] for r in res.history], "s-", label="validation loss")
            left.set(xlabel="epoch", title=p.name)
            left.legend()
            monitor = f"val_{p.cfg.monitor}"
            right.plot(epochs, [r[monitor] for r in res.history], "o-", color="tab:green")
            right.set(xlabel="epoch", ylabel=p.cfg.monitor, title=f"monitored: {p.cfg.monitor}")
            lr = right.twinx()
            lr.step(epochs, [r["lr"] for r in res.history], where="post", color="grey", alpha=0.6)
            lr.set_ylabel("lr (ReduceLROnPlateau)", color="grey")
    write_json(out / "results.json", results)
    sections = [
        "One loop (`groundup.train.fit`), four tasks: each a `Task` (loss + metrics) over `DataLoader` "
        "batches, AdamW, ReduceLROnPlateau and early stopping on the monitored validation metric.",
        markdown_table(["task", "data and model", "best validation metrics", "best epoch", "seconds"], rows),
        *[f"![{p.name}]({p.name.replace(' ', '_')}.png)" for p in problems],
    ]
    write_report(out / "tasks.md", "Beyond character LMs: four tasks through one training loop", sections)
    return results
