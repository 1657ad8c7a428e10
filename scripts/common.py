"""What the scripts of scripts/bench/, scripts/campaigns/ and scripts/tuning/ share: where the
repository, its tests' fake embedder and the shared evaluation data are, the `qa` command
line, a server started in a child process and waited for, a plain HTTP request and a timed
one, and one percentile. Not a script: each script that uses it puts scripts/ on its path
first, in one line before its imports,

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

(the script's own folder is on the path already, for its siblings: bench_common.py...).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

#: The repository (or worktree) these scripts belong to.
REPOSITORY = Path(__file__).resolve().parents[1]
#: The tests' folder, which holds the deterministic fake embedder (tests/fake_embedder.py).
TESTS = REPOSITORY / "tests"
#: The first lines of a child process's code that finds the fake embedder too.
FINDS_FAKE_EMBEDDER = f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
HOST = "127.0.0.1"
#: Seconds a server may take to answer its first health check (a first `qa serve` builds
#: the index with the real model).
START_SECONDS = 300


def shared_eval(name: str) -> Path:
    """../shared/eval/<name> beside the repository, or beside a folder above it (a worktree
    lies below the repository's folder)."""
    for folder in (REPOSITORY, *REPOSITORY.parents):
        candidate = folder / "shared" / "eval" / name
        if candidate.is_file():
            return candidate
    return REPOSITORY.parent / "shared" / "eval" / name


def find_fake_embedder() -> None:
    """Put tests/ on the path, so that `from fake_embedder import FakeEmbedder` works."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))


def fake_settings(corpus: Path, index: Path, **overrides):
    """The settings of an archive built and searched with the fake embedder."""
    from qa.core.config import Settings

    return Settings(
        corpus=corpus, index=index, embedder="fake", model="fake", progress=False, **overrides
    )


def qa_command(*arguments: str) -> list[str]:
    """The `qa` command line run by this interpreter (so with this venv's qa package)."""
    return [sys.executable, "-c", "from qa.cli import main; main()", *arguments]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def request(port: int, method: str, path: str, body=None, headers=None, timeout: float = 60):
    """(status, parsed JSON or raw bytes) of one request to HOST:`port` on a fresh
    connection; `body`, when given, is sent as JSON."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
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


def timed_request(
    client: httpx.Client, method: str, path: str, **arguments
) -> tuple[float, httpx.Response]:
    """Milliseconds of one request through an httpx client, and its response; any answer
    but a 200 ends the script."""
    started = time.perf_counter()
    response = client.request(method, path, **arguments)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(
            f"{method} {path} {arguments} answered {response.status_code}: {response.text}"
        )
    return elapsed, response


@dataclass
class Server:
    """A server running in a child process, and what its first health check answered."""

    process: subprocess.Popen
    port: int
    health: dict

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@contextlib.contextmanager
def serving(command: Callable[[int], list[str]], **popen) -> Iterator[Server]:
    """The server `command(port)` starts on a free port, in a child process (`popen`: more
    arguments of subprocess.Popen); yields it once GET /api/health answers 200, and stops it
    when the block ends (SIGTERM, then SIGKILL after 30 s). The servers here listen once their
    index is ready, so any other answer is a failure, raised at once."""
    port = free_port()
    process = subprocess.Popen(command(port), **popen)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                said = process.stderr.read() if process.stderr else ""
                raise RuntimeError(f"the server exited with {process.returncode}: {said}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, health = request(port, "GET", "/api/health", timeout=5)
                if status == 200:
                    break
                raise RuntimeError(f"the server's /api/health answered {status}: {health}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within {START_SECONDS} s")
            time.sleep(0.1)
        yield Server(process, port, health)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def qa_serve(
    corpus: Path, index: Path, environment: dict[str, str] | None = None
) -> contextlib.AbstractContextManager[Server]:
    """`qa serve` over `corpus` and `index` (built first if there is none), offline, with
    `environment` added to this process's (see `serving`)."""
    offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    arguments = ["serve", "--corpus", str(corpus), "--index", str(index), "--host", HOST]
    return serving(
        lambda port: qa_command(*arguments, "--port", str(port)),
        cwd=REPOSITORY,
        env={**os.environ, **offline, **(environment or {})},
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value `fraction` of the way from the smallest of `values` to the largest by rank,
    interpolated between the two nearest (numpy's default): 0.5 is the median, 0.95 the p95."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)
