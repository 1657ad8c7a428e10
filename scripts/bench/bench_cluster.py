"""Embedding throughput of a cluster build's workers on this machine: two Ray actors against
one (target: two at least 1.5x one), each an `EmbeddingWorker` of qa.index.cluster (the model
loaded once, one thread), embedding the same groups a build sends them.

Rounds alternate one actor and two actors, so that a change in the machine's load strikes
both alike; the ratio is of the medians. Prints the load average before and after.

    python scripts/bench/bench_cluster.py [--articles 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from bench_common import load_averages

BBC = Path(__file__).resolve().parents[3] / "shared" / "eval" / "bbc-dev.json"
TARGET = 1.5


def groups_of(articles: int, group: int, settings):
    """The (passage, text) groups a build of the first `articles` BBC articles embeds."""
    from qa.embedders import embedder_for
    from qa.evaluation.squad import load_squad
    from qa.index.build import chunking_parameters
    from qa.index.preparing import prepare_document
    from qa.ingest.documents import MetadataLimits, SourceEntry

    embedder = embedder_for(settings)
    params = chunking_parameters(settings, embedder)
    records, _ = load_squad(BBC)
    pending = []
    for number, record in enumerate(records[:articles]):
        line = json.dumps(record, ensure_ascii=False)
        entry = SourceEntry(
            f"bbc.jsonl:{number}", Path("bbc.jsonl"), "bbc.jsonl", "", "/", number, line
        )
        prepared = prepare_document(entry, MetadataLimits.of(settings), embedder, params)
        pending += list(zip(prepared.passages, prepared.texts, strict=True))
    return [pending[i : i + group] for i in range(0, len(pending), group)]


def throughput(actors, groups) -> float:
    """Passages a second: every group sent, to the actors in turn."""
    import ray

    started = time.perf_counter()
    references = [actors[n % len(actors)].embed.remote(g) for n, g in enumerate(groups)]
    ray.get(references)
    return sum(len(g) for g in groups) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--group", type=int, default=64, help="passages a group")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    from qa.core.config import Settings
    from qa.index.cluster import EmbeddingWorker

    settings = Settings(progress=False, index_threads=1)
    groups = groups_of(options.articles, options.group, settings)
    print(
        f"load before: {load_averages()}; {sum(map(len, groups))} passages in {len(groups)} groups"
    )
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    worker = ray.remote(EmbeddingWorker).options(num_cpus=1)
    # Two actors (the machine's two CPUs); one of them alone is the one-actor pool.
    two = [worker.remote(settings.model_dump()) for _ in range(2)]
    one = two[:1]
    ray.get([actor.ready.remote() for actor in two])
    ray.get([actor.embed.remote(groups[0]) for actor in two])  # warm: ONNX sessions
    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(options.rounds):
        rates[1].append(throughput(one, groups))
        rates[2].append(throughput(two, groups))
    ray.shutdown()
    medians = {n: statistics.median(r) for n, r in rates.items()}
    ratio = medians[2] / medians[1]
    print(f"one actor:  {medians[1]:.1f} passages/s (rounds {[round(r, 1) for r in rates[1]]})")
    print(f"two actors: {medians[2]:.1f} passages/s (rounds {[round(r, 1) for r in rates[2]]})")
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(
        f"two / one: {ratio:.2f}x ({verdict} the target {TARGET}x); load after: {load_averages()}"
    )


if __name__ == "__main__":
    main()
