"""Development tool: retrieval accuracy of one SQuAD-format file under several settings.

Builds (once, cached under --cache) the archive of the file's articles as `qa eval` does,
then scores passage top-1/5/10 for each retrieval mode and each fusion dense weight given
(`search_dense_weight`), without re-embedding. Numbers from here guide the defaults in
qa/core/config.py; `qa eval` is the judge.

    python scripts/tuning/tune_retrieval.py ../shared/eval/xquad-dev.en.json --weights 0.3,0.5,0.7
    python scripts/tuning/tune_retrieval.py ../shared/eval/bbc-dev.json --weights 0.5 \\
        --probes 4,8,16

With --probes, the same archive's vectors are also moved into an inverted file (as 'auto'
does for large archives, or with --ivf-lists lists) and each mode is scored again per
number of probed lists, with the dense side's recall of the exact top candidates.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import click
import numpy as np

from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.evaluation.squad import (
    Question,
    build_archive,
    contains,  # `qa eval`'s answer check
    load_squad,
)
from qa.index.versions import current_version, open_index
from qa.search.query import search_query
from qa.search.retriever import Retriever
from qa.store import VectorStore


@click.command()
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--cache", type=click.Path(path_type=Path), default=Path("/tmp/qa-tune"))
@click.option("--weights", default="0.3,0.4,0.5,0.6,0.7")
@click.option("--chunk-tokens", type=int, default=None)
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
@click.option("--probes", default="", help="Also score an inverted file with these nprobe.")
@click.option("--ivf-lists", type=int, default=0, help="Lists of that file (default 4·√N).")
def main(
    file: Path,
    cache: Path,
    weights: str,
    chunk_tokens: int | None,
    limit: int | None,
    probes: str,
    ivf_lists: int,
):
    overrides = {"progress": True}
    if chunk_tokens:
        overrides["chunk_tokens"] = chunk_tokens
    base = Settings(**overrides)
    # The build depends on the model and the chunking only.
    built_by = [base.model, base.chunk_tokens, base.chunk_overlap_sentences, base.title_in_passage]
    key = hashlib.sha1(f"{file.resolve()}|{built_by}".encode()).hexdigest()[:10]
    folder = cache / f"{file.stem}-{key}"
    articles, questions = load_squad(file)
    questions = questions[:limit] if limit else questions
    settings = base.model_copy(update={"corpus": folder / "corpus", "index": folder / "index"})
    embedder = embedder_for(settings)
    if not current_version(folder / "index"):
        started = time.perf_counter()
        _, report = build_archive(settings, embedder, articles, folder)
        print(f"built {report.passages} passages in {time.perf_counter() - started:.0f}s")
    index = open_index(settings)
    exact = index.vectors.reorganised(0)
    score(index, exact, "Flat", embedder, settings, questions, weights, None)
    if probes:
        lists = ivf_lists or int(round(4 * np.sqrt(exact.size)))
        started = time.perf_counter()
        inverted = exact.reorganised(lists)
        print(f"{inverted.layout}: trained and filled in {time.perf_counter() - started:.1f}s")
        for nprobe in [int(x) for x in probes.split(",")]:
            inverted.probes = nprobe
            layout = f"{inverted.layout} nprobe={nprobe}"
            score(index, inverted, layout, embedder, settings, questions, weights, exact)


def score(index, vectors: VectorStore, layout: str, embedder, settings, questions, weights, exact):
    """Top-1/5/10 per mode over `vectors`; with `exact`, the dense recall of its top
    `candidates` (the share of the exact nearest passages the layout also proposes)."""
    index.vectors = vectors
    runs = [("lexical", None), ("dense", None)]
    runs += [("hybrid", float(w)) for w in weights.split(",")]
    if exact is not None:
        recall = []
        for question in questions:
            vector = embedder.encode_query(question.question)
            wanted = {i for i, _ in exact.search(vector, settings.candidates)}
            got = {i for i, _ in vectors.search(vector, settings.candidates)}
            recall.append(len(wanted & got) / max(1, len(wanted)))
        print(
            f"{layout}: dense recall@{settings.candidates} of the exact search "
            f"{float(np.mean(recall)):.4f}"
        )
    for mode, weight in runs:
        local = (
            settings
            if weight is None
            else settings.model_copy(update={"search_dense_weight": weight})
        )
        retriever = Retriever(index, embedder, local)
        started = time.perf_counter()
        top = top_k(retriever, index, questions, mode, local.candidates)
        seconds = time.perf_counter() - started
        print(
            f"{layout:24} {mode:8} w={weight!s:5} top1={top[1]:.4f} top5={top[5]:.4f} "
            f"top10={top[10]:.4f}  ({1000 * seconds / len(questions):.1f} ms/q)"
        )


def top_k(
    retriever: Retriever, index, questions: list[Question], mode: str, candidates: int
) -> dict[int, float]:
    """The share of `questions` with a passage that contains one of their answers among the
    first 1, 5 and 10 that `mode` finds (of `candidates` fused)."""
    top = {1: 0, 5: 0, 10: 0}
    for question in questions:
        query = search_query(question.question, index.languages)
        hits = retriever.hits(retriever.candidates(query, mode, None, candidates)[:10])
        ranks = [n for n, hit in enumerate(hits, 1) if contains(hit.text, question.answers)]
        for k in top:
            top[k] += bool(ranks and ranks[0] <= k)
    return {k: count / len(questions) for k, count in top.items()}


if __name__ == "__main__":
    main()
