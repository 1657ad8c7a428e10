"""The index at scale (issue 21): a synthetic archive of N passages built, grown by one
document, opened and searched, and the dense side simulated at 10M passages.

    python scripts/bench/bench_scale.py --passages 100000 --json
    python scripts/bench/bench_scale.py --passages 10000 --dense-passages 1000000  # smoke run

The archive is real BBC sentences (../shared/eval/bbc-dev.json, read by path) recombined
into JSON Lines documents, each with a date in 2015-2024 and one of ten sources. The real
build (`qa.index.build.build_index`) chunks them with the default model's tokenizer and a
user's settings and stores everything a default build stores (sentence vectors and pairs
included), embedded by a deterministic hashing stand-in of the model's dimension, so the
bytes and the build's own costs are real and a large archive builds in minutes. The
questions are the BBC set's, embedded by the real default model. The last line of stdout
is one JSON object (with --json the human-readable lines go to stderr).

Also used by `bench.py` section [4] (`bench_large.py`) for its synthetic index.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

import numpy as np
from bench_common import (
    DEFAULT_BACKEND,
    Reporter,
    load_average,
    load_averages,
    load_bbc,
    peak_rss_mb,
    reset_peak_rss,
    settings_for,
    timed,
)
from bench_dense import dense_simulation
from bench_embedders import HashEmbedder
from bench_memory import serving_memory
from bench_search import measure_latency
from common import shared_eval

from qa.core.config import Settings
from qa.core.types import Document
from qa.embedders import Embedder, embedder_for
from qa.index.build import build_index, chunking_parameters, current_version
from qa.index.chunking import chunk_document
from qa.index.versions import open_index
from qa.ingest.files import SETTLED_NS
from qa.search.retriever import Retriever
from qa.service.assistant import use_threads
from qa.store.filters import SearchFilters
from qa.text.sentences import split_sentences

#: The synthetic documents' years and sources: a filter on one keeps about a tenth.
YEARS = range(2015, 2025)
SOURCES = tuple(f"agency-{n}" for n in range(10))
#: The filter of `filtered_p50_ms`: one year of ten.
ONE_YEAR = SearchFilters(date_from="2020-01-01", date_to="2020-12-31")
#: A broad filter (five years of ten) and a narrow one (one source of ten in one year).
HALF = SearchFilters(date_from="2020-01-01")
ONE_SOURCE_ONE_YEAR = SearchFilters(source=SOURCES[3], date_from="2020", date_to="2020-12-31")
#: Passages of the dense simulation (0 skips it).
DENSE_PASSAGES = 10_000_000


def synthetic_corpus(
    all_articles: list[str],
    target: int,
    hasher: HashEmbedder,
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
        day = f"{random_state.choice(YEARS)}-{random_state.randint(1, 12):02d}-"
        return {
            "title": random_state.choice(headlines),
            "text": "\n\n".join(paragraphs),
            "date": day + f"{random_state.randint(1, 28):02d}",
            "source": random_state.choice(SOURCES),
        }

    # Passages per document, from a sample chunked as the build will chunk it.
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
    count = max(1, int(round(target / per_document)))
    path.parent.mkdir(parents=True)
    random_state.seed(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(count):
            handle.write(json.dumps(document(), ensure_ascii=False) + "\n")
    return count


@dataclass
class SyntheticBuild:
    """A synthetic index built by the real build, and what the build cost."""

    settings: Settings
    hasher: HashEmbedder
    documents: int
    passages: int
    sentence_vectors: bool
    build_seconds: float
    build_peak_rss_mb: float | None
    rss_before_build_mb: float


def synthetic_settings(root: Path, hasher: HashEmbedder) -> Settings:
    """A user's settings for the synthetic archive in `root`, but for the stand-in model."""
    sentence_vectors = Settings.model_fields["sentence_vectors"].default
    return settings_for(root, "synthetic", DEFAULT_BACKEND, hasher.name, sentence_vectors)


def build_synthetic(
    report: Reporter, root: Path, articles: list[str], default: Embedder, target: int
) -> SyntheticBuild:
    """A full build of a synthetic archive of about `target` passages with a user's settings
    (but for the stand-in model the manifest records); prints what it cost."""
    hasher = HashEmbedder(default)
    settings = synthetic_settings(root, hasher)
    documents = synthetic_corpus(
        articles, target, hasher, settings, settings.corpus / "synthetic.jsonl"
    )
    # An archive is written before it is indexed, not within the file system's timestamp
    # granularity of it: a build trusts (and records) a file's signature only then.
    settled = (settings.corpus / "synthetic.jsonl").stat().st_mtime_ns + SETTLED_NS
    time.sleep(max(0.0, (settled - time.time_ns()) / 1e9))
    measured_peak = reset_peak_rss()
    rss_before = peak_rss_mb()
    built, build_seconds = timed(partial(build_index, settings, hasher, full=True))
    build_peak = peak_rss_mb() if measured_peak else None
    report.line(
        f"  SYNTHETIC: {built.documents:,} documents recombined from real BBC sentences, "
        f"{built.passages:,} passages, built by the real build in {build_seconds:.0f} s "
        f"with a hashing embedder ({hasher.name}); queries use the real model"
    )
    report.line(
        f"  chunked by {DEFAULT_BACKEND}'s tokenizer ({default.name}), sentence vectors "
        f"{'on' if settings.sentence_vectors else 'off'}: the default model and settings"
    )
    if build_peak is not None:
        report.line(
            f"  peak RSS of this process during that build: {build_peak:.0f} MB "
            f"(it held {rss_before:.0f} MB before: model, earlier phases)"
        )
    return SyntheticBuild(
        settings,
        hasher,
        documents,
        built.passages,
        settings.sentence_vectors,
        build_seconds,
        build_peak,
        rss_before,
    )


def served_files(index_dir: Path) -> dict[str, int]:
    """The bytes of each file the version in service reads: the shared catalog (and its
    write-ahead log, while it has one) and the version folder's vector parts."""
    files = {
        path.name: path.stat().st_size
        for path in sorted(index_dir.glob("catalog.sqlite*"))
        if not path.name.endswith("-shm")
    }
    version = current_version(index_dir)
    files.update({path.name: path.stat().st_size for path in sorted(version.iterdir())})
    return files


def own_bytes(folder: Path) -> int:
    """The bytes of a version folder's files that no other version shares (hard links)."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.stat().st_nlink == 1)


def written_bytes() -> int:
    """Bytes this process has sent to storage so far (/proc/self/io write_bytes)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def incremental(report: Reporter, build: SyntheticBuild, article: str) -> dict:
    """One document (a real BBC article) added to the archive and built incrementally."""
    settings = build.settings
    (settings.corpus / "added.txt").write_text(article, encoding="utf-8")
    before = written_bytes()
    served_before = sum(served_files(settings.index).values())
    built, seconds = timed(partial(build_index, settings, build.hasher))
    written = written_bytes() - before
    version = own_bytes(current_version(settings.index))
    growth = sum(served_files(settings.index).values()) - served_before
    report.line(
        f"  one document added ({built.added} added, {built.embedded_passages} passages "
        f"embedded): {seconds:.2f} s, {written / 1e6:,.1f} MB written; the new version "
        f"folder's own files (not shared by hard links) {version / 1e6:,.3f} MB, the index "
        f"in service grew by {growth / 1e6:,.3f} MB"
    )
    return {
        "incremental_seconds": round(seconds, 2),
        "incremental_bytes_written": written,
        "incremental_version_bytes": version,
        "incremental_growth_bytes": growth,
    }


def search_latency(
    report: Reporter, settings: Settings, default: Embedder, questions: list[str], rounds: int
) -> dict:
    """Hybrid p50 with the real default model embedding the questions: with no filter, with a
    filter that keeps one year of ten, one that keeps half the archive and one that keeps a
    hundredth."""
    # The index carries the stand-in's name; the real model, of the same dimension, is
    # given to the retriever directly. FAISS on the threads the product searches with.
    use_threads(settings.search_threads)
    index = open_index(settings)
    try:
        passages = index.catalog.counts()[1]
        numbers: dict = {"searched_passages": passages, "vectors_layout": index.vectors.layout}
        make = partial(Retriever, index, default, settings)
        measured = {"hybrid": None, "filtered": ONE_YEAR, "broad": HALF}
        measured["narrow"] = ONE_SOURCE_ONE_YEAR
        for name, filters in measured.items():
            latency = measure_latency(make, questions, rounds, ("hybrid",), filters)["hybrid"]
            numbers[f"{name}_p50_ms"], numbers[name] = latency["p50_ms"], latency
            if filters is not None:
                kept = len(index.catalog.filtered_passage_ids(filters)) / passages
                numbers[f"{name}_share"] = round(kept, 4)
            report.line(
                f"  {name}{'' if filters is None else f' ({kept:.1%} of the passages)'}: p50 "
                f"{latency['p50_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms "
                f"({latency['searches']} searches)"
            )
    finally:
        index.close()
    report.line(
        f"  ({numbers['vectors_layout']}; questions embedded by {default.backend}, {default.name})"
    )
    return numbers


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=100_000, help="Synthetic passages.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of the 50 questions.")
    parser.add_argument(
        "--dense-passages",
        type=int,
        default=DENSE_PASSAGES,
        help=f"Vectors of the dense simulation (default {DENSE_PASSAGES:,}; 0 skips it).",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="Build in this folder and keep it; if it holds an archive built so already, only "
        "measure its searches (to compare two versions of the code on one index).",
    )
    parser.add_argument(
        "--bbc", type=Path, default=shared_eval("bbc-dev.json"), help="bbc-dev.json."
    )
    parser.add_argument("--json", action="store_true", help="Human lines to stderr.")
    return parser.parse_args()


def build_and_grow(report: Reporter, root: Path, args, articles, questions, default) -> dict:
    """Everything measured of a new synthetic archive in `root`: the build, one document
    added, a serving process's memory."""
    build = build_synthetic(report, root, articles, default, args.passages)
    files = served_files(build.settings.index)
    disk = sum(files.values())
    report.line(f"  on disk: {disk / build.passages:,.0f} bytes per passage")
    numbers = {
        "passages": build.passages,
        "documents": build.documents,
        "build_seconds": round(build.build_seconds, 1),
        "build_peak_rss_mb": build.build_peak_rss_mb and round(build.build_peak_rss_mb, 1),
        "rss_before_build_mb": round(build.rss_before_build_mb, 1),
        "disk_bytes_per_passage": round(disk / build.passages),
        "disk_bytes_by_file": files,
    }
    numbers.update(incremental(report, build, articles[0]))
    queries = root / "queries.json"
    queries.write_text(json.dumps(questions), encoding="utf-8")
    serving = serving_memory(
        report,
        build.settings,
        DEFAULT_BACKEND,
        queries,
        1,
        None,  # bench.py's 100,000-passage target would mislead at other sizes
    )
    numbers["serve_rss_mb"] = serving["peak_rss_mb"]
    numbers["serving"] = serving
    return numbers


def main() -> None:
    args = arguments()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the temporary folder goes too
    report = Reporter(args.json)
    report.line(f"archive-qa at scale: about {args.passages:,} synthetic passages")
    report.line(f"load average at start: {load_averages()} (2 cores, shared)")
    articles, questions = load_bbc(args.bbc)
    default = embedder_for(Settings(progress=False))
    numbers: dict = {}
    with tempfile.TemporaryDirectory(prefix="qa-scale-") as temporary:
        root = args.keep or Path(temporary)
        settings = synthetic_settings(root, HashEmbedder(default))
        if args.keep and current_version(settings.index):
            report.line(f"  the archive kept in {root}: its searches only")
        else:
            numbers.update(build_and_grow(report, root, args, articles, questions, default))
        numbers.update(search_latency(report, settings, default, questions, args.rounds))
    probes = Settings().ivf_probes
    if args.dense_passages:
        numbers["dense_simulation"] = dense_simulation(report, args.dense_passages, probes)
    numbers["load_average_end"] = load_average()
    report.line(f"load average at end: {load_averages()}")
    print(json.dumps(numbers))


if __name__ == "__main__":
    main()
