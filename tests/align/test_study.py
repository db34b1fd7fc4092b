"""The 3.5 capstone at reduced scale on the real SmolLM2 (slow): each stage must improve its measure."""

import pytest

pytestmark = [pytest.mark.module("3.5"), pytest.mark.slow]


def test_sft_reward_model_and_dpo_each_improve_on_held_out_pairs(tmp_path, data_dir):
    from groundup.align import study

    r = study.main(
        tmp_path, n_shakespeare=8, max_new_tokens=32, sft_steps=15, rm_steps=25, dpo_steps=25, eval_every=25
    )
    assert (tmp_path / "report.md").exists() and r["pairs"] >= 8
    assert r["sft"]["ppl_after"] < r["sft"]["ppl_before"]
    assert r["reward_model"]["acc_after"] > max(0.5, r["reward_model"]["acc_before"])
    assert r["dpo"]["held_out_accuracy"][-1] > r["dpo"]["held_out_accuracy"][0]
    assert r["dpo"]["held_out_margin"][-1] > r["dpo"]["held_out_margin"][0]
