"""`groundup serve` as a process (issue 14, sections 1 and 6): bad flags are usage errors and a port in
use is a one-line error, all before the model loads; SIGTERM with requests in flight stops the server
within a few seconds (they get `--shutdown-grace` seconds to finish, then are aborted)."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time

import httpx
import pytest

from groundup.cli import main
from tests.serve.processes import start_serve_process, train_tiny_gpt

pytestmark = pytest.mark.module("2.2")


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--port", "99999"),
        ("--port", "-1"),
        ("--threads", "-1"),
        ("--kv-blocks", "0"),
        ("--max-body-bytes", "0"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_flag(capsys, flag, value):
    with pytest.raises(SystemExit) as info:
        main(["serve", "--model", "/nonexistent.gguf", flag, value])
    assert info.value.code == 2
    assert flag in capsys.readouterr().err


def test_a_port_in_use_is_one_line_before_the_model_loads(capsys):
    """The model path does not exist: had it been loaded first, the error would be about the model."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--model", "/nonexistent.gguf", "--port", str(port)])
    out, err = capsys.readouterr()
    assert code == 1 and "serving" not in out
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "--port" in err, err


@pytest.fixture(scope="module")
def long_context_run(tmp_path_factory):
    """A GPT run directory (one training step) with a 1024-token context: room for long generations."""
    return train_tiny_gpt(tmp_path_factory.mktemp("gpt-long"), block_size=1024)


def start_server(run_dir) -> tuple[subprocess.Popen, str]:
    return start_serve_process(run_dir, "--kv-blocks", "2100", "--block-size", "16", timeout=60)


def stream_until_cut(url: str, name: str, started: threading.Semaphore, ends: list) -> None:
    """One long streamed request (8 completions of ~1000 tokens); records how it ended."""
    body = {"model": name, "prompt": "the cat", "max_tokens": 1000, "n": 8, "stream": True, "temperature": 1}
    try:
        with httpx.stream("POST", url + "/v1/completions", json=body, timeout=60) as r:
            for i, line in enumerate(r.iter_lines()):
                if i == 0:
                    started.release()
                if line == "data: [DONE]":
                    ends.append("done")
                    return
        ends.append("closed")
    except httpx.HTTPError as exc:
        ends.append(type(exc).__name__)


def test_sigterm_with_requests_in_flight_exits_within_seconds(long_context_run):
    proc, url = start_server(long_context_run)
    try:
        started, ends = threading.Semaphore(0), []
        clients = [
            threading.Thread(target=stream_until_cut, args=(url, long_context_run.name, started, ends))
            for _ in range(4)
        ]
        for c in clients:
            c.start()
        for _ in clients:
            assert started.acquire(timeout=60), "a stream never started"
        assert httpx.get(url + "/health", timeout=5).status_code == 200
        sent = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        elapsed = time.perf_counter() - sent
        for c in clients:
            c.join(10)
        assert elapsed < 10, elapsed  # the default grace is 3 s; before the fix: 38 s (all streams ran out)
        assert proc.returncode in (0, -signal.SIGTERM), proc.stdout.read()
        assert len(ends) == 4 and not any(c.is_alive() for c in clients)  # no client left hanging
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
