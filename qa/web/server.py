"""Running the web app under uvicorn, as `qa serve` (and the tests' live servers) do."""

from __future__ import annotations

import json

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from qa.core.config import Settings


class JSONErrorProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, answering a request it cannot parse (a transfer coding
    it does not support, a malformed chunk) with the API's JSON error, not plain text."""

    def send_400_response(self, msg: str) -> None:
        message = f"{msg} It is not HTTP/1.1 this server can read (for example, a transfer "
        message += "coding other than chunked, or a malformed chunk)."
        body = json.dumps({"error": {"type": "invalid_request", "message": message}}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()


def server_config(app, settings: Settings, **overrides) -> uvicorn.Config:
    """The uvicorn configuration `qa serve` runs `app` with."""
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        "http": JSONErrorProtocol,
        **overrides,
    }
    return uvicorn.Config(app, **options)
