"""What the tests of the HTTP face share: a free port, a uvicorn server running in a thread,
a plain request, and reading the JSON error body of the API."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

#: A question or query over the 1000-character limit.
LONG_QUESTION = "why " * 300
#: The admin token of the web tests' archive (tests/conftest.py).
ADMIN_TOKEN = "s3cret-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(server: uvicorn.Server) -> Iterator[uvicorn.Server]:
    """`server` serving from a thread of this process until the block ends."""
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers=None
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one request to 127.0.0.1:`port` on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def error_of(response, status: int, kind: str) -> str:
    """The message of an API error response, checked to have this status and error type.
    (This module's asserts are not rewritten by pytest: each says what it saw.)"""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == kind, body
    assert body["error"]["message"], body
    return body["error"]["message"]
