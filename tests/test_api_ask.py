"""`/api/ask` through FastAPI's test client: cited answers, plain abstentions, the
conversation passed on, and every refusal with its reason."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from http_helpers import LONG_QUESTION, error_of

from qa.service.assistant import Assistant
from qa.web.app import create_app


def test_ask_answers_with_cited_sentences(client):
    response = client.post("/api/ask", json={"question": "When was the national strike called?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["abstained"] is False
    assert body["verdict"] in ("answered", "uncertain") and 0.0 <= body["confidence"] <= 1.0
    assert "hits" not in body and "score" not in body  # evaluation's, not the API's
    assert "December 15" in body["answer"]
    sentence = body["sentences"][0]
    citation = next(c for c in body["citations"] if c["n"] == sentence["citation"])
    assert citation["document_id"] == "strike.txt"
    assert sentence["text"] in citation["text"]
    start, end = citation["highlights"][0]
    assert citation["text"][start:end] == sentence["text"]
    assert citation["url"] == f"/documents/strike.txt#p{citation['passage_id']}"
    for key in ("n", "title", "passage_id", "text", "start", "end", "page", "metadata"):
        assert key in citation


def test_ask_abstains_plainly_with_the_closest_passages(client):
    question = "What is the quantum chromodynamics of a glacier?"
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["abstained"] is True and body["verdict"] == "not_in_archive"
    assert 0.0 <= body["confidence"] <= 1.0
    assert body["sentences"] == []
    assert body["answer"].startswith("The archive does not say")
    # The closest passages, best first, none of them marked as answering: the one passage
    # that shares a word with the question leads, as it leads the search for it.
    closest = body["citations"]
    assert [citation["n"] for citation in closest] == [1, 2, 3]
    assert closest[0]["document_id"] == "reports/field notes #3.txt"
    top = client.get("/api/search", params={"q": question, "k": 1}).json()["hits"][0]
    assert closest[0]["passage_id"] == top["passage_id"]
    assert [citation["highlights"] for citation in closest] == [[], [], []]


def test_ask_passes_the_conversation_to_the_core(web_archive):
    settings, assistant = web_archive
    seen = []
    original = assistant.ask

    def spying_ask(question, history=None, filters=None):
        seen.append(history)
        return original(question, history=history, filters=filters)

    assistant.ask = spying_ask
    history = [{"question": "When was the strike called?", "answer": "December 15. [1]"}]
    with TestClient(create_app(settings, assistant)) as client:
        response = client.post("/api/ask", json={"question": "Who joined it?", "history": history})
        assert response.status_code == 200
        client.post("/api/ask", json={"question": "Who joined it?"})
    assert seen == [history, None]


@pytest.mark.parametrize(
    ("payload", "kind", "fragment"),
    [
        ({"question": ""}, "invalid_query", "empty"),
        ({"question": " \n "}, "invalid_query", "empty"),
        ({"question": LONG_QUESTION}, "invalid_query", "limit is 1000"),
        ({}, "invalid_request", "question"),
        ({"question": 42}, "invalid_request", "question"),
        ({"question": "strike", "history": "yesterday"}, "invalid_request", "history"),
        ({"question": "strike", "history": [{"question": "a"}]}, "invalid_request", "answer"),
        ({"question": "strike", "date_from": "2022-02-30"}, "invalid_query", "date_from"),
    ],
)
def test_ask_rejects_bad_input_with_a_reason(client, payload, kind, fragment):
    message = error_of(client.post("/api/ask", json=payload), 422, kind)
    assert fragment in message


def test_ask_rejects_text_that_is_not_unicode_and_bodies_that_are_not_json(client):
    raw = '{"question": "strike \\ud800"}'
    response = client.post("/api/ask", content=raw, headers={"Content-Type": "application/json"})
    assert "Unicode" in error_of(response, 422, "invalid_request")
    response = client.post(
        "/api/ask", content="{not json", headers={"Content-Type": "application/json"}
    )
    error_of(response, 422, "invalid_request")


def test_a_follow_up_may_borrow_past_the_length_limit(client):
    question = "And " + "so " * 325 + "when was it called?"  # 998 characters
    history = [{"question": "Who called the national strike?", "answer": "The assembly. [1]"}]
    body = {"question": question, "history": history}
    response = client.post("/api/ask", json=body)
    assert response.status_code == 200, response.text
    assert len(response.json()["resolved_query"]) > 1000
    assert "national" in response.json()["resolved_query"]


def test_the_verdict_follows_the_calibrated_confidence(web_archive):
    # The same answer is 'answered' or 'uncertain' by where the calibration draws the line;
    # a refusal is 'not_in_archive' either way.
    from qa.answer.calibration import calibration_for

    settings, assistant = web_archive
    fitted = calibration_for(settings, assistant.embedder.backend)
    question = {"question": "When was the national strike called?"}
    refused = {"question": "What is the quantum chromodynamics of a glacier?"}
    seen = {}
    for least in (0.0, 1.0):
        calibration = fitted.model_copy(update={"answered_probability": least})
        with TestClient(
            create_app(settings, Assistant(settings, assistant.embedder, calibration))
        ) as client:
            seen[least] = client.post("/api/ask", json=question).json()
            assert client.post("/api/ask", json=refused).json()["verdict"] == "not_in_archive"
    assert seen[0.0]["verdict"] == "answered" and seen[1.0]["verdict"] == "uncertain"
    assert seen[0.0]["answer"] == seen[1.0]["answer"] and seen[0.0]["abstained"] is False
    assert seen[0.0]["confidence"] == seen[1.0]["confidence"] < 1.0
