"""PPO-RLHF pieces: GAE against its direct sum, the clipped losses, the KL controller, and a bandit
whose optimum is known."""

import pytest
import torch

from groundup.align.ppo import AdaptiveKLController, gae, kl_penalized_rewards, policy_loss, value_loss

pytestmark = pytest.mark.module("3.5")


def direct_gae(rewards, values, mask, gamma, lam):
    """A_t = Σ_l (γλ)^l δ_{t+l} over the episode's own tokens, written out as a double loop."""
    b, t_len = rewards.shape
    adv = torch.zeros_like(values)
    for b_i in range(b):
        steps = [t for t in range(t_len) if mask[b_i, t]]
        for i, t in enumerate(steps):
            total = 0.0
            for j, u in enumerate(steps[i:]):
                next_v = values[b_i, steps[i + j + 1]] if i + j + 1 < len(steps) else 0.0
                delta = rewards[b_i, u] + gamma * next_v - values[b_i, u]
                total += (gamma * lam) ** j * delta
            adv[b_i, t] = total
    return adv


@pytest.mark.parametrize("gamma,lam", [(1.0, 0.95), (0.9, 1.0), (0.99, 0.0)])
def test_gae_equals_the_direct_sum(gamma, lam):
    g = torch.Generator().manual_seed(0)
    rewards, values = torch.randn(3, 7, generator=g), torch.randn(3, 7, generator=g)
    mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [0, 1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1]]).bool()
    adv, ret = gae(rewards, values, mask, gamma, lam)
    expected = direct_gae(rewards, values, mask, gamma, lam)
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(ret, (expected + values) * mask)


def test_kl_penalty_per_token_and_score_at_the_last_token():
    mask = torch.tensor([[0, 1, 1, 0], [1, 1, 1, 1]]).bool()
    logp, ref = torch.full((2, 4), -1.0), torch.full((2, 4), -1.5)
    r = kl_penalized_rewards(torch.tensor([2.0, 3.0]), logp, ref, mask, beta=0.2)
    torch.testing.assert_close(r, torch.tensor([[0.0, -0.1, 1.9, 0.0], [-0.1, -0.1, -0.1, 2.9]]))


def test_clipping_stops_the_gradient_beyond_the_trust_region():
    old = torch.zeros(1, 4)
    adv = torch.tensor([[1.0, 1.0, -1.0, -1.0]])
    logp = torch.log(torch.tensor([[1.1, 1.5, 0.9, 0.5]])).requires_grad_(True)  # ratios
    policy_loss(logp, old, adv, torch.ones(1, 4, dtype=torch.bool), clip=0.2).backward()
    # inside the region the gradient pushes along the advantage; outside (1.5 with A>0, 0.5 with A<0) none
    assert logp.grad[0, 0] < 0 and logp.grad[0, 2] > 0
    assert logp.grad[0, 1] == 0 and logp.grad[0, 3] == 0
    v = torch.tensor([[0.0, 1.0]], requires_grad=True)
    value_loss(
        v, torch.zeros(1, 2), torch.tensor([[0.5, 0.5]]), torch.ones(1, 2, dtype=torch.bool)
    ).backward()
    assert v.grad[0, 0] < 0


def test_adaptive_kl_controller_tracks_the_target():
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=100)
    assert ctl.update(12.0, 10) == pytest.approx(0.1 * 1.02)
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=100)
    assert ctl.update(3.0, 10) == pytest.approx(0.1 * (1 - 0.02))  # the error is clipped to -0.2


def test_ppo_with_kl_penalty_converges_on_a_bandit():
    """One-token episodes over 5 arms, reward = arm payout; the optimum with a small KL penalty is
    (almost) always the best arm."""
    torch.manual_seed(0)
    payout = torch.tensor([0.1, 0.3, 1.0, 0.2, 0.0])
    ref_logits = torch.zeros(5)
    logits = torch.zeros(5, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.05)
    ctl = AdaptiveKLController(0.05, target=1.0, horizon=50)
    mask = torch.ones(64, 1, dtype=torch.bool)
    for _ in range(60):
        with torch.no_grad():
            arms = torch.multinomial(logits.softmax(-1), 64, replacement=True)  # rollout
            old_logp = logits.log_softmax(-1)[arms][:, None]
            ref_logp = ref_logits.log_softmax(-1)[arms][:, None]
            rewards = kl_penalized_rewards(payout[arms], old_logp, ref_logp, mask, ctl.value)
            baseline = torch.full((64, 1), rewards.mean().item())  # a constant value estimate
            adv, _ = gae(rewards, baseline, mask)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        for _ in range(4):  # PPO epochs on the same rollout
            loss = policy_loss(logits.log_softmax(-1)[arms][:, None], old_logp, adv, mask)
            opt.zero_grad()
            loss.backward()
            opt.step()
        ctl.update((old_logp - ref_logp).mean().item(), 1)
    assert logits.softmax(-1)[2] > 0.9
