"""Engine metrics in the Prometheus text exposition format (counters, gauges, histograms), written
by hand: the format is a few lines per metric (https://prometheus.io/docs/instrumenting/exposition_formats/).
"""

from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    def __init__(self, buckets=LATENCY_BUCKETS):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1

    def lines(self, name: str) -> list[str]:
        out = [f'{name}_bucket{{le="{b}"}} {c}' for b, c in zip(self.buckets, self.counts)]
        out += [
            f'{name}_bucket{{le="+Inf"}} {self.total}',
            f"{name}_sum {self.sum}",
            f"{name}_count {self.total}",
        ]
        return out


class EngineMetrics:
    """What the engine counts; `render()` is the /metrics body."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = defaultdict(int)  # finish reason -> count
        self.arrived = 0
        self.prompt_tokens = 0
        self.prefix_cache_hit_tokens = 0  # prompt tokens whose KV came from the prefix cache
        self.generation_tokens = 0
        self.preemptions = 0
        self.drafted = 0
        self.accepted = 0
        self.steps = 0
        self.ttft = Histogram()
        self.itl = Histogram()
        self.e2e = Histogram()
        self.gauges = {"running": 0, "waiting": 0, "kv_blocks_used": 0, "kv_blocks_total": 0}

    def on_arrival(self, seq) -> None:
        with self.lock:
            self.arrived += 1
            self.prompt_tokens += len(seq.prompt_ids)

    def on_step(self, batch) -> None:
        with self.lock:
            self.steps += 1
            self.preemptions += len(batch.preempted)

    def on_state(self, scheduler, block_manager) -> None:
        """The gauges, as of the end of a step (so the last step before the engine idles zeroes them)."""
        stats = block_manager.stats()
        with self.lock:
            self.gauges.update(
                running=len(scheduler.running),
                waiting=len(scheduler.waiting),
                kv_blocks_used=stats.used_blocks,
                kv_blocks_total=stats.num_blocks,
            )

    def on_tokens(self, seq, count: int) -> None:
        with self.lock:
            self.generation_tokens += count
            times = seq.token_times
            if count and len(times) == count:  # the first tokens of this request
                self.prefix_cache_hit_tokens += seq.num_cached_tokens
                self.ttft.observe(times[0] - seq.arrival_time)
            for i in range(max(1, len(times) - count), len(times)):
                self.itl.observe(times[i] - times[i - 1])

    def on_speculation(self, drafted: int, accepted: int) -> None:
        with self.lock:
            self.drafted += drafted
            self.accepted += accepted

    def on_finish(self, seq) -> None:
        with self.lock:
            self.requests[seq.finish_reason.value if seq.finish_reason else "unknown"] += 1
            if seq.last_token_time is not None:
                self.e2e.observe(seq.last_token_time - seq.arrival_time)

    def render(self, prefix: str = "groundup") -> str:
        with self.lock:
            lines = [f"# TYPE {prefix}_requests_total counter"]
            lines += [
                f'{prefix}_requests_total{{finish_reason="{r}"}} {c}'
                for r, c in sorted(self.requests.items())
            ]
            for name, value in (
                ("requests_received_total", self.arrived),
                ("prompt_tokens_total", self.prompt_tokens),
                ("prefix_cache_hit_tokens_total", self.prefix_cache_hit_tokens),
                ("generation_tokens_total", self.generation_tokens),
                ("preemptions_total", self.preemptions),
                ("spec_draft_tokens_total", self.drafted),
                ("spec_accepted_tokens_total", self.accepted),
                ("engine_steps_total", self.steps),
            ):
                lines += [f"# TYPE {prefix}_{name} counter", f"{prefix}_{name} {value}"]
            for name, value in self.gauges.items():
                lines += [f"# TYPE {prefix}_{name} gauge", f"{prefix}_{name} {value}"]
            for name, hist in (
                ("time_to_first_token_seconds", self.ttft),
                ("inter_token_latency_seconds", self.itl),
                ("request_latency_seconds", self.e2e),
            ):
                lines += [f"# TYPE {prefix}_{name} histogram", *hist.lines(f"{prefix}_{name}")]
        return "\n".join(lines) + "\n"
