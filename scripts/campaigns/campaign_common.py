"""What the campaign scripts share: a scratch folder that says how long the campaign took,
a small varied archive, a live server over the fake embedder (tests/fake_embedder.py) in a child
process, and counting a process's open files."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

#: The campaigns build and serve with the tests' deterministic fake embedder.
TESTS = Path(__file__).resolve().parents[2] / "tests"
sys.path.insert(0, str(TESTS))
#: The first lines of a child process's code that finds the fake embedder too.
FINDS_FAKE_EMBEDDER = f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
TOPICS = [
    ("strike", "The national strike was called for December {n} by the assembly of unions."),
    ("harvest", "The potato harvest in province {n} doubled after the canals opened."),
    ("flood", "The river flooded the lower town {n} times in March."),
    ("glacier", "The glacier retreated {n} metres over the summer."),
    ("port", "El puerto cerró {n} días durante la huelga de los estibadores."),
]


@contextlib.contextmanager
def campaign_folder(prefix: str) -> Iterator[Path]:
    """A scratch folder for one campaign, removed afterwards (with the folders whose
    permissions the campaign took away); prints the minutes the campaign took when it ends."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
        print(f"{(time.monotonic() - started) / 60:.1f} min")
    finally:
        for parent, folders, _ in os.walk(work):
            for folder in folders:
                path = Path(parent, folder)
                if not path.is_symlink():
                    path.chmod(0o755)
        shutil.rmtree(work, ignore_errors=True)


def write_archive(corpus: Path, documents: int = 30) -> list[str]:
    """A small archive of text, Markdown, HTML and JSON Lines; returns the document ids."""
    ids = []
    corpus.mkdir(parents=True, exist_ok=True)
    records = []
    for n in range(documents):
        name, sentence = TOPICS[n % len(TOPICS)]
        text = " ".join(sentence.format(n=n + k) for k in range(6))
        kind = n % 4
        if kind == 0:
            path = corpus / "notes" / f"{name}-{n}.txt"
            path.parent.mkdir(exist_ok=True)
            path.write_text(f"{name.title()} note {n}\n\n{text}\n", encoding="utf-8")
            ids.append(f"notes/{name}-{n}.txt")
        elif kind == 1:
            path = corpus / f"{name}-{n}.md"
            front = f"---\ntitle: {name.title()} report {n}\ndate: 2022-12-{n % 28 + 1:02d}\n---\n"
            path.write_text(front + text + "\n", encoding="utf-8")
            ids.append(path.name)
        elif kind == 2:
            path = corpus / f"{name}-{n}.html"
            body = f"<article><h1>{name.title()} {n}</h1><p>{text}</p></article>"
            path.write_text(f"<html><body><nav>Home</nav>{body}</body></html>", "utf-8")
            ids.append(path.name)
        else:
            records.append({"text": text, "title": f"{name.title()} record {n}", "date": "2021"})
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    (corpus / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids.extend(f"records.jsonl:{line}" for line in range(1, len(records) + 1))
    return sorted(ids)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def request(port: int, method: str, path: str, body=None, headers=None, timeout: float = 60):
    """(status, parsed JSON or raw bytes) of one request on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        sent = {"Content-Type": "application/json", **(headers or {})} if body else headers
        connection.request(
            method, path, body=json.dumps(body) if body else None, headers=sent or {}
        )
        response = connection.getresponse()
        content = response.read()
        try:
            return response.status, json.loads(content)
        except ValueError:
            return response.status, content
    finally:
        connection.close()


SERVE = (
    FINDS_FAKE_EMBEDDER
    + """
import sys
import uvicorn
from qa.web.app import create_app
from qa.core.config import Settings
from qa.web.server import server_config
from qa.service.assistant import Assistant
from fake_embedder import FakeEmbedder

corpus, index, port, token, collect = sys.argv[1:6]
if collect == "no":
    import gc
    gc.disable()
settings = Settings(corpus=corpus, index=index, embedder="fake", model="fake", progress=False,
                    admin_token=token, port=int(port))
assistant = Assistant(settings, FakeEmbedder())
assistant.ensure_index()
uvicorn.Server(server_config(create_app(settings, assistant), settings)).run()
"""
)


@contextlib.contextmanager
def fake_server(
    corpus: Path, index: Path, token: str, collect_garbage: bool = True
) -> Iterator[tuple[subprocess.Popen, int]]:
    """`qa serve` as it runs (uvicorn, JSON-error protocol, middleware) over the fake
    embedder, in a child process; yields it and its port once /api/health answers. Without
    `collect_garbage`, only what the server closes on purpose is ever closed."""
    port = free_port()
    collect = "yes" if collect_garbage else "no"
    command = [sys.executable, "-c", SERVE, str(corpus), str(index), str(port), token, collect]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server did not start: {process.stderr.read()}")
            with contextlib.suppress(OSError):
                if request(port, "GET", "/api/health", timeout=5)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer within 120 s")
            time.sleep(0.1)
        yield process, port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bound_by_permissions(command: list[str]) -> list[str]:
    """`command` run so that file permissions bind it: as root (whom chmod 000 denies
    nothing), without the capabilities that override them."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        raise SystemExit("running as root without setpriv: permissions cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
