"""Benchmark of the timeline issue's targets on the BBC archive (2,225 articles).

1. Build the archive with the bundled model, timing the date extraction inside the build
   (every call of `qa.index.events.add_document_dates`): its own seconds against the rest of the
   build. `--compare` also builds once more with the extraction switched off (two builds on
   a shared machine differ by more than the extraction costs, so the timed share is the
   number to read).
2. Serve the index with `qa serve` on 127.0.0.1 and time GET /api/timeline?q=... over HTTP
   with one client: each query once (query embedding not cached yet), then `--requests`
   requests cycling over them (p50/p95); the whole-archive timeline too.

Usage: python scripts/bench/bench_timeline.py [--bbc PATH] [--requests 200] [--compare] [--json]
Targets: timeline p50 <= 50 ms; extraction <= 10% of the build without it. Exit status 0
whatever the numbers; FAIL is a finding.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

import httpx
from common import percentile, qa_serve, shared_eval, timed_request

import qa.index.build
from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.embedders.sentence_transformer import BUNDLED_MODEL
from qa.evaluation.squad import build_archive, load_squad

MAX_P50_MS = 50.0
MAX_EXTRACTION_SHARE = 0.10
QUERIES = [
    "general election",
    "oil prices",
    "Olympic Games",
    "interest rates",
    "Yukos auction",
    "Google shares",
    "Oscars ceremony",
    "Champions League",
    "broadband users",
    "Iraq war",
    "Asian tsunami",
    "video games sales",
]


def timed_extraction():
    """Wrap the build's date step; returns the list its durations are added to."""
    spent: list[float] = []
    original = qa.index.build.add_document_dates

    def add_document_dates(catalog, document, passages):
        started = time.perf_counter()
        try:
            return original(catalog, document, passages)
        finally:
            spent.append(time.perf_counter() - started)

    qa.index.build.add_document_dates = add_document_dates
    return spent, original


def get(client: httpx.Client, params: dict) -> tuple[float, dict]:
    """Milliseconds of one timeline request, and its body."""
    elapsed, response = timed_request(client, "GET", "/api/timeline", params=params)
    return elapsed, response.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bbc", type=Path, default=shared_eval("bbc-dev.json"), help="Path of bbc-dev.json."
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--compare", action="store_true", help="Also build without dates.")
    parser.add_argument("--json", action="store_true", help="Print the numbers as JSON.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    articles, _ = load_squad(args.bbc)
    settings = Settings(embedder="sentence-transformers", model=BUNDLED_MODEL, progress=False)
    embedder = embedder_for(settings)
    result: dict = {"documents": len(articles), "load_average": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="qa-bench-timeline-") as folder:
        spent, original = timed_extraction()
        assistant, report = build_archive(settings, embedder, articles, Path(folder) / "dates")
        extraction = sum(spent)
        catalog = assistant.engine().index.catalog
        mentions, sentences = catalog.dates.counts()
        result.update(
            passages=report.passages,
            dated_mentions=mentions,
            dated_sentences=sentences,
            build_seconds=round(report.seconds, 1),
            extraction_seconds=round(extraction, 2),
            extraction_share=round(extraction / (report.seconds - extraction), 4),
        )
        if args.compare:
            qa.index.build.add_document_dates = lambda catalog, document, passages: 0
            _, without = build_archive(settings, embedder, articles, Path(folder) / "plain")
            result["build_without_dates_seconds"] = round(without.seconds, 1)
            result["build_ratio"] = round(report.seconds / without.seconds, 4)
        qa.index.build.add_document_dates = original

        archive = Path(folder) / "dates"
        # Served with the model it was built with (not the default model, which would refuse).
        model = {"QA_EMBEDDER": settings.embedder, "QA_MODEL": settings.model}
        with (
            qa_serve(archive / "corpus", archive / "index", model) as server,
            httpx.Client(base_url=server.url, timeout=60) as client,
        ):
            get(client, {"q": "warm up the model"})
            cold = [get(client, {"q": q})[0] for q in QUERIES]
            warm, counts = [], []
            for n in range(args.requests):
                elapsed, body = get(client, {"q": QUERIES[n % len(QUERIES)]})
                warm.append(elapsed)
                counts.append(body["total"])
            whole = [get(client, {"limit": 200})[0] for _ in range(20)]
            total = get(client, {"limit": 1})[1]["total"]
    result.update(
        timeline_cold_p50_ms=round(percentile(cold, 0.50), 1),
        timeline_p50_ms=round(percentile(warm, 0.50), 1),
        timeline_p95_ms=round(percentile(warm, 0.95), 1),
        events_per_query_mean=round(statistics.mean(counts), 1),
        whole_archive_events=total,
        whole_archive_p50_ms=round(percentile(whole, 0.50), 1),
        load_average_end=os.getloadavg()[0],
    )
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for key, value in result.items():
        print(f"{key:30} {value}")
    verdict = "ok" if result["timeline_p50_ms"] <= MAX_P50_MS else "FAIL"
    print(f"timeline p50 {result['timeline_p50_ms']} ms (target <= {MAX_P50_MS}) {verdict}")
    share = result["extraction_share"]
    verdict = "ok" if share <= MAX_EXTRACTION_SHARE else "FAIL"
    print(f"date extraction adds {share:.1%} to the build (target <= 10%) {verdict}")


if __name__ == "__main__":
    main()
