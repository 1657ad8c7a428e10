"""Schema fuzzing of the JSON API: whatever schemathesis sends, no 5xx and every response
matches the OpenAPI schema (status codes, content types, bodies)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import schemathesis
from fake_embedder import FakeEmbedder
from hypothesis import HealthCheck, settings

from qa.core.config import Settings
from qa.service.assistant import Assistant
from qa.web.app import create_app

# The schema is read when the tests are collected, so the archive is built and the app made
# then: the schema's example document ids come from the index in service. (schemathesis'
# `from_fixture` does not work with pytest 9.)
_FOLDER = tempfile.TemporaryDirectory(prefix="qa-fuzz-")
_SETTINGS = Settings(
    corpus=Path(_FOLDER.name) / "corpus",
    index=Path(_FOLDER.name) / "index",
    embedder="fake",
    model="fake",
    progress=False,
    admin_token="t0ken",
    allowed_hosts=["testserver", "localhost"],  # what schemathesis' ASGI client sends
)


def _built_assistant() -> Assistant:
    corpus = _SETTINGS.corpus
    (corpus / "reports").mkdir(parents=True, exist_ok=True)
    (corpus / "reports" / "strike.txt").write_text(
        "The national strike was called for December 15.\nTeachers joined it.\n", encoding="utf-8"
    )
    # Dated sentences, so that the timeline (GET /api/timeline) has events to list.
    (corpus / "reports" / "strike.txt.meta.json").write_text('{"date": "2022-12-14"}')
    (corpus / "news.jsonl").write_text(
        json.dumps({"text": "The river flooded the town.", "date": "2021-03", "source": "Wire"})
        + "\n",
        encoding="utf-8",
    )
    assistant = Assistant(_SETTINGS, FakeEmbedder())
    assistant.build()
    return assistant


schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_SETTINGS, _built_assistant()))


@pytest.fixture(scope="module", autouse=True)
def removed_afterwards():
    yield
    _FOLDER.cleanup()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case):
    case.call_and_validate()
