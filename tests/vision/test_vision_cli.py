"""The vision capstones end to end at a tiny budget (--quick), the losses, and the bad-input errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from groundup.cli import main
from groundup.models import cnn
from groundup.vision.losses import focal_loss, soft_cross_entropy

pytestmark = pytest.mark.module("3.3")


def test_focal_loss_reduces_to_cross_entropy_and_down_weights_easy_examples():
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    torch.testing.assert_close(focal_loss(logits, y, gamma=0.0), F.cross_entropy(logits, y))
    p = F.softmax(logits, -1)[torch.arange(6), y]
    torch.testing.assert_close(focal_loss(logits, y, 2.0), (-((1 - p) ** 2) * p.log()).mean())
    torch.testing.assert_close(
        soft_cross_entropy(logits, F.one_hot(y, 4).float(), 0.1),
        F.cross_entropy(logits, y, label_smoothing=0.1),
    )


@pytest.mark.parametrize(
    ("model", "shape", "expected"),
    [
        (lambda: cnn.ResNet(18, 10), (2, 1, 32, 32), r"\(B, 3, H, W\).*\(2, 1, 32, 32\)"),
        (lambda: cnn.LeNet5(), (2, 1, 32, 32), r"\(B, 1, 28, 28\).*\(2, 1, 32, 32\)"),
        (lambda: cnn.VGG(11, 10, small_input=True), (2, 3, 16, 16), r"H, W >= 32.*\(2, 3, 16, 16\)"),
    ],
)
def test_wrong_image_shape_names_expected_and_found(model, shape, expected):
    with pytest.raises(cnn.ImageShapeError, match=expected):
        model()(torch.zeros(shape))


@pytest.mark.module("0.3")
def test_zoo_quick_writes_the_report(tmp_path, capsys):
    assert (
        main(
            [
                "vision",
                "zoo",
                "--quick",
                "--epochs",
                "1",
                "--models",
                "lenet5",
                "vit_tiny",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    text = (tmp_path / "zoo.md").read_text()
    assert "| vit_tiny |" in text and "CIFAR-10" in text
    for png in ("curves.png", "filters.png", "feature_maps.png"):
        assert (tmp_path / png).stat().st_size > 1000


@pytest.mark.module("0.6")
def test_lab_quick_writes_statistics(tmp_path, capsys):
    args = ["vision", "lab", "--quick", "--epochs", "1", "--seeds", "2", "--variants", "adam", "mixup"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    text = (tmp_path / "lab.md").read_text()
    assert "Holm" in text and "A/A" in text and "focal" in text and "recipe" in text


def test_transfer_gradcam_and_augment_quick(tmp_path, capsys):
    assert (
        main(["vision", "transfer", "--quick", "--epochs", "1", "--seeds", "1", "--out", str(tmp_path)]) == 0
    )
    assert "frozen" in (tmp_path / "transfer.md").read_text()
    assert main(["vision", "gradcam", "--quick", "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert main(["vision", "augment", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "gradcam.png").exists() and (tmp_path / "augment.png").exists()


def test_gradcam_command_names_valid_layers(tmp_path, capsys):
    assert main(["vision", "gradcam", "--quick", "--layer", "nope", "--out", str(tmp_path)]) == 1
    assert "valid layer names: features, features.0" in capsys.readouterr().err


@pytest.mark.module("0.3")
def test_zoo_runs_folder_resumes_with_the_same_model(tmp_path):
    from groundup.errors import GroundupError
    from groundup.train.tasks import ImageSplits
    from groundup.vision.data import mnist_splits
    from groundup.vision.zoo import run_zoo

    full = mnist_splits()
    data = ImageSplits(full.x_train[:128], full.y_train[:128], full.x_test[:64], full.y_test[:64])
    quiet = {"models": ["lenet5"], "runs_dir": tmp_path, "progress": lambda _: None}
    first = run_zoo(data, epochs=1, **quiet)
    again = run_zoo(data, epochs=1, **quiet)  # loaded from tmp_path/lenet5.pt, not retrained
    assert again["results"]["lenet5"]["curve"] == first["results"]["lenet5"]["curve"]
    for a, b in zip(first["models"]["lenet5"].parameters(), again["models"]["lenet5"].parameters()):
        torch.testing.assert_close(a, b)
    with pytest.raises(GroundupError, match="other settings"):
        run_zoo(data, epochs=2, **quiet)
