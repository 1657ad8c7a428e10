"""Rebuilds under load: clients ask while the index is rebuilt and swapped in, then a soak
of many rebuilds; counts failed requests and the server's open files.

The server is `qa serve`'s stack (uvicorn, middleware, background rebuilds through the
admin API) over the fake embedder (tests/fake_embedder.py), in a child process whose open files are
read from /proc after every rebuild, once each client has been answered by the new version.
It runs with Python's garbage collector off, so that the count stays flat only if old index
versions are closed on purpose, not whenever a collection happens to come
(`--collect-garbage` leaves it on). Before the fix of that leak, 20 soak rebuilds took the count
from 24 to 95 (from 19 to 49 with the collector on).

    python scripts/campaigns/campaign_rebuilds.py      # 16 clients x 4, soak of 50
    python scripts/campaigns/campaign_rebuilds.py --soak 100 --soak-clients 8
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from campaign_common import campaign_folder, fake_server, open_files, write_archive
from common import request

TOKEN = "campaign-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
QUERIES = ["national strike", "potato harvest", "river flooded", "glacier", "puerto huelga"]
QUESTIONS = ["When was the national strike called?", "How far did the glacier retreat?"]
#: Seconds a client waits between its requests, so that 16 of them leave the CPU to others.
PACE = 0.02


class Clients:
    """Threads that ask the server without pause until stopped; every answer but a 200 (or
    an exception) is a failure."""

    def __init__(self, port: int, count: int, document_ids: list[str]) -> None:
        self.port = port
        self.document_ids = document_ids
        self.requests = 0
        self.failures: list[str] = []
        self.versions: dict[int, str] = {}  # client -> index version of its last health
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.count = count
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(count)]

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, number: int) -> None:
        chance = random.Random(number)
        for step in itertools.count():
            if self._stop.is_set():
                return
            kind = step % 4
            try:
                if kind == 0:
                    path = f"/api/search?q={chance.choice(QUERIES).replace(' ', '+')}&k=5"
                    status, body = request(self.port, "GET", path)
                elif kind == 1:
                    question = {"question": chance.choice(QUESTIONS)}
                    status, body = request(self.port, "POST", "/api/ask", question)
                elif kind == 2:
                    document = chance.choice(self.document_ids)
                    status, body = request(self.port, "GET", f"/api/documents/{document}")
                else:
                    status, body = request(self.port, "GET", "/api/health")
                    if status == 200:
                        with self._lock:
                            self.versions[number] = body["index_version"]
                outcome = None if status == 200 else f"{status}: {str(body)[:200]}"
            except Exception as error:  # a dropped connection is a failed request too
                outcome = f"{type(error).__name__}: {error}"
            with self._lock:
                self.requests += 1
                if outcome:
                    self.failures.append(outcome)
            self._stop.wait(PACE)

    def all_on(self, version: str) -> bool:
        with self._lock:
            return len(self.versions) == self.count and all(
                seen == version for seen in self.versions.values()
            )


def rebuild(port: int, corpus: Path, number: int, clients: Clients, asks: int) -> str:
    """Changes the corpus, rebuilds through the admin API and waits until every client has
    been answered by the new version and the clients made `asks` requests each since the
    rebuild began; returns the version."""
    counted = clients.requests
    (corpus / f"late-{number}.txt").write_text(
        f"Late bulletin {number}: the assembly met again in Lima.", encoding="utf-8"
    )
    (corpus / f"late-{number - 3}.txt").unlink(missing_ok=True)
    status, body = request(
        port, "POST", f"/api/index/rebuild?full={number % 5 == 0}", headers=ADMIN
    )
    if status != 202:
        raise RuntimeError(f"rebuild {number} refused: {status} {body}")
    deadline = time.monotonic() + 300
    while True:
        status, body = request(port, "GET", "/api/index/status", headers=ADMIN)
        if not body["running"]:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"rebuild {number} did not finish in 300 s")
        time.sleep(0.05)
    if body["error"]:
        raise RuntimeError(f"rebuild {number} failed: {body['error']}")
    wanted = counted + asks * clients.count
    while not clients.all_on(body["version"]) or clients.requests < wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"rebuild {number}'s version never reached every client")
        time.sleep(0.05)
    return body["version"]


def phase(port, pid, corpus, ids, clients, rebuilds, first, asks) -> tuple[Clients, list[int]]:
    files = []
    with Clients(port, clients, ids) as running:
        for number in range(first, first + rebuilds):
            rebuild(port, corpus, number, running, asks)
            files.append(open_files(pid))
    return running, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rebuilds", type=int, default=4)
    parser.add_argument("--soak", type=int, default=50, help="rebuilds of the soak")
    parser.add_argument("--soak-clients", type=int, default=4)
    parser.add_argument("--asks", type=int, default=25, help="requests per client per rebuild")
    parser.add_argument("--collect-garbage", action="store_true", help="leave the collector on")
    options = parser.parse_args()
    with campaign_folder("qa-rebuilds-") as work:
        corpus = work / "corpus"
        ids = write_archive(corpus, 30)
        served = fake_server(corpus, work / "index", TOKEN, options.collect_garbage)
        with served as server:
            port, pid = server.port, server.process.pid
            before = open_files(pid)
            load, load_files = phase(
                port, pid, corpus, ids, options.clients, options.rebuilds, 1, options.asks
            )
            print(
                f"{options.clients} clients during {options.rebuilds} rebuilds: "
                f"{load.requests} requests, {len(load.failures)} failed (target 0); open files "
                f"{before} before, {load_files} after each rebuild",
                flush=True,
            )
            first = options.rebuilds + 1
            soak, soak_files = phase(
                port,
                pid,
                corpus,
                ids,
                options.soak_clients,
                options.soak,
                first,
                options.asks,
            )
            early, late = soak_files[:10], soak_files[-10:]
            flat = max(late) <= max(early)
            print(
                f"soak of {options.soak} rebuilds with {options.soak_clients} clients: "
                f"{soak.requests} requests, {len(soak.failures)} failed (target 0); open files "
                f"after each rebuild: min {min(soak_files)}, max {max(soak_files)}, first 10 "
                f"{early}, last 10 {late}: {'flat' if flat else 'GROWING'}"
            )
            for failure in (load.failures + soak.failures)[:10]:
                print(f"  failed: {failure}")


if __name__ == "__main__":
    main()
