"""The API's models (qa/web/models): the core's dataclasses with what the API adds."""

from __future__ import annotations

import dataclasses

import pytest

from qa.core.types import Answer, AnswerSentence, Citation, Document, EventSource, Hit, Passage
from qa.service.assistant import RebuildState
from qa.timeline.build import Timeline
from qa.web.models import (
    AnswerResponse,
    AnswerSentenceOut,
    CitationOut,
    DocumentResponse,
    EventSourceOut,
    HitOut,
    PassageOut,
    RebuildStatus,
    TimelineResponse,
)


@pytest.mark.parametrize(
    ("model", "core", "left_out"),
    [
        (HitOut, Hit, set()),
        (CitationOut, Citation, set()),
        (AnswerSentenceOut, AnswerSentence, set()),
        (AnswerResponse, Answer, {"hits"}),
        (EventSourceOut, EventSource, set()),
        (TimelineResponse, Timeline, set()),
        (PassageOut, Passage, {"sentences", "document_id"}),
        (DocumentResponse, Document, {"content_hash"}),
        (RebuildStatus, RebuildState, set()),
    ],
)
def test_a_response_shows_the_fields_of_its_core_type(model, core, left_out):
    """Each field of the core type is in the JSON schema under its name, described as the
    core describes it; only what the API leaves out on purpose is missing."""
    schema = model.model_json_schema(mode="serialization")
    properties = schema["properties"]
    for field in dataclasses.fields(core):
        if field.name in left_out:
            assert field.name not in properties
            continue
        assert field.name in properties
        assert field.name in schema["required"]  # every answer has every key
        described = field.metadata.get("description")
        if described:
            assert properties[field.name]["description"].startswith(described)
