"""What an answer is (`answered`, `uncertain`, `not_in_archive`) and how likely it is to be
right, from signals that mean the same in any archive.

- **not_in_archive**: the rules that refuse (the off-topic check of `qa.answer.topic`, the
  confidence threshold of `qa.answer.calibration`) refuse.
- **answered** or **uncertain**: otherwise, by the answer's `confidence` against the
  calibration's `answered_probability`; and `uncertain` whatever the confidence when the
  question asks for a quantity ("How many ...?", `qa.answer.features.asks_quantity`) and the
  answer's first two sentences hold none: they may name the question's subject, but they do
  not say what it asks. Their confidence is then at most the calibration's
  `quantity_lacking_chance`, the share of such answers found right. The same when no word
  of the question is in the archive and the question clears the off-topic check only by
  less than an unknown name's margin in its own language (`qa.answer.topic.barely_on_topic`),
  at most `words_unheld_chance`.
- **confidence**: a logistic judge (`Calibration.judge_weights`) over the best sentence's
  signals, measured against references no single archive moves (everyday text, the
  off-topic check's least lifts, the question's own terms), fitted on the project's question
  sets pooled over several archives (`scripts/tuning/fit_verdicts.py`). The raw score alone
  moves with the archive (its floor is the archive's own passages), which is why a judge of
  it fitted on one kind of archive was not calibrated on another
  (docs/evaluation.md#verdicts-and-a-calibrated-confidence).
"""

from __future__ import annotations

import math

from qa.answer.calibration import Calibration
from qa.core.types import Verdict

#: How far past the off-topic check's least lift a question's clearance counts: beyond it,
#: a question is as plainly on topic as can be said.
CLEARANCE_CAP = 0.4


def judge_features(signals: dict[str, float], calibration: Calibration) -> dict[str, float]:
    """The judge's inputs, named as `Calibration.judge_weights` names them."""
    least = calibration.refusal_background_lift
    across = calibration.refusal_background_lift_across
    unknown = signals.get("unknown_names", 0.0) > 0
    margin = calibration.refusal_unknown_name_lift if unknown else 0.0
    clearances = []
    if least is not None and "topic_lift" in signals:
        clearances.append(signals["topic_lift"] - least - margin)
    if across is not None and "topic_lift_across" in signals:
        clearances.append(signals["topic_lift_across"] - across - margin)
    return {
        "background_lift": signals.get("background_lift", 0.0),
        "topic_clearance": min(max(clearances, default=0.0), CLEARANCE_CAP),
        "coverage": signals.get("coverage", 0.0),
        "missing": signals.get("missing", 0.0),
        "kind": signals.get("kind", 0.0),
        "known_share": signals.get("known_share", 0.0),
        "unknown_name": float(unknown),
        "archive_lift": signals.get("archive_lift", 0.0),
        "score": signals.get("score", 0.0),
    }


def probability(signals: dict[str, float], calibration: Calibration) -> float:
    """The chance that an answer's first two sentences hold the answer (0 without signals:
    no sentence was found)."""
    if not signals:
        return 0.0
    weights = calibration.judge_weights
    if weights is None:
        # No judge fitted for this model (all-MiniLM-L6-v2): the raw score, clipped.
        chance = min(1.0, max(0.0, signals.get("score", 0.0)))
    else:
        features = judge_features(signals, calibration)
        logit = calibration.judge_intercept + sum(w * features[name] for name, w in weights.items())
        chance = 1.0 / (1.0 + math.exp(-max(-700.0, min(700.0, logit))))
    if signals.get("quantity_lacking"):
        # The question asks how many, and the sentences hold no quantity.
        chance = min(chance, calibration.quantity_lacking_chance)
    if signals.get("words_unheld"):
        # No word of the question in the archive, and only a weak likeness to it.
        chance = min(chance, calibration.words_unheld_chance)
    return chance


def verdict(
    refused: bool, chance: float, calibration: Calibration, signals: dict[str, float] | None = None
) -> Verdict:
    """`not_in_archive` when the refusal rules refuse; else `uncertain` when the sentences lack
    the quantity the question asks for (`signals["quantity_lacking"]`), or the archive holds
    none of its words and barely clears the off-topic check (`signals["words_unheld"]`),
    whatever the chance, or the chance is below `answered_probability`; else `answered`."""
    if refused:
        return "not_in_archive"
    if signals and (signals.get("quantity_lacking") or signals.get("words_unheld")):
        return "uncertain"
    return "answered" if chance >= calibration.answered_probability else "uncertain"
