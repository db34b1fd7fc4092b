"""The engine: schedule → draft → run → sample/verify → update → free, one step at a time.

`Engine` is synchronous and single-threaded (`step()`, `generate()`); `AsyncEngine` runs the same
loop in a background thread and streams each request's tokens to asyncio consumers, which is what
the HTTP server uses. Requests and aborts from other threads are queued and applied between steps,
so a cancelled request (a client that disconnected) frees its blocks within one step.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass

import torch

from groundup.errors import GroundupError
from groundup.generate import SamplingParams, make_generator, sampling_probs
from groundup.serve.block_manager import BlockManager
from groundup.serve.metrics import EngineMetrics
from groundup.serve.model_runner import ModelRunner, PagedModel
from groundup.serve.scheduler import ScheduledBatch, Scheduler, SchedulerConfig
from groundup.serve.sequence import FinishReason, Sequence
from groundup.serve.speculative import next_num_drafts, propose_ngram, sample_from, verify


@dataclass
class EngineConfig:
    num_blocks: int = 512
    block_size: int = 16
    max_running: int = 32
    max_tokens_per_step: int = 512
    continuous: bool = True  # False: static batching (the baseline)
    prefix_caching: bool = True
    speculative: str | None = None  # None, "ngram" (prompt lookup) or "draft" (layer-skip self-draft)
    num_speculative_tokens: int = 4  # the most draft tokens per step (adapted per sequence)
    draft_layers: int | None = None  # layers of the self-draft; default: a quarter of the model

    def __post_init__(self) -> None:
        if self.speculative not in (None, "ngram", "draft"):
            raise ValueError(f"speculative must be None, 'ngram' or 'draft', got {self.speculative!r}")
        if self.num_speculative_tokens < 1:
            raise ValueError(f"num_speculative_tokens must be >= 1, got {self.num_speculative_tokens}")


class RequestError(GroundupError):
    """A request the engine can never serve (too long for the context or the KV pool)."""


class Engine:
    def __init__(self, model: PagedModel, config: EngineConfig | None = None, eos_token_ids=()):
        self.config = config = config or EngineConfig()
        self.model = model
        self.eos_token_ids = tuple(eos_token_ids)
        self.block_manager = BlockManager(config.num_blocks, config.block_size, config.prefix_caching)
        self.scheduler = Scheduler(
            SchedulerConfig(config.max_running, config.max_tokens_per_step, config.continuous),
            self.block_manager,
        )
        self.runner = ModelRunner(model, config.num_blocks, config.block_size)
        self.draft_layers = config.draft_layers or max(1, model.cache_spec.n_layers // 4)
        self.metrics = EngineMetrics()
        self.seqs: dict[int, Sequence] = {}
        self.spec_k: dict[int, int] = {}
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()  # (kind, payload) from other threads
        self._parent: dict[int, Sequence] = {}  # fork id -> the sequence it waits to fork from

    # -- requests -------------------------------------------------------------------------------
    def make_sequence(self, prompt_ids: list[int], params: SamplingParams) -> Sequence:
        """Validate a request and build its Sequence (not yet queued: see `add`)."""
        max_tokens = params.max_tokens
        total = len(prompt_ids) + max_tokens
        if total > self.model.max_context:
            raise RequestError(
                f"prompt ({len(prompt_ids)} tokens) + max_tokens ({max_tokens}) = {total} exceeds the "
                f"model's context of {self.model.max_context} tokens; shorten the prompt or lower max_tokens"
            )
        self.block_manager.check_fits(total)
        if any(not 0 <= t < self.model.vocab_size for t in prompt_ids):
            raise RequestError(f"prompt token ids must lie in [0, {self.model.vocab_size}) for this model")
        seq = Sequence(list(prompt_ids), params, self.eos_token_ids)
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
            if kind == "add":
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
        self.metrics.on_step(batch, self.scheduler, self.block_manager)
        if not batch.seqs:
            return outputs
        draft_probs = self._run_self_draft(batch) if self.config.speculative == "draft" else {}
        logits = self.runner.run(batch)
        for seq, n, rows in zip(batch.seqs, batch.num_tokens, logits):
            if rows is None:  # a prefill chunk that does not reach the end of the prompt yet
                seq.num_computed_tokens += n
                self.block_manager.commit(seq)
                continue
            self._accept(seq, n, rows, draft_probs.get(seq.seq_id), outputs)
        return outputs

    def _accept(self, seq: Sequence, n: int, rows: torch.Tensor, draft_probs, outputs: list) -> None:
        """Sample (or verify drafts) from the logits rows, append, and finish when due."""
        drafts = seq.draft_ids
        probs = self._probs(seq, rows, drafts)  # (1 + k, V)
        if seq.forks:  # the prefill just ended: the forks take the prompt's KV as it is now
            seq.num_computed_tokens += n
            for child in seq.forks:
                self._parent.pop(child.seq_id, None)
                self.block_manager.fork(seq, child)
                self.scheduler.running.append(child)
                child.status = seq.status
                self._append(child, [sample_from(probs[0], child.generator)], rows, outputs)
            seq.forks = []
            seq.num_computed_tokens -= n
        if drafts:
            tokens, accepted = verify(drafts, probs, draft_probs, seq.generator)
            seq.num_computed_tokens += n - len(drafts) + accepted
            seq.num_drafted += len(drafts)
            seq.num_accepted += accepted
            self.spec_k[seq.seq_id] = next_num_drafts(
                len(drafts), accepted, self.config.num_speculative_tokens
            )
            self.metrics.on_speculation(len(drafts), accepted)
        else:
            tokens = [sample_from(probs[0], seq.generator)]
            seq.num_computed_tokens += n
        if drafts:
            self.block_manager.trim(seq)  # blocks reserved for rejected drafts go back
        self._append(seq, tokens, rows, outputs)

    def _append(self, seq: Sequence, tokens: list[int], rows: torch.Tensor, outputs: list) -> None:
        logprobs = torch.log_softmax(rows, dim=-1)
        new = []
        for i, token in enumerate(tokens):
            seq.append_token(token, float(logprobs[i, token]))
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

    @torch.inference_mode()
    def _run_self_draft(self, batch) -> dict[int, torch.Tensor]:
        """Layer-skip self-draft: the target's first `draft_layers` layers + its LM head propose the
        drafts one position at a time. Those layers' K/V for a token equal the target's, so the draft
        reads and writes the target's own cache; the verifying forward rewrites the draft positions."""
        drafting = [s for s in batch.seqs if s.draft_ids]
        probs = {s.seq_id: [] for s in drafting}
        saved = {s.seq_id: s.num_computed_tokens for s in drafting}
        for j in range(max((len(s.draft_ids) for s in drafting), default=0)):
            active = [s for s in drafting if len(s.draft_ids) > j]
            for s in active:  # feed the last real token, then the drafts so far
                s.num_computed_tokens = saved[s.seq_id] + j
            view = ScheduledBatch(seqs=active, num_tokens=[1] * len(active))
            for s, rows in zip(active, self.runner.run(view, num_layers=self.draft_layers)):
                p = self._probs(s, rows, s.draft_ids[:j])[0]
                s.draft_ids[j] = sample_from(p, s.generator)
                probs[s.seq_id].append(p)
        for s in drafting:
            s.num_computed_tokens = saved[s.seq_id]
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
