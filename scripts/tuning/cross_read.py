"""Does the default model, reading a question and a passage together, tell whether the passage
answers it better than comparing their two vectors does? An experiment for issue 23 (a
reader or cross-encoder is the missing part, and none ships inside a PyPI package).

multilingual-e5-small reads "query: <question></s></s>passage: <passage>" as one text through
the exported graph (`E5OnnxEncoder.token_states`, the same weights, nothing fine-tuned), and
a logistic head over nine numbers of its token states chooses:

- `cos0`: the cosine of the question's and the passage's mean states, each read alone (what
  retrieval compares);
- `cos1`: the same, the two parts of the joint reading;
- `shift`: how far the joint reading moved the question's mean state from its own;
- late interaction, each read alone (`li0`) and together (`li1`): every question token's
  best cosine with a passage token, their mean and least;
- the question tokens' shift from their own reading, mean and most.

The head is fitted on XQuAD's English and Spanish files (`../shared/eval/xquad-dev.*.json`),
Spanish questions over the English articles too: each question with its own paragraph (it
answers), two other paragraphs of its article (same subject, no answer: near-topic) and one
of another article (off-topic); held out by article (4 folds) for the AUCs printed. Then,
fitted on all of XQuAD, it reads each question of issue 23's sets (`verdict_bars.SETS`) with
the three passages the assistant retrieves over corpus/ (built in a temporary folder), and
prints per set the share whose best passage scores below each threshold beside the share
refused today, and how well the head, the confidence in force and their sum in log-odds
rank answerable questions above off-topic and near-topic ones (AUC), on the held-out sets
and the others.

    python scripts/tuning/cross_read.py            # about 15 minutes on 2 threads

Its logistic regressions are scikit-learn's, which comes with sentence-transformers.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import shared_eval
from verdict_bars import REPOSITORY, SETS, questions

from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.embedders.e5_file import PASSAGE_PREFIX, QUERY_PREFIX
from qa.service.assistant import Assistant

FEATURES = "cos0 cos1 shift li0_mean li0_least li1_mean li1_least shift_mean shift_most".split()
THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.5)
#: Passage tokens read (a passage's first 400: XQuAD paragraphs and the archive's passages).
PASSAGE_TOKENS = 400


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


class Reader:
    """The nine numbers of (question, passage) pairs, each text's own reading cached."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.end = encoder.tokens([""])[0][-1]  # the token that closes a text
        self.alone: dict[tuple[str, str], np.ndarray] = {}

    def ids(self, prefix: str, text: str) -> list[int]:
        ids = self.encoder.tokens([prefix + text])[0]
        return ids[:PASSAGE_TOKENS] if prefix == PASSAGE_PREFIX else ids

    def states(self, rows: list[list[int]], batch: int = 8) -> list[np.ndarray]:
        """Each token list's last hidden states, batched by length."""
        out: list[np.ndarray] = [np.empty(0)] * len(rows)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            hidden, mask = self.encoder.token_states([rows[i] for i in chosen])
            for j, i in enumerate(chosen):
                out[i] = hidden[j, : int(mask[j].sum())]
        return out

    def features(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        texts = {(QUERY_PREFIX, q) for q, _ in pairs} | {(PASSAGE_PREFIX, p) for _, p in pairs}
        missing = sorted(t for t in texts if t not in self.alone)
        for key, states in zip(missing, self.states([self.ids(*t) for t in missing]), strict=True):
            self.alone[key] = states
        joined = []
        for question, passage in pairs:
            asked, read = self.ids(QUERY_PREFIX, question), self.ids(PASSAGE_PREFIX, passage)
            joined.append(asked + [self.end] + read[1:])
        rows = []
        for (question, passage), states in zip(pairs, self.states(joined), strict=True):
            asked = self.alone[(QUERY_PREFIX, question)]  # its tokens, specials included
            together_q, together_p = states[1 : len(asked) - 1], states[len(asked) + 1 : -1]
            alone_q = asked[1:-1]
            alone_p = self.alone[(PASSAGE_PREFIX, passage)][1:-1]
            li0 = (unit(alone_q) @ unit(alone_p).T).max(1)
            li1 = (unit(together_q) @ unit(together_p).T).max(1)
            moved = 1 - (unit(together_q) * unit(alone_q)).sum(1)
            rows.append(
                [
                    float(unit(alone_q.mean(0)) @ unit(alone_p.mean(0))),
                    float(unit(together_q.mean(0)) @ unit(together_p.mean(0))),
                    float(unit(together_q.mean(0)) @ unit(alone_q.mean(0))),
                    li0.mean(),
                    li0.min(),
                    li1.mean(),
                    li1.min(),
                    moved.mean(),
                    moved.max(),
                ]
            )
        return np.asarray(rows, dtype=np.float64)


def squad_articles(path: Path) -> list[list[tuple[str, list[str]]]]:
    """Each article's paragraphs with their questions."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        [(p["context"], [qa["question"] for qa in p["qas"]]) for p in article["paragraphs"]]
        for article in data["data"]
    ]


def xquad_pairs() -> tuple[list[tuple[str, str]], dict[str, np.ndarray]]:
    """(question, paragraph) pairs, and for each whether it answers, its article, its kind
    and its languages."""
    english = squad_articles(shared_eval("xquad-dev.en.json"))
    spanish = squad_articles(shared_eval("xquad-dev.es.json"))
    chance = random.Random(7)
    pairs: list[tuple[str, str]] = []
    about: dict[str, list] = {"answers": [], "article": [], "kind": [], "languages": []}
    for languages, asked, read in (
        ("en", english, english),
        ("es", spanish, spanish),
        ("es->en", spanish, english),
    ):
        for number, (article, paragraphs) in enumerate(zip(asked, read, strict=True)):
            for index, (_, its_questions) in enumerate(article):
                others = [j for j in range(len(paragraphs)) if j != index]
                for question in its_questions:
                    chosen = [(paragraphs[index][0], 1, "answers")]
                    chosen += [
                        (paragraphs[j][0], 0, "same article")
                        for j in chance.sample(others, min(2, len(others)))
                    ]
                    elsewhere = chance.choice([k for k in range(len(read)) if k != number])
                    chosen.append((chance.choice(read[elsewhere])[0], 0, "another article"))
                    for paragraph, label, kind in chosen:
                        pairs.append((question, paragraph))
                        for key, value in zip(about, (label, number, kind, languages), strict=True):
                            about[key].append(value)
    return pairs, {key: np.array(values) for key, values in about.items()}


def head():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))


def log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def main() -> None:
    from sklearn.metrics import roc_auc_score

    with tempfile.TemporaryDirectory(prefix="qa-cross-read-") as scratch:
        folder = Path(scratch)
        settings = Settings(corpus=REPOSITORY / "corpus", index=folder / "index", progress=False)
        assistant = Assistant(settings)
        assistant.build(full=True)
        encoder = embedder_for(settings).onnx_passage_encoder()
        if encoder is None:
            sys.exit("the default model's ONNX encoder is not available here")
        reader = Reader(encoder)

        pairs, about = xquad_pairs()
        answers, articles, kinds = about["answers"], about["article"], about["kind"]
        print(f"XQuAD: {len(pairs)} pairs", flush=True)
        features = reader.features(pairs)
        held_out = np.zeros(len(pairs))
        for fold in range(4):
            test = articles % 4 == fold
            held_out[test] = (
                head().fit(features[~test], answers[~test]).predict_proba(features[test])[:, 1]
            )
        print("AUC held out by article, the answering paragraph against the other (en, es, es->en)")
        for kind in ("same article", "another article"):
            for name, scores in (("cos0 (vectors)", features[:, 0]), ("head", held_out)):
                shown = []
                for language in ("en", "es", "es->en"):
                    chosen = ((kinds == "answers") | (kinds == kind)) & (
                        about["languages"] == language
                    )
                    shown.append(f"{roc_auc_score(answers[chosen], scores[chosen]):.3f}")
                print(f"  {kind:16s} {name:15s} " + " / ".join(shown))
        fitted = head().fit(features, answers)
        print(
            "head's weights (standardised):",
            {k: float(v) for k, v in zip(FEATURES, fitted[-1].coef_[0].round(2), strict=True)},
        )

        asked = []
        for file, part, kind in SETS:
            for question, _ in questions(file, part):
                answer = assistant.ask(question)
                asked.append(
                    (
                        f"{file} ({part.strip('-') or 'all'})",
                        kind,
                        "heldout" in file,
                        [hit.text for hit in answer.hits[:3]],
                        answer.confidence,
                        answer.verdict,
                        question,
                    )
                )
        project_pairs = [(row[6], text) for row in asked for text in row[3]]
        scores = fitted.predict_proba(reader.features(project_pairs))[:, 1]
        best, at = [], 0
        for row in asked:
            best.append(scores[at : at + len(row[3])].max() if row[3] else 0.0)
            at += len(row[3])
        best = np.array(best)

        print(
            "\n| set | kind | questions | median | "
            + " | ".join(f"< {t}" for t in THRESHOLDS)
            + " | refused today |"
        )
        print("|" + "---|" * (len(THRESHOLDS) + 5))
        by_set = defaultdict(list)
        for row, score in zip(asked, best, strict=True):
            by_set[(row[0], row[1])].append((score, row[5] == "not_in_archive"))
        for (name, kind), rows in by_set.items():
            values = np.array([r[0] for r in rows])
            print(
                f"| {name} | {kind} | {len(rows)} | {np.median(values):.3f} | "
                + " | ".join(f"{np.mean(values < t):.2f}" for t in THRESHOLDS)
                + f" | {np.mean([r[1] for r in rows]):.2f} |"
            )

        kinds_asked = np.array([row[1] for row in asked])
        held = np.array([row[2] for row in asked])
        confidence = np.array([row[4] for row in asked])
        print("\nAUC, answerable against off-topic / against near-topic")
        for label, chosen in (("held-out sets", held), ("the others", ~held)):
            for name, values in (
                ("head", best),
                ("confidence in force", confidence),
                ("both (log-odds summed)", log_odds(confidence) + log_odds(best)),
            ):
                shown = []
                for other in ("off-topic", "near-topic"):
                    mask = chosen & ((kinds_asked == "answerable") | (kinds_asked == other))
                    shown.append(
                        f"{roc_auc_score(kinds_asked[mask] == 'answerable', values[mask]):.3f}"
                    )
                print(f"  {label:14s} {name:24s} " + " / ".join(shown))


if __name__ == "__main__":
    main()
