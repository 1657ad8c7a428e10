"""Search latency at scale, measured by `scripts/bench/bench.py` (section [4]): a synthetic
index of about 100,000 passages (`bench_scale.build_synthetic`), chunked and stored by the
real build with the default model's tokenizer and a user's settings, embedded by a cheap
hashing embedder of the model's dimension (embedding them for real would take hours here);
questions embedded by the real models, so latency includes the question's embedding, FAISS
and FTS5. Run `bench.py`, not this."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from bench_common import (
    DEFAULT_BACKEND,
    MAX_P50_MS_LARGE,
    MODES,
    REFERENCE_BACKEND,
    Reporter,
    by_torch_threads,
    describe_threads,
    load_average,
    milliseconds,
    percentiles,
    print_latency,
    query_backend,
    query_embedding_p50,
    threads,
)
from bench_embedders import TorchQueries
from bench_memory import serving_memory
from bench_scale import build_synthetic
from bench_search import hybrid_profile, measure_latency

from qa.core.config import Settings
from qa.embedders import Embedder, embedder_for
from qa.index.versions import IndexVersion, open_index
from qa.search.retriever import Retriever

#: The other thread count the default model's search is measured on.
TWO_THREADS = 2


def bench_large_search(
    report: Reporter,
    root: Path,
    all_articles: list[str],
    embedders: dict[str, Embedder],
    questions: list[str],
    target: int,
    rounds: int,
    initial_threads: int,
) -> None:
    default = embedders[DEFAULT_BACKEND]
    report.line(f"\n[4] synthetic index of about {target:,} passages (load {load_average()})")
    build = build_synthetic(report, root, all_articles, default, target)
    settings, passages = build.settings, build.passages
    numbers = {
        "synthetic": True,
        "documents": build.documents,
        "passages": passages,
        "chunked_by": DEFAULT_BACKEND,
        "sentence_vectors": build.sentence_vectors,
        "build_seconds": round(build.build_seconds, 1),
        "build_peak_rss_mb": build.build_peak_rss_mb and round(build.build_peak_rss_mb, 1),
        "rss_before_build_mb": round(build.rss_before_build_mb, 1),
    }
    report.numbers["search_synthetic"] = numbers
    # The index carries the hashing embedder's name; a real model of the same dimension
    # embeds the queries, so the retriever is given it directly.
    index = open_index(settings)
    queries = root / "queries.json"
    queries.write_text(json.dumps(questions), encoding="utf-8")
    memory = f"peak RSS serving {passages:,} passages"
    reference = embedders[REFERENCE_BACKEND]
    report.line(f"  questions embedded by {REFERENCE_BACKEND} ({reference.name}), as before:")
    run = Searches(report, index, settings, questions, rounds)
    numbers.update(reference_latency(run, reference, initial_threads))
    report.numbers["memory_serving"] = serving_memory(
        report, settings, REFERENCE_BACKEND, queries, rounds, memory
    )
    if DEFAULT_BACKEND != REFERENCE_BACKEND:
        report.line(f"  questions embedded by the default model, {DEFAULT_BACKEND}:")
        ours = default_latency(run, default)
        ours["memory_serving"] = serving_memory(
            report, settings, DEFAULT_BACKEND, queries, rounds, f"{DEFAULT_BACKEND}: {memory}"
        )
        numbers["default_model"] = ours
    index.close()


@dataclass
class Searches:
    """The synthetic index, open, and what every measure of its searches needs."""

    report: Reporter
    index: IndexVersion
    settings: Settings
    questions: list[str]
    rounds: int

    @property
    def passages(self) -> int:
        return self.index.catalog.counts()[1]

    def latency(self, embedder: Embedder, modes: tuple[str, ...] = MODES) -> dict:
        """Latency per mode with `embedder`'s questions (see `measure_latency`)."""
        index, settings = self.index, self.settings
        return measure_latency(
            lambda: Retriever(index, embedder, settings), self.questions, self.rounds, modes
        )


def latency_and_profile(run: Searches, embedder: Embedder) -> tuple[dict, dict]:
    """Latency per mode with `embedder`'s questions, and where a hybrid search spends its
    time, both printed."""
    latency = run.latency(embedder)
    print_latency(run.report, f"{run.passages:>7,} passages", latency)
    breakdown = hybrid_profile(Retriever(run.index, embedder, run.settings), run.questions)
    run.report.line(
        "  where a hybrid search spends its time (ms per search, cumulative, cProfile): "
        + ", ".join(f"{step} {ms:.1f}" for step, ms in breakdown.items())
    )
    return latency, breakdown


def reference_latency(run: Searches, embedder: Embedder, initial_threads: int) -> dict:
    """The reference model's latency per mode, where a hybrid search spends its time, and
    the same with questions embedded by torch and with exact vectors."""
    report, index, settings, questions = run.report, run.index, run.settings, run.questions
    latency, breakdown = latency_and_profile(run, embedder)
    torch_latency = run.latency(TorchQueries(embedder), modes=("hybrid",))
    layout, vectors = index.vectors.layout, index.vectors
    index.vectors = vectors.reorganised(0)  # the same vectors, exact
    exact_latency = run.latency(embedder, modes=MODES[:2])
    index.vectors = vectors
    ratio = torch_latency["hybrid"]["p50_ms"] / latency["hybrid"]["p50_ms"]
    encoder = query_backend(embedder)
    report.line(
        f"  hybrid p50 with questions embedded by torch instead ({encoder} above): "
        f"{torch_latency['hybrid']['p50_ms']:.1f} ms; torch / {encoder} = {ratio:.2f}"
    )
    exact_ratio = exact_latency["hybrid"]["p50_ms"] / latency["hybrid"]["p50_ms"]
    report.line(
        f"  vectors as built: {layout} (nprobe {settings.ivf_probes}); with the same vectors "
        f"exact (Flat) instead: hybrid p50 {exact_latency['hybrid']['p50_ms']:.1f} ms, dense "
        f"p50 {exact_latency['dense']['p50_ms']:.1f} ms; Flat / {layout} hybrid = "
        f"{exact_ratio:.2f}"
    )
    embedding = by_torch_threads(
        [initial_threads, settings.search_threads],
        lambda: query_embedding_p50(lambda q: embedder.encode_passages([q]), questions),
        "p50_ms",
    )
    embedding[f"{encoder}_p50_ms"] = query_embedding_p50(embedder.encode_query, questions)
    report.line(
        f"  query embedding alone, p50: {describe_threads(embedding, 'ms')} "
        f"(search_threads={settings.search_threads})"
    )
    report.target(
        f"hybrid search p50 at {run.passages:,} passages (synthetic)",
        latency["hybrid"]["p50_ms"],
        MAX_P50_MS_LARGE,
        False,
        " ms",
    )
    return {
        "latency": latency,
        "hybrid_profile_ms_per_search": breakdown,
        "query_embedding": embedding,
        "query_backend": encoder,
        "hybrid_torch_queries": torch_latency["hybrid"],
        "vectors_layout": layout,
        "ivf_probes": settings.ivf_probes,
        "exact_layout_latency": exact_latency,
        "flat_over_layout_hybrid_p50_ratio": round(exact_ratio, 3),
        "torch_over_default_p50_ratio": round(ratio, 3),
    }


class SequentialRetriever(Retriever):
    """Embeds the question before its lexical search, as every search did before the two
    overlapped (the vector is then known, so the search finds it cached)."""

    def candidates(self, query, mode, filters, limit):
        if mode != "lexical":
            self.query_vector(query.text)
        return super().candidates(query, mode, filters, limit)


def interleaved_hybrid(run: Searches, make_arms) -> tuple[dict, int]:
    """Hybrid p50/p95 of each arm of `make_arms()` (name -> retriever), question by question
    in turn, on new retrievers each round so that every question is embedded again; and the
    searches each arm made."""
    timings: dict[str, list[float]] = {}
    for _ in range(run.rounds):
        arms = make_arms()
        for question in run.questions:
            for name, retriever in arms.items():
                timings.setdefault(name, []).append(
                    milliseconds(partial(retriever.search, question, mode="hybrid"))
                )
    searches = len(run.questions) * run.rounds
    return {name: percentiles(values) for name, values in timings.items()}, searches


def overlap_gain(run: Searches, embedder: Embedder) -> dict:
    """Hybrid p50 with the question embedded first and then the lexical search (before) and
    with the two overlapped (now), interleaved."""
    numbers, searches = interleaved_hybrid(
        run,
        lambda: {
            "sequential": SequentialRetriever(run.index, embedder, run.settings),
            "overlapped": Retriever(run.index, embedder, run.settings),
        },
    )
    ratio = report_ratio(
        run,
        numbers,
        ("sequential", "overlapped"),
        "question embedded before the lexical search (as before) / overlapped with it",
        f" (interleaved, {searches} searches each)",
    )
    numbers["sequential_over_overlapped_p50_ratio"] = round(ratio, 3)
    return numbers


def report_ratio(run: Searches, numbers: dict, arms: tuple[str, str], label: str, end: str):
    """Print `label: hybrid p50 before / now = ratio end`; return the ratio."""
    before, now = (numbers[arm]["p50_ms"] for arm in arms)
    run.report.line(
        f"  {label}: hybrid p50 {before:.1f} ms / {now:.1f} ms = {before / now:.2f}{end}"
    )
    return before / now


def native_gain(run: Searches, embedder: Embedder) -> dict:
    """Hybrid p50 with the questions embedded by the backend's own runtime (before) and by
    the ONNX query encoder (now), interleaved; and each encoder's embedding alone."""
    native = embedder_for(
        Settings(embedder=embedder.backend, model=embedder.name, query_encoder="native")
    )
    encoders = {query_backend(native): native, query_backend(embedder): embedder}
    if len(encoders) < 2:
        return {}
    numbers, searches = interleaved_hybrid(
        run, lambda: {name: Retriever(run.index, e, run.settings) for name, e in encoders.items()}
    )
    before, now = encoders
    alone = {n: query_embedding_p50(e.encode_query, run.questions) for n, e in encoders.items()}
    ratio = report_ratio(
        run,
        numbers,
        (before, now),
        f"questions embedded by {before} (before) / by {now} (now)",
        f"; the embedding alone {alone[before]:.1f} / {alone[now]:.1f} ms = "
        f"{alone[before] / alone[now]:.2f} (interleaved, {searches} searches each)",
    )
    numbers |= {
        f"{before}_over_{now}_p50_ratio": round(ratio, 3),
        "query_embedding_p50_ms": alone,
        f"{before}_over_{now}_embedding_ratio": round(alone[before] / alone[now], 3),
    }
    return numbers


def default_latency(run: Searches, embedder: Embedder) -> dict:
    """The default model's latency per mode on the search threads a user gets, the hybrid
    p50 on two threads, and the question's embedding alone on each."""
    report, settings, questions = run.report, run.settings, run.questions
    latency, breakdown = latency_and_profile(run, embedder)
    own = settings.search_threads
    embedding = {own: query_embedding_p50(embedder.encode_query, questions)}
    numbers = {"latency": latency, "hybrid_profile_ms_per_search": breakdown}
    numbers["overlap"] = overlap_gain(run, embedder)
    numbers["native_queries"] = native_gain(run, embedder)
    if own != TWO_THREADS:
        # Another instance of the model, its questions embedded on two threads.
        two = settings.model_copy(update={"search_threads": TWO_THREADS})
        on_two = embedder_for(Settings(embedder=embedder.backend, search_threads=TWO_THREADS))
        with threads(TWO_THREADS, settings):
            hybrid = replace(run, settings=two).latency(on_two, modes=("hybrid",))["hybrid"]
            embedding[TWO_THREADS] = query_embedding_p50(on_two.encode_query, questions)
        numbers["hybrid_two_threads"] = hybrid
        report.line(
            f"  with search_threads={TWO_THREADS} (question embedding and FAISS): hybrid p50 "
            f"{hybrid['p50_ms']:.1f} ms, p95 {hybrid['p95_ms']:.1f} ms"
        )
    numbers["query_embedding_p50_ms_by_threads"] = embedding
    report.line(
        "  query embedding alone, p50: "
        + ", ".join(f"{count} thread(s) {ms:.1f} ms" for count, ms in embedding.items())
        + f" (search_threads={own})"
    )
    report.target(
        f"{embedder.backend}: hybrid search p50 at {run.passages:,} passages (synthetic, the "
        f"default model, question embedding included, search_threads={own})",
        latency["hybrid"]["p50_ms"],
        MAX_P50_MS_LARGE,
        False,
        " ms",
    )
    return numbers
