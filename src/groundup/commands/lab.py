"""`groundup lab`: the browser lab (tokenizer explorer, next-token explorer, attention viewer, chat
playground, paged-KV serving view, progress dashboard) on http://127.0.0.1:8100/."""

from __future__ import annotations

import argparse

from groundup.argtypes import port


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lab",
        help="the interactive lab in the browser",
        description=__doc__,
    )
    p.add_argument("--model", default=None, help="a GGUF file or training run (default: the bundled SmolLM2)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    p.add_argument("--port", type=port, default=8100, help="port to listen on")
    p.set_defaults(func=lab_command)


def lab_command(args: argparse.Namespace) -> int:
    import uvicorn

    from groundup.lab.app import create_app
    from groundup.lab.state import LabState
    from groundup.serve.launch import listen

    sock = listen(args.host, args.port)  # a port in use is a one-line error before anything loads
    app = create_app(LabState(model_path=args.model))
    host, bound = sock.getsockname()[:2]
    print(
        f"groundup lab on http://{host}:{bound}/ (Ctrl-C to stop; the model loads on first use)", flush=True
    )
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    return 0
