"""Capstone 3.5: preference data → SFT → reward model → DPO → PPO, and a constitutional demo, on the
bundled SmolLM2-135M-Instruct, sized for a shared 2-core CPU.

1. Prompts: hand-written instructions and "explain this line" prompts over tinyshakespeare lines.
   SmolLM2 samples 4 answers each (all prompts in one KV-cached batch, `rollout.sample_batch`);
   `preferences.rule_score` labels the best and worst (a pair).
2. SFT (LoRA): fine-tune on the chosen answers of the training pairs (best-of-n SFT); response
   perplexity on held-out chosen answers before/after.
3. Reward model (LoRA + scalar head): Bradley–Terry on the training pairs; held-out pair accuracy.
4. DPO (LoRA, reference = the base with adapters off): held-out preference accuracy and implicit
   reward margin per step; the policy's own samples on held-out prompts are scored by the rule
   against the reference's (win rate) and their KL to the reference is estimated.
5. PPO (LoRA + value head, reward = the trained reward model − β·KL): mean reward-model score and
   rule score of samples on held-out prompts before/after, and the per-iteration curves.
6. Constitutional loop: answer → critique → revise per principle on a few prompts; the revised pairs.

Only the last `train_layers` blocks carry adapters, so the frozen trunk's hidden states are computed
once per sequence (`split.Trunk`) and every training pass runs the top blocks and the head.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import torch

from groundup.align.batch import encode_examples, sequence_logprobs
from groundup.align.constitutional import PRINCIPLES, batch_generator, critique_and_revise_many, to_pair
from groundup.align.dpo import dpo_loss
from groundup.align.preferences import PreferencePair, build_pairs, rule_score
from groundup.align.reward import RewardModel, bradley_terry_loss, pair_accuracy
from groundup.align.rlhf import PPOConfig, adapters_off, rollout_batch, train_ppo
from groundup.align.rollout import sample_batch
from groundup.align.sft import response_perplexity, sft_loss
from groundup.align.split import Top, Trunk
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
    """(pairs, every sample's rule score): n samples per prompt, all prompts in one batch."""
    pairs, scores = [], []
    for prompt, rows in zip(prompts, sample_batch(model, tokenizer, prompts, n, max_new_tokens, seed=seed)):
        samples = [(r.text, r.finished) for r in rows]
        scores += [rule_score(t, f) for t, f in samples]
        pair = build_pairs(prompt, samples)
        if pair is not None:
            pairs.append(pair)
    return pairs, scores


def _encode(tokenizer, pairs: list[PreferencePair], side: str):
    return encode_examples(tokenizer, [p.prompt for p in pairs], [getattr(p, side) for p in pairs])


def _chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def _lora(model, r: int = 8):
    apply_lora(model, ["attn.qkv", "attn.out"], r=r, alpha=2 * r)
    return [p for layer in lora_layers(model) for p in (layer.lora_A, layer.lora_B)]


def run_sft(top, tokenizer, train, held_out, steps: int, batch_size: int, lr: float, seed: int):
    eval_batches = [_encode(tokenizer, c, "chosen") for c in _chunks(held_out, batch_size)]
    before = response_perplexity(top, eval_batches)
    opt = torch.optim.AdamW(_lora(top), lr=lr)
    rng, losses = random.Random(seed), []
    for _ in range(steps):
        loss = sft_loss(top, _encode(tokenizer, rng.sample(train, batch_size), "chosen"))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    after = response_perplexity(top, eval_batches)
    return {"ppl_before": before, "ppl_after": after, "losses": losses}


@torch.no_grad()
def _rm_accuracy(rm, tokenizer, pairs, batch_size):
    chosen, rejected = [], []
    for c in _chunks(pairs, batch_size):
        chosen.append(rm(_encode(tokenizer, c, "chosen")))
        rejected.append(rm(_encode(tokenizer, c, "rejected")))
    return pair_accuracy(torch.cat(chosen), torch.cat(rejected))


def run_reward_model(top, tokenizer, train, held_out, steps: int, batch_size: int, lr: float, seed: int):
    """Trains `top` (a Top with its own blocks) into a reward model; returns (rm, figures)."""
    rm = RewardModel(top, seed=seed)
    params = _lora(top) + [rm.score.weight]
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
    return rm, {"acc_before": before, "acc_after": after, "losses": losses, "train_acc": accs}


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


def run_dpo(top, tokenizer, train, held_out, steps, batch_size, lr, beta, loss_type, seed, eval_every):
    """DPO on `top`'s adapters; the reference log-probs are computed once, before training."""
    train_refs = _refs(top, tokenizer, train, 1)  # per pair: (ref chosen (1,), ref rejected (1,))
    held_refs = _refs(top, tokenizer, held_out, batch_size)
    opt = torch.optim.AdamW(_lora(top), lr=lr)
    rng = random.Random(seed)
    curve = {"step": [], "held_out_accuracy": [], "held_out_margin": [], "loss": []}

    def evaluate(step):
        acc, margin = _dpo_eval(top, tokenizer, held_out, held_refs, beta, batch_size)
        curve["step"].append(step)
        curve["held_out_accuracy"].append(acc)
        curve["held_out_margin"].append(margin)

    evaluate(0)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        index = rng.sample(range(len(train)), batch_size)
        pc, pr, (nc, nr) = _logps(top, tokenizer, [train[i] for i in index])
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
def policy_vs_reference(model, top, tokenizer, prompts, max_new_tokens, seed):
    """Rule scores of one policy sample and one reference sample (adapters off) per prompt, the win
    rate (ties count half), and KL(π‖π_ref) per sequence estimated on the policy's samples.
    `model` is the full model whose top blocks are `top`'s (they share the adapters)."""
    cfg = PPOConfig(max_new_tokens=max_new_tokens)
    batch, policy = rollout_batch(model, tokenizer, prompts, cfg, seed)
    logp_policy = sequence_logprobs(top, batch)
    with adapters_off(top):
        _, reference = rollout_batch(model, tokenizer, prompts, cfg, seed)
        logp_ref = sequence_logprobs(top, batch)
    ps = [rule_score(r.text, r.finished) for r in policy]
    rs = [rule_score(r.text, r.finished) for r in reference]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(ps, rs))
    return {
        "policy_score": sum(ps) / len(ps),
        "reference_score": sum(rs) / len(rs),
        "win_rate": wins / len(ps),
        "kl_per_sequence": (logp_policy - logp_ref).mean().item(),
        "examples": [
            {"prompt": p, "policy": a.text, "reference": b.text}
            for p, a, b in list(zip(prompts, policy, reference))[:4]
        ],
    }


@torch.no_grad()
def reward_on_prompts(model, rm, tokenizer, prompts, max_new_tokens, seed, n: int = 2) -> dict:
    """Mean reward-model score and mean rule score of n samples per prompt from `model` as it is now."""
    cfg = PPOConfig(max_new_tokens=max_new_tokens)
    scores, rules = [], []
    for k in range(n):
        batch, rows = rollout_batch(model, tokenizer, prompts, cfg, seed + k)
        scores += rm(batch).tolist()
        rules += [rule_score(r.text, r.finished) for r in rows]
    return {"reward": sum(scores) / len(scores), "rule_score": sum(rules) / len(rules)}


def run_ppo(model, top, rm, tokenizer, train_prompts, held_prompts, cfg: PPOConfig, seed, log):
    _lora(top)
    before = reward_on_prompts(model, rm, tokenizer, held_prompts, cfg.max_new_tokens, seed + 500)
    log(f"ppo before: {before}")
    curve = train_ppo(model, top, rm, tokenizer, train_prompts, cfg, seed, log)
    after = reward_on_prompts(model, rm, tokenizer, held_prompts, cfg.max_new_tokens, seed + 500)
    with torch.no_grad():
        batch, _ = rollout_batch(model, tokenizer, held_prompts, cfg, seed + 900)
        logp = sequence_logprobs(top, batch)
        with adapters_off(top):
            kl = (logp - sequence_logprobs(top, batch)).mean().item()
    return {"before": before, "after": after, "held_out_kl_per_sequence": kl, "curve": curve}


def run_constitutional(model, tokenizer, prompts, principles, max_new_tokens, seed):
    generate_many = batch_generator(model, tokenizer, max_new_tokens, seed=seed)
    traces = critique_and_revise_many(generate_many, prompts, principles)
    pairs = [p for p in map(to_pair, traces) if p is not None]
    return traces, pairs


def constitutional_demo(
    out, model, tokenizer, n_prompts: int, n_principles: int, max_new_tokens: int, seed: int
):
    """The loop on the first `n_prompts` instructions with the first `n_principles` principles; writes
    constitutional.jsonl (every critique and revision) and returns its summary."""
    from groundup.reports import write_text

    prompts, principles = list(INSTRUCTIONS[:n_prompts]), PRINCIPLES[:n_principles]
    traces, pairs = run_constitutional(model, tokenizer, prompts, principles, max_new_tokens, seed)
    write_text(Path(out) / "constitutional.jsonl", "".join(json.dumps(t) + "\n" for t in traces))
    return {
        "prompts": len(traces),
        "principles": len(principles),
        "pairs": len(pairs),
        "original_score": sum(rule_score(t["original"]) for t in traces) / len(traces),
        "revised_score": sum(rule_score(t["final"]) for t in traces) / len(traces),
    }


def main(
    out: Path,
    n_shakespeare: int = 8,
    samples_per_prompt: int = 3,
    max_new_tokens: int = 32,
    held_out_fraction: float = 0.25,
    train_layers: int = 2,
    sft_steps: int = 12,
    rm_steps: int = 16,
    dpo_steps: int = 16,
    batch_size: int = 4,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    eval_every: int = 4,
    ppo: PPOConfig | None = None,
    constitutional_prompts: int = 4,
    constitutional_principles: int = 2,
    seed: int = 0,
    load=None,
    log=print,
) -> dict:
    """Run the stages and write report.md, results.json, preferences.jsonl, constitutional.jsonl and
    figures to `out`. `load()` returns a fresh (model, tokenizer); the default is the bundled SmolLM2."""
    from groundup.generate.loading import load_model
    from groundup.reports import write_json, write_text

    load = load or load_model
    ppo = ppo or PPOConfig()
    torch.manual_seed(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base, tokenizer = load()
    trunk = Trunk(base, len(base.blocks) - train_layers)
    prompts = list(INSTRUCTIONS) + (shakespeare_prompts(n_shakespeare, seed) if n_shakespeare else [])
    seconds, t0 = {}, time.perf_counter()
    pairs, scores = build_preference_data(base, tokenizer, prompts, samples_per_prompt, max_new_tokens, seed)
    seconds["sampling"] = time.perf_counter() - t0
    results = {
        "prompts": len(prompts),
        "pairs": len(pairs),
        "samples_per_prompt": samples_per_prompt,
        "max_new_tokens": max_new_tokens,
        "train_layers": train_layers,
        "n_layers": len(base.blocks),
        "mean_sample_score": sum(scores) / len(scores),
        "seconds": seconds,
    }
    log(f"preference data: {len(pairs)} pairs from {len(prompts)} prompts in {seconds['sampling']:.0f}s")
    write_text(out / "preferences.jsonl", "".join(json.dumps(p.to_json()) + "\n" for p in pairs))
    if len(pairs) < 8:
        raise GroundupError(
            f"the rule separated only {len(pairs)} prompts' samples; use more prompts or samples_per_prompt"
        )
    random.Random(seed).shuffle(pairs)
    n_held = max(2, round(held_out_fraction * len(pairs)))
    held_out, train = pairs[:n_held], pairs[n_held:]
    results.update(train_pairs=len(train), held_out_pairs=len(held_out))

    def stage(name, fn):
        start = time.perf_counter()
        value = fn()
        seconds[name] = time.perf_counter() - start
        write_json(out / "results.json", results)  # what is done so far survives an interrupted run
        return value

    sft = stage(
        "sft",
        lambda: run_sft(
            Top(base, trunk, True), tokenizer, train, held_out, sft_steps, batch_size, 1e-3, seed
        ),
    )
    results["sft"] = sft
    log(f"sft: {results['sft']} ({seconds['sft']:.0f}s)")
    rm, rm_fig = stage(
        "reward_model",
        lambda: run_reward_model(
            Top(base, trunk, True), tokenizer, train, held_out, rm_steps, batch_size, 1e-3, seed
        ),
    )
    rm.requires_grad_(False)
    results["reward_model"] = rm_fig
    log(f"reward model: {results['reward_model']} ({seconds['reward_model']:.0f}s)")

    held_prompts = [p.prompt for p in held_out]
    policy_model, _ = load()
    dpo_top = Top(policy_model, trunk)
    dpo = stage(
        "dpo",
        lambda: run_dpo(
            dpo_top,
            tokenizer,
            train,
            held_out,
            dpo_steps,
            batch_size,
            1e-3,
            beta,
            loss_type,
            seed,
            eval_every,
        ),
    )
    results["dpo"] = dpo
    log(f"dpo: accuracy {dpo['held_out_accuracy']}, margin {dpo['held_out_margin']} ({seconds['dpo']:.0f}s)")
    results["dpo_generation"] = stage(
        "dpo_generation",
        lambda: policy_vs_reference(
            policy_model, dpo_top, tokenizer, held_prompts, max_new_tokens, seed + 1000
        ),
    )
    log(f"dpo generation: { ({k: v for k, v in results['dpo_generation'].items() if k != 'examples'}) }")

    ppo_model, _ = load()
    train_prompts = [p.prompt for p in train]
    results["ppo"] = stage(
        "ppo",
        lambda: run_ppo(
            ppo_model, Top(ppo_model, trunk), rm, tokenizer, train_prompts, held_prompts, ppo, seed, log
        ),
    )
    results["ppo_config"] = ppo.__dict__
    log(f"ppo: before {results['ppo']['before']}, after {results['ppo']['after']} ({seconds['ppo']:.0f}s)")
    write_json(out / "results.json", results)

    if constitutional_prompts:
        results["constitutional"] = stage(
            "constitutional",
            lambda: constitutional_demo(
                out, base, tokenizer, constitutional_prompts, constitutional_principles, max_new_tokens, seed
            ),
        )
        log(f"constitutional: {results['constitutional']} ({seconds['constitutional']:.0f}s)")
    write_json(out / "results.json", results)
    write_report(out, results)
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


def _plot_ppo(path, curve):
    from groundup.reports import figure

    with figure(path, ncols=2, figsize=(9, 3.6)) as (_, (left, right)):
        steps = range(1, len(curve["score"]) + 1)
        left.plot(steps, curve["score"], marker="o")
        left.set(title="PPO: mean reward-model score of rollouts", xlabel="iteration", ylabel="score")
        right.plot(steps, curve["kl"], marker="o", color="C1", label="KL(π‖π_ref) per sequence")
        right.plot(steps, curve["beta"], marker="s", color="C2", label="β (adaptive)")
        right.set(title="PPO: KL to the reference and β", xlabel="iteration")
        right.legend()
        for ax in (left, right):
            ax.grid(alpha=0.3)


def write_report(out, results: dict) -> None:
    """report.md and the figures from a results dict (results.json): the stages that ran."""
    from groundup.reports import plot_curves, write_text

    out = Path(out)
    losses = {
        name: results[key]["losses"]
        for name, key in (("SFT", "sft"), ("reward model (BT)", "reward_model"), ("DPO", "dpo"))
        if key in results and "losses" in results[key]
    }
    if "dpo" in results:
        losses["DPO"] = results["dpo"]["loss"]
        _plot_dpo(out / "dpo_held_out.png", results["dpo"])
    if losses:
        plot_curves(out / "training_losses.png", losses, "SmolLM2-135M + LoRA: training losses", "loss")
    if "ppo" in results:
        _plot_ppo(out / "ppo_curves.png", results["ppo"]["curve"])
    write_text(out / "report.md", _report(results))


def _rows(r: dict) -> list:
    rows = []
    if "sft" in r:
        rows.append(["SFT: held-out response perplexity", r["sft"]["ppl_before"], r["sft"]["ppl_after"]])
    if "reward_model" in r:
        rm = r["reward_model"]
        rows.append(["reward model: held-out pair accuracy", rm["acc_before"], rm["acc_after"]])
    if "dpo" in r:
        acc, margin = r["dpo"]["held_out_accuracy"], r["dpo"]["held_out_margin"]
        rows.append(["DPO: held-out preference accuracy", acc[0], acc[-1]])
        rows.append(["DPO: held-out implicit reward margin", margin[0], margin[-1]])
    if "dpo_generation" in r:
        gen = r["dpo_generation"]
        rows.append(
            ["DPO samples: mean rule score (reference → policy)", gen["reference_score"], gen["policy_score"]]
        )
    if "ppo" in r:
        ppo = r["ppo"]
        rows.append(
            ["PPO: held-out mean reward-model score", ppo["before"]["reward"], ppo["after"]["reward"]]
        )
        rows.append(
            ["PPO: held-out mean rule score", ppo["before"]["rule_score"], ppo["after"]["rule_score"]]
        )
    return rows


def _report(r: dict) -> str:
    from groundup.reports import markdown_table, provenance

    stages = ("sft", "reward_model", "dpo", "dpo_generation", "ppo", "constitutional")
    lines = [
        "# 3.5 capstone: preference data, SFT, reward model, DPO and PPO on SmolLM2-135M-Instruct",
        "",
        f"{r['prompts']} prompts ({len(INSTRUCTIONS)} hand-written instructions, the rest tinyshakespeare lines),"
        f" {r['samples_per_prompt']} samples of ≤ {r['max_new_tokens']} tokens each → {r['pairs']} rule-labelled"
        f" pairs ({r['train_pairs']} train / {r['held_out_pairs']} held out)."
        " Rule: `score = -|words - 20| - 10·[repeated 3-gram] - 5·[no EOS]`.",
        f"Every stage trains LoRA (r = 8, q/k/v and output projections) on the last {r['train_layers']} of"
        f" {r['n_layers']} blocks only; the frozen trunk's hidden states are computed once per sequence.",
        "",
        markdown_table(["measure", "before", "after"], _rows(r)),
        "",
    ]
    missing = [s for s in stages if s not in r]
    if missing:
        lines += [f"Not run (the run was stopped before them): {', '.join(missing)}.", ""]
    if "dpo_generation" in r:
        gen = r["dpo_generation"]
        lines.append(
            f"DPO policy vs reference on held-out prompts (rule score, ties half): win rate {gen['win_rate']:.3f};"
            f" KL(π‖π_ref) per sequence estimated on policy samples: {gen['kl_per_sequence']:.3f} nats."
        )
    if "ppo" in r:
        cfg, ppo = r["ppo_config"], r["ppo"]
        lines.append(
            f"PPO: {cfg['iterations']} iterations of {cfg['prompts_per_iteration']} rollouts (≤ {cfg['max_new_tokens']}"
            f" tokens), {cfg['epochs']} epochs each, lr {cfg['lr']}, adaptive β from {cfg['init_kl_coef']} (target"
            f" KL {cfg['target_kl']} nats); KL to the reference on held-out samples after training:"
            f" {ppo['held_out_kl_per_sequence']:.3f} nats per sequence;"
            f" {sum(ppo['curve']['seconds']) / len(ppo['curve']['seconds']):.1f} s per iteration."
        )
    timing = ", ".join(f"{k} {v:.0f}" for k, v in r["seconds"].items())
    lines += ["", f"Wall time per stage (s, one thread, nice 10, shared 2-core CPU at load 25–40): {timing}."]
    if "dpo" in r:
        step = r["dpo"]["seconds_per_step"]
        lines.append(f"DPO step (4 pairs): {step:.1f} s ({1 / step:.3f} steps/s).")
    figures = (
        ["training_losses.png"] + ["dpo_held_out.png"] * ("dpo" in r) + ["ppo_curves.png"] * ("ppo" in r)
    )
    lines += ["", " ".join(f"![{f[:-4]}]({f})" for f in figures), ""]
    if "constitutional" in r:
        c = r["constitutional"]
        lines += [
            f"Constitutional loop on {c['prompts']} prompts ({c['principles']} principles, answer → critique →"
            f" revise): {c['pairs']} revised pairs; mean rule score original {c['original_score']:.2f} →"
            f" revised {c['revised_score']:.2f} (`constitutional.jsonl` has every critique and revision).",
            "",
        ]
    lines.append(provenance(("torch",)))
    return "\n".join(lines) + "\n"
