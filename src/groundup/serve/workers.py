"""CPU-heavy request work (tokenizing, rendering a chat template) on worker threads, off the event loop.

The event loop answers every connection (/health included), so nothing that grows with the size of a
request may run on it. `Workers.run(fn, *args)` runs `fn` on a fresh daemon thread and awaits its
result; at most `limit` run at once (the rest wait their turn without blocking the loop). Daemon
threads, so that a shutdown never waits for a tokenization in progress (a thread pool's threads are
joined at exit). Pure-Python work still holds the GIL, but the interpreter hands it to the loop
every few milliseconds (`sys.getswitchinterval`), which is what keeps /health answering.
"""

from __future__ import annotations

import asyncio
import threading


class Workers:
    def __init__(self, limit: int):
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None  # made on the server's loop, at first use

    async def run(self, fn, *args):
        """`fn(*args)` on a worker thread; its result, or its exception raised here. The slot is held
        until the thread ends, even if the caller stops waiting (a client that hung up), so work
        abandoned by clients cannot pile up past `limit` threads."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        slots, loop = self._slots, asyncio.get_running_loop()
        await slots.acquire()
        done = loop.create_future()

        def work():
            try:
                outcome = (fn(*args), None)
            except BaseException as exc:  # handed to the awaiting request
                outcome = (None, exc)
            try:
                loop.call_soon_threadsafe(_settle, done, slots, *outcome)
            except RuntimeError:  # the loop closed meanwhile (shutdown): nobody waits
                pass

        try:
            threading.Thread(target=work, name="groundup-request-work", daemon=True).start()
        except BaseException:
            slots.release()
            raise
        return await done


def _settle(done: asyncio.Future, slots: asyncio.Semaphore, result, exc: BaseException | None) -> None:
    slots.release()
    if done.cancelled():  # the caller stopped waiting
        return
    if exc is not None:
        done.set_exception(exc)
    else:
        done.set_result(result)
