"""Local task files for lm-evaluation-harness, so a served model can be evaluated with no dataset hub:

    groundup_cloze   multiple choice (log-likelihood): a WikiText-2 test sentence without its last
                     word, and four candidate words (the true one and three last words of other
                     sentences); accuracy is how often the true word is the most likely
    groundup_arith   generation: two-number sums after three worked examples, answered greedily until
                     a newline; exact match after trimming whitespace

`python -m groundup.serve.lm_eval_tasks DIR` writes `DIR/{cloze,arith}.jsonl` and their task YAMLs;
`lm_eval --include_path DIR --tasks groundup_cloze,groundup_arith --model local-completions ...` then
runs them against `groundup serve` (see the README's recipe). The sets are drawn with a fixed seed,
so every run scores the same items. Plain Python: nothing here imports lm-eval.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

SEED = 24
SHOTS = "1 + 2 = 3\n5 + 4 = 9\n7 + 6 = 13\n"

CLOZE_YAML = """task: groundup_cloze
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{context}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
metric_list:
  - metric: acc
"""

ARITH_YAML = """task: groundup_arith
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 6
  temperature: 0
filter_list:
  - name: strip
    filter:
      - function: remove_whitespace
      - function: take_first
metric_list:
  - metric: exact_match
"""


def cloze_items(text: str, count: int = 40, seed: int = SEED) -> list[dict]:
    """`count` cloze items from WikiText-2 text: sentences of 8-30 words with no unknown or joined
    tokens, ending in a lowercase word of 4+ letters; distractors are other items' answers."""
    sentences = []
    for line in text.splitlines():
        for s in line.split(" . "):
            words = s.strip().split()
            if not 8 <= len(words) <= 30 or "<unk>" in s or "@" in s or "=" in s:
                continue
            if re.fullmatch(r"[a-z]{4,}", words[-1]):
                sentences.append(words)
    rng = random.Random(seed)
    picked = rng.sample(sentences, min(count, len(sentences)))
    answers = sorted({w[-1] for w in sentences})
    items = []
    for words in picked:
        answer = words[-1]
        distractors = rng.sample([a for a in answers if a != answer], 3)
        choices = [answer, *distractors]
        rng.shuffle(choices)
        items.append({"context": " ".join(words[:-1]), "choices": choices, "label": choices.index(answer)})
    return items


def arith_items(count: int = 30, seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    items = []
    for _ in range(count):
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        items.append({"question": f"{SHOTS}{a} + {b} =", "answer": str(a + b)})
    return items


def write_tasks(folder: str | Path, wikitext: str, cloze_count: int = 40, arith_count: int = 30) -> Path:
    """Write both tasks (data and YAML) into `folder`; returns it. `wikitext`: WikiText-2 test text."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, items, yaml in (
        ("cloze", cloze_items(wikitext, cloze_count), CLOZE_YAML),
        ("arith", arith_items(arith_count), ARITH_YAML),
    ):
        data = folder / f"{name}.jsonl"
        data.write_text("".join(json.dumps(item) + "\n" for item in items))
        (folder / f"{name}.yaml").write_text(yaml.format(data=data.resolve()))
    return folder


def main(argv: list[str]) -> int:
    from groundup.data.datasets import load_text

    if len(argv) != 1:
        print("usage: python -m groundup.serve.lm_eval_tasks DIR", file=sys.stderr)
        return 2
    print(write_tasks(argv[0], load_text("wikitext2", "test")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
