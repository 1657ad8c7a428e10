"""A real archive grown by one document (issue 21): 300 BBC articles built with the default
model and a user's settings, then one more article added; what the second build writes
against the bytes of the index in service.

    python scripts/bench/bench_grow.py --json            # the default model embeds
    python scripts/bench/bench_grow.py --hashing --json  # the hashing stand-in: fewer bytes

The hashing stand-in gives as many vectors as the model, but sparse ones: stored predicted
(index format 15, `qa.store.codes`) they take fewer bytes than the model's, so the bytes a
passage that count are the model's.

The bytes written are this process's (`/proc/self/io` write_bytes) during the second
build; the index's bytes are those the version in service reads (the shared catalog and
the version's vector parts). Issue 21's bar: the second build writes at most a fifth of
them. The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from bench_common import DEFAULT_BACKEND, load_averages, load_bbc, settings_for, timed
from bench_embedders import HashEmbedder
from bench_scale import served_files, written_bytes
from common import shared_eval

from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.index.build import build_index

#: The bar: the second build writes at most this share of the index's bytes.
BAR = 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300, help="Articles of the first build.")
    parser.add_argument("--hashing", action="store_true", help="The hashing stand-in embeds.")
    parser.add_argument("--bbc", type=Path, default=shared_eval("bbc-dev.json"))
    parser.add_argument("--json", action="store_true", help="Human lines to stderr.")
    args = parser.parse_args()
    out = sys.stderr if args.json else sys.stdout
    articles, _ = load_bbc(args.bbc)
    default = embedder_for(Settings(progress=False))
    embedder = HashEmbedder(default) if args.hashing else default
    print(f"load average at start: {load_averages()}", file=out, flush=True)
    with tempfile.TemporaryDirectory(prefix="qa-grow-") as temporary:
        sentence_vectors = Settings.model_fields["sentence_vectors"].default
        settings = settings_for(
            Path(temporary), "bbc", DEFAULT_BACKEND, embedder.name, sentence_vectors
        )
        settings.corpus.mkdir(parents=True)
        for number, text in enumerate(articles[: args.articles]):
            (settings.corpus / f"bbc-{number:04d}.txt").write_text(text, encoding="utf-8")
        first, first_seconds = timed(partial(build_index, settings, embedder))
        index_bytes = sum(served_files(settings.index).values())
        extra = settings.corpus / f"bbc-{args.articles:04d}.txt"
        extra.write_text(articles[args.articles], encoding="utf-8")
        before = written_bytes()
        second, second_seconds = timed(partial(build_index, settings, embedder))
        written = written_bytes() - before
    share = written / index_bytes
    numbers = {
        "embedder": embedder.name,
        "articles": first.documents,
        "passages": first.passages,
        "first_build_seconds": round(first_seconds, 2),
        "index_bytes": index_bytes,
        "second_build_added": second.added,
        "second_build_seconds": round(second_seconds, 2),
        "second_build_bytes_written": written,
        "written_share": round(share, 4),
        "bar": BAR,
        "pass": share <= BAR,
        "load_average_end": load_averages(),
    }
    print(
        f"{first.documents} articles, {first.passages} passages ({embedder.name}): the index "
        f"{index_bytes / 1e6:.1f} MB; one more article: {written / 1e6:.2f} MB written, "
        f"{share:.1%} of the index ({'PASS' if share <= BAR else 'FAIL'}, bar {BAR:.0%})",
        file=out,
        flush=True,
    )
    print(json.dumps(numbers))


if __name__ == "__main__":
    main()
