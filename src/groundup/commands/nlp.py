"""`groundup bert embed|finetune|classify`: sentence embeddings, fine-tuning and classification with our
BERT on the bundled all-MiniLM-L6-v2 (or any BERT folder)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from groundup.argtypes import float_range, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bert", help="BERT sentence embeddings, fine-tuning and classification")
    sub = p.add_subparsers(dest="bert_command", metavar="SUBCOMMAND", required=True)

    embed = sub.add_parser("embed", help="mean-pooled, L2-normalised sentence embeddings (JSON lines)")
    model_options(embed)
    embed.add_argument("texts", nargs="+", help="sentences to embed")
    embed.set_defaults(func=embed_command)

    finetune = sub.add_parser("finetune", help="fine-tune a classifier on the tweet sentiment set")
    model_options(finetune)
    finetune.add_argument("--out", type=Path, required=True, help="folder for the fine-tuned classifier")
    finetune.add_argument("--train-size", type=positive_int, default=1200, help="training tweets")
    finetune.add_argument("--test-size", type=positive_int, default=500, help="held-out tweets")
    finetune.add_argument(
        "--epochs", type=float_range(0, low_open=True), default=1.0, help="passes over the training tweets"
    )
    finetune.add_argument("--seed", type=int, default=0, help="random seed")
    finetune.set_defaults(func=finetune_command)

    classify = sub.add_parser("classify", help="label sentences with a fine-tuned classifier")
    classify.add_argument("classifier", type=Path, help="a folder written by `groundup bert finetune`")
    classify.add_argument("texts", nargs="+", help="sentences to classify")
    classify.add_argument("--no-truncate", action="store_true", help="refuse texts over the max length")
    classify.set_defaults(func=classify_command)


def model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=None, help="BERT folder (default: bundled all-MiniLM-L6-v2)")
    p.add_argument("--max-length", type=positive_int, default=128, help="tokens per text")
    p.add_argument("--no-truncate", action="store_true", help="refuse texts over the max length")


def embed_command(args: argparse.Namespace) -> int:
    from groundup.models.bert import Bert, encode_texts

    bert = Bert.from_pretrained(args.model)
    batch = encode_texts(bert.tokenizer, args.texts, args.max_length, truncate=not args.no_truncate)
    for i in batch.truncated:
        print(f"note: text {i} was truncated to {args.max_length} tokens")
    vectors = bert.embed(args.texts, max_length=args.max_length, truncate=not args.no_truncate)
    for text, v in zip(args.texts, vectors.tolist()):
        print(json.dumps({"text": text, "embedding": [round(x, 6) for x in v]}))
    return 0


def finetune_command(args: argparse.Namespace) -> int:
    import torch
    from safetensors.torch import save_file

    from groundup.models.bert import Bert, BertClassifier
    from groundup.nlp.datasets import load_tweet_sentiment
    from groundup.train.text_classifier import FinetuneConfig, accuracy, finetune, predict_logits

    data = load_tweet_sentiment()
    train, test = data.split(args.test_size, args.seed, args.train_size)
    bert = Bert.from_pretrained(args.model)
    torch.manual_seed(args.seed)
    model = BertClassifier(bert, len(data.label_names), pooling="mean")
    cfg = FinetuneConfig(epochs=args.epochs, max_length=args.max_length, seed=args.seed)
    finetune(
        model,
        bert.tokenizer,
        train,
        cfg,
        log=lambda s, n, loss: s % 10 == 0 and print(f"step {s}/{n} {loss:.4f}"),
    )
    acc = accuracy(predict_logits(model, bert.tokenizer, test.texts, max_length=args.max_length), test.labels)
    print(f"held-out accuracy on {data.source}: {acc}")
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(args.out / "model.safetensors"))
    meta = {"base": str(args.model or "all-MiniLM-L6-v2"), "labels": list(data.label_names)}
    (args.out / "classifier.json").write_text(json.dumps(meta | {"max_length": args.max_length}))
    return 0


def classify_command(args: argparse.Namespace) -> int:
    from safetensors.torch import load_file

    from groundup.errors import GroundupError
    from groundup.models.bert import Bert, BertClassifier
    from groundup.train.text_classifier import predict_logits

    meta_file = args.classifier / "classifier.json"
    if not meta_file.is_file():
        raise GroundupError(
            f"{args.classifier} has no classifier.json: pass a `groundup bert finetune` folder"
        )
    meta = json.loads(meta_file.read_text())
    base = None if meta["base"] == "all-MiniLM-L6-v2" else meta["base"]
    bert = Bert.from_pretrained(base)
    model = BertClassifier(bert, len(meta["labels"]), pooling="mean")
    model.load_state_dict(load_file(str(args.classifier / "model.safetensors")))
    if args.no_truncate:
        from groundup.models.bert import encode_texts

        encode_texts(bert.tokenizer, args.texts, meta["max_length"], truncate=False)
    probs = predict_logits(model, bert.tokenizer, args.texts, max_length=meta["max_length"]).softmax(-1)
    for text, p in zip(args.texts, probs.tolist()):
        best = max(range(len(p)), key=p.__getitem__)
        print(f"{meta['labels'][best]}\t{p[best]:.3f}\t{text}")
    return 0
