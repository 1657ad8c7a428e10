"""Tune the answer step's few global weights without rebuilding for every trial.

`prepare` builds the archive of a SQuAD file once and caches, for every question, the
retrieved passages and the signals of each of their sentences (qa.features, with the
cosines of the stored sentence vectors, alone and in context); `sweep` then re-scores the
cache with many weight settings in seconds. The cache holds evaluation text, so it goes
to /tmp, never the repo.

    python scripts/tune_answers.py prepare ../shared/eval/xquad-dev.en.json /tmp/en.pkl
    python scripts/tune_answers.py sweep /tmp/en.pkl
"""

from __future__ import annotations

import itertools
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

from qa.answer import RETRIEVED
from qa.config import Settings
from qa.embedders import embedder_for
from qa.evaluation import build_archive, load_squad
from qa.features import question_profile, sentence_features
from qa.query import terms_language


def prepare(squad_file: str, cache: str) -> None:
    settings = Settings(progress=False)
    embedder = embedder_for(settings)
    articles, questions = load_squad(Path(squad_file))
    with tempfile.TemporaryDirectory(prefix="qa-tune-") as folder:
        assistant, _ = build_archive(settings, embedder, articles, Path(folder))
        engine = assistant.engine()
        retriever, catalog = engine.retriever, engine.index.catalog
        total = catalog.counts()[1]
        rows = []
        for question in questions:
            hits = retriever.search(question.question, k=RETRIEVED)
            passages = catalog.passages(hit.passage_id for hit in hits)
            language = terms_language(question.question, engine.index.languages)
            profile = question_profile(
                question.question, language, catalog.document_frequencies, total
            )
            vector = retriever.query_vector(question.question)
            features = sentence_features(profile, hits, passages, vector)
            rows.append(
                {
                    "question": question.question,
                    "answers": question.answers,
                    "hits": [(h.passage_id, h.text, h.score, h.dense_score) for h in hits],
                    "features": features,
                }
            )
    with open(cache, "wb") as handle:
        pickle.dump(rows, handle)


def contains(text: str, answers) -> bool:
    lowered = text.lower()
    return any(a.lower() in lowered for a in answers)


def score(feature, w) -> float:
    return (
        w["coverage"] * feature.coverage
        + w["context"] * feature.context
        + w["passage"] * feature.passage
        + w["rank"] * feature.rank
        + w["kind"] * feature.kind
        + w["dense"] * feature.dense
        + w["context_dense"] * feature.context_dense
    )


def measure(rows, w) -> dict:
    acc1 = acc2 = top1 = 0
    for row in rows:
        ranked = sorted(row["features"], key=lambda f: -score(f, w))
        chosen, seen = [], set()
        for f in ranked:
            key = (f.hit.document_id, f.sentence.start)
            if key not in seen:
                seen.add(key)
                chosen.append(f)
            if len(chosen) == 2:
                break
        texts = [f.sentence.text for f in chosen]
        acc1 += bool(texts) and contains(texts[0], row["answers"])
        acc2 += any(contains(t, row["answers"]) for t in texts)
        if chosen:
            top1 += contains(chosen[0].hit.text, row["answers"])
    n = len(rows)
    return {"acc1": round(acc1 / n, 4), "acc2": round(acc2 / n, 4), "top1": round(top1 / n, 4)}


def sweep(cache: str) -> None:
    rows = pickle.load(open(cache, "rb"))
    base = {
        "coverage": 1.0,
        "context": 0.3,
        "passage": 0.4,
        "rank": 0.0,
        "kind": 0.2,
        "dense": 1.0,
        "context_dense": 1.0,
    }
    print("baseline", measure(rows, base))
    grid = {
        "context": [0.0, 0.1, 0.2, 0.3],
        "passage": [0.1, 0.2, 0.3],
        "rank": [0.0, 0.1],
        "kind": [0.0, 0.1, 0.2],
        "dense": [0.5, 1.0],
        "context_dense": [0.0, 0.5, 1.0],
    }
    results = []
    for values in itertools.product(*grid.values()):
        w = {"coverage": 1.0, **dict(zip(grid, values, strict=True))}
        results.append((measure(rows, w), w))
    results.sort(key=lambda r: -(r[0]["acc1"] + 0.5 * r[0]["acc2"]))
    for metrics, w in results[:15]:
        print(metrics, w)
    retrieved = np.mean([any(contains(h[1], r["answers"]) for h in r["hits"][:1]) for r in rows])
    print("retrieval top1", round(float(retrieved), 4))


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"prepare": prepare, "sweep": sweep}[command](*arguments)
