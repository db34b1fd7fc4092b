"""Contracts on public boundaries: shapes bind across a call, dtypes, ranges and probability axioms
are checked, and a flag turns every check off for hot loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groundup.contracts import (
    ContractError,
    contract,
    contracts_disabled,
    contracts_enabled,
    probabilities,
    tensor,
)
from groundup.generate.sampling import SamplingParams, sample, sampling_probs
from groundup.monitor import drift

pytestmark = pytest.mark.module("3.7")


@contract(
    x=tensor("B T C", dtype="float"), mask=tensor("B T", dtype="bool", optional=True), returns=tensor("B C")
)
def pool(x, mask=None):
    return x.mean(1)


def test_shapes_bind_across_arguments_and_result():
    pool(torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ContractError, match=r"pool\(mask\): dimension T is 5"):
        pool(torch.zeros(2, 3, 4), torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ContractError, match="expected 3 dimensions"):
        pool(torch.zeros(2, 3))
    with pytest.raises(ContractError, match="float dtype"):
        pool(torch.zeros(2, 3, 4, dtype=torch.long))


def test_broken_result_is_reported_as_the_result():
    @contract(returns=probabilities("N"))
    def bad(n):
        return np.full(n, 0.3)

    with pytest.raises(ContractError, match="sum to 1"):
        bad(4)
    with pytest.raises(ValueError):  # a ContractError is a ValueError for callers that catch those
        bad(4)


def test_flag_turns_checks_off_and_back_on():
    assert contracts_enabled()
    with contracts_disabled():
        assert not contracts_enabled()
        pool(torch.zeros(2, 3))  # wrong, but unchecked: the hot-loop setting
    assert contracts_enabled()


def test_contract_names_unknown_parameters():
    with pytest.raises(TypeError, match="unknown parameters"):
        contract(y=tensor("N"))(lambda x: x)


def test_sampling_boundary_checks_its_distribution():
    logits = torch.randn(3, 11)
    probs = sampling_probs(logits, SamplingParams(temperature=0.7, top_k=5))
    assert probs.shape == (3, 11)
    assert sample(logits, SamplingParams(temperature=0.7), torch.Generator().manual_seed(0)).shape == (3,)
    with pytest.raises(ContractError, match="sampling_probs\\(logits\\): expected 2 dimensions"):
        sampling_probs(torch.randn(11), SamplingParams())
    with pytest.raises(ContractError, match="float dtype"):
        sample(torch.ones(2, 3, dtype=torch.long), SamplingParams())


def test_drift_boundaries_refuse_negative_shares():
    with pytest.raises(ContractError, match="kl_divergence\\(q\\): expected values >= 0"):
        drift.kl_divergence(np.array([0.5, 0.5]), np.array([1.5, -0.5]))
    with pytest.raises(ContractError, match="dimension K"):
        drift.js_divergence(np.array([0.5, 0.5]), np.array([0.2, 0.3, 0.5]))
