"""Hybrid search on synthetic archives kept by `bench_scale.py --keep DIR`, interleaved in
one run: the way to compare two index layouts (or two builds of one) on one machine.

    python scripts/bench/bench_scale.py --passages 20000 --keep /tmp/a   # with one layout
    python scripts/bench/bench_scale.py --passages 20000 --keep /tmp/b   # with another
    python scripts/bench/bench_kept.py /tmp/a /tmp/b [--rounds 3] [--cache-kib N]

Each of the 50 BBC questions is searched on every archive in turn, unfiltered and filtered
to one year of ten, on a new retriever with the question's vector already made (the search
alone: the embedding is the same for both). The first round warms the caches and is not
counted. `--cache-kib` sets the catalog's page cache (`PRAGMA cache_size`) on each opened
archive. Prints each archive's p50 and the ratio to the first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from bench_common import load_averages, load_bbc
from bench_embedders import HashEmbedder
from bench_scale import ONE_YEAR, synthetic_settings
from common import shared_eval

from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.index.versions import open_index
from qa.search.retriever import Retriever


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kept", nargs="+", type=Path, help="Folders of bench_scale.py --keep.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds, the first not counted.")
    parser.add_argument("--cache-kib", type=int, help="The catalog's page cache, in KiB.")
    args = parser.parse_args()
    default = embedder_for(Settings(progress=False))
    _, questions = load_bbc(shared_eval("bbc-dev.json"))
    archives = []
    for folder in args.kept:
        settings = synthetic_settings(folder, HashEmbedder(default))
        index = open_index(settings)
        if args.cache_kib:
            index.catalog.connection.execute(f"PRAGMA cache_size=-{args.cache_kib}")
        archives.append((folder, index, settings))
    print(f"load average at start: {load_averages()}")
    timings = {(folder, name): [] for folder, _, _ in archives for name in ("hybrid", "filtered")}
    for number in range(args.rounds):
        for question in questions:
            for folder, index, settings in archives:
                for name, filters in (("hybrid", None), ("filtered", ONE_YEAR)):
                    retriever = Retriever(index, default, settings)
                    retriever.query_vector(question)
                    started = time.perf_counter()
                    retriever.search(question, mode="hybrid", filters=filters)
                    if number:
                        timings[folder, name].append((time.perf_counter() - started) * 1000)
    first = args.kept[0]
    for folder, index, _ in archives:
        line = [f"{folder}: {index.catalog.counts()[1]:,} passages"]
        for name in ("hybrid", "filtered"):
            p50 = statistics.median(timings[folder, name])
            base = statistics.median(timings[first, name])
            line.append(f"{name} p50 {p50:.2f} ms ({p50 / base:.2f}x the first's)")
        print(", ".join(line))
        index.close()
    print(f"load average at end: {load_averages()}")


if __name__ == "__main__":
    main()
