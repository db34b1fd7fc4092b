"""The 3.6 capstone at reduced scale (slow): guidance must make the asked-for digit recognisable."""

import pytest

pytestmark = [pytest.mark.module("3.6"), pytest.mark.slow]


def test_guided_ddim_samples_are_recognised_and_closer_to_real_digits(tmp_path):
    from groundup.train import diffusion_study

    r = diffusion_study.main(tmp_path, steps=500, per_class=10, ddpm_images=10, guidances=(0.0, 3.0))
    assert r["classifier_test_accuracy"] > 0.9
    assert r["ddim50_w3"]["accuracy"] > 0.6
    assert r["ddim50_w3"]["accuracy"] > r["ddim50_w0"]["accuracy"]
    assert r["ddpm1000_w3"]["accuracy"] > 0.5
