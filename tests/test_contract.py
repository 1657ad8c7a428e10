"""One JSON contract: `qa search|ask|timeline --json` print what `/api/search`, `/api/ask` and
`/api/timeline` answer, the same keys at every depth and the same values, over one index."""

from __future__ import annotations

import json

import pytest
from archives import write
from click.testing import CliRunner
from fastapi.testclient import TestClient

from qa.cli import main
from qa.service.assistant import Assistant
from qa.web.app import create_app

QUESTION = "When did the national strike begin?"


@pytest.fixture
def archive(make_settings, fake_embedder):
    """Settings over a small built archive with dated sentences, so that answers carry events,
    and an API client over it."""
    settings = make_settings()
    write(
        settings.corpus,
        "lima.txt",
        "Delegates met in Lima on 10 December 2022.\n"
        "The national strike began on December 15 across the south.\n",
        {"date": "2022-12", "source": "Lima desk", "language": "en"},
    )
    write(
        settings.corpus,
        "harvest.txt",
        "The potato harvest doubled in May 2019 after the canals opened.\n",
        {"date": "2019-05-02", "source": "Farm office", "language": "en"},
    )
    assistant = Assistant(settings, fake_embedder)
    assistant.build()
    with TestClient(create_app(settings, assistant)) as client:
        yield settings, client


def cli_json(settings, *args: str) -> dict:
    """What the real `qa` command prints with --json, read back as JSON."""
    env = {
        "QA_CORPUS": str(settings.corpus),
        "QA_INDEX": str(settings.index),
        "QA_EMBEDDER": settings.embedder,
        "QA_MODEL": settings.model,
    }
    result = CliRunner().invoke(main, [*args, "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def shape(value):
    """The keys of `value` at every depth (and the shape of every list item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def test_search_json_is_the_api_search(archive):
    settings, client = archive
    from_cli = cli_json(settings, "search", "national strike", "-k", "2")
    response = client.get("/api/search", params={"q": "national strike", "k": 2})
    assert response.status_code == 200
    from_api = response.json()
    assert len(from_cli["hits"]) == 2
    assert from_cli["hits"][0]["url"] == f"/documents/lima.txt#p{from_cli['hits'][0]['passage_id']}"
    assert shape(from_cli) == shape(from_api)
    assert from_cli == from_api


def test_search_json_with_filters_and_mode_is_the_api_search(archive):
    settings, client = archive
    args = ["search", "harvest strike", "--mode", "lexical", "--source", "Farm office"]
    from_cli = cli_json(settings, *args, "--date-from", "2019")
    params = {"q": "harvest strike", "mode": "lexical", "source": "Farm office"}
    from_api = client.get("/api/search", params={**params, "date_from": "2019"}).json()
    assert [hit["document_id"] for hit in from_cli["hits"]] == ["harvest.txt"]
    assert from_cli == from_api


def test_ask_json_is_the_api_answer(archive):
    settings, client = archive
    from_cli = cli_json(settings, "ask", QUESTION)
    response = client.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200
    from_api = response.json()
    # Every level is filled, so that the comparison reaches the keys of each.
    assert from_cli["sentences"] and from_cli["citations"] and from_cli["events"]
    assert from_cli["events"][0]["sources"][0]["citation"] is not None
    assert "hits" not in from_cli  # the retrieval behind an answer is not part of it
    assert shape(from_cli) == shape(from_api)
    assert from_cli == from_api


def test_a_follow_up_asked_with_history_is_the_api_answer(archive, tmp_path):
    settings, client = archive
    first = client.post("/api/ask", json={"question": QUESTION}).json()
    history = [{"question": QUESTION, "answer": first["answer"]}]
    turns = tmp_path / "turns.json"
    turns.write_text(json.dumps(history), encoding="utf-8")
    follow_up = "And where did the delegates meet?"
    from_cli = cli_json(settings, "ask", follow_up, "--history", str(turns))
    from_api = client.post("/api/ask", json={"question": follow_up, "history": history}).json()
    assert from_cli["resolved_query"] != follow_up  # it borrowed from the earlier turn
    assert from_cli == from_api


def test_timeline_json_is_the_api_timeline(archive):
    settings, client = archive
    from_cli = cli_json(settings, "timeline", "--limit", "5")
    from_api = client.get("/api/timeline", params={"limit": 5}).json()
    assert [event["date"] for event in from_cli["events"]] == [
        "2019-05",
        "2022-12-10",
        "2022-12-15",
    ]
    assert shape(from_cli) == shape(from_api)
    assert from_cli == from_api
    with_query = cli_json(settings, "timeline", "strike", "--date-from", "2022-12-12")
    assert (
        with_query
        == client.get("/api/timeline", params={"q": "strike", "date_from": "2022-12-12"}).json()
    )
    assert [event["date"] for event in with_query["events"]] == ["2022-12-15"]
