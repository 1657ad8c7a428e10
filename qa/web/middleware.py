"""What every HTTP request and response passes through, whichever route serves it: the Host
name check, HEAD answered as GET, and the header that stops browsers guessing content types.

Plain ASGI middleware, so that static files and the API documentation get them too.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HostCheck:
    """Refuses (400) requests addressed to a host name the server was not configured for:
    a page on any site could otherwise reach this local server through a DNS name rebound
    to 127.0.0.1 and read its answers."""

    def __init__(self, app: ASGIApp, names: set[str]) -> None:
        self.app = app
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "*" not in self.names:
            host = host_name(_header(scope, b"host"))
            if host not in self.names:
                shown = ", ".join(sorted(self.names))
                message = (
                    f"This server answers to {shown}, not to the host name '{host[:100]}' "
                    "(set QA_ALLOWED_HOSTS to add names)."
                )
                await send_error(scope, send, 400, "invalid_host", message)
                return
        await self.app(scope, receive, send)


class HeadAsGet:
    """Answers HEAD as the GET of the same URL would, headers only (FastAPI's routes list
    GET alone, and a HEAD got a 405)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class NoSniffing:
    """`X-Content-Type-Options: nosniff` on every response: JSON, static files and
    documentation are never run as something else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-content-type-options" for name, _ in headers):
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_header)


def host_name(value: str) -> str:
    """The host name of a Host header, without its port, lower case: '[::1]:8000' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.rsplit(":", 1)[0]
    return value.rstrip(".")


async def send_error(scope: Scope, send: Send, status: int, kind: str, message: str) -> None:
    """The API's JSON error under /api, a plain-text one elsewhere."""
    if scope["path"] == "/api" or scope["path"].startswith("/api/"):
        body = json.dumps({"error": {"type": kind, "message": message}}).encode()
        content_type = b"application/json"
    else:
        body = message.encode()
        content_type = b"text/plain; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""
