"""Two replicas behind HAProxy while new versions roll out: clients ask through the front
while one replica rebuilds the shared index folder and both switch to the new version;
counts failed requests (target 0).

Each replica is `qa serve`'s stack over the fake embedder (as in campaign_rebuilds.py), in its
own process, reading one index folder (docs/replicas.md: a shared folder, read-only for all
but the replica that builds). A rollout is a rebuild through replica A's admin API; replica B
notices the catalog serves a new version and swaps it in, as A does. HAProxy (Debian's
`haproxy`) is started with the configuration docs/replicas.md shows, on free ports.

    python scripts/campaigns/campaign_replicas.py            # 16 clients, 4 rollouts
    python scripts/campaigns/campaign_replicas.py --rollouts 10 --clients 32
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from campaign_common import campaign_folder, fake_server, write_archive
from campaign_rebuilds import ADMIN, TOKEN, Clients, rebuild
from common import free_port, request

HAPROXY_CONFIG = """\
global
    maxconn 512

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # A request whose replica refused the connection or closed it unanswered goes to the other.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
    option http-buffer-request

frontend archive
    bind 127.0.0.1:{front}
    default_backend replicas

backend replicas
    balance roundrobin
    # The check names a host the replicas accept (Settings.allowed_hosts).
    option httpchk
    http-check send meth GET uri /api/health ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    server a 127.0.0.1:{a} check inter 1s fall 2 rise 1
    server b 127.0.0.1:{b} check inter 1s fall 2 rise 1
"""


class Front:
    """HAProxy in front of the two replicas, in the foreground of a child process."""

    def __init__(self, folder: Path, ports: tuple[int, int]) -> None:
        self.port = free_port()
        self.config = folder / "haproxy.cfg"
        self.config.write_text(HAPROXY_CONFIG.format(front=self.port, a=ports[0], b=ports[1]))
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Front:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        self.process = subprocess.Popen([haproxy, "-db", "-f", str(self.config)])
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(self.port, "GET", "/api/health", timeout=5)[0] == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("HAProxy did not answer in 30 s")
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rollouts", type=int, default=4)
    parser.add_argument("--asks", type=int, default=25, help="requests per client per rollout")
    options = parser.parse_args()
    with campaign_folder("qa-replicas-") as work:
        corpus, index = work / "corpus", work / "index"
        ids = write_archive(corpus, 30)
        with fake_server(corpus, index, TOKEN) as a, fake_server(corpus, index, TOKEN) as b:
            with Front(work, (a.port, b.port)) as front:
                versions = []
                with Clients(front.port, options.clients, ids) as clients:
                    for number in range(1, options.rollouts + 1):
                        # The rebuild runs in A; `rebuild` waits until every client has been
                        # answered by the new version, through the front (so by B too).
                        version = rebuild_through(a.port, corpus, number, clients, options.asks)
                        versions.append(version)
                        seen = [
                            request(port, "GET", "/api/health")[1]["index_version"]
                            for port in (a.port, b.port)
                        ]
                        if seen != [version, version]:
                            raise RuntimeError(f"rollout {number}: replicas on {seen}")
                print(
                    f"2 replicas behind HAProxy, {options.clients} clients during "
                    f"{options.rollouts} rollouts ({len(set(versions))} versions, each served "
                    f"by both replicas): {clients.requests} requests, {len(clients.failures)} "
                    "failed (target 0)"
                )
                for failure in clients.failures[:10]:
                    print(f"  failed: {failure}")


def rebuild_through(port: int, corpus: Path, number: int, clients: Clients, asks: int) -> str:
    """A rollout: the admin API of the replica on `port` rebuilds the shared index folder."""
    status, body = request(port, "GET", "/api/index/status", headers=ADMIN)
    if status != 200:
        raise RuntimeError(f"replica on {port}: no admin API ({status} {body})")
    return rebuild(port, corpus, number, clients, asks)


if __name__ == "__main__":
    main()
