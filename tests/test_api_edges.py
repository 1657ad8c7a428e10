"""The edges of the web app through FastAPI's test client: errors outside the core, the
OpenAPI schema and what it promises, the offline API docs."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from http_helpers import error_of

from qa.service.assistant import Assistant
from qa.web.app import create_app


def test_missing_index_is_503_in_json_and_html(make_settings, fake_embedder):
    settings = make_settings()
    with TestClient(create_app(settings, Assistant(settings, fake_embedder))) as client:
        message = error_of(client.get("/api/health"), 503, "index_missing")
        assert "qa index" in message
        page = client.get("/")
        assert page.status_code == 503
        assert "text/html" in page.headers["content-type"]
        assert "qa index" in page.text


def test_unknown_routes_and_methods(client):
    error_of(client.get("/api/nothing"), 404, "not_found")
    error_of(client.delete("/api/health"), 405, "method_not_allowed")
    page = client.get("/nothing-here")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]


def test_openapi_documents_every_endpoint_with_examples(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/search", "/api/ask", "/api/documents/{document_id}", "/api/health"):
        assert path in paths
    assert "/" not in paths and "/search" not in paths
    components = schema["components"]["schemas"]
    for name in ("AskRequest", "AnswerResponse", "SearchResponse", "ErrorResponse"):
        assert components[name]["examples"]
    assert paths["/api/ask"]["post"]["responses"]["422"]["content"]["application/json"]


def test_api_docs_page_works_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_the_schema_says_what_the_server_accepts(client):
    schema = client.get("/openapi.json").json()
    search = {p["name"]: p["schema"] for p in schema["paths"]["/api/search"]["get"]["parameters"]}
    question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]
    for text in (search["q"], question):
        assert (text["minLength"], text["maxLength"]) == (1, 1000)
        # What the schema calls blank, the server does (Python and ECMA-262 differ on some).
        for blank in (" ", "\x1f", "\ufeff", "\u3000", "\x85"):
            assert not re.search(text["pattern"], blank)
            response = client.get("/api/search", params={"q": blank * 3})
            assert "empty" in error_of(response, 422, "invalid_query")
        assert re.search(text["pattern"], "\x1fa\ufeff")
    assert (search["k"]["anyOf"][0]["minimum"], search["k"]["anyOf"][0]["maximum"]) == (1, 50)
    date_pattern = search["date_from"]["anyOf"][0]["pattern"]
    assert re.fullmatch(date_pattern, "2022-12") and not re.fullmatch(date_pattern, "２０２２")


def test_the_schema_gives_real_document_ids_as_examples(client):
    schema = client.get("/openapi.json").json()
    (parameter,) = schema["paths"]["/api/documents/{document_id}"]["get"]["parameters"]
    examples = [example["value"] for example in parameter["examples"].values()]
    assert len(examples) == 3
    for document_id in examples:
        assert client.get(f"/api/documents/{document_id}").status_code == 200
