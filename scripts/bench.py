"""Benchmark of the build, search latency and memory against the project's targets.

    python scripts/bench.py            # the issue's sizes: 1,000 BBC documents, 100,000 passages
    python scripts/bench.py --quick    # smoke run: 100 documents, 10,000 synthetic passages
    python scripts/bench.py --json     # the numbers as one JSON object on stdout

The sections measure sentence-transformers' bundled all-MiniLM-L6-v2, passages only: [1]
build throughput against the raw encode of the same passages (`bench_build.py`), [2] an
incremental rebuild, [3] search latency and what `ask` adds to it over real BBC indexes
(`bench_search.py`), [4] latency and memory at 100,000 synthetic passages (`bench_scale.py`,
`bench_memory.py`).

The archive is the BBC News set in ../shared/eval/bbc-dev.json, read by path and written,
one .txt per article, into a temporary folder. Timings on a shared 2-core machine move with
other users' load: the load average is printed at the start and end. The exit status is 0
whatever the numbers; FAIL is a finding.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench_build import bench_build, bench_incremental
from bench_common import (
    REFERENCE_BACKEND,
    Reporter,
    default_bbc_path,
    load_averages,
    load_bbc,
    seconds,
    torch_threads,
)
from bench_scale import bench_large_search
from bench_search import bench_small_search

from qa.config import Settings
from qa.embedders import DEFAULT_MODELS, Embedder, embedder_for

#: (BBC documents, synthetic passages, rounds): full and --quick.
FULL = (1000, 100_000, 3)
QUICK = (100, 10_000, 2)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--documents", type=int, help="BBC documents of sections [1]-[3] (default 1,000)."
    )
    parser.add_argument(
        "--synthetic-passages",
        type=int,
        help="Passages of the synthetic index for latency and memory (default 100,000).",
    )
    parser.add_argument(
        "--rounds", type=int, help="Times each query is searched per mode (default 3)."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Smoke run: 100 documents, 10,000 synthetic passages, 2 rounds.",
    )
    parser.add_argument("--bbc", type=Path, default=default_bbc_path(), help="bbc-dev.json.")
    parser.add_argument("--json", action="store_true", help="Print all numbers as JSON on stdout.")
    args = parser.parse_args()
    # --quick changes the defaults; numbers given explicitly win.
    defaults = QUICK if args.quick else FULL
    args.documents = args.documents or defaults[0]
    args.synthetic_passages = args.synthetic_passages or defaults[1]
    args.rounds = args.rounds or defaults[2]
    return args


def load_model(report: Reporter) -> Embedder:
    """The reference model, asked one question (which makes or loads its query encoder)."""
    models: list[Embedder] = []

    def load() -> None:
        settings = Settings(embedder=REFERENCE_BACKEND, model=DEFAULT_MODELS[REFERENCE_BACKEND])
        models.append(embedder_for(settings))
        models[0].encode_query("a first question, which makes or loads the query encoder")

    took = seconds(load)
    report.line(
        f"model load in this process (first import of torch and sentence-transformers "
        f"included; excluded from every number below): {took:.1f} s"
    )
    report.numbers["model_load_seconds"] = round(took, 2)
    return models[0]


def main() -> None:
    args = arguments()
    # A plain `kill` still removes the temporary folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Reporter(args.json)
    start_load = os.getloadavg()
    report.line(
        f"archive-qa benchmark: {args.documents} BBC documents, "
        f"{args.synthetic_passages:,} synthetic passages, {args.rounds} rounds of queries"
    )
    report.line(
        f"load average at start: {load_averages()} "
        f"({os.cpu_count()} CPUs; other users' load distorts the timings)"
    )
    articles, questions = load_bbc(args.bbc)
    reference = load_model(report)
    initial_threads = torch_threads()
    report.numbers.update(
        {
            "documents_requested": args.documents,
            "load_average_start": [round(x, 2) for x in start_load],
            "queries": len(questions),
            "rounds": args.rounds,
        }
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as temporary:
        root = Path(temporary)
        built = bench_build(report, root, articles[: args.documents], reference, initial_threads)
        bench_incremental(report, built)
        bench_small_search(
            report,
            root,
            articles[: args.documents],
            reference,
            built.known,
            built.settings,
            questions,
            args.rounds,
        )
        bench_large_search(
            report,
            root,
            articles,
            reference,
            questions,
            args.synthetic_passages,
            args.rounds,
            initial_threads,
        )
    end_load = os.getloadavg()
    report.numbers["bench_process_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    report.numbers["load_average_end"] = [round(x, 2) for x in end_load]
    report.numbers["seconds"] = round(time.perf_counter() - started, 1)
    report.line(
        f"\nSummary ({report.numbers['seconds']:.0f} s; load average at end: {load_averages()})"
    )
    for verdict in report.verdicts:
        report.line(verdict)
    if args.json:
        print(json.dumps(report.numbers, indent=1))


if __name__ == "__main__":
    main()
