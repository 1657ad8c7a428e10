"""The API's models (qa/web/models): the core's dataclasses with what the API adds, and
passage ids that JSON carries as strings and that are read in either form."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Annotated

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

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
    JsonPassageId,
    PassageOut,
    RebuildStatus,
    SearchResponse,
    TimelineResponse,
)

PASSAGE_IDS = {
    ("HitOut", "passage_id"),
    ("CitationOut", "passage_id"),
    ("EventSourceOut", "passage_id"),
    ("PassageOut", "id"),
}


@pytest.mark.parametrize(
    ("model", "core", "left_out"),
    [
        (HitOut, Hit, set()),
        (CitationOut, Citation, set()),
        (AnswerSentenceOut, AnswerSentence, set()),
        (AnswerResponse, Answer, {"hits", "signals", "score"}),
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


def test_every_passage_id_of_the_schema_is_a_string_of_digits(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    found = {}
    for name, schema in schemas.items():
        for key, value in schema.get("properties", {}).items():
            if key == "passage_id" or (name, key) in PASSAGE_IDS:
                found[name, key] = value
    assert set(found) == PASSAGE_IDS
    for value in found.values():
        assert value["type"] == "string"
        assert value["pattern"] == "^[0-9]{1,19}$"


def test_the_models_read_a_passage_id_as_a_string_or_as_a_number(client):
    body = client.get("/api/search", params={"q": "potato harvest", "k": 3}).text
    sent = json.loads(body)
    with_numbers = re.sub(r'"passage_id":"([0-9]+)"', r'"passage_id":\1', body)
    assert with_numbers != body
    read = SearchResponse.model_validate_json(body)
    assert SearchResponse.model_validate_json(with_numbers) == read
    assert [hit.passage_id for hit in read.hits] == [int(h["passage_id"]) for h in sent["hits"]]
    assert read.model_dump(mode="json") == sent  # and written back the same


@pytest.mark.parametrize(
    "value", ["", "12a", "-1", " 12", "1e3", "１２", str(2**63), -1, 2**63, 1.5, True, None]
)
def test_a_passage_id_is_an_integer_from_0_to_2_63(value):
    with pytest.raises(ValidationError):
        TypeAdapter(JsonPassageId).validate_python(value)


def test_a_route_taking_a_passage_id_takes_either_form():
    """No route of the app takes a passage id yet; one would take it with this type, in the
    path, the query or a JSON body, as digits or as a number."""
    app = FastAPI()
    big = 2**63 - 25

    @app.get("/passages/{passage_id}")
    def passage(
        passage_id: JsonPassageId, near: Annotated[JsonPassageId | None, Query()] = None
    ) -> dict:
        return {"same": passage_id == big and near in (None, big)}

    @app.post("/passages")
    def posted(ids: list[JsonPassageId]) -> dict:
        return {"same": ids == [big, big]}

    client = TestClient(app)
    assert client.get(f"/passages/{big}", params={"near": str(big)}).json() == {"same": True}
    body = {"content": f'[{big}, "{big}"]', "headers": {"Content-Type": "application/json"}}
    assert client.post("/passages", **body).json() == {"same": True}
    assert client.get("/passages/12a").status_code == 422
