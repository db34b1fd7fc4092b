"""Commands that run for more than a few seconds show a progress bar (issue 14.7): the classifier
loop behind the MNIST capstones draws one per run on a terminal (or when asked), and none in logs; so do
the NumPy demos' training loop, `gguf convert`, `ppl`, `train gpt` and the quant/compress capstones."""

import pytest
import torch

from groundup.train.tasks import train_classifier

pytestmark = pytest.mark.module("1.1")


def test_classifier_training_shows_a_bar_when_asked_and_none_in_a_log(capsys):
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    train_classifier(torch.nn.Linear(8, 3), x, y, epochs=3, batch_size=16, progress=True)
    err = capsys.readouterr().err
    assert "training Linear" in err and "/3 [" in err and "loss=" in err
    train_classifier(torch.nn.Linear(8, 3), x, y, epochs=3, batch_size=16)  # stderr is not a terminal here
    assert capsys.readouterr().err == ""


class Bars:
    """Stands in for tqdm: records each bar's description and total, yields what it wraps."""

    def __init__(self):
        self.made: list[tuple[str, int]] = []

    def __call__(self, iterable=None, desc=None, total=None, **kwargs):
        self.made.append((desc, total if total is not None else len(iterable)))
        return _Bar(iterable)


class _Bar:
    def __init__(self, iterable):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def set_postfix(self, **kwargs):
        pass


def test_numpy_demo_training_and_gguf_convert_draw_a_bar(monkeypatch, tmp_path):
    """`grad demo mlp` (minutes of NumPy training) and `gguf convert` (~20 s for SmolLM2) were silent."""
    import numpy as np

    from groundup.formats import convert as convert_module
    from groundup.formats.ggml_types import GGMLType
    from groundup.formats.gguf_writer import GGUFWriter
    from groundup.grad.demos import training

    bars = Bars()
    monkeypatch.setattr(training, "tqdm", bars)
    monkeypatch.setattr(convert_module, "tqdm", bars)
    rng = np.random.default_rng(0)
    data = training.MnistArrays(
        rng.normal(size=(40, 1, 28, 28)).astype(np.float32),
        rng.integers(0, 10, 40),
        rng.normal(size=(10, 1, 28, 28)).astype(np.float32),
        rng.integers(0, 10, 10),
    )
    model = training.mlp(seed=0)
    training.fit(model, data, training.make_optimizer("sgd", model.parameters()), epochs=2, batch_size=16)
    writer = GGUFWriter(tmp_path / "in.gguf")
    writer.add_field("general.architecture", "llama")
    for name in ("a.weight", "b.weight"):
        writer.add_tensor(name, rng.normal(size=(4, 64)).astype(np.float32), GGMLType.F32, (4, 64))
    convert_module.convert(writer.write(), tmp_path / "out.gguf", "q8_0")
    assert bars.made == [("training", 2 * 3), ("converting", 2)]


@pytest.mark.parametrize(
    "module",
    [
        "groundup.eval.perplexity",  # ppl
        "groundup.quant.basic_quantizer",  # quant basics
        "groundup.quant.qat_vs_ptq",
        "groundup.compress.prune_study",  # compress prune
        "groundup.compress.lora_study",
        "groundup.train.tasks",  # the MNIST classifiers behind those capstones
        "groundup.train.trainer",  # train gpt / train ladder
        "groundup.grad.demos.training",  # grad demo
        "groundup.formats.convert",  # gguf convert
    ],
)
def test_every_long_command_loop_uses_tqdm(module):
    """The loops of the commands that run for more than a few seconds go through tqdm (issue 14.7)."""
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(module))
    assert "from tqdm import tqdm" in source and "tqdm(" in source
