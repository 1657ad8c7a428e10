"""Try judges of the default model's answers: the chance that an answer's first two sentences
hold the answer, as a logistic function of the answer's signals (`Answer.signals`: the raw
confidence alone, as Platt scaling; the signals that do not depend on the archive; all of
them), fitted on XQuAD and checked on the project's own questions, which it never sees.
None is in use: none was calibrated on the project's sets; the judge in use is fitted on
archives of several kinds (`fit_verdicts.py`,
docs/evaluation.md#verdicts-and-a-calibrated-confidence).

Asks, with the refusal rules off (so that every question gets the sentences it would get):
- answerable: XQuAD's English and Spanish questions of ../shared/eval over their own
  archives, and the Spanish ones over the English archive; labelled 1 when the first two
  sentences hold a gold answer;
- unanswerable (labelled 0): each XQuAD question, English and Spanish, over an archive of
  the other half of the articles (the articles split in two by their order);
- near the topic: each XQuAD article keeping every other paragraph, the questions of the
  kept paragraphs answerable, those of the others not (labelled 0), both halves, English
  and Spanish;
- the project's own sets in tests/data, which are never fitted on, only checked:
  bundled-paraphrased.en, bundled-crosslingual.es and peru-es (answerable), and
  bundled-unanswerable(.paraphrased) (near-topic questions the bundled article does not
  answer).
The fit holds out XQuAD articles: four folds of six articles each, every question of an
article (in either language, answerable or not) in the same fold. It prints the held-out
log-loss and Brier score, a reliability table (predicted against observed, by tenths), each
set's mean predicted chance against its share right, for each judge, and the weights fitted
on every XQuAD question.

    python scripts/tuning/fit_confidence.py --data /tmp/confidence   # asks, then fits
    python scripts/tuning/fit_confidence.py --data /tmp/confidence   # again: fits only

Collecting takes about 15 minutes on 2 cores (answers are cached in --data, one JSON Lines
file a set).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from qa.answer.calibration import calibration_for
from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.evaluation.squad import build_archive, contains, load_unanswerable
from qa.service.assistant import Assistant

REPOSITORY = Path(__file__).resolve().parents[2]
DATA = REPOSITORY / "tests" / "data"
EVAL = REPOSITORY.parent / "shared" / "eval"
FOLDS = 4


def squad(
    path: Path, parity: int | None = None
) -> tuple[list[dict], list[tuple[int, str, tuple[str, ...], str]]]:
    """Articles as archive records, and (article number, question, answers, id) of a file;
    with `parity`, the articles hold only their paragraphs of that parity (0: 1st, 3rd...),
    and the questions are marked by where their paragraph went: answers None for the others."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles, questions = [], []
    for number, article in enumerate(data):
        kept = [p for n, p in enumerate(article["paragraphs"]) if parity is None or n % 2 == parity]
        text = "\n\n".join(p["context"].strip() for p in kept)
        articles.append({"text": text, "title": article.get("title") or f"Article {number + 1}"})
        for n, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                answers = tuple(a["text"] for a in qa["answers"] if a.get("text"))
                if not answers:
                    continue
                if parity is not None and n % 2 != parity:
                    answers = None  # its paragraph is not in the archive: near the topic
                questions.append((number, qa["question"], answers, str(qa.get("id", ""))))
    return articles, questions


class Collector:
    """Asks sets of questions of archives built once in `folder`, caching each set's rows."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.settings = Settings(progress=False)
        self.embedder = embedder_for(self.settings)
        in_force = calibration_for(self.settings, self.embedder.backend)
        self.free = in_force.model_copy(
            update={"refusal_threshold": -math.inf, "refusal_background_lift": None}
        )
        self.archives: dict[str, Assistant] = {}

    def archive(self, name: str, articles: list[dict]) -> Assistant:
        if name not in self.archives:
            folder = self.folder / f"archive-{name}"
            update = {"corpus": folder / "corpus", "index": folder / "index"}
            if not (folder / "index").exists():
                build_archive(self.settings, self.embedder, articles, folder)
            local = self.settings.model_copy(update=update)
            self.archives[name] = Assistant(local, self.embedder, self.free)
        return self.archives[name]

    def ask(self, name: str, archive, questions) -> list[dict]:
        """Rows of a set: (article, answerable, raw score, right in the first one and two)."""
        path = self.folder / f"{name}.jsonl"
        if path.exists():
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        rows = []
        for article, question, answers, _ in questions:
            answer = archive().ask(question)
            texts = [s.text for s in answer.sentences]
            rows.append(
                {
                    "set": name,
                    "article": article,
                    "answerable": answers is not None,
                    "score": answer.score,
                    "signals": answer.signals,
                    "right1": bool(answers and texts and contains(texts[0], answers)),
                    "right2": bool(answers and any(contains(t, answers) for t in texts[:2])),
                }
            )
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        print(f"  asked {name}: {len(rows)} questions", flush=True)
        return rows


def collect(collector: Collector) -> tuple[list[dict], list[dict]]:
    """(XQuAD rows, to fit on by article; the project's rows, to check on only)."""
    en_articles, en = squad(EVAL / "xquad-dev.en.json")
    es_articles, es = squad(EVAL / "xquad-dev.es.json")
    gold = {qid: answers for _, _, answers, qid in en}
    half = len(en_articles) // 2
    first, second = set(range(half)), set(range(half, len(en_articles)))

    def part(name, numbers):
        return lambda: collector.archive(name, [en_articles[n] for n in sorted(numbers)])

    def whole(name, articles):
        return lambda: collector.archive(name, articles)

    fitted = []
    fitted += collector.ask("xquad-en", whole("en", en_articles), en)
    fitted += collector.ask("xquad-es", whole("es", es_articles), es)
    across = [(n, q, gold.get(i, a), i) for n, q, a, i in es]
    fitted += collector.ask("xquad-es-en", whole("en", en_articles), across)
    for language, questions in (("en", en), ("es", es)):
        for name, archive_part, others in (("a", first, second), ("b", second, first)):
            unanswerable = [(n, q, None, i) for n, q, _, i in questions if n in others]
            fitted += collector.ask(
                f"xquad-{language}-not-in-{name}", part(name, archive_part), unanswerable
            )

    # Near the topic: each article keeps half its paragraphs; the questions of the other half
    # are about an article the archive holds, but it does not hold their answers.
    for parity in (0, 1):
        for language in ("en", "es"):
            articles, questions = squad(EVAL / f"xquad-dev.{language}.json", parity)
            name = f"{language}-half-{parity}"
            fitted += collector.ask(f"xquad-{name}", whole(name, articles), questions)

    checked = []
    bundled_articles, bundled_en = squad(DATA / "bundled-paraphrased.en.json")
    _, bundled_es = squad(DATA / "bundled-crosslingual.es.json")
    bundled = whole("bundled", bundled_articles)
    checked += collector.ask("bundled-paraphrased.en", bundled, bundled_en)
    checked += collector.ask("bundled-crosslingual.es", bundled, bundled_es)
    for file in ("bundled-unanswerable.txt", "bundled-unanswerable.paraphrased.txt"):
        questions = [(-1, q, None, "") for q in load_unanswerable(DATA / file)]
        checked += collector.ask(file.removesuffix(".txt"), bundled, questions)
    peru_articles, peru = squad(DATA / "peru-es.json")
    checked += collector.ask("peru-es", whole("peru-es", peru_articles), peru)
    return fitted, checked


#: The signals (`Answer.signals`) each candidate judge reads.
JUDGES = {
    "archive-free": ("coverage", "missing", "kind", "background_lift", "cosine"),
    "raw score": ("score",),
    "every signal": (
        "score",
        "coverage",
        "missing",
        "kind",
        "background_lift",
        "archive_lift",
        "cosine",
    ),
}


def matrix(rows: list[dict], names) -> np.ndarray:
    return np.array([[r["signals"].get(name, 0.0) for name in names] for r in rows])


def fit(rows: list[dict], names) -> tuple[dict[str, float], float]:
    """(weights by signal, intercept) of the logistic regression of right2 on the signals."""
    from sklearn.linear_model import LogisticRegression

    labels = np.array([r["right2"] for r in rows], dtype=int)
    model = LogisticRegression(C=10.0, max_iter=1000).fit(matrix(rows, names), labels)
    weights = dict(zip(names, (float(w) for w in model.coef_[0]), strict=True))
    return weights, float(model.intercept_[0])


def probability(rows: list[dict], weights: dict[str, float], intercept: float) -> np.ndarray:
    z = matrix(rows, list(weights)) @ np.array(list(weights.values())) + intercept
    return 1.0 / (1.0 + np.exp(-z))


def report(title: str, rows: list[dict], predicted: np.ndarray) -> None:
    labels = np.array([r["right2"] for r in rows], dtype=float)
    clipped = np.clip(predicted, 1e-6, 1 - 1e-6)
    log_loss = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    brier = np.mean((predicted - labels) ** 2)
    print(f"\n{title}: {len(rows)} questions, log-loss {log_loss:.4f}, Brier {brier:.4f}")
    print("  predicted      questions  mean predicted  share right")
    edges = np.linspace(0, 1, 11)
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (predicted >= low) & ((predicted < high) | (high == 1.0))
        if inside.any():
            print(
                f"  {low:.1f}-{high:.1f}  {inside.sum():14d}  {predicted[inside].mean():14.3f}"
                f"  {labels[inside].mean():11.3f}"
            )
    print("  set                                  questions  mean predicted  share right")
    for name in dict.fromkeys(r["set"] for r in rows):
        inside = np.array([r["set"] == name for r in rows])
        print(
            f"  {name:36s} {inside.sum():9d}  {predicted[inside].mean():14.3f}"
            f"  {labels[inside].mean():11.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="Folder for archives and answers.")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    fitted, checked = collect(Collector(args.data))
    articles = sorted({r["article"] for r in fitted})
    fold_of = {article: n % FOLDS for n, article in enumerate(articles)}
    for judge, names in JUDGES.items():
        print(f"\n===== judge '{judge}': {', '.join(names)}")
        held_out = np.empty(len(fitted))
        for fold in range(FOLDS):
            inside = np.array([fold_of[r["article"]] == fold for r in fitted])
            weights, intercept = fit(
                [r for r, i in zip(fitted, inside, strict=True) if not i], names
            )
            held_out[inside] = probability(
                [r for r, i in zip(fitted, inside, strict=True) if i], weights, intercept
            )
        report(
            f"XQuAD, each article's questions by a fit without it ({FOLDS} folds)", fitted, held_out
        )
        weights, intercept = fit(fitted, names)
        report(
            "The project's own sets (never fitted on), by the fit on all of XQuAD",
            checked,
            probability(checked, weights, intercept),
        )
        shown = {name: round(weight, 4) for name, weight in weights.items()}
        print(f"fitted on all of XQuAD: probability_weights={shown}, ", end="")
        print(f"probability_intercept={intercept:.4f}")


if __name__ == "__main__":
    main()
