"""lm-evaluation-harness as a client of `groundup serve` (issue 24, item 2): its `local-completions`
model with the server's own tokenizer (`tokenizer_backend=remote`: /tokenize, /detokenize,
/tokenizer_info) runs a log-likelihood task (WikiText-2 cloze, `echo` + prompt logprobs) and a
generation task (sums, greedy until a newline) from local task files, and each accuracy equals the
same task scored directly on the model in-process (full forward, no cache, no server)."""

from __future__ import annotations

import json

import pytest
import torch

from groundup.data.datasets import load_text
from groundup.serve.lm_eval_tasks import write_tasks

pytestmark = [pytest.mark.slow, pytest.mark.module("2.2")]


@torch.inference_mode()
def logprob_of(model, context: list[int], continuation: list[int]) -> float:
    logits = model(torch.tensor(context + continuation)).float()  # (L, V)
    lps = torch.log_softmax(logits[len(context) - 1 : -1], dim=-1)  # rows predicting the continuation
    return float(lps.gather(1, torch.tensor(continuation).unsqueeze(1)).sum())


def cloze_accuracy(model, tok, items) -> float:
    """lm-eval's multiple-choice scoring: each choice after a space, tokenized as lm-eval splits
    context + continuation; the choice with the highest log-likelihood is the answer."""
    right = 0
    for item in items:
        ctx = tok.encode(item["context"])
        scores = [
            logprob_of(model, ctx, tok.encode(item["context"] + " " + c)[len(ctx) :]) for c in item["choices"]
        ]
        right += max(range(len(scores)), key=scores.__getitem__) == item["label"]
    return right / len(items)


@torch.inference_mode()
def arith_accuracy(model, tok, items, max_tokens=6) -> float:
    """Greedy decoding of each question up to a newline, end of sequence or 6 tokens; exact match
    after trimming whitespace."""
    right = 0
    for item in items:
        ids = tok.encode(item["question"])
        out = []
        for _ in range(max_tokens):
            t = int(model(torch.tensor(ids + out))[-1].argmax())
            if t == tok.eos_token_id:
                break
            out.append(t)
            if "\n" in tok.decode(out):
                break
        right += tok.decode(out).split("\n")[0].strip() == item["answer"]
    return right / len(items)


def test_lm_eval_through_the_server_matches_in_process_scoring(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install lm-eval)")
    from lm_eval.tasks import TaskManager

    from groundup.generate.loading import load_model
    from groundup.serve.async_engine import AsyncEngine
    from groundup.serve.engine import Engine, EngineConfig
    from groundup.serve.server import BackgroundServer, OpenAIServer

    torch.set_num_threads(1)
    model, tok = load_model(None)
    folder = write_tasks(tmp_path / "tasks", load_text("wikitext2", "test"), cloze_count=24, arith_count=12)
    engine = Engine(model, EngineConfig(num_blocks=256, max_running=8), eos_token_ids=[tok.eos_token_id])
    async_engine = AsyncEngine(engine).start()
    server = OpenAIServer(async_engine, tok, "smollm2")
    try:
        with BackgroundServer(server.app) as url:
            results = lm_eval.simple_evaluate(
                model="local-completions",
                model_args=f"base_url={url}/v1/completions,model=smollm2,tokenizer_backend=remote,num_concurrent=4",
                tasks=["groundup_cloze", "groundup_arith"],
                task_manager=TaskManager(include_path=str(folder)),
            )["results"]
    finally:
        async_engine.shutdown()
    load = [json.loads(line) for line in (folder / "cloze.jsonl").read_text().splitlines()]
    arith = [json.loads(line) for line in (folder / "arith.jsonl").read_text().splitlines()]
    served = results["groundup_cloze"]["acc,none"], results["groundup_arith"]["exact_match,strip"]
    direct = cloze_accuracy(model, tok, load), arith_accuracy(model, tok, arith)
    print(f"lm-eval via server: cloze {served[0]:.3f}, arith {served[1]:.3f}; in-process: {direct}")
    assert served == pytest.approx(direct, abs=1e-9)
    assert direct[0] > 0.25  # better than chance: the cloze set measures something
