"""Layer Normalization: our normalization equals torch's, and (slow) LN trains the RNN LM faster."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from groundup.theory.papers.layernorm import NormRNN, shakespeare, train_lm

pytestmark = pytest.mark.module("0.10")


def test_layer_and_batch_normalization_equal_torch():
    torch.manual_seed(0)
    a = torch.randn(6, 16, dtype=torch.float64)
    for norm, reference in (
        ("layer", lambda m: F.layer_norm(a, (16,), m.gain, m.bias, 1e-5)),
        ("batch", lambda m: F.batch_norm(a, None, None, m.gain, m.bias, training=True, eps=1e-5)),
        ("none", lambda m: a),
    ):
        model = NormRNN(10, 16, norm).double()
        with torch.no_grad():
            model.gain.uniform_(0.5, 1.5)
            model.bias.uniform_(-0.1, 0.1)
        torch.testing.assert_close(model.normalize(a), reference(model))


def test_rnn_lm_shapes_and_bad_norm():
    assert NormRNN(7, 8, "layer")(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 5, 7)
    with pytest.raises(ValueError, match="norm"):
        NormRNN(7, 8, "group")


@pytest.mark.slow
def test_layernorm_trains_the_rnn_lm_better_than_per_step_batchnorm():
    # LN vs no normalization is *not* reproduced at this scale (Adam + clipping + orthogonal init;
    # docs/notes/0.10-papers/layernorm.md), so only the claim that held is asserted
    data, val, vocab = shakespeare()
    ln, _ = train_lm("layer", data, val, vocab, steps=300, seed=0, lr=1e-2)
    bn, _ = train_lm("batch", data, val, vocab, steps=300, seed=0, lr=1e-2)
    assert sum(ln[-30:]) / 30 < sum(bn[-30:]) / 30
