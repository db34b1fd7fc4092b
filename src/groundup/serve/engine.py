"""The engine: each `step()` is schedule → run → postprocess, the shape of nano-vllm's.

    schedule      drafts are proposed (speculative decoding), then the scheduler picks the sequences
                  and token counts of this step and the block manager gives them slots
    run           the model runner computes every sequence's span (`Sequence.span`) in one forward;
                  a layer-skip self-draft first runs its own one-token spans through the first layers
    postprocess   sample (or verify the drafts), advance each sequence by the tokens it computed,
                  fork the n > 1 completions of a prompt whose prefill just ended, finish and free

Sequence state only moves forward: nothing is rewritten for a forward and restored after it.
`Engine` is synchronous and single-threaded (`step()`, `generate()`); `AsyncEngine` runs the same
loop in a background thread and streams each request's tokens to asyncio consumers, which is what
the HTTP server uses. Requests and aborts from other threads are queued and applied between steps,
so a cancelled request (a client that disconnected) frees its blocks within one step.
"""

from __future__ import annotations

import queue
from concurrent.futures import Future

import torch

from groundup.generate import SamplingParams, make_generator, sampling_probs
from groundup.models.layers import CausalLM
from groundup.serve.block_manager import BlockManager
from groundup.serve.config import EngineConfig
from groundup.serve.limits import RequestLimits
from groundup.serve.metrics import EngineMetrics
from groundup.serve.model_runner import ModelRunner
from groundup.serve.scheduler import Scheduler
from groundup.serve.sequence import FinishReason, Sequence, Span
from groundup.serve.speculative import next_num_drafts, propose_ngram, sample_from, verify


def top_dict(logprobs: torch.Tensor, k: int) -> dict[int, float]:
    """The k most likely tokens of one row of log probabilities (V,), as token id -> logprob."""
    values, ids = torch.topk(logprobs, min(k, logprobs.shape[-1]))
    return dict(zip(ids.tolist(), values.tolist()))


def biased(rows: torch.Tensor, bias: dict[int, float] | None) -> torch.Tensor:
    """rows (R, V) with `bias` added to its columns (a new tensor; the raw rows give the logprobs)."""
    if not bias:
        return rows
    out = rows.clone()
    out[:, list(bias)] += torch.tensor(list(bias.values()), dtype=rows.dtype)
    return out


def _settle(fn, future: Future) -> None:
    try:
        future.set_result(fn())
    except Exception as exc:  # handed to whoever waits on the future
        future.set_exception(exc)


class Engine:
    def __init__(self, model: CausalLM, config: EngineConfig | None = None, eos_token_ids=()):
        self.config = config = config or EngineConfig()
        self.model = model
        self.eos_token_ids = tuple(eos_token_ids)
        self.limits = RequestLimits(model.max_context, model.vocab_size, config.num_blocks, config.block_size)
        self.block_manager = BlockManager(config.num_blocks, config.block_size, config.prefix_caching)
        self.scheduler = Scheduler(config, self.block_manager)
        self.runner = ModelRunner(model, config.num_blocks, config.block_size)
        self.draft_layers = config.draft_layers or max(1, model.cache_spec.n_layers // 4)
        self.metrics = EngineMetrics()
        self.seqs: dict[int, Sequence] = {}
        self.spec_k: dict[int, int] = {}
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()  # (kind, payload) from other threads
        self._parent: dict[int, Sequence] = {}  # fork id -> the sequence it waits to fork from

    # -- requests -------------------------------------------------------------------------------
    def make_sequence(
        self, prompt_ids: list[int], params: SamplingParams, logit_bias: dict[int, float] | None = None
    ) -> Sequence:
        """Build a request's Sequence (not yet queued: see `add`). The one place a request is checked
        against the model and the KV pool: `RequestError` (with the OpenAI param and code) if it can
        never be served. `logit_bias`: token id -> value added to its logit before sampling."""
        self.limits.check(prompt_ids, params.max_tokens)
        self.limits.check_logit_bias(logit_bias)
        seq = Sequence(list(prompt_ids), params, self.eos_token_ids, logit_bias=logit_bias or None)
        seq.generator = make_generator(params.seed)
        return seq

    def add(self, seq: Sequence, forks: list[Sequence] = ()) -> Sequence:
        """Queue a sequence; thread-safe (applied at the next step).

        `forks` (n > 1 completions of one prompt) are not prefilled: when `seq` finishes its prefill
        they share its blocks (copy-on-write) and draw their first token from the same logits, each
        with its own generator, exactly as if each had run alone.
        """
        seq.forks = list(forks)
        self._inbox.put(("add", seq))
        return seq

    def add_request(self, prompt_ids: list[int], params: SamplingParams) -> Sequence:
        return self.add(self.make_sequence(prompt_ids, params))

    def call(self, fn, future: Future) -> None:
        """Run `fn()` on the engine's thread between two steps and settle `future` with its result;
        thread-safe. Work that needs the model outside the batch (prompt scoring) goes this way, so
        the model is never run by two threads at once."""
        self._inbox.put(("call", (fn, future)))

    @torch.inference_mode()
    def prompt_logprobs(self, prompt_ids: list[int], top: int = 0) -> tuple[list, list]:
        """Each prompt token's log probability given the tokens before it, and its `top` most likely
        alternatives (token id -> logprob), from one full forward of the model (no cache). The first
        token has no context: None in both lists (as OpenAI's `echo` reports it). Run it through
        `call` while the engine is serving."""
        logprobs = torch.log_softmax(self.model(torch.tensor(prompt_ids)).float(), dim=-1)  # (T, V)
        chosen = logprobs[:-1].gather(1, torch.tensor(prompt_ids[1:]).unsqueeze(1)).squeeze(1)  # (T-1,)
        tops = [top_dict(row, top) for row in logprobs[:-1]] if top else [None] * (len(prompt_ids) - 1)
        return [None, *chosen.tolist()], [None, *tops]

    def abort(self, seq_id: int) -> None:
        """Cancel a request; thread-safe. Its blocks are freed at the next step."""
        self._inbox.put(("abort", seq_id))

    def _drain_inbox(self) -> list[Sequence]:
        aborted = []
        while True:
            try:
                kind, item = self._inbox.get_nowait()
            except queue.Empty:
                return aborted
            if kind == "call":
                _settle(*item)
            elif kind == "add":
                self.scheduler.add(item)
                self._parent.update({f.seq_id: item for f in item.forks})
                for seq in (item, *item.forks):
                    self.seqs[seq.seq_id] = seq
                    self.spec_k[seq.seq_id] = self.config.num_speculative_tokens
                    self.metrics.on_arrival(seq)
            elif kind == "abort" and item in self.seqs:
                seq = self.seqs[item]
                parent = self._parent.pop(seq.seq_id, None)
                if parent is not None and seq in parent.forks:  # not forked yet
                    parent.forks.remove(seq)
                for s in (seq, *seq.forks):  # a parent aborted before its prefill takes its forks along
                    s.finish(FinishReason.ABORT)
                    self._release(s)
                    aborted.append(s)
                seq.forks = []

    def has_work(self) -> bool:
        return self.scheduler.has_work() or not self._inbox.empty()

    # -- the step ---------------------------------------------------------------------------------
    def step(self) -> list[tuple[Sequence, list[int]]]:
        """One engine iteration; returns each touched sequence with the tokens it gained."""
        outputs = [(s, []) for s in self._drain_inbox()]
        self._propose_drafts()
        batch = self.scheduler.schedule()
        self.metrics.on_step(batch)
        if batch.seqs:
            self.runner.copy_blocks(batch.copies)
            draft_probs = self._run_self_draft(batch.seqs) if self.config.speculative == "draft" else {}
            logits = self.runner.run([seq.span(n) for seq, n in zip(batch.seqs, batch.num_tokens)])
            for seq, n, rows in zip(batch.seqs, batch.num_tokens, logits):
                self._postprocess(seq, n, rows, draft_probs.get(seq.seq_id), outputs)
        self.metrics.on_state(self.scheduler, self.block_manager)  # as the step leaves them: 0s when idle
        return outputs

    def _postprocess(self, seq: Sequence, n: int, rows: torch.Tensor | None, draft_probs, outputs) -> None:
        """Advance `seq` past the tokens it computed; sample (or verify drafts) from its logits rows."""
        if rows is None:  # a prefill chunk that does not reach the end of the prompt yet
            seq.num_computed_tokens += n
            self.block_manager.commit(seq)
            return
        drafts = seq.draft_ids
        probs = self._probs(seq, biased(rows, seq.logit_bias), drafts)  # (1 + k, V)
        if seq.forks:  # the prefill just ended: the forks take the prompt's KV and draw from probs[0]
            self._fork(seq, probs[0], rows, outputs)
        if drafts:
            tokens, accepted = verify(drafts, probs, draft_probs, seq.generator)
            self._on_speculation(seq, len(drafts), accepted)
        else:
            tokens, accepted = [sample_from(probs[0], seq.generator)], 0
        seq.num_computed_tokens += n - len(drafts) + accepted  # rejected drafts' KV is not kept
        if drafts:
            self.block_manager.trim(seq)  # blocks reserved for rejected drafts go back
        self._append(seq, tokens, rows, outputs)

    def _fork(self, parent: Sequence, probs: torch.Tensor, rows: torch.Tensor, outputs: list) -> None:
        for child in parent.forks:
            self._parent.pop(child.seq_id, None)
            self.block_manager.fork(parent, child)
            self.scheduler.add_forked(child)
            self._append(child, [sample_from(probs, child.generator)], rows, outputs)
        parent.forks = []

    def _append(self, seq: Sequence, tokens: list[int], rows: torch.Tensor, outputs: list) -> None:
        logprobs = torch.log_softmax(rows, dim=-1)  # the model's own, before any bias or temperature
        new, top = [], seq.params.logprobs
        for i, token in enumerate(tokens):
            seq.append_token(token, float(logprobs[i, token]), top_dict(logprobs[i], top) if top else None)
            new.append(token)
            if seq.check_finished():
                break
        seq.draft_ids = []
        self.block_manager.commit(seq)
        self.metrics.on_tokens(seq, len(new))
        outputs.append((seq, new))
        if seq.is_finished:
            self._release(seq)

    @staticmethod
    def _probs(seq: Sequence, rows: torch.Tensor, drafts: list[int]) -> torch.Tensor:
        """The sampling distribution at each row; row i has seen the drafts before it (penalties)."""
        p = seq.params
        if p.repetition_penalty == 1.0 and p.frequency_penalty == 0.0 and p.presence_penalty == 0.0:
            return sampling_probs(rows, p)
        ids = seq.all_ids
        return sampling_probs(rows, p, [ids + drafts[:i] for i in range(rows.shape[0])])

    def _release(self, seq: Sequence) -> None:
        self.scheduler.finish(seq)
        self.seqs.pop(seq.seq_id, None)
        self.spec_k.pop(seq.seq_id, None)
        self.metrics.on_finish(seq)

    # -- speculative decoding -----------------------------------------------------------------------
    def _propose_drafts(self) -> None:
        """Give each decoding sequence its draft tokens for this step (room permitting)."""
        if self.config.speculative is None:
            return
        for seq in self.scheduler.running:
            seq.draft_ids = []
            if seq.num_uncomputed != 1:
                continue
            room = min(seq.max_tokens - len(seq.output_ids), self.model.max_context - len(seq)) - 1
            k = min(self.spec_k[seq.seq_id], room)
            if k < 1:
                continue
            if self.config.speculative == "ngram":
                seq.draft_ids = propose_ngram(seq.all_ids, k)
            else:
                seq.draft_ids = [0] * k  # slots reserved now, tokens filled by the self-draft

    def _on_speculation(self, seq: Sequence, drafted: int, accepted: int) -> None:
        seq.num_drafted += drafted
        seq.num_accepted += accepted
        self.spec_k[seq.seq_id] = next_num_drafts(drafted, accepted, self.config.num_speculative_tokens)
        self.metrics.on_speculation(drafted, accepted)

    @torch.inference_mode()
    def _run_self_draft(self, seqs: list[Sequence]) -> dict[int, torch.Tensor]:
        """Layer-skip self-draft: the target's first `draft_layers` layers + its LM head propose the
        drafts one position at a time. Those layers' K/V for a token equal the target's, so the draft
        reads and writes the target's own cache; the verifying forward rewrites the draft positions.
        Returns each drafting sequence's draft distributions (k, V)."""
        drafting = [s for s in seqs if s.draft_ids]
        probs = {s.seq_id: [] for s in drafting}
        for j in range(max((len(s.draft_ids) for s in drafting), default=0)):
            active = [s for s in drafting if len(s.draft_ids) > j]
            # feed the last real token, then the drafts so far, one position per forward
            spans = [
                Span(s.block_table, len(s) - 1 + j, [s.draft_ids[j - 1] if j else s.all_ids[-1]])
                for s in active
            ]
            for s, rows in zip(active, self.runner.run(spans, num_layers=self.draft_layers)):
                p = self._probs(s, rows, s.draft_ids[:j])[0]
                s.draft_ids[j] = sample_from(p, s.generator)
                probs[s.seq_id].append(p)
        return {sid: torch.stack(p) for sid, p in probs.items()}

    # -- convenience --------------------------------------------------------------------------------
    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Sequence]:
        """Run prompts to completion under continuous batching; returns the finished sequences."""
        seqs = [self.add_request(p, params) for p in prompts]
        self.run_until_done()
        return seqs

    def run_until_done(self) -> None:
        while self.has_work():
            self.step()
