"""Training-framework generality (0.8): lazy datasets and loaders with workers, the general `fit` loop
over classification / regression / text / language-model tasks, ReduceLROnPlateau against torch's,
early stopping, forward hooks, freezing and replacing layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from groundup.train.fit import FitConfig, fit
from groundup.train.hooks import FeatureExtractor, freeze, replace_module, trainable_parameters, unfreeze
from groundup.train.loader import TextLineDataset, TokenFileDataset, make_loader, pad_collate, write_tokens
from groundup.train.plateau import EarlyStopping, ReduceOnPlateau
from groundup.train.tasks_zoo import ClassificationTask, LanguageModelTask, RegressionTask, macro_f1

pytestmark = pytest.mark.module("0.8")


# ---- datasets and loaders ----------------------------------------------------------------------------


def test_token_file_is_memory_mapped_lazily_and_blocks_shift_by_one(tmp_path):
    path = write_tokens(tmp_path / "train.bin", range(1000))
    assert path.stat().st_size == 2000  # uint16
    ds = TokenFileDataset(path, block_size=16, stride=8)
    assert ds._tokens is None  # nothing read until an item is asked for
    x, y = ds[3]
    assert torch.equal(x, torch.arange(24, 40)) and torch.equal(y, x + 1)
    assert len(ds) == (1000 - 17) // 8 + 1
    x, y = ds[len(ds) - 1]
    assert int(y[-1]) <= 999
    with pytest.raises(IndexError):
        ds[len(ds)]
    with pytest.raises(ValueError, match="uint16"):
        write_tokens(tmp_path / "big.bin", [70000])


def test_loader_with_workers_yields_the_same_batches_as_the_main_process(tmp_path):
    ds = TokenFileDataset(write_tokens(tmp_path / "t.bin", np.arange(5000) % 300), block_size=32)
    main = [x for x, _ in make_loader(ds, 8, seed=3)]
    workers = [x for x, _ in make_loader(ds, 8, seed=3, num_workers=2, prefetch_factor=2, pin_memory=True)]
    assert len(main) == len(workers) and all(torch.equal(a, b) for a, b in zip(main, workers))
    with pytest.raises(ValueError, match="prefetch_factor needs num_workers"):
        make_loader(ds, 8, prefetch_factor=2)


def test_text_lines_tokenize_lazily_and_collate_with_padding():
    calls = []

    def encode(text):
        calls.append(text)
        return [ord(c) - 96 for c in text]

    ds = TextLineDataset(["abc", "de"], [1, 0], encode)
    assert calls == []
    ids, mask, labels = pad_collate([ds[0], ds[1]])
    assert ids.tolist() == [[1, 2, 3], [4, 5, 0]] and mask.sum().item() == 5 and labels.tolist() == [1, 0]


# ---- the general loop ---------------------------------------------------------------------------------


def blobs(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) * 0.5 + torch.tensor([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])[y]
    return x, y


def test_fit_classification_tracks_metrics_keeps_the_best_and_writes_a_log(tmp_path):
    x, y = blobs()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    cfg = FitConfig(epochs=4, lr=1e-2, monitor="accuracy", mode="max")
    result = fit(
        model,
        ClassificationTask(3),
        make_loader(TensorDataset(x[:300], y[:300]), 32),
        make_loader(TensorDataset(x[300:], y[300:]), 100, shuffle=False),
        cfg,
        out=tmp_path,
    )
    assert result.best["val_accuracy"] >= 0.95 and result.best["val_macro_f1"] >= 0.95
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 4
    assert (tmp_path / "best.safetensors").is_file()


def test_fit_regression_and_float16_with_loss_scaling():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(256, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) * 10 + 100
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    task = RegressionTask(y.mean().item(), y.std().item())
    res = fit(
        model,
        task,
        make_loader(TensorDataset(x, y), 32),
        make_loader(TensorDataset(x, y), 256),
        FitConfig(epochs=30, lr=3e-2, dtype="float16", monitor="r2", mode="max"),
    )
    assert res.best["val_r2"] > 0.99 and res.best["val_rmse"] < 3.0


def test_fit_text_classifier_and_language_model(tmp_path):
    from groundup.models.gpt import GPT, GPTConfig
    from groundup.models.rnn import SequenceClassifier

    texts = ["ab" * 5, "ba" * 5, "aab" * 3, "bba" * 3] * 30
    labels = [0, 1, 0, 1] * 30
    ds = TextLineDataset(texts, labels, lambda t: [1 + (c == "b") for c in t])
    torch.manual_seed(0)
    model = SequenceClassifier(3, 2, n_embd=8, n_hidden=16)
    res = fit(
        model,
        ClassificationTask(2),
        make_loader(ds, 16, collate_fn=pad_collate),
        make_loader(ds, 120, collate_fn=pad_collate, shuffle=False),
        FitConfig(epochs=6, lr=1e-2),
    )
    assert res.best["val_accuracy"] == 1.0

    tokens = TokenFileDataset(write_tokens(tmp_path / "t.bin", [0, 1, 2, 3] * 200), block_size=8)
    gpt = GPT(GPTConfig(vocab_size=4, block_size=8, n_layer=1, n_head=1, n_embd=16))
    res = fit(
        gpt,
        LanguageModelTask(),
        make_loader(tokens, 16),
        make_loader(tokens, 64),
        FitConfig(epochs=3, lr=1e-2, checkpointing=True),
        out=tmp_path / "lm",
    )
    assert res.best["val_bits_per_token"] < 0.5  # a period-4 sequence is nearly free after one token
    assert (tmp_path / "lm" / "best.safetensors").is_file()  # tied embedding/head weights saved too


def test_early_stopping_and_frozen_models():
    x, y = blobs()
    model = nn.Linear(2, 3)
    loader = make_loader(TensorDataset(x, y), 50)
    res = fit(model, ClassificationTask(3), loader, loader, FitConfig(epochs=20, lr=0.0, early_stopping=2))
    assert res.stopped_early and len(res.history) == 3  # the first epoch is best; two more without progress
    freeze(model)
    with pytest.raises(ValueError, match="every parameter is frozen"):
        fit(model, ClassificationTask(3), loader, loader, FitConfig(epochs=1))
    with pytest.raises(ValueError, match="monitor"):
        unfreeze(model)
        fit(model, ClassificationTask(3), loader, loader, FitConfig(epochs=1, monitor="auc"))


def test_macro_f1_of_a_confusion_matrix():
    confusion = torch.tensor([[5, 1], [2, 2]])  # (true, predicted)
    f1_0, f1_1 = 10 / (10 + 1 + 2), 4 / (4 + 2 + 1)
    assert macro_f1(confusion) == pytest.approx((f1_0 + f1_1) / 2)


# ---- plateau and early stopping ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize(("patience", "cooldown"), [(0, 0), (2, 0), (1, 2)])
def test_reduce_on_plateau_equals_torch(mode, patience, cooldown):
    values = [1.0, 0.9, 0.95, 0.92, 0.91, 0.9, 0.89, 0.95, 0.96, 0.97, 0.7, 0.71, 0.72, 0.73, 0.74]
    values = values if mode == "min" else [-v for v in values]
    ours_opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    ref_opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    ours = ReduceOnPlateau(ours_opt, mode, factor=0.5, patience=patience, cooldown=cooldown, min_lr=0.05)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(
        ref_opt, mode, factor=0.5, patience=patience, cooldown=cooldown, min_lr=0.05
    )
    for v in values:
        ours.step(v)
        ref.step(v)
        assert ours_opt.param_groups[0]["lr"] == pytest.approx(ref_opt.param_groups[0]["lr"])


def test_early_stopping_counts_evaluations_without_improvement():
    stop = EarlyStopping(patience=2)
    assert [stop.step(v) for v in [3.0, 2.0, 2.5, 1.9, 2.0, 2.1]] == [False] * 5 + [True]
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(0)


# ---- hooks, freezing, replacement --------------------------------------------------------------------


def test_forward_hooks_extract_features_and_are_removed():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.randn(3, 4)
    with FeatureExtractor(model, ["0", "1"]) as features:
        out = model(x)
    torch.testing.assert_close(features["0"], model[0](x))
    torch.testing.assert_close(features["1"], torch.relu(model[0](x)))
    torch.testing.assert_close(model[2](features["1"]), out)
    assert not model[0]._forward_hooks  # removed on exit
    with pytest.raises(ValueError, match="no submodule"):
        FeatureExtractor(model, ["head"])


def test_frozen_body_stays_fixed_while_a_replaced_head_learns():
    x, y = blobs()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 5))
    old = replace_module(model, "2", nn.Linear(16, 3))  # a new head for a 3-class task
    assert old.out_features == 5 and model[2].out_features == 3
    assert freeze(model, ["0."]) == 2 * 16 + 16
    body = model[0].weight.detach().clone()
    assert len(trainable_parameters(model)) == 2
    loader = make_loader(TensorDataset(x, y), 50)
    res = fit(model, ClassificationTask(3), loader, loader, FitConfig(epochs=5, lr=1e-2))
    assert torch.equal(model[0].weight, body) and res.best["val_accuracy"] > 0.9
    with pytest.raises(ValueError, match="match no parameter"):
        freeze(model, ["encoder."])
