"""A planning simulation, not a benchmark of this machine: how a cluster build of many rows
would schedule. A `ray.cluster_utils.Cluster` of logical workers (nodes with CPUs that do
not exist) runs actors that sleep for a measured time a passage instead of embedding, and
return vectors of the model's size; the driver sends groups as qa.index.cluster does (at
most two groups in flight a worker) and adds every vector to a real FAISS store.

Prints the scheduling overhead (wall time against rows x seconds a passage / workers) and
the driver's write rate (vectors added a second, FAISS alone: the catalog's writes are not
simulated), so that the docs can say how many machines a 10M build needs for a night.

    python scripts/bench/simulate_cluster.py --workers 32 --rows 200000 --passage-seconds 0.04
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

DIMENSION = 384  # multilingual-e5-small


class SleepingWorker:
    def __init__(self, passage_seconds: float) -> None:
        self.passage_seconds = passage_seconds

    def embed(self, count: int) -> np.ndarray:
        time.sleep(count * self.passage_seconds)
        return np.zeros((count, DIMENSION), dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--group", type=int, default=1024)
    parser.add_argument("--passage-seconds", type=float, default=0.04)
    options = parser.parse_args()
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import faiss
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, connect=True, head_node_args={"num_cpus": 0})
    for _ in range(options.nodes):
        cluster.add_node(num_cpus=options.workers // options.nodes)
    cluster.wait_for_nodes()
    worker = ray.remote(SleepingWorker).options(num_cpus=1)
    actors = [worker.remote(options.passage_seconds) for _ in range(options.workers)]
    ray.get([actor.embed.remote(0) for actor in actors])
    store = faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION))
    sizes = [options.group] * (options.rows // options.group)
    if options.rows % options.group:
        sizes.append(options.rows % options.group)
    running: dict = {}
    load = [0] * len(actors)
    written, write_seconds, next_id, sent = 0, 0.0, 0, 0
    started = time.perf_counter()
    while sent < len(sizes) or running:
        while sent < len(sizes) and len(running) < 2 * len(actors):
            actor = min(range(len(actors)), key=load.__getitem__)
            running[actors[actor].embed.remote(sizes[sent])] = actor
            load[actor] += 1
            sent += 1
        ready, _ = ray.wait(list(running), num_returns=1)
        load[running.pop(ready[0])] -= 1
        matrix = ray.get(ready[0])
        begun = time.perf_counter()
        store.add_with_ids(matrix, np.arange(next_id, next_id + len(matrix), dtype=np.int64))
        write_seconds += time.perf_counter() - begun
        next_id += len(matrix)
        written += len(matrix)
    wall = time.perf_counter() - started
    ideal = options.rows * options.passage_seconds / options.workers
    ray.shutdown()
    cluster.shutdown()
    print(
        f"{options.rows} rows, {len(sizes)} groups of {options.group}, {options.workers} "
        f"logical workers on {options.nodes} nodes, {options.passage_seconds} s a passage: "
        f"wall {wall:.1f} s against an ideal {ideal:.1f} s (scheduling overhead "
        f"{100 * (wall / ideal - 1):.1f}%); driver wrote {written / write_seconds:,.0f} "
        f"vectors/s to FAISS ({write_seconds:.1f} s in all)"
    )


if __name__ == "__main__":
    main()
