"""Build one corpus twice, in this process and on a Ray cluster (`qa index --cluster`), and
compare: passage counts, and each query's hits (same passages, same order, scores within
1e-4). Queries: each document's title and its text's opening words.

    python scripts/check_cluster_build.py corpus
    python scripts/check_cluster_build.py ../shared/eval/bbc-dev.json --limit 120

CORPUS is a folder, or a SQuAD file whose first --limit articles are written as JSON Lines
into a temporary folder (deleted at the end). Prints one JSON line; exit 1 if they differ.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

TOLERANCE = 1e-4


def build(corpus: Path, index: Path, cluster: str | None) -> dict:
    command = [str(Path(sys.executable).parent / "qa"), "index", "--corpus", str(corpus)]
    command += ["--index", str(index), "--json", "--full"]
    if cluster:
        command += ["--cluster", cluster]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def squad_corpus(path: Path, limit: int, folder: Path) -> Path:
    """The first `limit` articles of a SQuAD file, as one JSON Lines document each."""
    from qa.evaluation.squad import load_squad

    articles, _ = load_squad(path)
    folder.mkdir(parents=True)
    with open(folder / "articles.jsonl", "w", encoding="utf-8") as handle:
        for record in articles[: limit or None]:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--cluster", default="local")
    parser.add_argument("--mode", default="hybrid")
    arguments = parser.parse_args()

    from qa.core.config import Settings
    from qa.service.assistant import Assistant

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        corpus = arguments.corpus.resolve()
        if corpus.is_file():
            corpus = squad_corpus(corpus, arguments.limit, scratch / "corpus")
        local = build(corpus, scratch / "local", None)
        clustered = build(corpus, scratch / "cluster", arguments.cluster)
        assistants = [
            Assistant(Settings(corpus=corpus, index=scratch / name, progress=False))
            for name in ("local", "cluster")
        ]
        first = assistants[0]
        assistants[1]._embedder = first.embedder  # one model in memory for both
        queries = []
        for document_id in first.document_ids(60):
            document, _ = first.document(document_id)
            queries += [document.title, " ".join(document.text.split()[:12])]
        differing, largest = [], 0.0
        for query in queries:
            hits = [a.search(query, k=10, mode=arguments.mode) for a in assistants]
            ids = [[hit.passage_id for hit in found] for found in hits]
            gaps = [abs(a.score - b.score) for a, b in zip(*hits, strict=False)]
            largest = max([largest, *gaps])
            if ids[0] != ids[1] or any(gap > TOLERANCE for gap in gaps):
                differing.append(query)
    result = {
        "documents": local["documents"],
        "passages_local": local["passages"],
        "passages_cluster": clustered["passages"],
        "workers": clustered["workers"],
        "retried_tasks": clustered["retried_tasks"],
        "seconds_local": local["seconds"],
        "seconds_cluster": clustered["seconds"],
        "queries": len(queries),
        "queries_differing": len(differing),
        "largest_score_gap": largest,
    }
    print(json.dumps(result))
    same = local["passages"] == clustered["passages"] and not differing
    sys.exit(0 if same and clustered["workers"] >= 1 else 1)


if __name__ == "__main__":
    main()
