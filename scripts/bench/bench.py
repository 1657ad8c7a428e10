"""Benchmark of the build, search latency and memory against the project's targets.

    python scripts/bench/bench.py          # 1,000 BBC documents, 60 per backend, 100,000 passages
    python scripts/bench/bench.py --quick  # smoke run: 100 documents, 20 per backend, 10,000
    python scripts/bench/bench.py --json   # the numbers as one JSON object on stdout
    python scripts/bench/bench.py --only txtai --txtai-documents 300 \
        --txtai-python /work/txtai-venv/bin/python   # section [6] alone

Sections [1]-[4] measure the reference model, sentence-transformers' bundled
all-MiniLM-L6-v2, as this benchmark always has, so that their numbers compare across
versions: [1] build throughput against the raw encode of the same passages
(`bench_build.py`), [2] an incremental rebuild, [3] search latency and what `ask` adds to it
over real BBC indexes (`bench_search.py`), [4] latency and memory at 100,000 synthetic
passages (`bench_large.py`, `bench_memory.py`), there also with the default model's
questions. [5] measures each embedder backend with the
settings a user gets: build throughput with and without sentence vectors, and what `ask`
adds to `search`. [6] compares archive-qa's default build with txtai's (installed apart, run
in a child process of `--txtai-python`) on the same articles and threads, and shares out
the default build's time among its steps (`bench_txtai.py`).

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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from bench_build import bench_backend_build, bench_build, bench_incremental
from bench_common import (
    DEFAULT_BACKEND,
    REFERENCE_BACKEND,
    Reporter,
    load_average,
    load_averages,
    load_bbc,
    torch_threads,
)
from bench_large import bench_large_search
from bench_search import bench_backend_answers, bench_small_search
from bench_txtai import TXTAI_PYTHON_VARIABLE, bench_txtai
from common import shared_eval

from qa.core.config import Settings
from qa.embedders import BACKENDS, DEFAULT_MODELS, Embedder, embedder_for

#: (BBC documents, documents per backend, synthetic passages, rounds): full and --quick.
FULL = (1000, 60, 100_000, 3)
QUICK = (100, 20, 10_000, 2)
#: BBC documents of section [6] (full and --quick), and its threads (the issue's two).
TXTAI_DOCUMENTS = (300, 30)
TXTAI_THREADS = 2


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--documents", type=int, help="BBC documents of sections [1]-[3] (default 1,000)."
    )
    parser.add_argument(
        "--backend-documents",
        type=int,
        help="BBC documents each backend builds in section [5] (default 60).",
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
        "--backends",
        nargs="+",
        choices=sorted(BACKENDS),
        default=sorted(BACKENDS),
        help="The backends section [5] measures (default all).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Smoke run: 100 documents, 20 per backend, 10,000 synthetic passages, 2 rounds.",
    )
    parser.add_argument(
        "--bbc", type=Path, default=shared_eval("bbc-dev.json"), help="bbc-dev.json."
    )
    parser.add_argument(
        "--txtai-documents",
        type=int,
        help="BBC documents of section [6], archive-qa against txtai (default 300).",
    )
    parser.add_argument(
        "--txtai-python",
        help=f"A python with txtai for section [6] (default: ${TXTAI_PYTHON_VARIABLE}; "
        "without one the comparison is skipped).",
    )
    parser.add_argument(
        "--only",
        choices=["txtai"],
        help="Run this section alone: txtai = [6] (--documents then sets its documents).",
    )
    parser.add_argument("--json", action="store_true", help="Print all numbers as JSON on stdout.")
    args = parser.parse_args()
    # --quick changes the defaults; numbers given explicitly win.
    defaults = QUICK if args.quick else FULL
    if args.only == "txtai":
        args.txtai_documents = args.txtai_documents or args.documents
    args.documents = args.documents or defaults[0]
    args.backend_documents = args.backend_documents or defaults[1]
    args.synthetic_passages = args.synthetic_passages or defaults[2]
    args.rounds = args.rounds or defaults[3]
    args.txtai_documents = args.txtai_documents or TXTAI_DOCUMENTS[bool(args.quick)]
    return args


def load_models(report: Reporter) -> dict[str, Embedder]:
    """The reference model, then every other backend's default model, each loaded once and
    asked one question (which makes or loads its query encoder)."""
    models: dict[str, Embedder] = {}
    for backend in dict.fromkeys([REFERENCE_BACKEND, *sorted(BACKENDS)]):
        started = time.perf_counter()
        models[backend] = embedder_for(Settings(embedder=backend, model=DEFAULT_MODELS[backend]))
        models[backend].encode_query("a first question, which makes or loads the query encoder")
        took = time.perf_counter() - started
        if backend == REFERENCE_BACKEND:
            report.line(
                f"model load in this process (first import of torch and sentence-transformers "
                f"included; excluded from every number below): {took:.1f} s"
            )
        else:
            report.line(f"{backend} model load ({models[backend].name}): {took:.1f} s")
        report.numbers.setdefault("model_load_seconds_by_backend", {})[backend] = round(took, 2)
    report.numbers["model_load_seconds"] = report.numbers["model_load_seconds_by_backend"][
        REFERENCE_BACKEND
    ]
    return models


def summarise(report: Reporter, started: float, as_json: bool) -> None:
    """The run's seconds, the load at its end and every verdict again; the JSON last."""
    report.numbers["seconds"] = round(time.perf_counter() - started, 1)
    report.line(
        f"\nSummary ({report.numbers['seconds']:.0f} s; load average at end: {load_averages()})"
    )
    for verdict in report.verdicts:
        report.line(verdict)
    if as_json:
        print(json.dumps(report.numbers, indent=1))


def only_txtai(args: argparse.Namespace, report: Reporter) -> None:
    """Section [6] alone."""
    report.line(
        f"archive-qa benchmark, section [6] alone: {args.txtai_documents} BBC documents; "
        f"load average at start: {load_averages()} ({os.cpu_count()} CPUs; other users' load "
        "distorts the timings)"
    )
    report.numbers["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
    articles, _ = load_bbc(args.bbc)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as temporary:
        bench_txtai(
            report,
            Path(temporary),
            articles[: args.txtai_documents],
            TXTAI_THREADS,
            args.txtai_python,
        )
    report.numbers["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    summarise(report, started, args.json)


def main() -> None:
    args = arguments()
    # A plain `kill` still removes the temporary folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Reporter(args.json)
    if args.only == "txtai":
        only_txtai(args, report)
        return
    start_load = os.getloadavg()
    report.line(
        f"archive-qa benchmark: {args.documents} BBC documents, "
        f"{args.synthetic_passages:,} synthetic passages, {args.rounds} rounds of queries; "
        f"{args.backend_documents} BBC documents for each backend"
    )
    report.line(
        f"load average at start: {load_averages()} "
        f"({os.cpu_count()} CPUs; other users' load distorts the timings)"
    )
    articles, questions = load_bbc(args.bbc)
    models = load_models(report)
    initial_threads = torch_threads()
    report.numbers.update(
        {
            "documents_requested": args.documents,
            "backend_documents_requested": args.backend_documents,
            "load_average_start": [round(x, 2) for x in start_load],
            "queries": len(questions),
            "rounds": args.rounds,
            "default_backend": DEFAULT_BACKEND,
        }
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as temporary:
        root = Path(temporary)
        reference = models[REFERENCE_BACKEND]
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
            models,
            questions,
            args.synthetic_passages,
            args.rounds,
            initial_threads,
        )
        report.line(
            f"\n[5] Each embedder backend with the settings a user gets (default: "
            f"{DEFAULT_BACKEND}), {args.backend_documents} BBC documents (load {load_average()})"
        )
        for backend in args.backends:
            embedder = models[backend]
            build = bench_backend_build(report, root, articles[: args.backend_documents], embedder)
            bench_backend_answers(report, embedder, build.settings, questions, args.rounds)
        bench_txtai(
            report, root, articles[: args.txtai_documents], TXTAI_THREADS, args.txtai_python
        )
    end_load = os.getloadavg()
    report.numbers["bench_process_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    report.numbers["load_average_end"] = [round(x, 2) for x in end_load]
    summarise(report, started, args.json)


if __name__ == "__main__":
    main()
