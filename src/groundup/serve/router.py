"""A payload-aware router in front of N `groundup serve` replicas (`groundup route --replicas URL...`):
the orchestration layer of the inference stack, in the shape of a production router (vLLM's router,
SGLang's, llm-d's), small enough to read.

Choosing a replica. The router reads the request's prompt (completions `prompt`, or the chat
`messages` in order) and hashes its first `prefix_chars` characters: requests that share a system
prompt or a few-shot preamble hash alike and go to the same replica, whose prefix cache then already
holds those blocks (prefix affinity). The key picks a replica by rendezvous hashing (highest
`hash(key, replica)` among the healthy ones), so ejecting a replica moves only its own keys. A
replica already `slack` requests busier than the least busy one is passed over for the least busy
(least-outstanding-requests fallback), so one hot prefix cannot pile everything on one process.
`policy="round_robin"` and `"least"` exist as baselines.

Health. Every `health_interval` seconds each replica's /health is fetched; a failure (or a connection
error on a request) ejects it, a later success takes it back. With no healthy replica the router
answers 503 with an OpenAI error body at once, never waiting.

Retries. A request whose replica fails before the first byte of its answer reaches the client (the
connection is refused or dropped; a non-streamed completion is one body at the end; a stream is held
until its first chunk) is sent to another replica: a replica killed under load loses no request that
had not started streaming. A stream already under way cannot be replayed and ends where it broke.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import time
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from groundup.serve.guards import BodyLimit

POLICIES = ("affinity", "round_robin", "least")
NO_REPLICA = "no_healthy_replica"
FORWARDED_HEADERS = ("authorization", "content-type", "accept")


@dataclass
class Replica:
    url: str
    healthy: bool = True
    outstanding: int = 0  # requests sent and not yet answered in full
    served: int = 0
    failures: int = 0
    ejections: int = 0


def routing_key(body: bytes, prefix_chars: int) -> str | None:
    """The first `prefix_chars` characters of the request's prompt (chat: its messages' roles and
    contents in order; token ids: their decimal text), or None when the body has no prompt."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("messages"), list):
        parts = []
        for m in payload["messages"]:
            content = m.get("content") if isinstance(m, dict) else None
            if isinstance(content, list):
                content = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            parts.append(f"<{m.get('role') if isinstance(m, dict) else ''}>{content}")
        text = "".join(parts)
    else:
        prompt = payload.get("prompt")
        if isinstance(prompt, list) and prompt and isinstance(prompt[0], (str, list)):
            prompt = prompt[0]  # a batch: route by its first prompt
        text = prompt if isinstance(prompt, str) else json.dumps(prompt) if prompt else ""
    return text[:prefix_chars] or None


def rendezvous(key: str, replicas: list[Replica]) -> Replica:
    """The replica with the highest hash of (key, its url): stable as replicas come and go."""

    def weight(r: Replica) -> bytes:
        return hashlib.blake2b(f"{key}\0{r.url}".encode(), digest_size=8).digest()

    return max(replicas, key=weight)


class ReplicaFailed(Exception):
    """The replica failed before any byte of its answer was passed on: the request can be retried."""


class Router:
    def __init__(
        self,
        replicas: list[str],
        policy: str = "affinity",
        prefix_chars: int = 256,
        slack: int = 4,
        health_interval: float = 1.0,
        timeout: float = 600.0,
        max_body_bytes: int = 4 * 1024 * 1024,
    ):
        if not replicas:
            raise ValueError("replicas must name at least one replica URL")
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        if prefix_chars < 1 or slack < 0 or health_interval <= 0:
            raise ValueError("prefix_chars must be >= 1, slack >= 0 and health_interval > 0")
        self.replicas = [Replica(u.rstrip("/")) for u in replicas]
        self.policy, self.prefix_chars, self.slack = policy, prefix_chars, slack
        self.health_interval, self.timeout, self.max_body_bytes = health_interval, timeout, max_body_bytes
        self.retries = 0
        self.no_replica = 0
        self._turn = itertools.count()
        self.client: httpx.AsyncClient | None = None
        self.app = self._build()

    # -- choosing -----------------------------------------------------------------------------------
    def healthy(self) -> list[Replica]:
        return [r for r in self.replicas if r.healthy]

    def choose(self, key: str | None, exclude: set[str] = frozenset()) -> Replica | None:
        """The replica for a request with routing `key` (see the module docstring), or None."""
        live = [r for r in self.healthy() if r.url not in exclude]
        if not live:
            return None
        least = min(live, key=lambda r: r.outstanding)
        if self.policy == "round_robin":
            return live[next(self._turn) % len(live)]
        if self.policy == "least" or key is None:
            return least
        home = rendezvous(key, live)
        return home if home.outstanding <= least.outstanding + self.slack else least

    def eject(self, replica: Replica) -> None:
        if replica.healthy:
            replica.ejections += 1
        replica.healthy = False
        replica.failures += 1

    # -- the application ------------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(_):
            limits = httpx.Limits(max_connections=1024, max_keepalive_connections=256)
            timeout = httpx.Timeout(self.timeout, connect=2.0)
            self.client = httpx.AsyncClient(timeout=timeout, limits=limits)
            checker = asyncio.create_task(self._health_loop())
            try:
                yield
            finally:
                checker.cancel()
                await self.client.aclose()

        app = FastAPI(title="groundup router", lifespan=lifespan)
        app.add_middleware(BodyLimit, max_bytes=self.max_body_bytes)
        app.get("/health")(self.health)
        app.get("/metrics")(self.metrics)
        app.get("/router/replicas")(self.replica_table)
        app.api_route("/{path:path}", methods=["GET", "POST"])(self.proxy)
        return app

    async def health(self):
        live = len(self.healthy())
        status = 200 if live else 503
        return JSONResponse({"status": "ok" if live else "no healthy replica", "healthy": live}, status)

    async def replica_table(self):
        return [r.__dict__ for r in self.replicas]

    async def metrics(self):
        """The router's own counters and per-replica gauges, in Prometheus text."""
        lines = []
        for name, value in (
            ("router_retries_total", self.retries),
            ("router_no_replica_total", self.no_replica),
        ):
            lines += [f"# TYPE groundup_{name} counter", f"groundup_{name} {value}"]
        for name, kind, field in (
            ("router_replica_healthy", "gauge", "healthy"),
            ("router_replica_outstanding", "gauge", "outstanding"),
            ("router_replica_requests_total", "counter", "served"),
            ("router_replica_ejections_total", "counter", "ejections"),
        ):
            lines.append(f"# TYPE groundup_{name} {kind}")
            lines += [f'groundup_{name}{{replica="{r.url}"}} {int(getattr(r, field))}' for r in self.replicas]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    async def _health_loop(self) -> None:
        while True:
            await asyncio.gather(*(self._check(r) for r in self.replicas))
            await asyncio.sleep(self.health_interval)

    async def _check(self, replica: Replica) -> None:
        try:
            ok = (await self.client.get(replica.url + "/health", timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            replica.healthy = True
        else:
            self.eject(replica)

    # -- proxying -------------------------------------------------------------------------------------
    async def proxy(self, path: str, request: Request):
        body = await request.body()
        key = routing_key(body, self.prefix_chars) if request.method == "POST" else None
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
        tried: set[str] = set()
        while (replica := self.choose(key, tried)) is not None:
            tried.add(replica.url)
            try:
                return await self._forward(replica, request.method, path, request.url.query, headers, body)
            except ReplicaFailed:
                self.eject(replica)
                self.retries += 1
        self.no_replica += 1
        message = f"no healthy replica to serve the request ({len(self.replicas)} configured, all down)"
        body = {"error": {"message": message, "type": "server_error", "param": None, "code": NO_REPLICA}}
        return JSONResponse(body, status_code=503)

    async def _forward(self, replica: Replica, method, path, query, headers, body) -> Response:
        """Send the request to `replica`; ReplicaFailed if it fails before its first byte is ours."""
        url = f"{replica.url}/{path}" + (f"?{query}" if query else "")
        replica.outstanding += 1
        upstream = None
        try:
            request = self.client.build_request(method, url, headers=headers, content=body)
            upstream = await self.client.send(request, stream=True)
            chunks = upstream.aiter_raw()
            first = await anext(chunks, b"")
        except httpx.HTTPError as exc:
            replica.outstanding -= 1
            if upstream is not None:
                await upstream.aclose()
            raise ReplicaFailed(str(exc)) from exc
        replica.served += 1
        passed = {"content-type": upstream.headers.get("content-type", "application/json")}
        passed["x-groundup-replica"] = replica.url

        async def rest():
            try:
                if first:
                    yield first
                async for chunk in chunks:
                    yield chunk
            except httpx.HTTPError:
                self.eject(replica)  # a stream cut mid-way: it cannot be replayed; the client sees the cut
            finally:
                replica.outstanding -= 1
                await upstream.aclose()

        return StreamingResponse(rest(), status_code=upstream.status_code, headers=passed)


def route(
    replicas: list[str],
    host: str = "127.0.0.1",
    port: int = 8080,
    **router_kwargs,
) -> None:
    """Run the router until Ctrl-C (what `groundup route` runs)."""
    import uvicorn

    from groundup.serve.launch import listen

    sock = listen(host, port)
    router = Router(replicas, **router_kwargs)
    bound_host, bound_port = sock.getsockname()[:2]
    print(
        f"routing http://{bound_host}:{bound_port}/v1 over {len(replicas)} replicas "
        f"({router.policy}) (Ctrl-C to stop)",
        flush=True,
    )
    started = time.monotonic()
    try:
        uvicorn.Server(uvicorn.Config(router.app, log_level="warning")).run(sockets=[sock])
    finally:
        print(f"router stopped after {time.monotonic() - started:.0f} s", flush=True)
