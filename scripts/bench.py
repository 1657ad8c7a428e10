"""Benchmark of the pipeline issue's targets: build throughput, incremental rebuilds, search
latency and memory.

    python scripts/bench.py            # the issue's sizes: 1,000 BBC documents, 100,000 passages
    python scripts/bench.py --quick    # smoke run: 100 documents, 10,000 synthetic passages
    python scripts/bench.py --json     # the numbers as one JSON object on stdout

The realistic archive is the BBC News set in ../shared/eval/bbc-dev.json, read by path and
written, one .txt per article, into a temporary corpus. The 100,000-passage index is
synthetic: real BBC sentences recombined into documents, chunked and stored by the real
build, but embedded by a cheap hashing embedder of the real model's dimension (embedding
100,000 passages for real takes about half an hour here). Its queries are embedded by the
real model, so latency includes the query embedding, FAISS and FTS5.

Timings on a shared 2-core machine move with other users' load: the load average is
printed at the start and end. The exit status is 0 whatever the numbers; FAIL is a finding.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from qa.answer import RETRIEVED, Answerer
from qa.chunking import chunk_document
from qa.config import Settings
from qa.embedders import Embedder, embedder_for
from qa.embedders.sentence_transformer import BUNDLED_MODEL
from qa.index import build_index, chunking_parameters, open_index
from qa.retrieval import Retriever
from qa.service import Assistant, use_threads
from qa.text import split_sentences
from qa.types import Document

BBC_PATH = Path(__file__).resolve().parents[2] / "shared" / "eval" / "bbc-dev.json"
SYNTHETIC_MODEL = "synthetic-hash-384"
MODES = ("hybrid", "dense", "lexical")
CHANGED_SENTENCE = "\n\nThe benchmark appended this sentence so that the document changed.\n"

# The targets.
MIN_BUILD_RATIO = 0.85
MAX_INCREMENTAL_RATIO = 0.05
MAX_P50_MS_LARGE = 25.0
MAX_PEAK_MB_LARGE = 1536.0
MAX_ASK_OVER_SEARCH_MS = 10.0  # the answers issue: what answering adds to a search


class TimedEmbedder:
    """Passes calls to an embedder, adding up their seconds and keeping the texts encoded."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens
        self.reset()

    def reset(self) -> None:
        self.encoded: list[str] = []
        self.encode_seconds = 0.0
        self.token_seconds = 0.0

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        started = time.perf_counter()
        spans = self.inner.token_spans(texts)
        self.token_seconds += time.perf_counter() - started
        return spans

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        started = time.perf_counter()
        vectors = self.inner.encode_passages(texts, batch_size=batch_size)
        self.encode_seconds += time.perf_counter() - started
        self.encoded.extend(texts)
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_query(text)


class RecordedEmbedder:
    """The real model with vectors it already computed looked up instead of recomputed."""

    def __init__(self, inner: Embedder, known: dict[str, np.ndarray]) -> None:
        self.inner, self.known = inner, known
        self.computed = 0
        self.backend = inner.backend
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.token_spans = inner.token_spans

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self.known]
        if missing:
            vectors = self.inner.encode_passages(missing, batch_size=batch_size)
            self.known.update(zip(missing, vectors, strict=True))
            self.computed += len(missing)
        return np.stack([self.known[text] for text in texts]).astype(np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_query(text)


class TorchQueries:
    """The same model with questions embedded by torch, as before the ONNX query encoder:
    the "before" of the query-encoder comparison."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.token_spans, self.encode_passages = inner.token_spans, inner.encode_passages

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_passages([text])[0]


class HashEmbedder:
    """A cheap deterministic stand-in for the model (same dimension, same wordpiece limit):
    hashed bag of words. Passages are sized with the real tokenizer, so they are as long as
    real ones."""

    backend = "sentence-transformers"
    name = SYNTHETIC_MODEL
    dimension = 384
    max_tokens = 256

    def __init__(self, tokenizer: Embedder) -> None:
        self.token_spans = tokenizer.token_spans

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            buckets = [zlib.crc32(word.encode()) % self.dimension for word in _words(text)]
            matrix[row] = np.bincount(buckets, minlength=self.dimension) if buckets else 0
            matrix[row, 0] += 0 if buckets else 1.0
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_passages([text])[0]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


class Reporter:
    """Collects the numbers and prints the human-readable lines as they come."""

    def __init__(self, as_json: bool) -> None:
        self.out = sys.stderr if as_json else sys.stdout
        self.numbers: dict = {}
        self.verdicts: list[str] = []

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def target(self, name: str, value: float, limit: float, at_least: bool, unit: str) -> None:
        passed = value >= limit if at_least else value <= limit
        sign = ">=" if at_least else "<="
        verdict = "PASS" if passed else "FAIL"
        self.numbers.setdefault("targets", {})[name] = {
            "value": round(value, 4),
            "target": f"{sign} {limit}{unit}",
            "pass": passed,
        }
        self.verdicts.append(
            f"  {verdict}  {name}: {value:.3f}{unit} (target {sign} {limit}{unit})"
        )
        self.line(self.verdicts[-1])


def load_bbc(path: Path) -> tuple[list[str], list[str]]:
    """The articles' texts (headline on the first line) and the set's questions."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles = [item["paragraphs"][0]["context"] for item in data]
    questions = [qa["question"] for item in data for p in item["paragraphs"] for qa in p["qas"]]
    return articles, questions


def write_corpus(articles: list[str], folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    paths = [folder / f"bbc-{number:04d}.txt" for number in range(len(articles))]
    for path, text in zip(paths, articles, strict=True):
        path.write_text(text, encoding="utf-8")
    return paths


def settings_for(root: Path, name: str, model: str = BUNDLED_MODEL) -> Settings:
    return Settings(
        corpus=root / name / "corpus",
        index=root / name / "index",
        embedder="sentence-transformers",
        model=model,
        # The build's encode against the raw encode of the same passages: passages only.
        sentence_vectors=False,
        progress=False,
    )


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Restart VmHWM from the current RSS, so that a phase's own peak can be read."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def percentiles(milliseconds: list[float]) -> dict:
    values = np.asarray(milliseconds)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "mean_ms": round(float(values.mean()), 2),
        "max_ms": round(float(values.max()), 2),
        "searches": len(values),
    }


def measure_latency(
    make_retriever, queries: list[str], rounds: int, modes: tuple[str, ...] = MODES
) -> dict:
    """Latency of Retriever.search per mode. Each round uses a new retriever, so every query
    is embedded again (the retriever caches query vectors); "hybrid_cached" repeats the
    queries on a retriever that has them cached."""
    warm = make_retriever()
    for query in queries:  # page cache, FAISS and SQLite warm, not counted
        warm.search(query, mode="hybrid")
    results: dict = {}
    for mode in modes:
        timings: list[float] = []
        for _ in range(rounds):
            retriever = make_retriever()
            for query in queries:
                started = time.perf_counter()
                retriever.search(query, mode=mode)
                timings.append((time.perf_counter() - started) * 1000)
        results[mode] = percentiles(timings)
    if modes != MODES:
        return results
    timings = []
    for query in queries * rounds:
        started = time.perf_counter()
        warm.search(query, mode="hybrid")
        timings.append((time.perf_counter() - started) * 1000)
    results["hybrid_cached"] = percentiles(timings)
    return results


def answer_cost(index, embedder: Embedder, settings: Settings, questions, rounds: int) -> dict:
    """p50 of `search` (k as the answer step retrieves) and of `ask` for the same questions,
    each round on new retrievers so every question is embedded again in both."""
    timings: dict[str, list[float]] = {"search": [], "ask": []}
    for _ in range(rounds):
        searcher = Retriever(index, embedder, settings)
        answerer = Answerer(Retriever(index, embedder, settings), settings)
        for question in questions:
            started = time.perf_counter()
            searcher.search(question, k=RETRIEVED)
            timings["search"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            answerer.ask(question)
            timings["ask"].append((time.perf_counter() - started) * 1000)
    search, ask = (float(np.percentile(timings[k], 50)) for k in ("search", "ask"))
    return {
        "search_p50_ms": round(search, 2),
        "ask_p50_ms": round(ask, 2),
        "ask_minus_search_p50_ms": round(ask - search, 2),
    }


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


def torch_threads(count: int | None = None) -> int:
    """torch's intra-op threads, after setting them to `count` if given."""
    import torch

    if count is not None:
        torch.set_num_threads(count)
    return torch.get_num_threads()


def encode_rate_by_threads(
    embedder: Embedder, texts: list[str], thread_counts: list[int], batch_size: int
) -> dict[str, float]:
    """Passages a second the model encodes `texts` at with each thread count."""
    current = torch_threads()
    rates = {}
    try:
        for threads in dict.fromkeys(thread_counts):
            torch_threads(threads)
            started = time.perf_counter()
            embedder.encode_passages(texts, batch_size=batch_size)
            rates[f"{threads}_threads_passages_per_second"] = round(
                len(texts) / (time.perf_counter() - started), 2
            )
    finally:
        torch_threads(current)
    return rates


def query_embedding_by_threads(
    embedder: Embedder, queries: list[str], thread_counts: list[int]
) -> dict[str, float]:
    """Median milliseconds to embed one query with torch at each thread count."""
    current = torch_threads()
    medians = {}
    try:
        for threads in dict.fromkeys(thread_counts):
            torch_threads(threads)
            medians[f"{threads}_threads_p50_ms"] = query_embedding_p50(
                lambda q: embedder.encode_passages([q]), queries
            )
    finally:
        torch_threads(current)
    return medians


def query_embedding_p50(encode, queries: list[str]) -> float:
    """Median milliseconds of encode(query) over the queries (after one untimed call)."""
    encode(queries[0])
    timings = []
    for query in queries:
        started = time.perf_counter()
        encode(query)
        timings.append((time.perf_counter() - started) * 1000)
    return round(float(np.median(timings)), 2)


def describe_threads(numbers: dict[str, float], unit: str) -> str:
    def label(key: str) -> str:
        first = key.split("_")[0]
        return f"{first} torch thread(s)" if first.isdigit() else f"{first}, search threads"

    return ", ".join(f"{label(key)} {value:.1f} {unit}" for key, value in numbers.items())


def query_backend(embedder: Embedder) -> str:
    """What embeds questions: 'onnx' or 'torch'."""
    return getattr(embedder, "query_backend", "torch")


def print_latency(report: Reporter, label: str, latency: dict) -> None:
    for mode, numbers in latency.items():
        report.line(
            f"  {label} {mode:<13} p50 {numbers['p50_ms']:7.1f} ms   "
            f"p95 {numbers['p95_ms']:7.1f} ms   ({numbers['searches']} searches)"
        )


def bench_build(
    report: Reporter, root: Path, articles: list[str], embedder: Embedder, initial_threads: int
) -> tuple[Settings, dict]:
    """Full build with the real model beside the raw model on the same texts, then rebuilds."""
    settings = settings_for(root, "bbc")
    paths = write_corpus(articles, settings.corpus)
    timed = TimedEmbedder(embedder)
    assistant = Assistant(settings, timed)
    embedder.encode_passages(articles[:64], batch_size=settings.batch_size)  # warm the model up

    report.line(f"\n[1] Full build of {len(articles)} BBC documents (load {load_average()})")
    started = time.perf_counter()
    full = assistant.build(full=True)
    build_seconds = time.perf_counter() - started
    texts, encode_seconds, token_seconds = (
        list(timed.encoded),
        timed.encode_seconds,
        timed.token_seconds,
    )
    build_rate = full.embedded_passages / build_seconds
    report.line(
        f"  build: {full.documents} documents, {full.passages} passages in "
        f"{build_seconds:.1f} s = {build_rate:.1f} passages/s"
    )
    report.line(
        f"    of which model encode {encode_seconds:.1f} s, tokenizer {token_seconds:.1f} s, "
        f"everything else {build_seconds - encode_seconds - token_seconds:.1f} s"
    )

    # Like for like: the raw model gets the threads the build had (Settings.index_threads).
    build_threads = settings.index_threads or os.cpu_count() or 1
    use_threads(build_threads)
    started = time.perf_counter()
    vectors = embedder.encode_passages(texts, batch_size=settings.batch_size)
    raw_seconds = time.perf_counter() - started
    use_threads(settings.search_threads)
    raw_rate = len(texts) / raw_seconds
    report.line(
        f"  raw model encode of the same {len(texts)} texts: {raw_seconds:.1f} s = "
        f"{raw_rate:.1f} passages/s (load {load_average()})"
    )
    # A second full build after the raw encode brackets it: on a shared host the same encode
    # has run 24% slower minutes apart, so the ratio uses the mean of the two builds.
    timed.reset()
    started = time.perf_counter()
    again = assistant.build(full=True)
    second_seconds = time.perf_counter() - started
    report.line(
        f"  second full build, after the raw encode: {second_seconds:.1f} s "
        f"(model encode {timed.encode_seconds:.1f} s), embedded {again.embedded_passages}"
    )
    build_rate = full.embedded_passages / ((build_seconds + second_seconds) / 2)
    ratio = build_rate / raw_rate
    report.line(f"  mean of the two builds: {build_rate:.1f} passages/s")
    report.target("build throughput / raw encode throughput", ratio, MIN_BUILD_RATIO, True, "")
    report.line(
        f"  torch threads: {initial_threads} when the model was loaded, {build_threads} during "
        f"the build and the raw encode, {settings.search_threads} when searching"
    )
    by_threads = {}
    if build_threads != initial_threads:
        sample = texts[:512]
        by_threads = encode_rate_by_threads(
            embedder, sample, [initial_threads, build_threads], settings.batch_size
        )
        report.line(
            f"  raw encode of {len(sample)} of those texts: "
            f"{describe_threads(by_threads, 'passages/s')}"
        )

    changed = paths[len(paths) // 2]
    with open(changed, "a", encoding="utf-8") as handle:
        handle.write(CHANGED_SENTENCE)
    report.line(f"\n[2] Incremental rebuild after appending a sentence to {changed.name}")
    timed.reset()
    started = time.perf_counter()
    incremental = assistant.build()
    incremental_seconds = time.perf_counter() - started
    index = open_index(settings)
    own = [passage.text for passage in index.catalog.document_passages(changed.name)]
    index.close()
    # An embedded text is the title, a line break and the passage text.
    only_own = all(any(text.endswith(passage) for passage in own) for text in timed.encoded)
    exact = incremental.embedded_passages == len(own) and only_own
    report.line(
        f"  rebuild: changed {incremental.changed} document, embedded "
        f"{incremental.embedded_passages} passages (the document has {len(own)}; "
        f"all its own: {only_own}) in {incremental_seconds:.2f} s"
    )
    report.target(
        "incremental embeds exactly the changed document's passages (1 = yes)",
        float(exact),
        1.0,
        True,
        "",
    )
    report.target(
        "incremental rebuild time / full build time",
        incremental_seconds / build_seconds,
        MAX_INCREMENTAL_RATIO,
        False,
        "",
    )
    timed.reset()
    started = time.perf_counter()
    unchanged = assistant.build()
    unchanged_seconds = time.perf_counter() - started
    report.line(
        f"  rebuild with nothing changed: embedded {unchanged.embedded_passages} passages "
        f"in {unchanged_seconds:.2f} s"
    )

    started = time.perf_counter()
    cli = subprocess.run(
        [
            sys.executable,
            "-c",
            "from qa.cli import main; main()",
            "index",
            "--json",
            "--corpus",
            str(settings.corpus),
            "--index",
            str(settings.index),
        ],
        capture_output=True,
        text=True,
        check=True,
        # The same model and settings as the build above.
        env={
            **os.environ,
            "QA_EMBEDDER": settings.embedder,
            "QA_MODEL": settings.model or "",
            "QA_SENTENCE_VECTORS": str(settings.sentence_vectors).lower(),
        },
    )
    cli_seconds = time.perf_counter() - started
    cli_embedded = json.loads(cli.stdout)["embedded_passages"]
    report.line(
        f"  cold-start cost of the CLI: `qa index` with nothing changed, in a new process "
        f"(imports + model load + rebuild): {cli_seconds:.1f} s, embedded {cli_embedded}"
    )
    report.numbers["build"] = {
        "documents": full.documents,
        "passages": full.passages,
        "build_seconds": round(build_seconds, 2),
        "second_build_seconds": round(second_seconds, 2),
        "build_passages_per_second": round(build_rate, 2),
        "build_model_encode_seconds": round(encode_seconds, 2),
        "build_tokenizer_seconds": round(token_seconds, 2),
        "raw_encode_seconds": round(raw_seconds, 2),
        "raw_passages_per_second": round(raw_rate, 2),
        "throughput_ratio": round(ratio, 4),
        "torch_threads_at_model_load": initial_threads,
        "torch_threads_in_build": build_threads,
        "raw_encode_sample_by_threads": by_threads,
    }
    report.numbers["incremental"] = {
        "changed_document": changed.name,
        "embedded_passages": incremental.embedded_passages,
        "changed_document_passages": len(own),
        "only_changed_document_embedded": exact,
        "rebuild_seconds": round(incremental_seconds, 3),
        "rebuild_to_full_ratio": round(incremental_seconds / build_seconds, 4),
        "unchanged_embedded_passages": unchanged.embedded_passages,
        "unchanged_rebuild_seconds": round(unchanged_seconds, 3),
        "cli_cold_unchanged_seconds": round(cli_seconds, 2),
        "cli_cold_embedded_passages": cli_embedded,
    }
    return settings, dict(zip(texts, vectors, strict=True))


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
    counts = dict(
        index.catalog.connection.execute(
            "SELECT document_id, count(*) FROM passages GROUP BY document_id"
        )
    )
    index.close()
    documents, passages = 0, 0
    while passages < 1000 and documents < len(articles):
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
        report.line(
            f"  {passages:>7,} passages: the same questions, search (k=10) p50 "
            f"{cost['search_p50_ms']:.1f} ms, ask p50 {cost['ask_p50_ms']:.1f} ms"
        )
        report.numbers["search_real"].append(
            {"documents": documents, "passages": passages, "latency": latency, "ask": cost}
        )
        report.target(
            f"ask p50 - search p50 at {passages:,} passages",
            cost["ask_minus_search_p50_ms"],
            MAX_ASK_OVER_SEARCH_MS,
            False,
            " ms",
        )


def synthetic_corpus(
    all_articles: list[str],
    target: int,
    tokenizer: Embedder,
    settings: Settings,
    path: Path,
    seed: int = 2005,
) -> int:
    """Write a JSON Lines corpus of documents recombined from real BBC sentences, with enough
    documents for about `target` passages; returns the number of documents."""
    headlines, pool, lengths = [], [], []
    for article in all_articles:
        headline, _, body = article.partition("\n")
        sentences = [s.text for s in split_sentences(body, "en")]
        headlines.append(headline.strip())
        pool.extend(sentences)
        lengths.append(len(sentences))
    random_state = random.Random(seed)

    def document() -> dict:
        sentences = [random_state.choice(pool) for _ in range(random_state.choice(lengths))]
        paragraphs, start = [], 0
        while start < len(sentences):
            size = random_state.randint(1, 3)
            paragraphs.append(" ".join(sentences[start : start + size]))
            start += size
        return {"title": random_state.choice(headlines), "text": "\n\n".join(paragraphs)}

    # Passages per document, from a sample chunked as the build will chunk it.
    hasher = HashEmbedder(tokenizer)
    params = chunking_parameters(settings, hasher)
    sample = [document() for _ in range(200)]
    per_document = np.mean(
        [
            len(
                chunk_document(
                    Document(str(n), "", d["title"], d["text"], "en"),
                    hasher,
                    params.max_tokens,
                    params.overlap_sentences,
                )
            )
            for n, d in enumerate(sample)
        ]
    )
    count = int(round(target / per_document))
    path.parent.mkdir(parents=True)
    random_state.seed(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(count):
            handle.write(json.dumps(document(), ensure_ascii=False) + "\n")
    return count


def bench_large_search(
    report: Reporter,
    root: Path,
    all_articles: list[str],
    embedder: Embedder,
    questions: list[str],
    target: int,
    rounds: int,
    initial_threads: int,
) -> None:
    settings = settings_for(root, "synthetic", model=SYNTHETIC_MODEL)
    report.line(f"\n[4] synthetic index of about {target:,} passages (load {load_average()})")
    documents = synthetic_corpus(
        all_articles, target, embedder, settings, settings.corpus / "synthetic.jsonl"
    )
    measured_peak = reset_peak_rss()
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    built = build_index(settings, HashEmbedder(embedder), full=True)
    build_seconds = time.perf_counter() - started
    build_peak = peak_rss_mb() if measured_peak else None
    report.line(
        f"  SYNTHETIC: {built.documents:,} documents recombined from real BBC sentences, "
        f"{built.passages:,} passages, built by the real build in {build_seconds:.0f} s "
        f"with a hashing embedder ({SYNTHETIC_MODEL}); queries use the real model"
    )
    if build_peak is not None:
        report.line(
            f"  peak RSS of this process during that build: {build_peak:.0f} MB "
            f"(it held {rss_before:.0f} MB before: model, earlier phases)"
        )
    # The index carries the hashing embedder's name; the real model (same dimension) embeds
    # the queries, so the retriever is given it directly.
    index = open_index(settings)
    latency = measure_latency(
        lambda i=index, s=settings: Retriever(i, embedder, s), questions, rounds
    )
    print_latency(report, f"{built.passages:>7,} passages", latency)
    breakdown = hybrid_profile(Retriever(index, embedder, settings), questions)
    report.line(
        "  where a hybrid search spends its time (ms per search, cumulative, cProfile): "
        + ", ".join(f"{step} {ms:.1f}" for step, ms in breakdown.items())
    )
    before = TorchQueries(embedder)
    torch_latency = measure_latency(
        lambda i=index, s=settings: Retriever(i, before, s), questions, rounds, modes=("hybrid",)
    )
    layout = index.vectors.layout
    index.vectors = index.vectors.reorganised(0)  # the same vectors, exact
    exact_latency = measure_latency(
        lambda i=index, s=settings: Retriever(i, embedder, s), questions, rounds, modes=MODES[:2]
    )
    index.close()
    ratio = torch_latency["hybrid"]["p50_ms"] / latency["hybrid"]["p50_ms"]
    report.line(
        f"  hybrid p50 with questions embedded by torch instead ({query_backend(embedder)} "
        f"above): {torch_latency['hybrid']['p50_ms']:.1f} ms; torch / {query_backend(embedder)}"
        f" = {ratio:.2f}"
    )
    exact_ratio = exact_latency["hybrid"]["p50_ms"] / latency["hybrid"]["p50_ms"]
    report.line(
        f"  vectors as built: {layout} (nprobe {settings.ivf_probes}); with the same vectors "
        f"exact (Flat) instead: hybrid p50 {exact_latency['hybrid']['p50_ms']:.1f} ms, dense "
        f"p50 {exact_latency['dense']['p50_ms']:.1f} ms; Flat / {layout} hybrid = "
        f"{exact_ratio:.2f}"
    )
    threads = query_embedding_by_threads(embedder, questions, [initial_threads, torch_threads()])
    threads[f"{query_backend(embedder)}_p50_ms"] = query_embedding_p50(
        embedder.encode_query, questions
    )
    report.line(
        f"  query embedding alone, p50: {describe_threads(threads, 'ms')} "
        f"(search_threads={settings.search_threads})"
    )
    report.numbers["search_synthetic"] = {
        "synthetic": True,
        "documents": documents,
        "passages": built.passages,
        "build_seconds": round(build_seconds, 1),
        "build_peak_rss_mb": round(build_peak, 1) if build_peak is not None else None,
        "rss_before_build_mb": round(rss_before, 1),
        "latency": latency,
        "hybrid_profile_ms_per_search": breakdown,
        "query_embedding": threads,
        "query_backend": query_backend(embedder),
        "hybrid_torch_queries": torch_latency["hybrid"],
        "vectors_layout": layout,
        "ivf_probes": settings.ivf_probes,
        "exact_layout_latency": exact_latency,
        "flat_over_layout_hybrid_p50_ratio": round(exact_ratio, 3),
        "torch_over_default_p50_ratio": round(ratio, 3),
    }
    report.target(
        f"hybrid search p50 at {built.passages:,} passages (synthetic)",
        latency["hybrid"]["p50_ms"],
        MAX_P50_MS_LARGE,
        False,
        " ms",
    )

    queries = root / "queries.json"
    queries.write_text(json.dumps(questions), encoding="utf-8")
    worker = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--memory-worker",
            str(settings.index),
            "--queries-file",
            str(queries),
            "--rounds",
            str(rounds),
        ],
        capture_output=True,
        text=True,
    )
    if worker.returncode != 0:
        raise RuntimeError(f"the memory worker failed:\n{worker.stderr}")
    memory = json.loads(worker.stdout.strip().splitlines()[-1])
    report.line(
        f"  serving process (model + this index + {memory['searches']} searches, "
        f"nothing else): peak RSS {memory['peak_rss_mb']:.0f} MB "
        f"(after model load {memory['after_model_mb']:.0f} MB, after opening the index "
        f"{memory['after_index_mb']:.0f} MB; getrusage ru_maxrss {memory['ru_maxrss_mb']:.0f} MB, "
        "not used: Linux carries the parent's peak into it at exec)"
    )
    report.numbers["memory_serving"] = memory
    report.target(
        f"peak RSS serving {built.passages:,} passages",
        memory["peak_rss_mb"],
        MAX_PEAK_MB_LARGE,
        False,
        " MB",
    )


def memory_worker(index_dir: Path, queries_file: Path, rounds: int) -> None:
    """Runs in its own process: load the model, open the index, search; print peak memory."""
    settings = Settings(
        index=index_dir,
        embedder="sentence-transformers",
        model=SYNTHETIC_MODEL,
        sentence_vectors=False,
        progress=False,
    )
    embedder = embedder_for(settings.model_copy(update={"model": BUNDLED_MODEL}))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--documents", type=int, default=None, help="BBC documents to build (default 1,000)."
    )
    parser.add_argument(
        "--synthetic-passages",
        type=int,
        default=None,
        help="Passages of the synthetic index for latency and memory (default 100,000).",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="Times each query is searched per mode (default 3).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Smoke run: 100 documents, 10,000 synthetic passages, 2 rounds.",
    )
    parser.add_argument("--bbc", type=Path, default=BBC_PATH, help="Path of bbc-dev.json.")
    parser.add_argument("--json", action="store_true", help="Print all numbers as JSON on stdout.")
    parser.add_argument("--memory-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    # A plain `kill` still removes the temporary folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.memory_worker:
        memory_worker(args.memory_worker, args.queries_file, args.rounds)
        return
    # --quick changes the defaults; numbers given explicitly win.
    defaults = (100, 10_000, 2) if args.quick else (1000, 100_000, 3)
    args.documents = args.documents or defaults[0]
    args.synthetic_passages = args.synthetic_passages or defaults[1]
    args.rounds = args.rounds or defaults[2]

    report = Reporter(args.json)
    start_load = os.getloadavg()
    report.line(
        f"archive-qa benchmark: {args.documents} BBC documents, "
        f"{args.synthetic_passages:,} synthetic passages, {args.rounds} rounds of queries"
    )
    report.line(
        f"load average at start: {' '.join(f'{x:.2f}' for x in start_load)} "
        f"({os.cpu_count()} CPUs; other users' load distorts the timings)"
    )
    articles, questions = load_bbc(args.bbc)
    started = time.perf_counter()
    embedder = embedder_for(Settings(embedder="sentence-transformers", model=BUNDLED_MODEL))
    embedder.encode_query("a first question, which makes or loads the query encoder")
    model_seconds = time.perf_counter() - started
    initial_threads = torch_threads()
    report.line(
        f"model load in this process (first import of torch and sentence-transformers "
        f"included; excluded from every number below): {model_seconds:.1f} s"
    )
    report.numbers.update(
        {
            "documents_requested": args.documents,
            "load_average_start": [round(x, 2) for x in start_load],
            "model_load_seconds": round(model_seconds, 2),
            "queries": len(questions),
            "rounds": args.rounds,
        }
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as temporary:
        root = Path(temporary)
        full, known = bench_build(
            report, root, articles[: args.documents], embedder, initial_threads
        )
        bench_small_search(
            report, root, articles[: args.documents], embedder, known, full, questions, args.rounds
        )
        bench_large_search(
            report,
            root,
            articles,
            embedder,
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
        f"\nSummary ({report.numbers['seconds']:.0f} s; load average at end: "
        f"{' '.join(f'{x:.2f}' for x in end_load)})"
    )
    for verdict in report.verdicts:
        report.line(verdict)
    if args.json:
        print(json.dumps(report.numbers, indent=1))


if __name__ == "__main__":
    main()
