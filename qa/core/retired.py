"""Settings that are no more, and where each went (`Settings` refuses them by name)."""

from __future__ import annotations

#: Settings that are no more, and where each went: given as a keyword or a `QA_*` variable,
#: they stop `Settings` with this message instead of being ignored.
_CALIBRATED = (
    "is no longer a setting: it is `{}` of each embedding model's answer calibration "
    "(qa.answer.calibration), whose weights and thresholds are fitted together; to try "
    "another, give a whole calibration in a JSON file (QA_CALIBRATION_FILE)"
)
RETIRED: dict[str, str] = {
    "dense_weight": "is now search_dense_weight (QA_SEARCH_DENSE_WEIGHT), the retrieval "
    "fusion's dense weight",
    **{
        old: _CALIBRATED.format(new)
        for old, new in {
            "answer_context_weight": "sentence_context_weight",
            "answer_passage_weight": "sentence_passage_weight",
            "answer_rank_weight": "sentence_rank_weight",
            "answer_kind_weight": "sentence_kind_weight",
            "answer_dense_weight": "sentence_dense_weight",
            "answer_context_dense_weight": "sentence_context_dense_weight",
            "abstain_dense_weight": "confidence_dense_weight",
            "abstain_missing_penalty": "confidence_missing_penalty",
            "abstain_threshold": "refusal_threshold",
            "abstain_background_lift": "refusal_background_lift",
        }.items()
    },
}
