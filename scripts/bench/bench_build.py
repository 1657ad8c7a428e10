"""Build throughput, measured by `scripts/bench/bench.py`: the real build
(`Assistant.build`) against the raw model's encode of the texts that build embedded, on the
same threads, and the incremental rebuild of one changed document. Run `bench.py`, not this."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from bench_common import (
    MAX_INCREMENTAL_RATIO,
    MIN_BUILD_RATIO,
    Reporter,
    build_threads,
    by_torch_threads,
    describe_threads,
    load_average,
    seconds,
    settings_for,
    threads,
    timed,
    write_corpus,
)
from bench_embedders import TimedEmbedder
from common import qa_command

from qa.core.config import Settings
from qa.core.types import BuildReport
from qa.embedders import Embedder, embedder_for
from qa.index.versions import open_index
from qa.service.assistant import Assistant

CHANGED_SENTENCE = "\n\nThe benchmark appended this sentence so that the document changed.\n"


@dataclass
class TimedBuild:
    """One full build: its report, its seconds and what its model calls did."""

    built: BuildReport
    seconds: float
    encode_seconds: float
    token_seconds: float
    encoded: list[str]


def full_build(assistant: Assistant, model: TimedEmbedder) -> TimedBuild:
    """A full build through the assistant (as `qa index --full`), its model calls timed."""
    model.reset()
    built, took = timed(partial(assistant.build, full=True))
    return TimedBuild(built, took, model.encode_seconds, model.token_seconds, list(model.encoded))


def native_passages_build(
    report: Reporter, root: Path, embedder: Embedder, settings: Settings, onnx_seconds: float
) -> dict:
    """The same default build with passages embedded by the backend's own runtime (before)
    where `embedder` embeds them through ONNX (now), right after the ONNX build."""
    if getattr(embedder, "passage_backend", "native") != "onnx":
        return {}
    native = embedder_for(
        Settings(embedder=embedder.backend, model=embedder.name, passage_encoder="native")
    )
    update = {"index": root / f"{embedder.backend}-native" / "index"}
    model = TimedEmbedder(native)
    built = full_build(Assistant(settings.model_copy(update=update), model), model)
    ratio = built.seconds / onnx_seconds
    report.line(
        f"    the default build with passages embedded by {native.passage_backend} (before) / "
        f"through ONNX (now): {built.seconds:.1f} s / {onnx_seconds:.1f} s = {ratio:.2f}"
    )
    return {
        "native_seconds": round(built.seconds, 2),
        "onnx_seconds": round(onnx_seconds, 2),
        "native_over_onnx_build_time_ratio": round(ratio, 3),
    }


def raw_encode(embedder: Embedder, texts: list[str], settings: Settings) -> tuple[float, list]:
    """Seconds of the model's own encode of `texts` on the build's threads, and the vectors."""
    with threads(build_threads(settings), settings):
        vectors, took = timed(
            partial(embedder.encode_passages, texts, batch_size=settings.batch_size)
        )
    return took, vectors


@dataclass
class ReferenceBuild:
    """What the incremental-rebuild and search sections reuse of the reference build."""

    settings: Settings
    assistant: Assistant
    model: TimedEmbedder
    paths: list[Path]
    build_seconds: float
    known: dict


def bench_build(
    report: Reporter, root: Path, articles: list[str], embedder: Embedder, initial_threads: int
) -> ReferenceBuild:
    """Full build with the real model beside the raw model on the same texts, twice."""
    settings = settings_for(root, "bbc")
    paths = write_corpus(articles, settings.corpus)
    model = TimedEmbedder(embedder)
    assistant = Assistant(settings, model)
    embedder.encode_passages(articles[:64], batch_size=settings.batch_size)  # warm the model up

    report.line(f"\n[1] Full build of {len(articles)} BBC documents (load {load_average()})")
    first = full_build(assistant, model)
    full, texts = first.built, first.encoded
    report.line(
        f"  build: {full.documents} documents, {full.passages} passages in "
        f"{first.seconds:.1f} s = {full.embedded_passages / first.seconds:.1f} passages/s"
    )
    report.line(
        f"    of which model encode {first.encode_seconds:.1f} s, tokenizer "
        f"{first.token_seconds:.1f} s, everything else "
        f"{first.seconds - first.encode_seconds - first.token_seconds:.1f} s"
    )
    # Like for like: the raw model gets the threads the build had (Settings.index_threads).
    raw_seconds, vectors = raw_encode(embedder, texts, settings)
    raw_rate = len(texts) / raw_seconds
    report.line(
        f"  raw model encode of the same {len(texts)} texts: {raw_seconds:.1f} s = "
        f"{raw_rate:.1f} passages/s (load {load_average()})"
    )
    # A second full build after the raw encode brackets it: on a shared host the same encode
    # has run 24% slower minutes apart, so the ratio uses the mean of the two builds.
    second = full_build(assistant, model)
    report.line(
        f"  second full build, after the raw encode: {second.seconds:.1f} s "
        f"(model encode {second.encode_seconds:.1f} s), embedded {second.built.embedded_passages}"
    )
    build_rate = full.embedded_passages / ((first.seconds + second.seconds) / 2)
    ratio = build_rate / raw_rate
    report.line(f"  mean of the two builds: {build_rate:.1f} passages/s")
    report.target("build throughput / raw encode throughput", ratio, MIN_BUILD_RATIO, True, "")
    threads_in_build = build_threads(settings)
    report.line(
        f"  torch threads: {initial_threads} when the model was loaded, {threads_in_build} during "
        f"the build and the raw encode, {settings.search_threads} when searching"
    )
    by_threads = {}
    if threads_in_build != initial_threads:
        sample = texts[:512]
        encode = partial(embedder.encode_passages, sample, batch_size=settings.batch_size)
        by_threads = by_torch_threads(
            [initial_threads, threads_in_build],
            lambda: round(len(sample) / seconds(encode), 2),
            "passages_per_second",
        )
        report.line(
            f"  raw encode of {len(sample)} of those texts: "
            f"{describe_threads(by_threads, 'passages/s')}"
        )
    report.numbers["build"] = {
        "documents": full.documents,
        "passages": full.passages,
        "build_seconds": round(first.seconds, 2),
        "second_build_seconds": round(second.seconds, 2),
        "build_passages_per_second": round(build_rate, 2),
        "build_model_encode_seconds": round(first.encode_seconds, 2),
        "build_tokenizer_seconds": round(first.token_seconds, 2),
        "raw_encode_seconds": round(raw_seconds, 2),
        "raw_passages_per_second": round(raw_rate, 2),
        "throughput_ratio": round(ratio, 4),
        "torch_threads_at_model_load": initial_threads,
        "torch_threads_in_build": threads_in_build,
        "raw_encode_sample_by_threads": by_threads,
    }
    known = dict(zip(texts, vectors, strict=True))
    return ReferenceBuild(settings, assistant, model, paths, first.seconds, known)


def bench_incremental(report: Reporter, reference: ReferenceBuild) -> None:
    """An incremental rebuild after one document changed, one with nothing changed, and the
    same through a new `qa index` process."""
    settings, assistant, model = reference.settings, reference.assistant, reference.model
    changed = reference.paths[len(reference.paths) // 2]
    with open(changed, "a", encoding="utf-8") as handle:
        handle.write(CHANGED_SENTENCE)
    report.line(f"\n[2] Incremental rebuild after appending a sentence to {changed.name}")
    model.reset()
    incremental, incremental_seconds = timed(assistant.build)
    embedded = incremental.embedded_passages
    index = open_index(settings)
    own = [passage.text for passage in index.catalog.document_passages(changed.name)]
    index.close()
    # An embedded text is the title, a line break and the passage text.
    only_own = all(any(text.endswith(passage) for passage in own) for text in model.encoded)
    exact = embedded == len(own) and only_own
    report.line(
        f"  rebuild: changed {incremental.changed} document, embedded {embedded} passages "
        f"(the document has {len(own)}; all its own: {only_own}) in {incremental_seconds:.2f} s"
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
        incremental_seconds / reference.build_seconds,
        MAX_INCREMENTAL_RATIO,
        False,
        "",
    )
    unchanged, unchanged_seconds = timed(assistant.build)
    report.line(
        f"  rebuild with nothing changed: embedded {unchanged.embedded_passages} passages "
        f"in {unchanged_seconds:.2f} s"
    )
    cli_seconds, cli_embedded = cold_cli_index(settings)
    report.line(
        f"  cold-start cost of the CLI: `qa index` with nothing changed, in a new process "
        f"(imports + model load + rebuild): {cli_seconds:.1f} s, embedded {cli_embedded}"
    )
    report.numbers["incremental"] = {
        "changed_document": changed.name,
        "embedded_passages": embedded,
        "changed_document_passages": len(own),
        "only_changed_document_embedded": exact,
        "rebuild_seconds": round(incremental_seconds, 3),
        "rebuild_to_full_ratio": round(incremental_seconds / reference.build_seconds, 4),
        "unchanged_embedded_passages": unchanged.embedded_passages,
        "unchanged_rebuild_seconds": round(unchanged_seconds, 3),
        "cli_cold_unchanged_seconds": round(cli_seconds, 2),
        "cli_cold_embedded_passages": cli_embedded,
    }


def cold_cli_index(settings: Settings) -> tuple[float, int]:
    """Seconds of `qa index --json` in a new process with the same model and settings, and
    the passages it embedded."""
    command = qa_command(
        "index", "--json", "--corpus", str(settings.corpus), "--index", str(settings.index)
    )
    environment = {
        **os.environ,
        "QA_EMBEDDER": settings.embedder,
        "QA_MODEL": settings.model or "",
        "QA_SENTENCE_VECTORS": str(settings.sentence_vectors).lower(),
    }
    run = partial(subprocess.run, command, capture_output=True, text=True, check=True)
    finished, took = timed(partial(run, env=environment))
    return took, json.loads(finished.stdout)["embedded_passages"]


@dataclass
class BackendBuild:
    """The index a backend's default-settings build left, for the searches after it."""

    settings: Settings
    passages: int


def bench_backend_build(
    report: Reporter, root: Path, articles: list[str], embedder: Embedder
) -> BackendBuild:
    """One backend's build throughput against its raw encode, without sentence vectors and
    with them (the default: each sentence alone and with the one before it), in six
    interleaved passes on the same documents: build without, raw encode of its passages,
    build with, raw encode of its sentences and pairs, build with sentences alone (no pairs),
    build without."""
    backend = embedder.backend
    with_sentences = settings_for(root, f"{backend}-sentences", backend, embedder.name, True)
    passages_only = settings_for(root, f"{backend}-passages", backend, embedder.name, False)
    write_corpus(articles, with_sentences.corpus)
    passages_only = passages_only.model_copy(update={"corpus": with_sentences.corpus})
    model = TimedEmbedder(embedder)
    embedder.encode_passages(articles[:16], batch_size=with_sentences.batch_size)  # warm-up
    report.line(f"  {backend} ({embedder.name}), {len(articles)} BBC documents:")

    first = full_build(Assistant(passages_only, model), model)
    passage_seconds, _ = raw_encode(embedder, first.encoded, passages_only)
    both = full_build(Assistant(with_sentences, model), model)
    native = native_passages_build(report, root, embedder, with_sentences, both.seconds)
    # What the build with sentence vectors encoded beyond the passages: the sentences.
    left = Counter(first.encoded)
    sentences = [text for text in both.encoded if not _take(left, text)]
    sentence_seconds, _ = raw_encode(embedder, sentences, with_sentences)
    alone = with_sentences.model_copy(
        update={"sentence_context_vectors": False, "index": root / f"{backend}-alone" / "index"}
    )
    no_pairs = full_build(Assistant(alone, model), model)
    second = full_build(Assistant(passages_only, model), model)

    passages = first.built.embedded_passages
    without = (first.seconds + second.seconds) / 2
    report.line(
        f"    build without sentence vectors: {first.seconds:.1f} s and {second.seconds:.1f} s "
        f"(model encode {first.encode_seconds:.1f} s, tokenizer {first.token_seconds:.1f} s), "
        f"{passages} passages; raw encode of those passages: {passage_seconds:.1f} s"
    )
    report.line(
        f"    build with sentence vectors (the default): {both.seconds:.1f} s (model encode "
        f"{both.encode_seconds:.1f} s), {passages} passages and {len(sentences)} sentences "
        f"and pairs; raw encode of those: {sentence_seconds:.1f} s (load {load_average()})"
    )
    report.line(
        f"    build with sentences alone (sentence_context_vectors off): {no_pairs.seconds:.1f} s"
    )
    ratio = passage_seconds / without
    ratio_with = (passage_seconds + sentence_seconds) / both.seconds
    report.target(
        f"{backend}: build throughput / raw encode throughput, passages only",
        ratio,
        MIN_BUILD_RATIO,
        True,
        "",
    )
    report.target(
        f"{backend}: build throughput / raw encode throughput, with sentence vectors "
        "(the default; raw encode of its passages and sentences)",
        ratio_with,
        MIN_BUILD_RATIO,
        True,
        "",
    )
    report.line(
        f"    what sentence vectors cost: build time with / without = "
        f"{both.seconds / without:.2f}, of which the pairs: with / without them = "
        f"{both.seconds / no_pairs.seconds:.2f}; passages/s of the default build / raw encode of "
        f"its passages alone = {passage_seconds / both.seconds:.2f}"
    )
    report.numbers.setdefault("backends", {})[backend] = {
        "model": embedder.name,
        "documents": first.built.documents,
        "passages": passages,
        "sentences": len(sentences),
        "build_seconds_without_sentence_vectors": [
            round(first.seconds, 2),
            round(second.seconds, 2),
        ],
        "build_model_encode_seconds_without": round(first.encode_seconds, 2),
        "build_tokenizer_seconds_without": round(first.token_seconds, 2),
        "raw_passage_encode_seconds": round(passage_seconds, 2),
        "build_seconds_with_sentence_vectors": round(both.seconds, 2),
        "build_model_encode_seconds_with": round(both.encode_seconds, 2),
        "raw_sentence_encode_seconds": round(sentence_seconds, 2),
        "throughput_ratio_passages_only": round(ratio, 4),
        "throughput_ratio_with_sentence_vectors": round(ratio_with, 4),
        "sentence_vectors_build_time_ratio": round(both.seconds / without, 4),
        "build_seconds_without_pairs": round(no_pairs.seconds, 2),
        "pairs_build_time_ratio": round(both.seconds / no_pairs.seconds, 4),
        "default_build_over_raw_passage_encode": round(passage_seconds / both.seconds, 4),
        "threads": build_threads(with_sentences),
        "native_passages": native,
    }
    return BackendBuild(with_sentences, passages)


def _take(counts: Counter, text: str) -> bool:
    """Takes one `text` from `counts`; False when none is left."""
    if counts[text] <= 0:
        return False
    counts[text] -= 1
    return True
