"""Development tool: retrieval accuracy of one SQuAD-format file under several settings.

Builds (once, cached under --cache) the archive of the file's articles as `qa eval` does,
then scores passage top-1/5/10 for each retrieval mode and each dense weight given, without
re-embedding. Numbers from here guide the defaults in qa/config.py; `qa eval` is the judge.

    python scripts/tune_retrieval.py ../shared/eval/xquad-dev.en.json --weights 0.3,0.5,0.7
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import click

from qa.config import Settings
from qa.embedding import load_embedder
from qa.evaluation import load_squad
from qa.index import open_index
from qa.retrieval import Retriever
from qa.service import Assistant


def _contains(text: str, answers) -> bool:
    lowered = text.lower()
    return any(answer.lower() in lowered for answer in answers)


@click.command()
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--cache", type=click.Path(path_type=Path), default=Path("/tmp/qa-tune"))
@click.option("--weights", default="0.3,0.4,0.5,0.6,0.7")
@click.option("--chunk-tokens", type=int, default=None)
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
def main(file: Path, cache: Path, weights: str, chunk_tokens: int | None, limit: int | None):
    overrides = {"progress": True}
    if chunk_tokens:
        overrides["chunk_tokens"] = chunk_tokens
    base = Settings(**overrides)
    key = hashlib.sha1(f"{file.resolve()}|{base.model_dump_json()}".encode()).hexdigest()[:10]
    folder = cache / f"{file.stem}-{key}"
    articles, questions = load_squad(file)
    questions = questions[:limit] if limit else questions
    settings = base.model_copy(update={"corpus": folder / "corpus", "index": folder / "index"})
    embedder = load_embedder(settings.model)
    if not (folder / "index" / "CURRENT").exists():
        (folder / "corpus").mkdir(parents=True, exist_ok=True)
        with open(folder / "corpus" / "articles.jsonl", "w", encoding="utf-8") as handle:
            for record in articles:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        started = time.perf_counter()
        report = Assistant(settings, embedder).build(full=True)
        print(f"built {report.passages} passages in {time.perf_counter() - started:.0f}s")
    index = open_index(settings)
    runs = [("lexical", None), ("dense", None)]
    runs += [("hybrid", float(w)) for w in weights.split(",")]
    for mode, weight in runs:
        local = settings if weight is None else settings.model_copy(update={"dense_weight": weight})
        retriever = Retriever(index, embedder, local)
        top = {1: 0, 5: 0, 10: 0}
        started = time.perf_counter()
        for question in questions:
            candidates = retriever.candidates(question.question, mode, None, local.candidates)
            hits = retriever.hits(candidates[:10])
            ranks = [n for n, hit in enumerate(hits, 1) if _contains(hit.text, question.answers)]
            for k in top:
                top[k] += bool(ranks and ranks[0] <= k)
        seconds = time.perf_counter() - started
        n = len(questions)
        print(
            f"{mode:8} w={weight!s:5} top1={top[1] / n:.4f} top5={top[5] / n:.4f} "
            f"top10={top[10] / n:.4f}  ({1000 * seconds / n:.1f} ms/q)"
        )


if __name__ == "__main__":
    main()
