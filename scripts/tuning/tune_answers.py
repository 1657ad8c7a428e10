"""Tune the sentence-score weights of an answer calibration (`qa.answer.calibration`) without
rebuilding for every trial.

`prepare` builds the archive of a SQuAD file once and caches, for every question, the
retrieved passages and the signals of each of their sentences (qa.answer.features, with the
cosines of the stored sentence vectors, alone and in context); `sweep` then re-scores the
cache with many weight settings in seconds. The cache holds evaluation text, so it goes
to /tmp, never the repo.

    python scripts/tuning/tune_answers.py prepare ../shared/eval/xquad-dev.en.json /tmp/en.pkl
    python scripts/tuning/tune_answers.py sweep /tmp/en.pkl
    python scripts/tuning/tune_answers.py ceiling /tmp/en.pkl

`ceiling` asks how far any weighting of these signals could go: it fits the weights on the
cache itself (in-sample, so an upper bound for a linear score, not a setting to ship), by
logistic regression on pairs of one question's sentences, the first that holds the answer
against each that does not.
"""

from __future__ import annotations

import itertools
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

from qa.answer.answerer import RETRIEVED
from qa.answer.calibration import calibration_for
from qa.answer.features import question_profile, sentence_features
from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.evaluation.squad import (
    build_archive,
    contains,  # `qa eval`'s answer check
    load_squad,
)
from qa.search.query import terms_language


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


#: The signals a sentence's score weighs (`qa.answer.features.SentenceFeatures`).
SIGNALS = ("coverage", "context", "passage", "rank", "kind", "dense", "context_dense")
#: The weights in force: the sentence_<signal>_weight of the default model's calibration (or
#: of the whole one QA_CALIBRATION_FILE names); coverage counts once.
CALIBRATION = calibration_for(Settings(), Settings().embedder)
DEFAULTS = {
    "coverage": 1.0,
    **{name: getattr(CALIBRATION, f"sentence_{name}_weight") for name in SIGNALS[1:]},
}


def score(feature, w) -> float:
    return sum(w.get(name, 0.0) * getattr(feature, name) for name in w)


def measure(rows, w) -> dict:
    acc1 = acc2 = top1 = 0
    for row in rows:
        # As the answer step: a heading or title line is never a candidate.
        candidates = (f for f in row["features"] if not f.heading)
        ranked = sorted(candidates, key=lambda f: -score(f, w))
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
    print("baseline", measure(rows, DEFAULTS))
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


def ceiling(cache: str) -> None:
    from sklearn.linear_model import LogisticRegression

    rows = pickle.load(open(cache, "rb"))
    names = (*SIGNALS, "missing")
    differences = []
    for row in rows:
        vectors = {
            id(f): np.array([getattr(f, name) for name in names], dtype=float)
            for f in row["features"]
        }
        holding = [f for f in row["features"] if contains(f.sentence.text, row["answers"])]
        if not holding:
            continue
        best = max(holding, key=lambda f: score(f, DEFAULTS))
        differences += [
            vectors[id(best)] - vectors[id(f)]
            for f in row["features"]
            if not contains(f.sentence.text, row["answers"])
        ]
    pairs = np.array(differences)
    fitted = LogisticRegression(C=1.0, fit_intercept=False, max_iter=5000).fit(
        np.vstack([pairs, -pairs]), [1] * len(pairs) + [0] * len(pairs)
    )
    weights = dict(zip(names, fitted.coef_[0] / fitted.coef_[0][0], strict=True))
    print("weights in force", measure(rows, DEFAULTS))
    print("fitted in-sample", measure(rows, weights))
    print("  " + ", ".join(f"{name} {value:.2f}" for name, value in weights.items()))


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"prepare": prepare, "sweep": sweep, "ceiling": ceiling}[command](*arguments)
