"""The 3.5 capstone: its plumbing on a tiny model (fast), and at reduced scale on the real SmolLM2
(slow), where each stage must improve its measure."""

import json

import pytest
import torch

from .conftest import ByteTokenizer, make_tiny_llama

pytestmark = pytest.mark.module("3.5")


def _tiny():
    model = make_tiny_llama(ByteTokenizer.vocab_size)
    with torch.no_grad():
        model.lm_head.weight.mul_(0.02)  # samples that differ, so the rule can pair them
    return model, ByteTokenizer()


def test_every_stage_runs_and_the_report_is_rebuilt_from_results_json(tmp_path, monkeypatch):
    from groundup.align import preferences, study
    from groundup.align.rlhf import PPOConfig

    def rule(text, finished=True, target_words=20):  # byte noise has no words: score by its characters
        return float(sum(map(ord, text)) % 11)

    monkeypatch.setattr(preferences, "rule_score", rule)
    monkeypatch.setattr(study, "rule_score", rule)
    r = study.main(
        tmp_path,
        n_shakespeare=0,
        max_new_tokens=8,
        train_layers=1,
        sft_steps=2,
        rm_steps=2,
        dpo_steps=2,
        eval_every=1,
        ppo=PPOConfig(iterations=2, prompts_per_iteration=4, max_new_tokens=4, epochs=1),
        constitutional_prompts=2,
        load=_tiny,
        log=lambda m: None,
    )
    assert (
        r["pairs"] >= 8 and len(r["dpo"]["held_out_accuracy"]) == 3 and len(r["ppo"]["curve"]["score"]) == 2
    )
    for name in ("report.md", "results.json", "preferences.jsonl", "constitutional.jsonl", "ppo_curves.png"):
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "results.json").read_text())
    del saved["ppo"], saved["constitutional"]
    study.write_report(tmp_path, saved)
    assert (
        "Not run (the run was stopped before them): ppo, constitutional."
        in (tmp_path / "report.md").read_text()
    )


@pytest.mark.slow
def test_sft_reward_model_dpo_and_ppo_each_improve_on_held_out_data(tmp_path, data_dir):
    from groundup.align import study
    from groundup.align.rlhf import PPOConfig

    r = study.main(
        tmp_path,
        n_shakespeare=8,
        sft_steps=12,
        rm_steps=16,
        dpo_steps=16,
        ppo=PPOConfig(iterations=6),
        constitutional_prompts=0,
    )
    assert (tmp_path / "report.md").exists() and r["pairs"] >= 8
    assert r["sft"]["ppl_after"] < r["sft"]["ppl_before"]
    assert r["reward_model"]["acc_after"] > max(0.5, r["reward_model"]["acc_before"])
    assert r["dpo"]["held_out_accuracy"][-1] > r["dpo"]["held_out_accuracy"][0]
    assert r["dpo"]["held_out_margin"][-1] > r["dpo"]["held_out_margin"][0]
    assert r["ppo"]["after"]["reward"] > r["ppo"]["before"]["reward"]
