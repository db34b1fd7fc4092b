"""Alignment and diffusion throughput (issue 22; reported, no peer goal).

- DPO steps/s and PPO iterations/s on SmolLM2-135M-Instruct with LoRA (r = 8) on the last 2 blocks over
  the memoized frozen trunk (`groundup.align.split`), 4 pairs per DPO step, 6 rollouts of ≤ 24 tokens
  per PPO iteration (rollout, reference/value/score passes, 4 epochs);
- DDPM training images/s of the U-Net and the DiT on 8×8 digits (batch 64);
- sampling time per image: ancestral DDPM (1000 steps) against DDIM (50 steps), same U-Net.

One torch thread: on the shared machine more threads mostly measure the neighbours.
"""

from __future__ import annotations

import statistics
import time

import torch

from benchmarks.harness import Report


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _diffusion(report: Report, quick: bool) -> None:
    from groundup.models.diffusion import NoiseSchedule, diffusion_loss, sample
    from groundup.train.diffusion_study import denoisers

    schedule = NoiseSchedule(1000, "cosine")
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    g = torch.Generator().manual_seed(0)
    nets = denoisers()
    for name, (net, lr) in nets.items():
        opt = torch.optim.Adam(net.parameters(), lr=lr)

        def step(net=net, opt=opt):
            loss = diffusion_loss(net, schedule, x, y, g)
            opt.zero_grad()
            loss.backward()
            opt.step()

        step()
        seconds = _median_seconds(step, 3 if quick else 20)
        report.add(case=f"{name} training", unit="images/s", value=64 / seconds, median_step_s=seconds)
    unet = nets["U-Net"][0].eval()
    labels = torch.arange(2 if quick else 10)
    for method, steps in (("ddim", 50), ("ddpm", 1000)):
        with torch.no_grad():
            seconds = _median_seconds(
                lambda method=method, steps=steps: sample(
                    unet,
                    schedule,
                    labels,
                    (1, 8, 8),
                    null_label=10,
                    guidance=1.0,
                    method=method,
                    num_steps=steps,
                ),
                1 if quick or method == "ddpm" else 3,
            )
        report.add(
            case=f"U-Net sampling, {method.upper()} {steps}",
            unit="ms/image",
            value=seconds / len(labels) * 1e3,
        )


def _alignment(report: Report, quick: bool) -> None:
    from groundup.align.batch import encode_examples, sequence_logprobs
    from groundup.align.dpo import dpo_loss
    from groundup.align.rlhf import PPOConfig, train_ppo
    from groundup.align.split import Top, Trunk
    from groundup.align.study import INSTRUCTIONS, _lora
    from groundup.generate.loading import load_model

    model, tok = load_model()
    top = Top(model, Trunk(model, len(model.blocks) - 2))
    opt = torch.optim.AdamW(_lora(top), lr=1e-3)
    prompts = list(INSTRUCTIONS[:4])
    chosen = encode_examples(tok, prompts, ["A short and direct answer to the question."] * 4)
    rejected = encode_examples(
        tok, prompts, ["A long answer, a long answer, a long answer that repeats."] * 4
    )
    with torch.no_grad():
        ref_c, ref_r = sequence_logprobs(top, chosen), sequence_logprobs(top, rejected)

    def dpo_step():
        out = dpo_loss(sequence_logprobs(top, chosen), sequence_logprobs(top, rejected), ref_c, ref_r)
        opt.zero_grad()
        out.loss.backward()
        opt.step()

    dpo_step()  # fills the trunk memo, as the first pass of a run does
    seconds = _median_seconds(dpo_step, 2 if quick else 5)
    report.add(
        case="DPO step (4 pairs), SmolLM2 + LoRA", unit="steps/s", value=1 / seconds, median_step_s=seconds
    )
    cfg = PPOConfig(iterations=1 if quick else 3, max_new_tokens=4 if quick else 24)
    curve = train_ppo(
        model, top, lambda b: torch.zeros(len(b)), tok, list(INSTRUCTIONS), cfg, log=lambda m: None
    )
    seconds = statistics.median(curve["seconds"])
    report.add(
        case="PPO iteration (6 rollouts), SmolLM2 + LoRA",
        unit="iterations/s",
        value=1 / seconds,
        median_step_s=seconds,
    )


def run(report: Report, quick: bool) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _diffusion(report, quick)
        _alignment(report, quick)
    finally:
        torch.set_num_threads(threads)
