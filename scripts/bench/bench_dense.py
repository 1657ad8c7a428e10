"""The dense side alone at 10M passages, for `bench_scale.py`: vectors generated (never
embedded) into an inverted file and searched read-only, in a process of its own so that its
memory is its own. Run `bench_scale.py`, not this (it runs this file as that process)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench_common import Reporter, child_json, percentiles

from qa.store import inverted_lists_for

#: The default model's dimension.
DIMENSION = 384
#: Candidates a dense search proposes (Settings.candidates).
CANDIDATES = 100


def simulate(passages: int, probes: int, searches: int = 200, seed: int = 21) -> dict:
    """An inverted file of about 4·√N lists holding 8-bit scalar codes (a quarter of float32's
    bytes: 10M float32 vectors alone would take 15 GB), searched on one thread. Each vector
    is drawn near one list's centroid and filed in that list, so no coarse assignment is
    computed for 10M vectors; the questions are drawn the same way."""
    import faiss

    faiss.omp_set_num_threads(1)  # a search runs on the search threads, 1 by default
    lists = inverted_lists_for(passages, "auto", 1)
    rng = np.random.default_rng(seed)

    def near(centroids: np.ndarray) -> np.ndarray:
        noise = rng.standard_normal(centroids.shape, dtype=np.float32)
        vectors = centroids + 0.06 * noise  # a cosine of about 0.6 to the list's centroid
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    centroids = rng.standard_normal((lists, DIMENSION), dtype=np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    quantizer = faiss.IndexFlatIP(DIMENSION)
    quantizer.add(centroids)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, DIMENSION, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    # A quantizer that holds its lists' centroids needs no training: only the codes' ranges.
    index.train(near(centroids[rng.integers(lists, size=50_000)]))
    before = resident_mb()
    chunk = 200_000
    for start in range(0, passages, chunk):
        count = min(chunk, passages - start)
        assigned = rng.integers(lists, size=count).astype(np.int64)
        vectors = near(centroids[assigned])
        ids = np.arange(start, start + count, dtype=np.int64)
        index.add_core(count, *(faiss.swig_ptr(a) for a in (vectors, ids, assigned)))
    del vectors
    index.nprobe = probes
    timings = []
    for query in near(centroids[rng.integers(lists, size=searches)]):
        started = time.perf_counter()
        index.search(query.reshape(1, -1), CANDIDATES)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "passages": passages,
        "layout": f"IVF{lists},SQ8",
        "probes": probes,
        "search": percentiles(timings),
        "search_p50_ms": percentiles(timings)["p50_ms"],
        "codes_and_ids_mb": round(passages * (DIMENSION + 8) / 1e6, 1),
        "rss_mb": round(resident_mb(), 1),
        "rss_before_vectors_mb": round(before, 1),
        "float32_vectors_mb": round(passages * DIMENSION * 4 / 1e6, 1),
    }


def resident_mb() -> float:
    """This process's resident memory now (VmRSS) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def dense_simulation(report: Reporter, passages: int, probes: int) -> dict:
    """`simulate` in a child process; prints what it found."""
    numbers = child_json(__file__, [str(passages), str(probes)], "the dense simulation")
    report.line(
        f"  the dense side alone at {passages:,} generated vectors ({numbers['layout']}, "
        f"nprobe {probes}, k {CANDIDATES}, 1 thread): search p50 {numbers['search_p50_ms']:.1f} "
        f"ms, p95 {numbers['search']['p95_ms']:.1f} ms; resident memory "
        f"{numbers['rss_mb']:,.0f} MB (codes and ids {numbers['codes_and_ids_mb']:,.0f} MB; "
        f"as float32 the vectors alone would take {numbers['float32_vectors_mb']:,.0f} MB)"
    )
    return numbers


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("passages", type=int)
    parser.add_argument("probes", type=int)
    arguments = parser.parse_args()
    print(json.dumps(simulate(arguments.passages, arguments.probes)))
