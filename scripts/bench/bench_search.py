"""Search latency and what answering adds to a search, measured by `scripts/bench/bench.py`
over real BBC indexes with the real model. Run `bench.py`, not this."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from bench_common import (
    MAX_ASK_OVER_SEARCH_MS,
    MODES,
    Reporter,
    load_average,
    milliseconds,
    percentiles,
    print_latency,
    settings_for,
    write_corpus,
)
from bench_embedders import RecordedEmbedder
from common import percentile

from qa.answer.answerer import RETRIEVED, Answerer
from qa.core.config import Settings
from qa.embedders import Embedder
from qa.index.build import build_index
from qa.index.versions import IndexVersion, open_index
from qa.search.retriever import Retriever
from qa.store.filters import SearchFilters

#: Passages of the small real index.
SMALL_PASSAGES = 1000


def measure_latency(
    make_retriever: Callable[[], Retriever],
    queries: list[str],
    rounds: int,
    modes: tuple[str, ...] = MODES,
    filters: SearchFilters | None = None,
) -> dict:
    """Latency of Retriever.search per mode (with `filters`, if given). Each round uses a new
    retriever, so every query is embedded again (the retriever caches query vectors);
    "hybrid_cached" repeats the queries on a retriever that has them cached."""
    warm = make_retriever()
    for query in queries:  # page cache, FAISS and SQLite warm, not counted
        warm.search(query, mode="hybrid", filters=filters)
    results: dict = {}
    for mode in modes:
        timings: list[float] = []
        for _ in range(rounds):
            retriever = make_retriever()
            search = partial(retriever.search, mode=mode, filters=filters)
            timings += [milliseconds(partial(search, q)) for q in queries]
        results[mode] = percentiles(timings)
    if modes != MODES:
        return results
    timings = [milliseconds(partial(warm.search, q, mode="hybrid")) for q in queries * rounds]
    results["hybrid_cached"] = percentiles(timings)
    return results


def answer_cost(
    index: IndexVersion, embedder: Embedder, settings: Settings, questions: list[str], rounds: int
) -> dict:
    """p50 of `search` (k as the answer step retrieves) and of `ask` for the same questions,
    each round on new retrievers so every question is embedded again in both."""
    timings: dict[str, list[float]] = {"search": [], "ask": []}
    for _ in range(rounds):
        searcher = Retriever(index, embedder, settings)
        answerer = Answerer(Retriever(index, embedder, settings), settings)
        for question in questions:
            timings["search"].append(milliseconds(partial(searcher.search, question, k=RETRIEVED)))
            timings["ask"].append(milliseconds(partial(answerer.ask, question)))
    search, ask = (percentile(timings[k], 0.5) for k in ("search", "ask"))
    return {
        "search_p50_ms": round(search, 2),
        "ask_p50_ms": round(ask, 2),
        "ask_minus_search_p50_ms": round(ask - search, 2),
    }


def report_answer_cost(report: Reporter, label: str, name: str, cost: dict) -> None:
    report.line(
        f"  {label}: the same questions, search (k={RETRIEVED}) p50 "
        f"{cost['search_p50_ms']:.1f} ms, ask p50 {cost['ask_p50_ms']:.1f} ms"
    )
    report.target(name, cost["ask_minus_search_p50_ms"], MAX_ASK_OVER_SEARCH_MS, False, " ms")


def hybrid_profile(retriever: Retriever, queries: list[str], top: int = 8) -> dict[str, float]:
    """Milliseconds per hybrid search spent in the qa package's functions (cumulative,
    under cProfile, which adds some overhead): where the time goes."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for query in queries:
        retriever.search(query, mode="hybrid")
    profiler.disable()
    spent: dict[str, float] = {}
    for (filename, _, function), row in pstats.Stats(profiler).stats.items():
        if f"{os.sep}qa{os.sep}" in filename and function != "search":
            label = f"{Path(filename).stem}.{function}"
            spent[label] = spent.get(label, 0.0) + row[3] * 1000 / len(queries)
    ranked = sorted(spent.items(), key=lambda item: -item[1])[:top]
    return {label: round(ms, 2) for label, ms in ranked}


def bench_small_search(
    report: Reporter,
    root: Path,
    articles: list[str],
    embedder: Embedder,
    known: dict,
    full: Settings,
    questions: list[str],
    rounds: int,
) -> None:
    """Latency over a real index of about 1,000 passages (the first documents, their vectors
    reused from the full build), and over the full build's index for information."""
    index = open_index(full)
    counts = index.catalog.passages_per_document()
    index.close()
    documents, passages = 0, 0
    while passages < SMALL_PASSAGES and documents < len(articles):
        passages += counts.get(f"bbc-{documents:04d}.txt", 0)
        documents += 1
    indexes = [full]
    if documents < len(articles):
        small = settings_for(root, "small")
        write_corpus(articles[:documents], small.corpus)
        recorded = RecordedEmbedder(embedder, known)
        build_index(small, recorded, full=True)
        if recorded.computed:
            report.line(f"  (the small index needed {recorded.computed} new vectors)")
        indexes.insert(0, small)
    report.line(f"\n[3] Search latency over real BBC indexes, real model (load {load_average()})")
    report.numbers["search_real"] = []
    for settings in indexes:
        index = open_index(settings)
        latency = measure_latency(
            lambda i=index, s=settings: Retriever(i, embedder, s), questions, rounds
        )
        cost = answer_cost(index, embedder, settings, questions, rounds)
        documents, passages = index.catalog.counts()
        index.close()
        print_latency(report, f"{passages:>7,} passages", latency)
        report.numbers["search_real"].append(
            {"documents": documents, "passages": passages, "latency": latency, "ask": cost}
        )
        report_answer_cost(
            report,
            f"{passages:>7,} passages",
            f"ask p50 - search p50 at {passages:,} passages",
            cost,
        )


def bench_backend_answers(
    report: Reporter, embedder: Embedder, settings: Settings, questions: list[str], rounds: int
) -> None:
    """What `ask` adds to `search` over the index a backend's default build left."""
    index = open_index(settings)
    cost = answer_cost(index, embedder, settings, questions, rounds)
    passages = index.catalog.counts()[1]
    index.close()
    backend = embedder.backend
    report.numbers["backends"][backend]["ask"] = cost
    report_answer_cost(
        report,
        f"  {passages:,} passages",
        f"{backend}: ask p50 - search p50 at {passages:,} passages (sentence vectors)",
        cost,
    )
