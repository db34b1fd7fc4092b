"""The makemore ladder (0.4): recurrent cells against torch.nn.RNN/LSTM/GRU with the same weights,
WaveNet layers against a dilated causal torch Conv1d, the MLP's windows against a loop, and the count
bigram against numpy counts, which the neural bigram must learn to match."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from groundup.models.makemore import (
    MLP,
    Bigram,
    CausalPairLayer,
    CountsBigram,
    SequenceConfig,
    WaveNet,
    context_windows,
)
from groundup.models.rnn import LSTMAttention, Recurrent

pytestmark = pytest.mark.module("0.4")


@pytest.mark.parametrize(("kind", "reference"), [("rnn", nn.RNN), ("lstm", nn.LSTM), ("gru", nn.GRU)])
@pytest.mark.parametrize("n_layer", [1, 2])
def test_recurrent_states_and_gradients_match_torch(kind, reference, n_layer):
    torch.manual_seed(0)
    cfg = SequenceConfig(vocab_size=13, n_embd=6, n_hidden=10, n_layer=n_layer)
    model = Recurrent(cfg, kind)
    ref = reference(6, 10, num_layers=n_layer, batch_first=True)
    with torch.no_grad():
        for i, layer in enumerate(model.layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ref, f"{name}_l{i}").copy_(getattr(layer, name))
    idx = torch.randint(0, 13, (4, 9))
    x = model.wte(idx)
    ours = model.states(idx)
    theirs, _ = ref(x)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)
    ours.square().sum().backward()
    theirs.square().sum().backward()
    torch.testing.assert_close(model.layers[0].weight_hh.grad, ref.weight_hh_l0.grad, atol=1e-5, rtol=1e-5)


def test_lstm_attention_context_matches_torch_multihead_attention():
    torch.manual_seed(1)
    cfg = SequenceConfig(vocab_size=11, n_embd=5, n_hidden=8)
    model = LSTMAttention(cfg)
    mha = nn.MultiheadAttention(8, 1, bias=False, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(model.qkv.weight)
        mha.out_proj.weight.copy_(torch.eye(8))  # our context is read directly, no output projection
    idx = torch.randint(0, 11, (3, 7))
    h = model.states(idx)
    mask = nn.Transformer.generate_square_subsequent_mask(7)
    context, _ = mha(h, h, h, attn_mask=mask, need_weights=False)
    with torch.no_grad():
        expected = model.head(torch.cat([h, context], dim=-1))
        torch.testing.assert_close(model(idx), expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("dilation", [1, 2, 4])
def test_wavenet_layer_is_a_dilated_causal_conv1d(dilation):
    torch.manual_seed(2)
    layer = CausalPairLayer(6, 5, dilation)
    conv = nn.Conv1d(6, 5, kernel_size=2, dilation=dilation, padding=0)
    with torch.no_grad():
        # Linear over [h[t-d]; h[t]]: the first 6 inputs are kernel tap 0, the next 6 tap 1
        conv.weight.copy_(torch.stack(layer.linear.weight.split(6, dim=1), dim=-1))
        conv.bias.copy_(layer.linear.bias)
    h = torch.randn(2, 12, 6)  # (B, T, C)
    left_padded = nn.functional.pad(h.transpose(1, 2), (dilation, 0))  # (B, C, T + d): zeros before t=0
    torch.testing.assert_close(layer.pair(h), conv(left_padded).transpose(1, 2), atol=1e-6, rtol=1e-5)


def test_wavenet_receptive_field_is_two_to_the_depth():
    torch.manual_seed(3)
    model = WaveNet(SequenceConfig(vocab_size=7, n_embd=4, n_hidden=8, n_layer=3)).eval()
    idx = torch.randint(0, 7, (1, 20))
    changed = idx.clone()
    changed[0, 5] = (idx[0, 5] + 1) % 7
    with torch.no_grad():
        diff = (model(idx) - model(changed)).abs().amax(dim=-1)[0]  # (T,)
    assert torch.all(diff[:5] == 0) and torch.all(diff[13:] == 0)  # token 5 reaches outputs 5..12 only
    assert torch.all(diff[5:13] > 0)


def test_mlp_context_windows_match_a_loop():
    idx = torch.randint(0, 9, (2, 7))
    windows = context_windows(idx, 3, pad=9)
    for b in range(2):
        for t in range(7):
            expected = [9] * max(0, 2 - t) + idx[b, max(0, t - 2) : t + 1].tolist()
            assert windows[b, t].tolist() == expected
    model = MLP(SequenceConfig(vocab_size=9, n_embd=4, n_hidden=16, context=3))
    assert model(idx).shape == (2, 7, 9)


def test_count_bigram_equals_numpy_counts():
    tokens = torch.randint(0, 6, (500,))
    model = CountsBigram(SequenceConfig(vocab_size=6), alpha=1.0).fit(tokens)
    counts = np.ones((6, 6))
    for a, b in zip(tokens[:-1].tolist(), tokens[1:].tolist()):
        counts[a, b] += 1
    expected = np.log(counts / counts.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(model(torch.arange(6)[None])[0].numpy(), expected, rtol=1e-6)


def test_neural_bigram_learns_the_count_bigram_loss():
    """Gradient descent on the (V, V) logit table converges to the smoothed count solution's loss."""
    torch.manual_seed(4)
    probs = torch.softmax(2 * torch.randn(8, 8), dim=1)
    tokens = [0]
    for _ in range(4000):
        tokens.append(torch.multinomial(probs[tokens[-1]], 1).item())
    tokens = torch.tensor(tokens)
    x, y = tokens[:-1][None], tokens[1:]
    counts = CountsBigram(SequenceConfig(vocab_size=8), alpha=0.0).fit(tokens)
    count_loss = nn.functional.cross_entropy(counts(x)[0], y)
    model = Bigram(SequenceConfig(vocab_size=8))
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(300):
        loss = nn.functional.cross_entropy(model(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert abs(loss.item() - count_loss.item()) < 1e-3, (loss.item(), count_loss.item())


@pytest.mark.parametrize(("kind", "reference"), [("rnn", nn.RNN), ("lstm", nn.LSTM), ("gru", nn.GRU)])
def test_bidirectional_encoder_matches_torch_with_packed_padding(kind, reference):
    """Two bidirectional layers over right-padded rows: outputs at real steps, final states of every
    layer/direction and the gradients equal torch's `bidirectional=True` on packed sequences."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from groundup.models.rnn import RecurrentEncoder

    torch.manual_seed(3)
    ours = RecurrentEncoder(kind, 5, 6, n_layer=2, bidirectional=True)
    ref = reference(5, 6, num_layers=2, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for i in range(2):
            for suffix, layers in (("", ours.forward_layers), ("_reverse", ours.backward_layers)):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(ref, f"{name}_l{i}{suffix}").copy_(getattr(layers[i], name))
    lengths = torch.tensor([7, 4, 1])
    x = torch.randn(3, 7, 5, requires_grad=True)
    mask = torch.arange(7)[None] < lengths[:, None]  # (B, T)
    out, finals = ours(x, mask)
    packed, h_n = ref(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    expected, _ = pad_packed_sequence(packed, batch_first=True, total_length=7)
    torch.testing.assert_close(out * mask[..., None], expected, atol=1e-6, rtol=1e-5)
    h_ref = h_n[0] if kind == "lstm" else h_n
    torch.testing.assert_close(torch.stack([h for h, _ in finals]), h_ref, atol=1e-6, rtol=1e-5)
    (out * mask[..., None]).square().sum().backward()
    expected.square().sum().backward()
    torch.testing.assert_close(
        ours.backward_layers[1].weight_hh.grad, ref.weight_hh_l1_reverse.grad, atol=1e-5, rtol=1e-5
    )


def test_sequence_classifier_reads_one_label_per_sequence():
    from groundup.models.rnn import SequenceClassifier

    model = SequenceClassifier(vocab_size=10, n_classes=3, kind="lstm", n_hidden=8, bidirectional=True)
    idx = torch.randint(0, 10, (4, 6))
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[1, 3:] = False
    assert model(idx, mask).shape == (4, 3)
    # padding after a row's end changes nothing
    other = idx.clone()
    other[1, 3:] = 0
    torch.testing.assert_close(model(idx, mask)[1], model(other, mask)[1])
