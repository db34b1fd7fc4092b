"""The engine loop in a background thread, streaming each request's tokens to asyncio consumers.

The HTTP handlers run on uvicorn's event loop; the model runs on this thread, so a long forward never
blocks the server from accepting connections, answering /health or noticing a disconnect. Tokens
cross back with `loop.call_soon_threadsafe`. Leaving the async iterator early (a client hung up, a
stop string matched) aborts the request, which the engine applies at its next step.

This class is all the HTTP server sees of the engine: the request `limits`, the `eos_token_ids`,
`make_sequences` (build and check a request), `submit` (run it, get its token streams) and
`render_metrics`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Future
from dataclasses import dataclass, field

from groundup.generate import SamplingParams
from groundup.serve.engine import Engine
from groundup.serve.limits import RequestLimits
from groundup.serve.sequence import Sequence

log = logging.getLogger(__name__)


@dataclass
class StreamItem:
    token_ids: list[int]
    logprobs: list[float]
    finished: bool
    finish_reason: str | None
    error: str | None = None
    top_logprobs: list[dict[int, float]] = field(default_factory=list)  # per token, if asked for


def stream_item(seq: Sequence, n: int) -> StreamItem:
    """The last `n` tokens `seq` gained (with their logprobs), and whether it is done."""
    tops = seq.output_top_logprobs
    return StreamItem(
        seq.output_ids[len(seq.output_ids) - n :] if n else [],
        seq.output_logprobs[len(seq.output_logprobs) - n :] if n else [],
        seq.is_finished,
        seq.finish_reason.value if seq.finish_reason else None,
        top_logprobs=tops[len(tops) - n :] if n and tops else [],
    )


class AsyncEngine:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._streams: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="groundup-engine", daemon=True)

    def start(self) -> AsyncEngine:
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    @property
    def num_streams(self) -> int:
        return len(self._streams)

    @property
    def limits(self) -> RequestLimits:
        return self.engine.limits

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        return self.engine.eos_token_ids

    def render_metrics(self) -> str:
        """The Prometheus text of the engine's metrics (the /metrics body)."""
        return self.engine.metrics.render()

    def make_sequences(
        self, prompt_ids: list[int], params: list[SamplingParams], logit_bias: dict[int, float] | None = None
    ) -> list[Sequence]:
        """The sequences of one request (one per completion), checked against the engine's limits
        (`RequestError`, with the OpenAI param and code); nothing runs until `submit`."""
        return [self.engine.make_sequence(prompt_ids, p, logit_bias) for p in params]

    async def prompt_logprobs(self, prompt_ids: list[int], top: int = 0) -> tuple[list, list]:
        """`Engine.prompt_logprobs` run on the engine's thread between steps (`echo` with logprobs)."""
        future: Future = Future()
        self.engine.call(lambda: self.engine.prompt_logprobs(prompt_ids, top), future)
        self._wake.set()
        return await asyncio.wrap_future(future)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.engine.has_work():
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            try:
                outputs = self.engine.step()
            except Exception as exc:  # keep serving: fail the in-flight requests, reset the engine
                log.exception("engine step failed")
                self._fail_all(f"engine error: {exc}")
                continue
            for seq, new in outputs:
                self._send(seq.seq_id, stream_item(seq, len(new)))

    def _send(self, seq_id: int, item: StreamItem) -> None:
        with self._lock:
            target = self._streams.get(seq_id)
            if target and item.finished:
                del self._streams[seq_id]
        if target:
            loop, q = target
            loop.call_soon_threadsafe(q.put_nowait, item)

    def _fail_all(self, message: str) -> None:
        for seq_id in list(self._streams):
            self.engine.abort(seq_id)
            self._send(seq_id, StreamItem([], [], True, "abort", error=message))

    def submit(self, seqs: list[Sequence]) -> list[AsyncIterator[StreamItem]]:
        """Run the sequences of one request (from `make_sequences`) and return one token stream each.
        Several sequences are the n completions of one prompt: the first is prefilled, the rest fork
        from it. Leaving a stream before it finishes aborts its sequence."""
        loop = asyncio.get_running_loop()
        queues = [asyncio.Queue() for _ in seqs]
        with self._lock:
            for seq, q in zip(seqs, queues):
                self._streams[seq.seq_id] = (loop, q)
        self.engine.add(seqs[0], forks=seqs[1:])
        self._wake.set()
        return [self._stream(seq.seq_id, q) for seq, q in zip(seqs, queues)]

    async def _stream(self, seq_id: int, q: asyncio.Queue) -> AsyncIterator[StreamItem]:
        """Yield the sequence's new tokens step by step; aborting it if the consumer leaves early."""
        finished = False
        try:
            while not finished:
                item = await q.get()
                finished = item.finished
                yield item
        finally:
            if not finished:
                with self._lock:
                    self._streams.pop(seq_id, None)
                self.engine.abort(seq_id)
                self._wake.set()
