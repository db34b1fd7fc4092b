"""BERT (Devlin et al. 2018): pretraining helps a small labelled sentence-pair task, at reduced scale.

The paper's claim: a Transformer encoder pretrained on unlabelled text with masked-LM + next-sentence
prediction, then fine-tuned with one extra linear layer, beats task-specific models trained from the
labels alone, most of all on small labelled sets (MRPC, 3.7k pairs: 88.9 F1); removing NSP hurts the
sentence-pair tasks (table 5: QNLI 88.4 -> 84.9, MNLI 84.4 -> 83.9).

Here, on WikiText-2 (the splits this machine has: valid + test, 122 articles):

- the articles are split by seed; the task's test articles are held out from everything else;
- the vocabulary is BERT's own WordPiece vocabulary (all-MiniLM-L6-v2's `vocab.txt`, uncased) cut to
  the pieces the pretraining articles use most, plus every character they contain (so no word of
  theirs becomes [UNK]): `corpus_vocabulary`;
- pretraining: MLM + NSP pairs (`train.bert_pretraining`) from every article except the task's test
  articles; the MLM head scores only the chosen positions, the same loss as scoring all of them;
- two sentence-pair tasks built from the articles, neither of them NSP:
  **same article?** (`same_article_pairs`): two sentences at least `gap` sentences apart in one
  article (label 1) or from two different articles (label 0); a positive is never the next sentence.
  **word order** (`word_order_pairs`): consecutive sentences A, B where in half the pairs `swaps`
  pairs of neighbouring words of B are exchanged; B keeps its words, only their order tells.
  Both 50/50, built from the task's own training and (held-out) test articles;
- compared, with the same fine-tuning recipe (`train.text_classifier.finetune`): (a) MLM + NSP
  pretrained then fine-tuned, (b) the same architecture from random initialisation, (c) MLM-only
  pretraining (the paper's "No NSP" ablation). Accuracy with its 95% Wilson interval, per seed.

At the committed budget (1,500 pretraining steps) NSP never leaves ln 2: telling whether two segments
belong together is a comparison that a small post-LN encoder learns only after a long plateau, so the
pooled [CLS] state the classifier reads carries nothing and no model beats chance on either task
(docs/notes/0.10-papers/bert.md). `pooling="mean"` lets the classifier read the token states instead.
"""

from __future__ import annotations

import copy
import functools
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from groundup.models.bert import POOLINGS, Bert, BertClassifier, BertForPreTraining, bert_config, encode_texts
from groundup.nlp.datasets import LabelledTexts
from groundup.tokenizers.wordpiece import WordPiece
from groundup.train.bert_pretraining import IGNORE, mask_tokens, nsp_pairs
from groundup.train.text_classifier import (
    Accuracy,
    FinetuneConfig,
    accuracy,
    finetune,
    linear_warmup_decay,
    optimizer_for,
    predict_logits,
)

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
LABELS = ("different articles", "same article")
WORD_ORDER_LABELS = ("as written", "words swapped")
TASKS = ("same article", "word order")


@dataclass
class BertStudyConfig:
    """Sizes of the study; the defaults are the committed run (about 12 CPU-minutes on one thread)."""

    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 2
    max_length: int = 64  # tokens of a pair, [CLS] and two [SEP] included
    vocab_size: int = 8192
    pretrain_steps: int = 1500
    pretrain_batch: int = 32
    pretrain_lr: float = 2e-3
    train_pairs: int = 2000  # the small labelled set
    test_pairs: int = 1000
    gap: int = 10  # a positive pair's sentences are at least this far apart
    swaps: int = 2  # neighbouring-word swaps in a word-order positive
    min_words: int = 6  # shorter sentences (captions, list items) are left out
    task_fraction: float = 0.2  # of the articles, for each of the task's train and test splits
    finetune: FinetuneConfig = field(
        default_factory=lambda: FinetuneConfig(epochs=3, lr=5e-4, batch_size=32, max_length=64)
    )
    seeds: int = 2  # fine-tuning seeds (and random initialisations of the from-scratch model)
    ablation: bool = True  # also pretrain MLM-only
    tasks: tuple[str, ...] = TASKS
    pooling: str = "pooler"  # what the classifier reads: the [CLS] pooler (the paper's) or the token mean

    def __post_init__(self):
        if self.gap < 1 or self.min_words < 1 or self.seeds < 1 or self.pretrain_steps < 1:
            raise ValueError("BertStudyConfig: gap, min_words, seeds and pretrain_steps must be >= 1")
        if not 0.0 < self.task_fraction < 0.5:
            raise ValueError(f"task_fraction must be in (0, 0.5), got {self.task_fraction}")
        if not set(self.tasks) <= set(TASKS):
            raise ValueError(f"tasks must be among {', '.join(TASKS)}, got {self.tasks}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")


# ---- data ----------------------------------------------------------------------------------------------


@functools.cache
def wikitext_documents(min_words: int = 6) -> list[list[str]]:
    """WikiText-2's articles (valid, then test split) as lists of sentences of >= min_words words
    (read once per process; callers do not modify the lists)."""
    from groundup.data import load_text
    from groundup.nlp.clean import sentences, wikitext_articles

    docs = []
    for split in ("valid", "test"):
        for article in wikitext_articles(load_text("wikitext2", split)):
            docs.append([s for s in sentences(article) if len(s.split()) >= min_words])
    return [d for d in docs if d]


@dataclass
class ArticleSplit:
    """Article indices: pretraining sees every article but the task's test ones."""

    pretrain: list[int]
    task_train: list[int]
    task_test: list[int]


def split_articles(n: int, task_fraction: float, seed: int) -> ArticleSplit:
    """Shuffle 0..n-1 by seed; the first `task_fraction` are the task's test articles, the next as
    many its training articles; pretraining gets all but the test articles."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    k = max(2, round(task_fraction * n))
    if 2 * k + 1 > n:
        raise ValueError(f"n: {n} articles are too few for two task splits of {k} articles")
    test, train = sorted(order[:k]), sorted(order[k : 2 * k])
    return ArticleSplit(sorted(order[k:]), train, test)


def same_article_pairs(documents: list[list[str]], n: int, gap: int, seed: int) -> LabelledTexts:
    """n sentence pairs, half from one article at least `gap` sentences apart (label 1), half from
    two different articles (label 0), in random order; deterministic for a seed."""
    long = [d for d in documents if len(d) > gap]
    if len(long) < 2:
        raise ValueError(f"documents: need two articles with more than gap={gap} sentences")
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        doc = rng.choice(long)
        a = rng.randrange(len(doc))
        if i % 2:
            far = [j for j in range(len(doc)) if abs(j - a) >= gap]
            while not far:
                a = rng.randrange(len(doc))
                far = [j for j in range(len(doc)) if abs(j - a) >= gap]
            pair = (doc[a], doc[rng.choice(far)])
        else:
            other = rng.choice([d for d in documents if d is not doc])
            pair = (doc[a], rng.choice(other))
        texts.append(pair if rng.random() < 0.5 else pair[::-1])
        labels.append(i % 2)
    order = list(range(n))
    rng.shuffle(order)
    return LabelledTexts(
        [texts[i] for i in order], [labels[i] for i in order], LABELS, "WikiText-2 same-article pairs"
    )


def word_order_pairs(documents: list[list[str]], n: int, swaps: int, seed: int) -> LabelledTexts:
    """n pairs (A, B) of consecutive sentences of one article; in half of them (label 1) `swaps` random
    pairs of neighbouring words of B are exchanged (never the final punctuation), so B keeps its words
    and only their order says which it is. Deterministic for a seed."""
    long = [d for d in documents if len(d) > 1]
    if not long:
        raise ValueError("documents: need an article with two sentences")
    rng = random.Random(seed)
    texts, labels = [], []
    while len(texts) < n:
        doc = rng.choice(long)
        i = rng.randrange(len(doc) - 1)
        words = doc[i + 1].split()
        label = len(texts) % 2
        if label:
            for _ in range(swaps):
                j = rng.randrange(len(words) - 2)  # (j, j + 1) never reaches the last word
                words[j], words[j + 1] = words[j + 1], words[j]
            if words == doc[i + 1].split():
                continue  # swapped equal words: B unchanged, draw again
        texts.append((doc[i], " ".join(words)))
        labels.append(label)
    order = list(range(n))
    rng.shuffle(order)
    return LabelledTexts(
        [texts[i] for i in order],
        [labels[i] for i in order],
        WORD_ORDER_LABELS,
        "WikiText-2 word-order pairs",
    )


def corpus_vocabulary(base: WordPiece, texts: list[str], size: int) -> WordPiece:
    """`base`'s vocabulary cut to `size` entries for `texts`: the special tokens, every character of the
    texts (as a word start and as '##' continuation, where `base` has it), then `base`'s pieces in order
    of their count when `base` tokenizes the texts. Greedy longest-match over the cut vocabulary gives
    the same pieces as `base` wherever the kept pieces suffice, and spells rarer words in shorter ones."""
    counts = Counter(t for text in texts for t in base.tokenize(text))
    chars = sorted({c for text in texts for c in base.normalize(text) if not c.isspace()})
    keep = list(SPECIALS) + [p for c in chars for p in (c, "##" + c) if p in base.vocab]
    if size < len(keep):
        raise ValueError(f"size: {size} is below the {len(keep)} special and character pieces")
    chosen = set(keep)
    for token, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(keep) >= size:
            break
        if token not in chosen:
            keep.append(token)
            chosen.add(token)
    return WordPiece({t: i for i, t in enumerate(keep)})


# ---- pretraining ---------------------------------------------------------------------------------------


def pretrain(
    model: BertForPreTraining,
    tok: WordPiece,
    pairs: list[tuple[str, str, int]],
    cfg: BertStudyConfig,
    *,
    nsp: bool,
    seed: int,
    log=None,
) -> dict[str, list[float]]:
    """AdamW (warmup 10% then linear decay, as the paper) on MLM (+ NSP) over `pairs`; returns the
    per-step MLM and NSP losses (NSP is measured, not trained, when `nsp` is False)."""
    g = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    opt = optimizer_for(model, cfg.pretrain_lr, 0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: linear_warmup_decay(s, cfg.pretrain_steps, 0.1))
    specials = torch.tensor(sorted(tok.special_tokens.values()))
    model.train()
    losses: dict[str, list[float]] = {"mlm": [], "nsp": []}
    order: list[int] = []
    for step in range(cfg.pretrain_steps):
        if len(order) < cfg.pretrain_batch:
            fresh = list(range(len(pairs)))
            rng.shuffle(fresh)
            order += fresh
        rows, order = order[: cfg.pretrain_batch], order[cfg.pretrain_batch :]
        batch = encode_texts(tok, [pairs[r][:2] for r in rows], cfg.max_length)
        eligible = batch.attention_mask.bool() & ~torch.isin(batch.input_ids, specials)  # (B, T)
        inputs, labels = mask_tokens(
            batch.input_ids,
            eligible,
            mask_id=tok.special_tokens["[MASK]"],
            vocab_size=tok.vocab_size,
            generator=g,
        )
        out = model.bert(inputs, batch.attention_mask, batch.token_type_ids)
        chosen = labels != IGNORE  # (B, T)
        mlm = F.cross_entropy(
            model.mlm(out.last_hidden_state[chosen]), labels[chosen]
        )  # (n_chosen, V) scored
        nsp_loss = F.cross_entropy(model.nsp(out.pooled), torch.tensor([pairs[r][2] for r in rows]))
        loss = mlm + nsp_loss if nsp else mlm
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses["mlm"].append(mlm.item())
        losses["nsp"].append(nsp_loss.item())
        if log is not None:
            log(step, losses)
    model.eval()
    return losses


# ---- fine-tuning ---------------------------------------------------------------------------------------


def finetune_and_score(
    bert: Bert,
    tok: WordPiece,
    train: LabelledTexts,
    test: LabelledTexts,
    ft: FinetuneConfig,
    seed: int,
    pooling: str = "pooler",
) -> tuple[Accuracy, list[float]]:
    """Fine-tune a copy of `bert` with a fresh 2-way head (seeded) and score it on `test`."""
    torch.manual_seed(seed)
    model = BertClassifier(copy.deepcopy(bert), 2, pooling=pooling)
    losses = finetune(model, tok, train, FinetuneConfig(**(asdict(ft) | {"seed": seed})))
    logits = predict_logits(model, tok, test.texts, max_length=ft.max_length)
    return accuracy(logits, test.labels), losses


@functools.cache
def pretraining_vocabulary(size: int, min_words: int, articles: tuple[int, ...]) -> WordPiece:
    """`corpus_vocabulary` of MiniLM's WordPiece over the pretraining articles (built once per process)."""
    from groundup.data import minilm_dir

    texts = [s for i in articles for s in wikitext_documents(min_words)[i]]
    return corpus_vocabulary(WordPiece.from_pretrained(minilm_dir()), texts, size)


def build_task(cfg: BertStudyConfig, seed: int):
    """Documents, article split, the tasks' (train, test) pairs, pretraining NSP pairs and the vocabulary."""
    docs = wikitext_documents(cfg.min_words)
    split = split_articles(len(docs), cfg.task_fraction, seed)
    pre_docs = [docs[i] for i in split.pretrain]
    train_docs, test_docs = [docs[i] for i in split.task_train], [docs[i] for i in split.task_test]
    tasks = {
        "same article": (
            same_article_pairs(train_docs, cfg.train_pairs, cfg.gap, seed),
            same_article_pairs(test_docs, cfg.test_pairs, cfg.gap, seed + 1),
        ),
        "word order": (
            word_order_pairs(train_docs, cfg.train_pairs, cfg.swaps, seed),
            word_order_pairs(test_docs, cfg.test_pairs, cfg.swaps, seed + 1),
        ),
    }
    tok = pretraining_vocabulary(cfg.vocab_size, cfg.min_words, tuple(split.pretrain))
    return docs, split, {t: tasks[t] for t in cfg.tasks}, nsp_pairs(pre_docs, seed), tok


def bert_study(out: Path, seed: int = 0, cfg: BertStudyConfig | None = None) -> Path:
    """Run the comparison and write report.md, results.json and bert.png into `out`."""
    cfg = cfg or BertStudyConfig()
    start = time.process_time()
    docs, split, tasks, pairs, tok = build_task(cfg, seed)
    arch = bert_config(
        vocab_size=tok.vocab_size,
        block_size=cfg.max_length,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
    )
    encoders: dict[str, Bert | None] = {"from scratch": None}
    curves = {}
    for name, nsp in (("MLM + NSP", True), ("MLM only", False))[: 2 if cfg.ablation else 1]:
        torch.manual_seed(seed)
        model = BertForPreTraining(arch)
        curves[name] = pretrain(model, tok, pairs, cfg, nsp=nsp, seed=seed, log=_progress(name))
        encoders[f"pretrained {name}"] = model.bert
    results = []
    for task, (train, test) in tasks.items():
        for name, encoder in encoders.items():
            for s in range(seed, seed + cfg.seeds):
                start_from = encoder if encoder is not None else fresh(arch, s)  # a seed, its own init
                acc, losses = finetune_and_score(start_from, tok, train, test, cfg.finetune, s, cfg.pooling)
                print(f"{task}: {name} seed {s}: {acc}", flush=True)
                results.append(
                    dict(
                        task=task, model=name, seed=s, accuracy=acc.value, low=acc.low, high=acc.high, n=acc.n
                    )
                    | dict(final_loss=sum(losses[-10:]) / len(losses[-10:]))
                )
    data = dict(
        articles=len(docs),
        pretrain_articles=len(split.pretrain),
        task_train_articles=split.task_train,
        task_test_articles=split.task_test,
        pretrain_pairs=len(pairs),
        vocab_size=tok.vocab_size,
        train_pairs=cfg.train_pairs,
        test_pairs=cfg.test_pairs,
        examples={
            task: [
                dict(a=a, b=b, label=test.label_names[y])
                for (a, b), y in zip(test.texts[:4], test.labels[:4])
            ]
            for task, (_, test) in tasks.items()
        },
    )
    return write_study(out, cfg, seed, data, curves, results, time.process_time() - start)


def fresh(arch, seed: int) -> Bert:
    """A randomly initialised encoder (BERT's N(0, 0.02) init) for the from-scratch baseline."""
    torch.manual_seed(seed)
    return Bert(arch)


def _progress(name: str):
    def log(step: int, losses: dict[str, list[float]]) -> None:
        if step % 100 == 99:
            mlm, nsp = (sum(v[-100:]) / 100 for v in (losses["mlm"], losses["nsp"]))
            print(f"pretrain {name} step {step + 1}: MLM {mlm:.3f} NSP {nsp:.3f}", flush=True)

    return log


def summary(results: list[dict]) -> dict[tuple[str, str], tuple[float, float, float]]:
    """Per (task, model): mean accuracy over seeds, and the lowest and highest Wilson bound."""
    out = {}
    for key in dict.fromkeys((r["task"], r["model"]) for r in results):
        rows = [r for r in results if (r["task"], r["model"]) == key]
        out[key] = (
            sum(r["accuracy"] for r in rows) / len(rows),
            min(r["low"] for r in rows),
            max(r["high"] for r in rows),
        )
    return out


def write_study(out: Path, cfg, seed, data, curves, results, cpu_s: float) -> Path:
    from groundup.reports import figure, markdown_table, smooth, write_json, write_report

    write_json(
        out / "results.json",
        dict(config=asdict(cfg), seed=seed, data=data, results=results, cpu_seconds=round(cpu_s, 1))
        | dict(pretrain_losses={k: {n: v[::10] for n, v in c.items()} for k, c in curves.items()}),
    )
    tasks = list(dict.fromkeys(r["task"] for r in results))
    models = list(dict.fromkeys(r["model"] for r in results))
    with figure(out / "bert.png", ncols=2, figsize=(11, 4)) as (fig, (left, right)):
        for name, c in curves.items():
            left.plot(smooth(c["mlm"], 50), label=f"{name}: MLM")
            nsp_label = f"{name}: NSP" + ("" if "NSP" in name else " (measured, not trained)")
            left.plot(smooth(c["nsp"], 50), ls="--", label=nsp_label)
        left.set(
            xlabel="pretraining step", ylabel="loss (nats, 50-step mean)", title="pretraining on WikiText-2"
        )
        left.legend(fontsize=8)
        for m, name in enumerate(models):
            rows = [r for r in results if r["model"] == name]
            x = [tasks.index(r["task"]) + 0.2 * (m - 1) + 0.05 * (r["seed"] - seed) for r in rows]
            y = [r["accuracy"] for r in rows]
            err = [[r["accuracy"] - r["low"] for r in rows], [r["high"] - r["accuracy"] for r in rows]]
            right.errorbar(x, y, err, fmt="o", capsize=3, label=name)
        right.axhline(0.5, color="grey", ls=":", label="chance")
        right.set_xticks(range(len(tasks)), tasks)
        right.set(ylabel="test accuracy (95% Wilson)", title="fine-tuned, held-out articles")
        right.legend(fontsize=8)
    rows = [
        [r["task"], r["model"], r["seed"], f"{r['accuracy']:.3f}", f"{r['low']:.3f}-{r['high']:.3f}", r["n"]]
        for r in results
    ]
    means = [[t, m, f"{a:.3f}", f"{lo:.3f}-{hi:.3f}"] for (t, m), (a, lo, hi) in summary(results).items()]
    examples = [
        [task, e["label"], e["a"][:80], e["b"][:80]]
        for task, rows_ in data["examples"].items()
        for e in rows_
    ]
    return write_report(
        out / "report.md",
        "BERT (Devlin et al. 2018): pretraining vs from scratch on sentence-pair tasks",
        [
            f"A {cfg.n_layer}-layer, {cfg.n_embd}-wide, {cfg.n_head}-head BERT, vocabulary {data['vocab_size']} "
            f"(all-MiniLM-L6-v2's WordPiece cut to the pretraining articles), pairs of at most {cfg.max_length} "
            f"tokens. WikiText-2 valid + test: {data['articles']} articles; pretraining on "
            f"{data['pretrain_articles']} ({data['pretrain_pairs']} NSP pairs, {cfg.pretrain_steps} steps of "
            f"{cfg.pretrain_batch}, lr {cfg.pretrain_lr}); the tasks' {len(data['task_test_articles'])} test "
            f"articles are held out from pretraining and from the tasks' {len(data['task_train_articles'])} "
            f"training articles. Each task: {data['train_pairs']} labelled training pairs, {data['test_pairs']} "
            f"test pairs; fine-tuning {cfg.finetune.epochs} epochs, lr {cfg.finetune.lr}, batch "
            f"{cfg.finetune.batch_size}; seeds from {seed}. CPU time {cpu_s / 60:.1f} min.",
            f"Tasks. *same article*: A and B come from one article at least {cfg.gap} sentences apart, or from "
            "two different articles (never adjacent sentences: not next-sentence prediction). *word order*: A "
            f"and B are consecutive sentences, and in half the pairs {cfg.swaps} pairs of neighbouring words of "
            "B are swapped. Both balanced 50/50.",
            markdown_table(["task", "model", "seed", "test accuracy", "95% Wilson", "n"], rows),
            markdown_table(
                ["task", "model", "mean accuracy over seeds", "Wilson bounds (lowest-highest)"], means
            ),
            "Examples from the test articles:\n\n" + markdown_table(["task", "label", "A", "B"], examples),
            "![pretraining losses and test accuracy](bert.png)",
        ],
    )
