"""HTTP at its edges, through a real uvicorn server on 127.0.0.1 (served as `qa serve` does):
HEAD, transfer encodings, Host names, admin tokens that are not ASCII, security headers."""

from __future__ import annotations

import json
import socket

import pytest
import uvicorn
from fake_embedder import FakeEmbedder
from http_helpers import free_port, request, running

from qa.core.config import Settings
from qa.service.assistant import Assistant
from qa.web.app import create_app
from qa.web.server import server_config

TOKEN = "contraseña-ñandú-🔑"
QUESTION = b'{"question": "When was the national strike called?"}'


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    folder = tmp_path_factory.mktemp("http")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "strike.txt").write_text(
        "The national strike was called for December 15 by the assembly of unions.\n",
        encoding="utf-8",
    )
    settings = Settings(
        corpus=corpus,
        index=folder / "index",
        embedder="fake",
        model="fake",
        progress=False,
        admin_token=TOKEN,
        port=free_port(),
    )
    assistant = Assistant(settings, FakeEmbedder())
    assistant.build()
    with running(uvicorn.Server(server_config(create_app(settings, assistant), settings))):
        yield settings.port


def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, dict, bytes]:
    """Sends bytes as they are, for what http.client would not send."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head + b"\r\n\r\n" + body)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    header_block, _, content = received.partition(b"\r\n\r\n")
    status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, content


def json_error(status: int, headers: dict, content: bytes, expected: int) -> dict:
    assert status == expected, content
    assert headers["content-type"] == "application/json"
    error = json.loads(content)["error"]
    assert error["type"] and error["message"]
    return error


@pytest.mark.parametrize("path", ["/", "/api/health", "/docs", "/static/app.css", "/openapi.json"])
def test_head_answers_as_get_without_a_body(port, path):
    status, headers, content = request(port, "GET", path)
    head_status, head_headers, head_content = request(port, "HEAD", path)
    assert (status, head_status) == (200, 200)
    assert head_content == b""
    assert head_headers["content-type"] == headers["content-type"]
    assert head_headers["content-length"] == headers["content-length"] == str(len(content))


def test_a_chunked_question_is_answered(port):
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(QUESTION), QUESTION)
    head = (
        b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked"
    )
    status, _, content = raw_request(port, head, chunked)
    assert status == 200 and "December 15" in json.loads(content)["answer"]


def test_a_request_the_server_cannot_parse_gets_a_json_400(port):
    head = (
        b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked"
    )
    error = json_error(*raw_request(port, head, QUESTION), expected=400)
    assert error["type"] == "invalid_request"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.nip.io", ""])
def test_unknown_host_names_are_refused(port, host):
    head = f"GET /api/health HTTP/1.1\r\nHost: {host}\r\nConnection: close".encode()
    error = json_error(*raw_request(port, head), expected=400)
    assert error["type"] == "invalid_host"
    status, _, _ = raw_request(port, head.replace(b"/api/health", b"/"))
    assert status == 400


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST.", "[::1]"])
def test_the_configured_host_names_are_served(port, host):
    head = f"GET /api/health HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close".encode()
    assert raw_request(port, head)[0] == 200


def test_an_admin_token_that_is_not_ascii_authenticates(port):
    token = {"Authorization": b"Bearer " + TOKEN.encode()}
    status, _, content = request(port, "GET", "/api/index/status", headers=token)
    assert status == 200, content
    wrong = {"Authorization": b"Bearer " + TOKEN[:-1].encode()}
    json_error(*request(port, "GET", "/api/index/status", headers=wrong), expected=403)


@pytest.mark.parametrize(
    "path", ["/api/health", "/api/nothing", "/static/app.css", "/docs", "/openapi.json", "/"]
)
def test_every_response_forbids_sniffing(port, path):
    headers = request(port, "GET", path)[1]
    assert headers["x-content-type-options"] == "nosniff"


def test_the_api_docs_page_has_a_strict_content_security_policy(port):
    status, headers, content = request(port, "GET", "/docs")
    assert status == 200
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src" not in policy
    assert b"<script>" not in content  # no inline script: its set-up is a file of its own
