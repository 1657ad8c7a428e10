"""Collect what the answer step sees for every question of a SQuAD file, for fitting the
learned sentence judge (`scripts/tuning/fit_judge.py`, `qa.answer.judge`).

Asks each question through the assistant's own path (`Assistant.ask`, with the calibration in
force) and records, from inside the answer step, the candidate sentences it scored: their
signals (`qa.answer.features`), their stored vectors alone and with the sentence before, the
question's vector, the archive floor and everyday-text cosines, whether each sentence holds a
gold answer, and what the answer in force was. The records hold evaluation text and vectors,
so they go to a scratch folder, never the repository.

    python scripts/tuning/judge_data.py NAME SQUAD_FILE OUT_DIR [--archive FILE]
        [--unanswerable FILE]

`--archive`: ask the file's questions of another file's articles (XQuAD's translations share
question ids, so the gold answers are the archive file's). Writes OUT_DIR/NAME.npz and
OUT_DIR/NAME.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import qa.answer.answerer as answerer_module
from qa.answer.answerer import background_cosine
from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.evaluation.squad import build_archive, contains, load_unanswerable

#: Each candidate's numbers, in this order (`SentenceFeatures` fields, then the rest).
SCALARS = (
    "coverage",
    "context",
    "passage",
    "rank",
    "kind",
    "missing",
    "dense",
    "cosine",
    "context_dense",
    "context_cosine",
    "hit_rank",
    "position",
    "chars",
)


def articles_and_questions(path: Path) -> tuple[list[dict], list[tuple[int, str, tuple, str]]]:
    """Archive records and (article number, question, answers, id) of a SQuAD file."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles, questions = [], []
    for number, article in enumerate(data):
        text = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
        articles.append({"text": text, "title": str(article.get("title") or f"Article {number}")})
        for paragraph in article["paragraphs"]:
            for qa in paragraph.get("qas", []):
                answers = tuple(a["text"] for a in qa.get("answers", []) if a.get("text"))
                if answers:
                    questions.append((number, qa["question"], answers, str(qa.get("id", ""))))
    return articles, questions


class Capture:
    """Wraps `sentence_features` in the answer step to keep its last inputs and result."""

    def __init__(self) -> None:
        self.original = answerer_module.sentence_features
        self.last = None
        answerer_module.sentence_features = self

    def __call__(self, profile, hits, passages, query_vector=None):
        found = self.original(profile, hits, passages, query_vector)
        self.last = (hits, passages, query_vector, found)
        return found


def candidates(hits, passages, found):
    """Per candidate: scalars, sentence vector, pair vector, (document, start) key."""
    rows, sentence_vectors, pair_vectors, keys, texts = [], [], [], [], []
    index = 0
    for hit in hits:
        stored = passages.get(hit.passage_id)
        if stored is None:
            continue
        count = len(stored.passage.sentences)
        for position in range(count):
            feature = found[index]
            index += 1
            if feature.heading:  # never a candidate in the answer step
                continue
            own = stored.sentence_vectors[position]
            pair = stored.context_vectors[position] if stored.context_vectors is not None else own
            sentence_vectors.append(own)
            pair_vectors.append(pair)
            rows.append(
                [getattr(feature, n) for n in SCALARS[:9]]
                + [0.0, hit.rank, position, len(feature.sentence.text)]
            )
            keys.append((hit.document_id, feature.sentence.start))
            texts.append(feature.sentence.text)
    return rows, sentence_vectors, pair_vectors, keys, texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("squad_file", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--archive", type=Path)
    parser.add_argument("--unanswerable", type=Path)
    arguments = parser.parse_args()
    articles, questions = articles_and_questions(arguments.squad_file)
    if arguments.archive is not None:
        articles, archived = articles_and_questions(arguments.archive)
        gold = {q[3]: q[2] for q in archived}
        questions = [(a, text, gold.get(i, answers), i) for a, text, answers, i in questions]
    if arguments.unanswerable is not None:
        questions += [(-1, text, (), "") for text in load_unanswerable(arguments.unanswerable)]
    settings = Settings(progress=False)
    embedder = embedder_for(settings)
    capture = Capture()
    meta, question_vectors, offsets = [], [], [0]
    scalars, sentence_vectors, pair_vectors, labels = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="qa-judge-") as folder:
        assistant, _ = build_archive(settings, embedder, articles, Path(folder))
        engine = assistant.engine()
        for article, text, answers, question_id in questions:
            capture.last = None
            answer = assistant.ask(text)
            chosen = [s.text for s in answer.sentences]
            record = {
                "article": article,
                "id": question_id,
                "question": text,
                "answers": list(answers),
                "abstained": answer.abstained,
                "answer_sentences": chosen,
                "acc1": bool(chosen) and bool(answers) and contains(chosen[0], answers),
                "acc2": bool(answers) and any(contains(t, answers) for t in chosen[:2]),
                "signals": answer.signals,
                "confidence": answer.score,
                "captured": capture.last is not None,
            }
            if capture.last is None:  # answered from the timeline, or nothing retrieved
                question_vectors.append(np.zeros(embedder.dimension, "float32"))
                offsets.append(offsets[-1])
                meta.append(record)
                continue
            hits, passages, vector, found = capture.last
            rows, own, pair, keys, texts = candidates(hits, passages, found)
            own, pair = np.asarray(own, "float32"), np.asarray(pair, "float32")
            for row, value in zip(rows, pair @ vector, strict=True):
                row[9] = float(value)
            record["floor"] = engine.answerer.floor.cosine(vector)
            language = hits[0].metadata.get("language") if hits else None
            record["everyday"] = background_cosine(engine.retriever.embedder, vector, language)
            record["keys"] = keys
            record["texts"] = texts
            meta.append(record)
            question_vectors.append(np.asarray(vector, "float32"))
            scalars += rows
            sentence_vectors.append(own)
            pair_vectors.append(pair)
            labels += [bool(answers) and contains(t, answers) for t in texts]
            offsets.append(offsets[-1] + len(rows))
    arguments.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        arguments.out / f"{arguments.name}.npz",
        questions=np.asarray(question_vectors, "float32"),
        offsets=np.asarray(offsets),
        scalars=np.asarray(scalars, "float32"),
        sentences=np.vstack(sentence_vectors).astype("float16"),
        pairs=np.vstack(pair_vectors).astype("float16"),
        labels=np.asarray(labels, bool),
    )
    (arguments.out / f"{arguments.name}.json").write_text(
        json.dumps(meta, ensure_ascii=False), encoding="utf-8"
    )
    acc1 = np.mean([m["acc1"] for m in meta if m["answers"]])
    print(arguments.name, len(meta), "questions", len(scalars), "candidates", "acc1", acc1)


if __name__ == "__main__":
    main()
