"""What is checked before a request reaches the application, as plain ASGI middleware (no task
groups, no buffering): the API key, and the size of the body.

`BearerAuth`: paths under the given prefixes need `Authorization: Bearer KEY` (the scheme in any
case, RFC 9110; the key compared in constant time), else 401 with OpenAI's `invalid_api_key` body.

`BodyLimit`: too large a body is answered 413 before it is read. A declared `Content-Length` over
the limit is refused from the headers alone, before the application runs; a body sent without one
(chunked upload) is counted as it arrives and refused as soon as the count passes the limit, so no
request makes the server hold or parse more than `max_bytes` of it. The answer is OpenAI's error
body, `code="request_too_large"`.
"""

from __future__ import annotations

import hmac
import json

from fastapi import HTTPException

REQUEST_TOO_LARGE = "request_too_large"


def error_body(message: str, code: str, type: str = "invalid_request_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": type, "param": None, "code": code}}).encode()


async def send_json(send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    def __init__(self, app, api_key: str | None, prefixes: tuple[str, ...] = ("/v1/",)):
        self.app, self.prefixes = app, prefixes
        self.key = api_key.encode() if api_key else None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.key and scope["path"].startswith(self.prefixes):
            if not self.authorized(_header(scope, b"authorization")):
                message = "missing or wrong API key; send 'Authorization: Bearer KEY'"
                return await send_json(
                    send, 401, error_body(message, "invalid_api_key", "authentication_error")
                )
        return await self.app(scope, receive, send)

    def authorized(self, header: bytes | None) -> bool:
        scheme, _, token = (header or b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the limit: an HTTPException, which FastAPI's
    body parsing lets through (any other error there becomes a 400) to the application's handler."""

    def __init__(self, max_bytes: int, declared: int | None = None):
        size = f"{declared} bytes" if declared is not None else f"over {max_bytes} bytes"
        super().__init__(
            413,
            f"the request body ({size}) is larger than this server accepts ({max_bytes} bytes); send a "
            "shorter request, or start the server with a larger --max-body-bytes",
        )

    def body(self) -> bytes:
        return error_body(self.detail, REQUEST_TOO_LARGE)


class BodyLimit:
    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _content_length(_header(scope, b"content-length"))
        if declared is not None and declared > self.max_bytes:
            return await _refuse(send, BodyTooLarge(self.max_bytes, declared))
        seen, started = 0, False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:  # the application did not answer it itself
            if started:
                raise
            await _refuse(send, exc)


async def _refuse(send, exc: BodyTooLarge) -> None:
    """Answer 413 at once. The HTTP layer drops the rest of the body as it arrives (never buffered);
    the connection stays open, so a client still sending it reads the answer (no reset)."""
    await send_json(send, 413, exc.body())


def _header(scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope["headers"] if key == name), None)


def _content_length(value: bytes | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
