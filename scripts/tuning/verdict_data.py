"""Collect what the verdict and the confidence are fitted on: every question of the project's
sets asked over its archive, with the answer's signals (`Answer.signals`) and whether its
first one or two sentences hold a gold answer.

Each question is asked once with the refusal rules off (no confidence threshold, the
off-topic check's least lifts at -10), so every question gets the sentences it would get
and the off-topic check's readings (`topic_lift`, `topic_lift_across`, `unknown_names`),
from which `fit_verdicts.py` replays the rules in force. The archives:

- `bundled`: corpus/ (the article and the format guides), as `qa serve` builds it;
- `article`: the bundled article alone, as `qa eval` builds it;
- `peru-es`: the Spanish article of tests/data/peru-es.json;
- `bbc20`: the 20 BBC articles of tests/data/bbc-paraphrased.json and every tenth other of
  ../shared/eval/bbc-dev.json (with their dev questions);
- `xquad-en`, `xquad-es` (../shared/eval/xquad-dev.*.json, with the Spanish questions asked
  of the English archive too), and `xquad-en-half`, `xquad-es-half`: each article keeping
  its even paragraphs, the questions of the others unanswerable (near the topic).

Sets whose file name holds "heldout" are marked `held_out` and must never be fitted on.

    python scripts/tuning/verdict_data.py --out /tmp/verdicts   # one JSON Lines file a set
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from qa.answer.calibration import calibration_for
from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.evaluation.squad import (
    Question,
    build_archive,
    contains,
    load_squad,
    load_unanswerable,
    questions_over,
)
from qa.service.assistant import Assistant
from qa.text.languages import detect_question_language

REPOSITORY = Path(__file__).resolve().parents[2]
DATA = REPOSITORY / "tests" / "data"
EVAL = REPOSITORY.parent / "shared" / "eval"
#: Least lifts that no candidate fails: the off-topic check reads, but never refuses.
OPEN = -10.0


def squad_questions(path: Path, ids: str = "") -> list[Question]:
    return [q for q in load_squad(path)[1] if q.id.startswith(ids)]


def text_questions(path: Path, language: str) -> list[Question]:
    found = load_unanswerable(path)
    return [Question(q, ()) for q in found if detect_question_language(q) == language]


def half(path: Path) -> tuple[list[dict], list[Question], list[Question]]:
    """Articles keeping their even paragraphs; the questions of those and of the others."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles, kept, dropped = [], [], []
    for number, article in enumerate(data):
        paragraphs = article["paragraphs"]
        text = "\n\n".join(p["context"].strip() for p in paragraphs[::2])
        articles.append({"text": text, "title": article.get("title") or f"Article {number + 1}"})
        for n, paragraph in enumerate(paragraphs):
            for qa in paragraph["qas"]:
                answers = tuple(a["text"] for a in qa["answers"] if a.get("text"))
                if answers:
                    (kept if n % 2 == 0 else dropped).append(
                        Question(qa["question"], answers, str(qa.get("id", "")))
                    )
    return articles, kept, dropped


def bbc_subset() -> tuple[list[dict], list[Question]]:
    """The BBC articles of bbc-paraphrased.json (which holds their titles, not their text) and
    every tenth other article of ../shared/eval/bbc-dev.json, with the dev questions of
    those."""
    named = {
        article["title"]
        for article in json.loads((DATA / "bbc-paraphrased.json").read_text())["data"]
    }
    data = json.loads((EVAL / "bbc-dev.json").read_text(encoding="utf-8"))["data"]
    chosen = [a for n, a in enumerate(data) if a["title"] in named or n % 10 == 0]
    articles, questions = [], []
    for article in chosen:
        paragraphs = article["paragraphs"]
        text = "\n\n".join(p["context"].strip() for p in paragraphs)
        articles.append({"text": text, "title": article["title"]})
        for paragraph in paragraphs:
            for qa in paragraph["qas"]:
                answers = tuple(a["text"] for a in qa["answers"] if a.get("text"))
                if answers:
                    questions.append(Question(qa["question"], answers, str(qa.get("id", ""))))
    return articles, questions


def sets() -> list[tuple[str, str, bool, object]]:
    """(archive, set name, answerable, questions thunk)."""
    bundled_files = ("bundled-questions.json", "bundled-paraphrased.en.json")
    found: list[tuple[str, str, bool, object]] = []
    for archive in ("bundled", "article"):
        for name in (*bundled_files, "bundled-crosslingual.es.json"):
            found.append((archive, name, True, lambda n=name: squad_questions(DATA / n)))
        for language in ("en", "es"):
            found.append(
                (
                    archive,
                    f"bundled-heldout.json ({language})",
                    True,
                    lambda c=language: squad_questions(
                        DATA / "bundled-heldout.json", f"heldout-{c}"
                    ),
                )
            )
        unanswerable = [("bundled-unanswerable.txt", "en")] + [
            (name, language)
            for name in (
                "bundled-unanswerable.paraphrased.txt",
                "offtopic.txt",
                "neartopic.heldout.txt",
                "offtopic.heldout.txt",
            )
            for language in ("en", "es")
        ]
        for name, language in unanswerable:
            found.append(
                (
                    archive,
                    f"{name} ({language})",
                    False,
                    lambda n=name, c=language: text_questions(DATA / n, c),
                )
            )
    # (archive, file, answerable, reader, its selections: a language, or ids' prefix)
    for archive, file, answerable, reader, keys in (
        ("bundled", "guides-heldout.txt", True, text_questions, ("en", "es")),
        ("peru-es", "peru-es.json", True, squad_questions, ("cross-en-", "para-es-")),
        ("peru-es", "offtopic.heldout.txt", False, text_questions, ("en", "es")),
        ("bbc20", "bbc-paraphrased.json", True, squad_questions, ("bbc-para-en-", "bbc-cross-es-")),
        ("bbc20", "bbc-unanswerable.txt", False, text_questions, ("en", "es")),
    ):
        for key in keys:
            found.append(
                (
                    archive,
                    f"{file} ({key.rstrip('-')})",
                    answerable,
                    lambda r=reader, f=file, k=key: r(DATA / f, k),
                )
            )
    found.append(("bbc20", "bbc-dev (subset)", True, lambda: bbc_subset()[1]))
    english, spanish = EVAL / "xquad-dev.en.json", EVAL / "xquad-dev.es.json"
    found.append(("xquad-en", "xquad-en", True, lambda: squad_questions(english)))
    found.append(("xquad-es", "xquad-es", True, lambda: squad_questions(spanish)))
    found.append(
        (
            "xquad-en",
            "xquad-es-en",
            True,
            lambda: questions_over(squad_questions(spanish), squad_questions(english)),
        )
    )
    for language, path in (("en", english), ("es", spanish)):
        found.append(
            (
                f"xquad-{language}-half",
                f"xquad-{language}-half-kept",
                True,
                lambda p=path: half(p)[1],
            )
        )
        found.append(
            (
                f"xquad-{language}-half",
                f"xquad-{language}-half-dropped",
                False,
                lambda p=path: half(p)[2],
            )
        )
    return found


def archive_articles(name: str) -> list[dict]:
    if name == "article":
        return load_squad(DATA / "bundled-paraphrased.en.json")[0]
    if name == "peru-es":
        return load_squad(DATA / "peru-es.json")[0]
    if name == "bbc20":
        return bbc_subset()[0]
    if name in ("xquad-en", "xquad-es"):
        return load_squad(EVAL / f"xquad-dev.{name[-2:]}.json")[0]
    return half(EVAL / f"xquad-dev.{name[6:8]}.json")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", default="", help="archives to ask, comma-separated")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    settings = Settings(corpus=REPOSITORY / "corpus", progress=False)
    embedder = embedder_for(settings)
    fitted = calibration_for(settings, embedder.backend)
    measuring = fitted.model_copy(
        update={
            "refusal_threshold": -float("inf"),
            "refusal_background_lift": OPEN,
            "refusal_background_lift_across": OPEN,
            "refusal_unknown_name_lift": 0.0,
        }
    )
    built: dict[str, Assistant] = {}
    wanted = set(filter(None, options.only.split(",")))
    for archive, name, answerable, questions in sets():
        if wanted and archive not in wanted:
            continue
        path = options.out / f"{archive}--{name.replace(' ', '_')}.jsonl"
        if path.exists():
            continue
        if archive not in built:
            folder = options.out / f"archive-{archive}"
            built_before = (folder / "index").exists()  # an archive of an earlier run
            if archive == "bundled":
                local = settings.model_copy(update={"index": folder / "index"})
                if not built_before:
                    Assistant(local, embedder).build(full=True)
            else:
                if not built_before:
                    build_archive(settings, embedder, archive_articles(archive), folder)
                local = settings.model_copy(
                    update={"corpus": folder / "corpus", "index": folder / "index"}
                )
            built[archive] = Assistant(local, embedder, measuring)
        assistant = built[archive]
        started = time.perf_counter()
        rows = []
        for question in questions():
            answer = assistant.ask(question.question)
            texts = [s.text for s in answer.sentences]
            rows.append(
                {
                    "archive": archive,
                    "set": name,
                    "held_out": "heldout" in name,
                    "answerable": answerable,
                    "gold": bool(question.answers),
                    "question": question.question,
                    "language": detect_question_language(question.question),
                    "abstained": answer.abstained,
                    "confidence": answer.confidence,
                    "signals": answer.signals,
                    "right1": bool(texts) and contains(texts[0], question.answers),
                    "right2": any(contains(t, question.answers) for t in texts[:2]),
                    "sentences": texts[:2],
                }
            )
        with open(path, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(
            f"{archive:14} {name:44} {len(rows):5} in {time.perf_counter() - started:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
