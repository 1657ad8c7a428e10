"""Build time and index size of each `sentence_vector_source`, interleaved in one run.

    python scripts/bench/bench_sentence_vectors.py [--articles 30] [--rounds 2]

Writes the first ARTICLES BBC articles of ../shared/eval/bbc-dev.json as .txt files (read
by path, kept in a temporary folder, never in the project), then builds them `--full` once
per round with each source (`separate`, `context`, `passage`) and without sentence vectors
(`none`), in turn, after one round that warms the model and is not counted. Prints each
build's seconds and bytes per passage of the version folder, then each source's best time
as a ratio of `separate`'s: on a shared machine only the ratios mean much.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.index.build import build_index
from qa.index.versions import current_version

MODES = ("separate", "context", "passage", "none")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bbc", type=Path, default=Path("../shared/eval/bbc-dev.json"))
    parser.add_argument("--articles", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qa-bench-sentences-"))
    corpus = root / "corpus"
    corpus.mkdir()
    articles = json.loads(args.bbc.read_text(encoding="utf-8"))["data"][: args.articles]
    for n, article in enumerate(articles):
        text = "\n\n".join(p["context"] for p in article["paragraphs"])
        (corpus / f"{n:03d}.txt").write_text(text, encoding="utf-8")
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    size: dict[str, float] = {}
    for round_ in range(args.rounds + 1):
        for mode in MODES:
            settings = Settings(
                corpus=corpus,
                index=root / f"index-{mode}",
                progress=False,
                index_threads=args.threads,
                sentence_vectors=mode != "none",
                sentence_vector_source="separate" if mode == "none" else mode,
            )
            embedder = embedder_for(settings)
            started = time.perf_counter()
            report = build_index(settings, embedder, full=True)
            spent = time.perf_counter() - started
            folder = current_version(settings.index)
            size[mode] = sum(f.stat().st_size for f in folder.iterdir()) / report.passages
            if round_:
                times[mode].append(spent)
            print(
                f"round {round_} {mode:9s} {spent:7.2f} s  {report.passages} passages  "
                f"{size[mode]:.0f} bytes/passage",
                flush=True,
            )
    shutil.rmtree(root, ignore_errors=True)
    reference = min(times["separate"])
    for mode in MODES:
        best = min(times[mode])
        print(
            f"{mode:9s} best {best:7.2f} s  separate / {mode} = {reference / best:.2f}  "
            f"{size[mode]:.0f} bytes/passage"
        )


if __name__ == "__main__":
    main()
