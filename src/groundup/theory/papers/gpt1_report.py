"""The GPT-1 study's report: fine-tuning accuracies per variant and size, zero-shot scores, one figure."""

from __future__ import annotations

from pathlib import Path

# Radford et al. 2018, Table 5 (average over their 9 tasks) and Fig. 2 (right)
PAPER = (
    "Paper (Table 5, averages over 9 tasks): full model 74.7; without pretraining 59.9 (-14.8); without the "
    "auxiliary LM objective 75.0 (+0.3 on average: it helps the larger NLI and QQP sets and not the smaller "
    "ones). On SST-2, the one sentiment task: 91.3 full, 84.0 without pretraining, 92.0 without the auxiliary "
    "objective. Fig. 2 (right): zero-shot heuristics of the pretrained LM improve steadily over pretraining."
)


def summarize(runs: list[dict]) -> list[list]:
    """One row per (size, variant): mean accuracy over seeds and each seed's accuracy with its interval."""
    rows = {}
    for r in runs:
        rows.setdefault((r["train_size"], r["variant"]), []).append(r)
    table = []
    for (size, variant), rs in rows.items():
        per_seed = "; ".join(f"{r['accuracy']:.1%} [{r['ci'][0]:.1%}, {r['ci'][1]:.1%}]" for r in rs)
        table.append([size, variant, f"{sum(r['accuracy'] for r in rs) / len(rs):.1%}", per_seed])
    return table


def write_gpt1_report(out: Path, results: dict) -> Path:
    from groundup.reports import figure, markdown_table, write_report

    s, runs, curve = results["setup"], results["finetune"], results["char_zero_shot"]
    variants = list(dict.fromkeys(r["variant"] for r in runs))
    sizes = sorted({r["train_size"] for r in runs})
    with figure(out / "gpt1.png", ncols=2, figsize=(11, 4)) as (fig, (ax, bx)):
        for i, variant in enumerate(variants):
            rs = [r for r in runs if r["variant"] == variant]
            x = [sizes.index(r["train_size"]) + (i - 1) * 0.2 for r in rs]
            y = [r["accuracy"] for r in rs]
            err = [[r["accuracy"] - r["ci"][0] for r in rs], [r["ci"][1] - r["accuracy"] for r in rs]]
            ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, label=variant)
        ax.axhline(s["majority"], color="gray", ls=":", label="majority class")
        ax.set(xticks=range(len(sizes)), xticklabels=[f"{n} tweets" for n in sizes], ylabel="test accuracy")
        ax.set_title("fine-tuning (95% Wilson intervals, one point per seed)")
        ax.legend(fontsize=7)
        bx.plot([c["step"] for c in curve], [c["accuracy"] for c in curve], "o-", label="raw")
        bx.plot([c["step"] for c in curve], [c["debiased"] for c in curve], "s--", label="bias-corrected")
        bx.axhline(0.5, color="gray", ls="--", label="chance")
        bx.set(xlabel="pretraining step", ylabel="zero-shot accuracy", title='char GPT: "<tweet> very" -> ?')
        bx.legend(fontsize=7)
    sections = [
        f"Pretraining: character-level GPT ({s['model']['n_layer']} layers, {s['model']['n_embd']} wide, "
        f"{s['params']:,} parameters, {s['vocab']} tokens incl. start/extract/unknown) on {s['corpus']}, "
        f"{s['pretrain_steps']} steps of {s['batch']} x {s['model']['block_size']} characters, validation "
        f"loss {s['pretrain_val_loss']:.3f} nats/char. Task: {s['data']}, binary, {s['n_test']} test tweets "
        f"(majority class {s['majority']:.1%}). Fine-tuning: [start] tweet [extract], linear head on the "
        "extract token's final state, 3 epochs, AdamW lr 5e-4, batch 32, warmup 10% then linear decay.",
        markdown_table(
            ["train tweets", "variant", "mean accuracy", "per seed [95% interval]"], summarize(runs)
        ),
        PAPER,
        "Zero-shot heuristic of our char GPT during pretraining (GPT-1 Fig. 2 right):",
        markdown_table(
            ["step", "accuracy", "bias-corrected", "predicted positive"],
            [[c["step"], c["accuracy"], c["debiased"], c["predicted_positive"]] for c in curve],
        ),
    ]
    if "smollm2_zero_shot" in results:
        zs = results["smollm2_zero_shot"]
        n = next(iter(zs.values()))["n"]
        sections += [
            f"SmolLM2-135M-Instruct zero-shot on the first {n} test tweets (majority class "
            f"{results['smollm2_zero_shot_majority']:.1%}, chance 50%):",
            markdown_table(
                ["prompt", "label words", "accuracy [95%]", "bias-corrected [95%]", "predicted positive"],
                [
                    [
                        repr(z["template"]),
                        " / ".join(z["labels"]),
                        f"{z['accuracy']:.1%} [{z['accuracy_ci'][0]:.1%}, {z['accuracy_ci'][1]:.1%}]",
                        f"{z['debiased']:.1%} [{z['debiased_ci'][0]:.1%}, {z['debiased_ci'][1]:.1%}]",
                        f"{z['predicted_positive']:.1%}",
                    ]
                    for z in zs.values()
                ],
            ),
        ]
    sections.append("![gpt1](gpt1.png)")
    return write_report(
        out / "report.md", "GPT-1 (Radford et al. 2018): pretraining, fine-tuning, zero-shot", sections
    )
