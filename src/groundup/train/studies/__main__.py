"""Run one study and write its report: `python -m groundup.train.studies NAME --out DIR`.

seq2seq    0.4 date translation without attention, with Bahdanau and with Luong attention
lengths    0.4 RNN vs LSTM vs GRU on the adding problem as the sequence grows
tasks      0.8 four kinds of task through the one `fit` loop
"""

from __future__ import annotations

import argparse
import importlib
import sys

STUDIES = {
    "seq2seq": "groundup.train.studies.seq2seq_dates",
    "lengths": "groundup.train.studies.rnn_lengths",
    "tasks": "groundup.train.studies.fit_tasks",
    "makemore": "groundup.train.studies.makemore_stats",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("name", choices=sorted(STUDIES))
    parser.add_argument("--out", required=True, help="directory for the report, plots and results.json")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    importlib.import_module(STUDIES[args.name]).run(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
