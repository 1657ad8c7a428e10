"""HTTP benchmark of `qa serve` on the bundled archive (127.0.0.1 only).

Starts `qa serve` on a free port over a temporary index (the first start builds it), then:
1. latency of /api/search and /api/ask with one client: the first sight of each question
   (query embedding not cached yet) and 200 requests cycling over them (p50/p95);
2. throughput and errors with 8 concurrent clients for 30 s, half searches and half
   questions, with `wrk` when it is installed (Debian package), else a Python thread loop;
3. the first question a new server gets, 3 s after it first answers, with the start's
   warm-up (`QA_WARM_UP`) off and on: a server for each over the same index.

Usage: python scripts/bench/bench_http.py [--duration 30] [--clients 8] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

import httpx
from common import REPOSITORY, Server, percentile, qa_serve, timed_request

QUESTIONS = [
    "When was the national strike scheduled?",
    "Who convened the Extraordinary National Assembly?",
    "What did the protesters demand?",
    "Which regions declared a state of insurgency?",
    "What happened in Andahuaylas?",
    "Which unions supported the strike?",
    "What was the role of the oligarchy?",
    "Why was a Constituent Assembly demanded?",
    "How many delegates attended the assembly?",
    "What is the capital of France?",
    "Who was the former president of Peru?",
    "What did the teachers' union do?",
]
#: Seconds between the server's first answer and the first question (a person's pace).
FIRST_PAUSE = 3.0
#: Asked once, first, and not again (its vector stays cached).
FIRST_QUESTION = "What did the strikers ask of Congress?"
SEARCHES = [
    "national strike",
    "Constituent Assembly",
    "Pedro Castillo",
    "police repression",
    "students and teachers",
    "Apurímac insurgency",
    "dissolution of Congress",
    "rural agrarian front",
    "new elections",
    "oligarchy",
    "citations",
    "documents formats",
]


def serve(index: Path, warm_up: bool = True) -> AbstractContextManager[Server]:
    """`qa serve` over the bundled archive, with the start's warm-up on or off."""
    return qa_serve(REPOSITORY / "corpus", index, {"QA_WARM_UP": str(warm_up).lower()})


def timed(client: httpx.Client, kind: str, text: str) -> float:
    """Milliseconds of one search or one question."""
    if kind == "search":
        return timed_request(client, "GET", "/api/search", params={"q": text, "k": 10})[0]
    return timed_request(client, "POST", "/api/ask", json={"question": text})[0]


def first_question(index: Path, warm_up: bool, pause: float) -> float:
    """Milliseconds the first question takes when it comes `pause` seconds after the server
    first answers its health check, with the start's warm-up on or off."""
    with serve(index, warm_up) as server:
        time.sleep(pause)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            return timed(client, "ask", FIRST_QUESTION)


def single_client(base: str, requests: int) -> dict[str, dict[str, float]]:
    results = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        timed(client, "ask", FIRST_QUESTION)  # the first inference is much slower
        for kind, texts in (("search", SEARCHES), ("ask", QUESTIONS)):
            cold = [timed(client, kind, text) for text in texts]
            warm = [timed(client, kind, texts[i % len(texts)]) for i in range(requests)]
            results[kind] = {
                "cold_p50": percentile(cold, 0.50),
                "cold_max": max(cold),
                "p50": percentile(warm, 0.50),
                "p95": percentile(warm, 0.95),
            }
    return results


def wrk_load(base: str, clients: int, duration: int, folder: Path) -> dict:
    searches = [f"/api/search?q={quote(text)}&k=10" for text in SEARCHES]
    bodies = [json.dumps({"question": text}) for text in QUESTIONS]
    script = folder / "mix.lua"
    script.write_text(
        "local searches = {" + ",".join(json.dumps(s) for s in searches) + "}\n"
        "local bodies = {" + ",".join(json.dumps(b) for b in bodies) + "}\n"
        "local counter = 0\n"
        "request = function()\n"
        "  counter = counter + 1\n"
        "  if counter % 2 == 0 then\n"
        "    return wrk.format('GET', searches[(counter / 2) % #searches + 1])\n"
        "  end\n"
        "  return wrk.format('POST', '/api/ask', {['Content-Type'] = 'application/json'},\n"
        "                    bodies[((counter - 1) / 2) % #bodies + 1])\n"
        "end\n",
        encoding="utf-8",
    )
    command = [
        "wrk", "-t", "2", "-c", str(clients), "-d", f"{duration}s", "--timeout", "10s",
        "--latency", "-s", str(script), base,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    print(output)
    total = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(value) for value in socket_errors.groups())
    return {
        "tool": "wrk",
        "requests": total,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "errors": errors,
    }


def python_load(base: str, clients: int, duration: int) -> dict:
    counts = [0] * clients
    errors = [0] * clients
    stop_at = time.monotonic() + duration

    def run(worker: int) -> None:
        with httpx.Client(base_url=base, timeout=10) as client:
            turn = worker
            while time.monotonic() < stop_at:
                try:
                    if turn % 2:
                        response = client.get(
                            "/api/search", params={"q": SEARCHES[turn % len(SEARCHES)]}
                        )
                    else:
                        response = client.post(
                            "/api/ask", json={"question": QUESTIONS[turn % len(QUESTIONS)]}
                        )
                    if response.status_code != 200:
                        errors[worker] += 1
                except httpx.HTTPError:
                    errors[worker] += 1
                counts[worker] += 1
                turn += 1

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {
        "tool": "python threads",
        "requests": sum(counts),
        "rps": sum(counts) / elapsed,
        "errors": sum(errors),
    }


def verdict(value: float, target: float, higher_is_better: bool = False) -> str:
    met = value >= target if higher_is_better else value <= target
    return "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30, help="Seconds of the load test.")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent clients.")
    parser.add_argument("--requests", type=int, default=200, help="Requests per endpoint.")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="qa-bench-") as folder:
        started = time.monotonic()
        with serve(Path(folder) / "index") as server:
            health, base = server.health, server.url
            print(
                f"qa serve up in {time.monotonic() - started:.1f}s: {health['documents']} "
                f"documents, {health['passages']} passages, model {health['model']}"
            )
            latency = single_client(base, arguments.requests)
            if shutil.which("wrk"):
                load = wrk_load(base, arguments.clients, arguments.duration, Path(folder))
            else:
                load = python_load(base, arguments.clients, arguments.duration)
        # Over the index built above, a server for each, one after the other.
        first = {
            on: first_question(Path(folder) / "index", on, FIRST_PAUSE) for on in (False, True)
        }

    print(
        f"The first question, {FIRST_PAUSE:.0f} s after /api/health first answers (ms): without "
        f"the start's warm-up {first[False]:.0f}, with it {first[True]:.0f} "
        f"(ratio {first[False] / first[True]:.1f})"
    )
    print(f"One client, {arguments.requests} requests each (ms):")
    for kind in ("search", "ask"):
        numbers = latency[kind]
        print(
            f"  /api/{kind:6}  p50 {numbers['p50']:6.1f}  p95 {numbers['p95']:6.1f}   "
            f"(first sight of each text: p50 {numbers['cold_p50']:.1f}, "
            f"max {numbers['cold_max']:.1f})"
        )
    print(
        f"{arguments.clients} clients for {arguments.duration}s ({load['tool']}, half search, "
        f"half ask): {load['requests']} requests, {load['rps']:.1f} requests/s, "
        f"{load['errors']} errors"
    )
    print("Targets:")
    ask_p50, search_p50 = latency["ask"]["p50"], latency["search"]["p50"]
    print(f"  ask p50 <= 30 ms: {ask_p50:.1f} ms, {verdict(ask_p50, 30)}")
    print(f"  search p50 <= 20 ms: {search_p50:.1f} ms, {verdict(search_p50, 20)}")
    print(f"  >= 100 requests/s: {load['rps']:.1f}, {verdict(load['rps'], 100, True)}")
    print(f"  0 errors: {load['errors']}, {'met' if load['errors'] == 0 else 'NOT met'}")


if __name__ == "__main__":
    main()
