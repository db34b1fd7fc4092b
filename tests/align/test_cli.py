"""`groundup diffusion train|sample` end to end at a tiny budget, and their errors."""

import pytest

from groundup.cli import main

pytestmark = pytest.mark.module("3.6")


@pytest.mark.parametrize("denoiser", ["unet", pytest.param("dit", marks=pytest.mark.slow)])
def test_diffusion_train_then_sample_writes_a_model_and_a_grid(tmp_path, capsys, denoiser):
    out = tmp_path / "run"
    args = ["diffusion", "train", "--quick", "--steps", "2", "--denoiser", denoiser, "--out", str(out)]
    assert main(args) == 0
    assert (out / "model.pt").is_file() and (out / "report.md").is_file()
    png = tmp_path / "grid.png"
    args = ["diffusion", "sample", str(out / "model.pt"), "--digits", "3", "7", "--per-digit", "2"]
    assert main(args + ["--steps", "4", "--out", str(png)]) == 0
    assert png.stat().st_size > 0 and "wrote 4 samples" in capsys.readouterr().out


def test_diffusion_sample_names_a_missing_model(tmp_path, capsys):
    assert main(["diffusion", "sample", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x.png")]) == 1
    assert "groundup diffusion train" in capsys.readouterr().err
