"""Module bookkeeping: names, modes, state dicts (torch-compatible keys), safetensors round trip."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

from groundup.grad import Tensor, losses, nn, optim

pytestmark = pytest.mark.module("0.2")


def small_net(dtype=np.float32):
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, dtype=dtype),
        nn.BatchNorm2d(2, dtype=dtype),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8, 3, dtype=dtype),
    )


def torch_net():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3),
        torch.nn.BatchNorm2d(2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 3),
    )


def test_names_match_torch_and_modes_propagate():
    ours, theirs = small_net(), torch_net()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(list(ours.children())) == 5
    ours.eval()
    assert not any(m.training for m in ours.modules())
    ours.train()
    assert all(m.training for m in ours.modules())


def test_torch_state_dict_loads_and_outputs_match(tmp_path):
    ours, theirs = small_net(), torch_net().eval()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(
        ours(Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )
    path = tmp_path / "net.safetensors"
    ours.save(path)
    again = small_net()
    again.load(path)
    again.eval()
    np.testing.assert_array_equal(again(Tensor(x)).data, ours(Tensor(x)).data)
    from safetensors.torch import load_file

    theirs.load_state_dict(load_file(str(path)))  # our file is readable by torch too


def test_bad_state_dicts_strict_and_non_strict():
    net = small_net()
    state = net.state_dict()
    state.pop("4.bias")
    state["extra.weight"] = np.zeros(2)
    state["0.weight"] = np.zeros((3, 3))
    with pytest.raises(nn.StateDictError) as err:
        net.load_state_dict(state)
    message = str(err.value)
    assert (
        "4.bias" in message
        and "extra.weight" in message
        and "0.weight: expected (2, 1, 3, 3), got (3, 3)" in message
    )
    before = net[0].weight.data.copy()
    report = net.load_state_dict(state, strict=False)
    assert (
        report.missing == ["4.bias"] and report.unexpected == ["extra.weight"] and len(report.mismatched) == 1
    )
    np.testing.assert_array_equal(net[0].weight.data, before)  # mis-shaped entry skipped


INITS = {
    "xavier_uniform": (
        lambda w, r: nn.init.xavier_uniform_(w, gain=1.5, rng=r),
        lambda t: torch.nn.init.xavier_uniform_(t, gain=1.5),
    ),
    "xavier_normal": (lambda w, r: nn.init.xavier_normal_(w, rng=r), torch.nn.init.xavier_normal_),
    "kaiming_uniform": (
        lambda w, r: nn.init.kaiming_uniform_(w, nonlinearity="relu", rng=r),
        lambda t: torch.nn.init.kaiming_uniform_(t, nonlinearity="relu"),
    ),
    "kaiming_normal_fan_out": (
        lambda w, r: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", rng=r),
        lambda t: torch.nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
    ),
    "orthogonal": (
        lambda w, r: nn.init.orthogonal_(w, gain=2.0, rng=r),
        lambda t: torch.nn.init.orthogonal_(t, gain=2.0),
    ),
}


@pytest.mark.parametrize("name", INITS)
def test_initializers_match_torch_distribution(name):
    """Same shape, same rule: the spread (std, max |w|) matches torch's draw within sampling error."""
    ours_init, torch_init = INITS[name]
    w = nn.Parameter(np.zeros((120, 40, 3, 3)))  # conv-shaped: fans include the receptive field
    ours_init(w, np.random.default_rng(0))
    t = torch_init(torch.empty(120, 40, 3, 3, dtype=torch.float64))
    assert w.data.std() == pytest.approx(t.std().item(), rel=0.03)
    assert abs(w.data.mean()) < 0.03 * w.data.std()
    if "uniform" in name:
        assert np.abs(w.data).max() == pytest.approx(t.abs().max().item(), rel=0.01)
    if name == "orthogonal":
        flat = w.data.reshape(120, -1)
        np.testing.assert_allclose(flat @ flat.T, 4 * np.eye(120), atol=1e-9)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2)
    )


def test_training_step_leaves_no_cyclic_garbage():
    """Graphs are freed by reference counting: with gc disabled, a step creates nothing for gc to find."""
    net = small_net()
    opt = optim.Adam(net.parameters(), lr=1e-2)
    x = Tensor(np.random.default_rng(0).standard_normal((4, 1, 4, 4)).astype(np.float32))
    y = np.array([0, 1, 2, 1])
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            logits = net(x)
            loss = losses.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        probe = weakref.ref(logits)
        del logits, loss
        assert probe() is None
        # what gc would find, kept for inspection: only our objects count (another test's leftover
        # thread may make unrelated garbage in this worker while gc is off; a cycle through a graph
        # always contains one of our tensors or modules)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        ours = [o for o in gc.garbage if type(o).__module__.startswith("groundup")]
        assert ours == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
