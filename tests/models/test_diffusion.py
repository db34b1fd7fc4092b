"""DDPM/DDIM schedules and steps against diffusers' schedulers on the same inputs; the U-Net and
classifier-free guided sampling on a tiny config."""

import pytest
import torch

from groundup.models.diffusion import (
    NoiseSchedule,
    add_noise,
    ddim_step,
    ddim_timesteps,
    ddpm_step,
    diffusion_loss,
    guided_eps,
    sample,
)
from groundup.models.unet import UNet, UNetConfig

pytestmark = pytest.mark.module("3.6")
diffusers = pytest.importorskip("diffusers", reason="diffusers' schedulers are the reference for 3.6")
KIND = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedule_and_add_noise_equal_diffusers(kind):
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule=KIND[kind])
    ours = NoiseSchedule(1000, kind)
    torch.testing.assert_close(ours.betas, ref.betas, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(ours.alphas_cumprod, ref.alphas_cumprod, rtol=1e-5, atol=1e-9)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.rand(6, 1, 8, 8, generator=g) * 2 - 1, torch.randn(6, 1, 8, 8, generator=g)
    t = torch.tensor([0, 1, 250, 500, 998, 999])
    torch.testing.assert_close(add_noise(ours, x0, noise, t), ref.add_noise(x0, noise, t))


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("t", [999, 500, 17, 1, 0])
def test_ddpm_step_equals_diffusers(kind, t):
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule=KIND[kind])
    ref.set_timesteps(1000)
    ours = NoiseSchedule(1000, kind)
    g = torch.Generator().manual_seed(t)
    x_t, eps = torch.randn(4, 1, 8, 8, generator=g), torch.randn(4, 1, 8, 8, generator=g)
    expected = ref.step(eps, t, x_t, generator=torch.Generator().manual_seed(7)).prev_sample
    noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(ddpm_step(ours, eps, t, x_t, noise), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_ddim_trajectory_equals_diffusers(kind, eta):
    ref = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule=KIND[kind])
    ref.set_timesteps(50)
    ours = NoiseSchedule(1000, kind)
    steps = ddim_timesteps(1000, 50)
    assert steps == ref.timesteps.tolist()
    g = torch.Generator().manual_seed(3)
    x_ours = x_ref = torch.randn(3, 1, 8, 8, generator=g)
    for i, t in enumerate(steps):
        eps = torch.randn(3, 1, 8, 8, generator=g) * 0.5 + 0.3 * x_ref  # any ε-predictor stand-in
        x_ref = ref.step(eps, t, x_ref, eta=eta, generator=torch.Generator().manual_seed(i)).prev_sample
        noise = torch.randn(x_ours.shape, generator=torch.Generator().manual_seed(i))
        prev_t = steps[i + 1] if i + 1 < len(steps) else -1
        x_ours = ddim_step(ours, eps, t, prev_t, x_ours, eta, noise)
        torch.testing.assert_close(x_ours, x_ref, rtol=1e-4, atol=1e-5)


def test_guidance_interpolates_conditional_and_unconditional():
    def model(x, t, labels):  # ε depends on the label only: 1 for class 3, 0 for the null class
        return (labels == 3).float().view(-1, 1, 1, 1).expand_as(x)

    x, labels = torch.zeros(2, 1, 4, 4), torch.tensor([3, 3])
    for w in (0.0, 1.0, 2.5):
        assert torch.allclose(guided_eps(model, x, 5, labels, null_label=10, scale=w), torch.full_like(x, w))


def test_unet_shapes_loss_and_sampling_on_a_tiny_config():
    torch.manual_seed(0)
    cfg = UNetConfig(image_size=8, width=16, num_steps=100)
    net = UNet(cfg)
    schedule = NoiseSchedule(100, "cosine")
    x0 = torch.rand(5, 1, 8, 8) * 2 - 1
    labels = torch.tensor([0, 1, 2, 3, cfg.null_label])
    assert net(x0, torch.tensor([0, 10, 50, 99, 3]), labels).shape == x0.shape
    loss = diffusion_loss(net, schedule, x0, labels, torch.Generator().manual_seed(0))
    loss.backward()
    assert loss.item() > 0 and all(p.grad is not None for p in net.parameters())
    g = torch.Generator().manual_seed(1)
    for method in ("ddim", "ddpm"):
        out = sample(
            net,
            schedule,
            labels[:4],
            (1, 8, 8),
            null_label=cfg.null_label,
            guidance=2.0,
            method=method,
            num_steps=10,
            generator=g,
        )
        assert out.shape == (4, 1, 8, 8) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="method"):
        sample(net, schedule, labels, (1, 8, 8), null_label=10, method="euler")
