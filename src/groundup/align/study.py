"""Capstone 3.5: preference data → SFT → reward model → DPO on the bundled SmolLM2-135M-Instruct.

1. Prompts: hand-written instructions and "explain this line" prompts over tinyshakespeare lines.
   SmolLM2 samples 4 answers each; `preferences.rule_score` labels the best and worst (a pair).
2. SFT (LoRA): fine-tune on the chosen answers of the training pairs (best-of-n SFT); response
   perplexity on held-out chosen answers before/after.
3. Reward model (LoRA + scalar head): Bradley–Terry on the training pairs; held-out pair accuracy.
4. DPO (LoRA, reference = the frozen base): held-out preference accuracy and implicit reward margin
   per step; after training, the policy's own samples on held-out prompts are scored by the rule
   against the reference's (win rate) and their KL to the reference is estimated.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import torch

from groundup.align.batch import encode_examples, sequence_logprobs
from groundup.align.dpo import dpo_loss
from groundup.align.preferences import PreferencePair, build_pairs, rule_score, sample_responses
from groundup.align.reward import RewardModel, bradley_terry_loss, pair_accuracy
from groundup.align.sft import response_perplexity, sft_loss
from groundup.compress.lora import apply_lora, lora_layers
from groundup.errors import GroundupError

INSTRUCTIONS = (
    "What is the capital of France?",
    "Give me a tip for sleeping better.",
    "Why is the sky blue?",
    "Name three fruits that are red.",
    "How do plants make food?",
    "What does a thermometer measure?",
    "Suggest a name for a pet cat.",
    "What is 7 times 8?",
    "How many days are in a leap year?",
    "What is the boiling point of water?",
    "Explain what a verb is.",
    "Give one reason to exercise.",
    "What is the largest planet in our solar system?",
    "How do you make a cup of tea?",
    "What is photosynthesis?",
    "Describe the colour of the ocean.",
    "What language is spoken in Brazil?",
    "Why do we need sleep?",
    "What is a prime number?",
    "How does a bicycle work?",
    "Give me a word that rhymes with cat.",
    "What is the opposite of hot?",
    "Who wrote Romeo and Juliet?",
    "What is gravity?",
    "How can I save money?",
    "What do bees make?",
    "What is the freezing point of water in Fahrenheit?",
    "Describe a rainy day.",
    "What is an atom?",
    "Why do leaves change colour in autumn?",
    "How do you say thank you in Spanish?",
    "What is the speed of light?",
    "Name a famous painter.",
    "What is a healthy breakfast?",
    "How do birds fly?",
    "What is the main ingredient of bread?",
    "What does a doctor do?",
    "Explain what a computer is.",
    "What is the tallest animal?",
    "Give me a short motivational sentence.",
)


def shakespeare_prompts(n: int, seed: int) -> list[str]:
    """'Explain this line' prompts over n tinyshakespeare lines of 6 to 12 words."""
    from groundup.data import load_text

    lines = [ln.strip() for ln in load_text("tinyshakespeare").splitlines()]
    lines = sorted({ln for ln in lines if 6 <= len(ln.split()) <= 12 and not ln.endswith(":")})
    return [f'Explain this line from Shakespeare: "{ln}"' for ln in random.Random(seed).sample(lines, n)]


def build_preference_data(model, tokenizer, prompts, n: int, max_new_tokens: int, seed: int):
    pairs, scores = [], []
    for i, prompt in enumerate(prompts):
        samples = sample_responses(model, tokenizer, prompt, n, max_new_tokens, seed=seed + i)
        scores += [rule_score(t, f) for t, f in samples]
        pair = build_pairs(prompt, samples)
        if pair is not None:
            pairs.append(pair)
    return pairs, scores


def _encode(tokenizer, pairs: list[PreferencePair], side: str):
    return encode_examples(tokenizer, [p.prompt for p in pairs], [getattr(p, side) for p in pairs])


def _chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def _lora(model, r: int):
    apply_lora(model, ["attn.qkv", "attn.out"], r=r, alpha=2 * r)
    return [p for layer in lora_layers(model) for p in (layer.lora_A, layer.lora_B)]


def _drop_lora(model):
    for layer in lora_layers(model):
        layer.lora_B.data.zero_()


def run_sft(model, tokenizer, train, held_out, steps: int, batch_size: int, lr: float, seed: int):
    eval_batches = [_encode(tokenizer, c, "chosen") for c in _chunks(held_out, batch_size)]
    before = response_perplexity(model, eval_batches)
    params = _lora(model, r=8)
    opt = torch.optim.AdamW(params, lr=lr)
    rng, losses = random.Random(seed), []
    for _ in range(steps):
        loss = sft_loss(model, _encode(tokenizer, rng.sample(train, batch_size), "chosen"))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    after = response_perplexity(model, eval_batches)
    return {"ppl_before": before, "ppl_after": after, "losses": losses}


@torch.no_grad()
def _rm_accuracy(rm, tokenizer, pairs, batch_size):
    chosen, rejected = [], []
    for c in _chunks(pairs, batch_size):
        chosen.append(rm(_encode(tokenizer, c, "chosen")))
        rejected.append(rm(_encode(tokenizer, c, "rejected")))
    return pair_accuracy(torch.cat(chosen), torch.cat(rejected))


def run_reward_model(model, tokenizer, train, held_out, steps: int, batch_size: int, lr: float, seed: int):
    rm = RewardModel(model, seed=seed)
    params = _lora(model, r=8) + [rm.score.weight]
    rm.score.weight.requires_grad_(True)
    before = _rm_accuracy(rm, tokenizer, held_out, batch_size)
    opt = torch.optim.AdamW(params, lr=lr)
    rng, losses, accs = random.Random(seed), [], []
    for _ in range(steps):
        pairs = rng.sample(train, batch_size)
        chosen, rejected = rm(_encode(tokenizer, pairs, "chosen")), rm(_encode(tokenizer, pairs, "rejected"))
        loss = bradley_terry_loss(chosen, rejected)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        accs.append(pair_accuracy(chosen, rejected))
    after = _rm_accuracy(rm, tokenizer, held_out, batch_size)
    return {"acc_before": before, "acc_after": after, "losses": losses, "train_acc": accs}


def _logps(model, tokenizer, pairs):
    c, r = _encode(tokenizer, pairs, "chosen"), _encode(tokenizer, pairs, "rejected")
    counts = (c.response_mask.sum(1), r.response_mask.sum(1))
    return sequence_logprobs(model, c), sequence_logprobs(model, r), counts


@torch.no_grad()
def _dpo_eval(model, tokenizer, pairs, refs, beta, batch_size):
    chosen, rejected = [], []
    for c, (ref_c, ref_r) in zip(_chunks(pairs, batch_size), refs):
        pc, pr, _ = _logps(model, tokenizer, c)
        out = dpo_loss(pc, pr, ref_c, ref_r, beta)
        chosen.append(out.chosen_rewards)
        rejected.append(out.rejected_rewards)
    chosen, rejected = torch.cat(chosen), torch.cat(rejected)
    return pair_accuracy(chosen, rejected), (chosen - rejected).mean().item()


@torch.no_grad()
def _refs(model, tokenizer, pairs, batch_size):
    return [_logps(model, tokenizer, c)[:2] for c in _chunks(pairs, batch_size)]


def run_dpo(model, tokenizer, train, held_out, steps, batch_size, lr, beta, loss_type, seed, eval_every):
    train_refs = _refs(model, tokenizer, train, 1)  # per pair: (ref chosen (1,), ref rejected (1,))
    held_refs = _refs(model, tokenizer, held_out, batch_size)
    opt = torch.optim.AdamW(_lora(model, r=8), lr=lr)
    rng = random.Random(seed)
    curve = {"step": [], "held_out_accuracy": [], "held_out_margin": [], "loss": []}

    def evaluate(step):
        acc, margin = _dpo_eval(model, tokenizer, held_out, held_refs, beta, batch_size)
        curve["step"].append(step)
        curve["held_out_accuracy"].append(acc)
        curve["held_out_margin"].append(margin)

    evaluate(0)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        index = rng.sample(range(len(train)), batch_size)
        pc, pr, (nc, nr) = _logps(model, tokenizer, [train[i] for i in index])
        ref_c = torch.cat([train_refs[i][0] for i in index])
        ref_r = torch.cat([train_refs[i][1] for i in index])
        out = dpo_loss(pc, pr, ref_c, ref_r, beta, loss_type, nc, nr)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        curve["loss"].append(out.loss.item())
        if step % eval_every == 0 or step == steps:
            evaluate(step)
    curve["seconds_per_step"] = (time.perf_counter() - start) / steps
    return curve


@torch.no_grad()
def policy_vs_reference(model, tokenizer, prompts, max_new_tokens, seed):
    """Rule scores of one policy sample and one reference sample (adapters zeroed) per prompt, the
    win rate (ties count half), and KL(π‖π_ref) estimated on the policy's samples."""
    saved = [layer.lora_B.detach().clone() for layer in lora_layers(model)]
    policy = [
        sample_responses(model, tokenizer, p, 1, max_new_tokens, seed=seed + i)[0]
        for i, p in enumerate(prompts)
    ]
    texts = [t for t, _ in policy]
    batch = encode_examples(tokenizer, prompts, texts)
    logp_policy = sequence_logprobs(model, batch)
    _drop_lora(model)
    reference = [
        sample_responses(model, tokenizer, p, 1, max_new_tokens, seed=seed + i)[0]
        for i, p in enumerate(prompts)
    ]
    logp_ref = sequence_logprobs(model, batch)
    for layer, b in zip(lora_layers(model), saved):
        layer.lora_B.data.copy_(b)
    ps = [rule_score(t, f) for t, f in policy]
    rs = [rule_score(t, f) for t, f in reference]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(ps, rs))
    return {
        "policy_score": sum(ps) / len(ps),
        "reference_score": sum(rs) / len(rs),
        "win_rate": wins / len(ps),
        "kl_per_sequence": (logp_policy - logp_ref).mean().item(),
        "examples": [
            {"prompt": p, "policy": a[0], "reference": b[0]}
            for p, a, b in list(zip(prompts, policy, reference))[:4]
        ],
    }


def _samples(model, tokenizer, prompts, max_new_tokens, seed):
    return [
        sample_responses(model, tokenizer, p, 1, max_new_tokens, seed=seed + i)[0]
        for i, p in enumerate(prompts)
    ]


def main(
    out: Path,
    n_shakespeare: int = 24,
    samples_per_prompt: int = 4,
    max_new_tokens: int = 40,
    held_out_fraction: float = 0.25,
    sft_steps: int = 30,
    rm_steps: int = 40,
    dpo_steps: int = 40,
    batch_size: int = 4,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    eval_every: int = 5,
    seed: int = 0,
    load=None,
    log=print,
) -> dict:
    """Run the four stages and write report.md, results.json, preferences.jsonl and figures to `out`.
    `load()` returns a fresh (model, tokenizer); the default is the bundled SmolLM2."""
    from groundup.generate.loading import load_model
    from groundup.reports import plot_curves, write_json, write_text

    load = load or load_model
    torch.manual_seed(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load()
    prompts = list(INSTRUCTIONS) + (shakespeare_prompts(n_shakespeare, seed) if n_shakespeare else [])
    t0 = time.perf_counter()
    pairs, scores = build_preference_data(model, tokenizer, prompts, samples_per_prompt, max_new_tokens, seed)
    results = {"prompts": len(prompts), "pairs": len(pairs), "sampling_seconds": time.perf_counter() - t0}
    results["mean_sample_score"] = sum(scores) / len(scores)
    log(
        f"preference data: {len(pairs)} pairs from {len(prompts)} prompts in {results['sampling_seconds']:.0f}s"
    )
    write_text(out / "preferences.jsonl", "".join(json.dumps(p.to_json()) + "\n" for p in pairs))
    if len(pairs) < 8:
        raise GroundupError(
            f"the rule separated only {len(pairs)} prompts' samples; use more prompts or samples_per_prompt"
        )
    random.Random(seed).shuffle(pairs)
    n_held = max(2, round(held_out_fraction * len(pairs)))
    held_out, train = pairs[:n_held], pairs[n_held:]
    results.update(train_pairs=len(train), held_out_pairs=len(held_out))

    sft = run_sft(model, tokenizer, train, held_out, sft_steps, batch_size, 1e-3, seed)
    results["sft"] = {k: v for k, v in sft.items() if k != "losses"}
    log(f"sft: {results['sft']}")
    model, tokenizer = load()
    rm = run_reward_model(model, tokenizer, train, held_out, rm_steps, batch_size, 1e-3, seed)
    results["reward_model"] = {k: v for k, v in rm.items() if k not in ("losses", "train_acc")}
    log(f"reward model: {results['reward_model']}")
    model, tokenizer = load()
    dpo = run_dpo(
        model, tokenizer, train, held_out, dpo_steps, batch_size, 1e-3, beta, loss_type, seed, eval_every
    )
    results["dpo"] = dpo
    log(f"dpo: accuracy {dpo['held_out_accuracy']}, margin {dpo['held_out_margin']}")
    held_prompts = [p.prompt for p in held_out]
    results["dpo_generation"] = policy_vs_reference(
        model, tokenizer, held_prompts, max_new_tokens, seed + 1000
    )
    write_json(out / "results.json", results)
    plot_curves(
        out / "training_losses.png",
        {"SFT": sft["losses"], "reward model (BT)": rm["losses"], "DPO": dpo["loss"]},
        "SmolLM2-135M + LoRA: training losses",
        "loss",
    )
    _plot_dpo(out / "dpo_held_out.png", dpo)
    write_text(out / "report.md", _report(results))
    return results


def _plot_dpo(path, dpo):
    from groundup.reports import figure

    with figure(path, ncols=2, figsize=(9, 3.6)) as (_, (left, right)):
        left.plot(dpo["step"], dpo["held_out_accuracy"], marker="o")
        left.set(title="held-out preference accuracy", xlabel="DPO step", ylabel="accuracy")
        right.plot(dpo["step"], dpo["held_out_margin"], marker="o", color="C1")
        right.set(title="held-out implicit reward margin", xlabel="DPO step", ylabel="β·h")
        for ax in (left, right):
            ax.grid(alpha=0.3)


def _report(r: dict) -> str:
    from groundup.reports import markdown_table, provenance

    gen = r["dpo_generation"]
    rows = [
        ["SFT: held-out response perplexity", r["sft"]["ppl_before"], r["sft"]["ppl_after"]],
        [
            "reward model: held-out pair accuracy",
            r["reward_model"]["acc_before"],
            r["reward_model"]["acc_after"],
        ],
        [
            "DPO: held-out preference accuracy",
            r["dpo"]["held_out_accuracy"][0],
            r["dpo"]["held_out_accuracy"][-1],
        ],
        [
            "DPO: held-out implicit reward margin",
            r["dpo"]["held_out_margin"][0],
            r["dpo"]["held_out_margin"][-1],
        ],
        ["DPO samples: mean rule score (reference → policy)", gen["reference_score"], gen["policy_score"]],
    ]
    lines = [
        "# 3.5 capstone: preference data, SFT, reward model and DPO on SmolLM2-135M-Instruct",
        "",
        f"{r['prompts']} prompts ({len(INSTRUCTIONS)} hand-written instructions, the rest tinyshakespeare lines),"
        f" 4 samples each → {r['pairs']} rule-labelled pairs ({r['train_pairs']} train / {r['held_out_pairs']}"
        " held out). Rule: `score = -|words - 20| - 10·[repeated 3-gram] - 5·[no EOS]`.",
        "",
        markdown_table(["measure", "before", "after"], rows),
        "",
        f"DPO policy vs reference on held-out prompts (rule score, ties half): win rate {gen['win_rate']:.3f};"
        f" KL(π‖π_ref) per sequence estimated on policy samples: {gen['kl_per_sequence']:.3f} nats.",
        f"DPO step time: {r['dpo']['seconds_per_step']:.2f} s (batch of pairs on a shared 2-core CPU).",
        "",
        "![losses](training_losses.png) ![dpo](dpo_held_out.png)",
        "",
        provenance(("torch",)),
    ]
    return "\n".join(lines) + "\n"
