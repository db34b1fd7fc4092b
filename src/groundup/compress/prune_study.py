"""Capstone 1.3a: magnitude pruning of an MLP (LeNet-300-100) on real MNIST at 30/50/70/90% sparsity.

For each target sparsity, starting from the same trained dense network:
    one-shot            global magnitude pruning, no retraining
    one-shot + FT       the same masks, then `finetune_epochs` of training with the mask enforced
    iterative           `rounds` rounds of (prune to the scheduled sparsity, fine-tune), same total epochs
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from tqdm import tqdm

from groundup.compress.iterative import iterative_prune
from groundup.compress.prune import apply_masks, magnitude_masks, sparsity
from groundup.models.cnn import mlp_classifier
from groundup.reports import markdown_table, plot_bars, write_report
from groundup.train.tasks import accuracy, cached_classifier, load_mnist, train_classifier

AMOUNTS = (0.3, 0.5, 0.7, 0.9)


def main(out: Path, epochs: int = 5, finetune_epochs: int = 2, rounds: int = 2, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    data = load_mnist()
    dense = cached_classifier("mlp300_100", lambda: mlp_classifier((300, 100)), data, epochs, seed)

    def test(m) -> float:
        return accuracy(m, data.x_test, data.y_test)

    def finetune_for(epochs_: int):
        def finetune(m, masks):
            train_classifier(
                m,
                data.x_train,
                data.y_train,
                epochs=epochs_,
                lr=5e-4,
                seed=seed + 1,
                after_step=lambda mm: apply_masks(mm, masks),
            )

        return finetune

    control = copy.deepcopy(dense)  # fine-tuning is extra training: the dense net gets it too
    finetune_for(finetune_epochs)(control, {})
    rows = [["0% (dense)", test(dense), test(control), "-", 0.0]]
    for amount in tqdm(AMOUNTS, desc="sparsity levels", leave=False, disable=None):
        one_shot = copy.deepcopy(dense)
        masks = magnitude_masks(one_shot, amount, "global")
        apply_masks(one_shot, masks)
        acc_one_shot = test(one_shot)
        finetune_for(finetune_epochs)(one_shot, masks)
        iterative = copy.deepcopy(dense)
        iterative_prune(iterative, amount, rounds, finetune_for(max(1, finetune_epochs // rounds)), "global")
        rows.append([f"{amount:.0%}", acc_one_shot, test(one_shot), test(iterative), sparsity(iterative)])
    headers = [
        "sparsity",
        "one-shot (no FT)",
        f"one-shot + {finetune_epochs} FT epochs",
        f"iterative ({rounds} rounds)",
        "measured sparsity",
    ]
    figure = plot_bars(
        out / "pruning.png",
        [r[0] for r in rows[1:]],
        {h: [r[i] for r in rows[1:]] for i, h in enumerate(headers[1:4], start=1)},
        "test accuracy",
        "Global magnitude pruning of an MLP on MNIST",
    )
    sections = [
        "MLP 784-300-100-10 trained for "
        f"{epochs} epochs on 4,000 MNIST digits (test: 1,000). Global magnitude pruning of all Linear weights; "
        "fine-tuning re-applies the mask after every step so pruned weights stay zero.",
        markdown_table(headers, rows),
        "The dense row's fine-tuned column is the control: the dense network trained for the same extra "
        "epochs, so the pruned columns can be read against it.",
        f"![accuracy vs sparsity]({figure.name})",
    ]
    return write_report(out / "report.md", "Capstone 1.3: magnitude pruning on MNIST", sections)
