"""KTO's loss against TRL's KTOTrainer on the same policy/reference log-probs."""

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from groundup.align.kto import kto_loss, mismatched

pytestmark = pytest.mark.module("3.5")


def _trl_kto_loss(per_token, mask, labels, kl_per_token, kl_mask, ref, ref_kl, beta, w_d, w_u):
    """KTOTrainer._compute_loss with precomputed reference log-probs, driven by a model whose per-token
    log-probs are given (one tensor for the completions, one for the mismatched KL completions)."""
    from trl import KTOTrainer

    identity = SimpleNamespace(gather_for_metrics=lambda t: t, device="cpu")
    fake = SimpleNamespace(
        model=SimpleNamespace(training=False),
        accelerator=identity,
        calculate_KL=True,
        aux_loss_enabled=False,
        precompute_ref_logps=True,
        loss_type="kto",
        beta=beta,
        desirable_weight=w_d,
        undesirable_weight=w_u,
        _metrics=defaultdict(lambda: defaultdict(list)),
        _total_train_tokens=0,
        _tp_size=1,
    )

    def pad(m):
        return torch.cat([torch.zeros(len(m), 1, dtype=torch.long), m.long()], dim=1)

    completion, kl_completion = pad(mask), pad(kl_mask)
    main_ids, kl_ids = torch.zeros_like(completion), torch.ones_like(kl_completion)

    def model(**kw):
        logps = kl_per_token if kw["input_ids"] is kl_ids else per_token
        return SimpleNamespace(
            log_probs=logps, entropy=torch.zeros_like(logps), mean_logits=torch.zeros_like(logps)
        )

    fake._compute_kl_logps = lambda m, b: KTOTrainer._compute_kl_logps(fake, m, b)
    inputs = {
        "input_ids": main_ids,
        "attention_mask": torch.ones_like(completion),
        "completion_mask": completion,
        "KL_input_ids": kl_ids,
        "KL_attention_mask": torch.ones_like(kl_completion),
        "KL_completion_mask": kl_completion,
        "label": labels,
        "ref_logps": ref,
        "ref_KL_logps": ref_kl,
    }
    return KTOTrainer._compute_loss(fake, model, inputs, False), fake._metrics["eval"]["kl"][-1]


@pytest.mark.parametrize("beta, w_d, w_u", [(0.1, 1.0, 1.0), (0.5, 1.0, 1.33)])
@pytest.mark.parametrize("kl_shift", [-2.0, 3.0])  # a negative KL estimate is floored at 0
def test_kto_loss_equals_trl_kto_trainer(beta, w_d, w_u, kl_shift):
    pytest.importorskip("trl", reason="TRL is the reference for the KTO loss")
    g = torch.Generator().manual_seed(2)
    n, width = 8, 7
    mask = torch.arange(width)[None] < torch.randint(2, width + 1, (n,), generator=g)[:, None]
    per_token = -torch.rand(n, width, generator=g) * 3 * mask
    kl_per_token = torch.cat([per_token[1:], per_token[:1]])  # the mismatched completions
    kl_mask = torch.cat([mask[1:], mask[:1]])
    logps, kl_logps = per_token.sum(1), kl_per_token.sum(1)
    ref = logps + torch.randn(n, generator=g) * 4
    ref_kl = kl_logps - kl_shift + torch.randn(n, generator=g) * 0.1
    labels = torch.tensor([True, False, True, True, False, False, True, False])
    ours = kto_loss(logps, ref, labels, kl_logps, ref_kl, beta, w_d, w_u)
    theirs, their_kl = _trl_kto_loss(
        per_token, mask, labels, kl_per_token, kl_mask, ref, ref_kl, beta, w_d, w_u
    )
    torch.testing.assert_close(ours.loss, theirs)
    assert ours.kl.item() == pytest.approx(their_kl, abs=1e-6)


def test_kto_rejects_bad_options_and_pairs_mismatched_examples():
    x = torch.zeros(2)
    with pytest.raises(ValueError, match="beta"):
        kto_loss(x, x, x.bool(), x, x, beta=0)
    with pytest.raises(ValueError, match="weight"):
        kto_loss(x, x, x.bool(), x, x, desirable_weight=-1)
    assert mismatched([1, 2, 3]) == [2, 3, 1]
