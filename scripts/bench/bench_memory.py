"""Peak memory of a serving process, measured by `scripts/bench/bench.py`: a new process
that loads the model, opens an index and searches, nothing else. `bench.py` runs this file
as that process; run `bench.py`, not this."""

from __future__ import annotations

import argparse
import json
import resource
from pathlib import Path

from bench_common import MAX_PEAK_MB_LARGE, MODES, Reporter, child_json, peak_rss_mb

from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.index.versions import open_index
from qa.search.retriever import Retriever


def serving_memory(
    report: Reporter,
    settings: Settings,
    backend: str,
    queries: Path,
    rounds: int,
    target_name: str | None,
) -> dict:
    """Runs the worker over the index of `settings`, questions embedded by `backend`'s
    default model; prints its peak memory, against bench.py's target at 100,000 passages
    when `target_name` names that line."""
    arguments = [settings.model_dump_json(), backend, str(queries), str(rounds)]
    memory = child_json(__file__, arguments, "the memory worker")
    report.line(
        f"  serving process (model + this index + {memory['searches']} searches, "
        f"nothing else): peak RSS {memory['peak_rss_mb']:.0f} MB "
        f"(after model load {memory['after_model_mb']:.0f} MB, after opening the index "
        f"{memory['after_index_mb']:.0f} MB; getrusage ru_maxrss {memory['ru_maxrss_mb']:.0f} MB, "
        "not used: Linux carries the parent's peak into it at exec)"
    )
    if target_name is not None:
        report.target(target_name, memory["peak_rss_mb"], MAX_PEAK_MB_LARGE, False, " MB")
    return memory


def worker(settings: Settings, backend: str, queries_file: Path, rounds: int) -> None:
    """Load the model, open the index, search; print peak memory as one JSON line."""
    embedder = embedder_for(Settings(embedder=backend))
    after_model = peak_rss_mb()
    index = open_index(settings)
    retriever = Retriever(index, embedder, settings)
    after_index = peak_rss_mb()
    questions = json.loads(queries_file.read_text(encoding="utf-8"))
    searches = 0
    for _ in range(rounds):
        for mode in MODES:
            for question in questions:
                retriever.search(question, mode=mode)
                searches += 1
    print(
        json.dumps(
            {
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "after_model_mb": round(after_model, 1),
                "after_index_mb": round(after_index, 1),
                "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "searches": searches,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("settings", help="The index's Settings as JSON.")
    parser.add_argument("backend", help="The backend whose default model embeds the questions.")
    parser.add_argument("queries", type=Path, help="A JSON list of questions.")
    parser.add_argument("rounds", type=int)
    arguments = parser.parse_args()
    worker(
        Settings(**json.loads(arguments.settings)),
        arguments.backend,
        arguments.queries,
        arguments.rounds,
    )
