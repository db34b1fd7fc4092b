"""Run one study and write its report: `python -m groundup.train.studies NAME --out DIR`.

seq2seq    0.4 date translation without attention, with Bahdanau and with Luong attention
lengths    0.4 RNN vs LSTM vs GRU on the adding problem as the sequence grows
tasks      0.8 four kinds of task through the one `fit` loop
makemore   0.7 the deep MLP's activation, gradient and update statistics, with and without BatchNorm
transformers  0.5 learned/sinusoidal/rotary positions and the three Transformer families on one task
bpe-gpt    0.7 the GPT on our BPE tokens beside the char GPT, in bits per character
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys

STUDIES = {
    "seq2seq": "groundup.train.studies.seq2seq_dates",
    "lengths": "groundup.train.studies.rnn_lengths",
    "tasks": "groundup.train.studies.fit_tasks",
    "makemore": "groundup.train.studies.makemore_stats",
    "transformers": "groundup.train.studies.transformer_variants",
    "bpe-gpt": "groundup.train.studies.bpe_gpt",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("name", choices=sorted(STUDIES))
    parser.add_argument("--out", required=True, help="directory for the report, plots and results.json")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the study's own)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    study = importlib.import_module(STUDIES[args.name])
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    if args.steps is not None and "steps" not in inspect.signature(study.run).parameters:
        parser.error(f"the {args.name} study has no --steps (it trains by epochs); leave it out")
    study.run(args.out, **({} if args.steps is None else {"steps": args.steps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
