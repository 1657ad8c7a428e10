"""`/api/documents/{id}` through FastAPI's test client: documents found by id (never by
path), their metadata, passages and URLs."""

from __future__ import annotations

import urllib.parse

import pytest
from fastapi.testclient import TestClient
from http_helpers import error_of

from qa.service.assistant import Assistant
from qa.web.app import create_app


@pytest.mark.parametrize("document_id", ["reports/harvest.md", "news.jsonl:2", "strike.txt"])
def test_document_by_id_with_its_metadata_and_passages(client, document_id):
    body = client.get(f"/api/documents/{document_id}").json()
    assert body["id"] == document_id
    assert body["passages"]
    assert all(body["text"][p["start"] : p["end"]] == p["text"] for p in body["passages"])
    assert body["passages"][0]["url"].endswith(f"#p{body['passages'][0]['id']}")


def test_document_links_are_url_encoded(client):
    hit = client.get("/api/search", params={"q": "glacier retreated", "k": 1}).json()["hits"][0]
    assert hit["document_id"] == "reports/field notes #3.txt"
    assert hit["url"] == f"/documents/reports/field%20notes%20%233.txt#p{hit['passage_id']}"
    page = client.get(hit["url"].split("#")[0])
    assert page.status_code == 200
    assert f'id="p{hit["passage_id"]}"' in page.text
    assert client.get("/api/documents/reports/field%20notes%20%233.txt").status_code == 200


def test_document_metadata(client):
    body = client.get("/api/documents/strike.txt").json()
    assert (body["title"], body["date"], body["source"]) == (
        "Strike bulletin",
        "2022-12",
        "Union press",
    )


@pytest.mark.parametrize(
    "document_id", ["nope.txt", "../strike.txt", "..%2F..%2Fetc%2Fpasswd", "/etc/passwd", ""]
)
def test_unknown_documents_are_404(client, document_id):
    response = client.get(f"/api/documents/{document_id}")
    assert response.status_code == 404
    # "../" may be resolved by the client before it is sent: then no route matches at all.
    assert response.json()["error"]["type"] in {"document_not_found", "not_found"}


@pytest.mark.parametrize(
    "path",
    [
        "reports%2F..%2Fstrike.txt",
        "reports/.%2Fharvest.md",
        ".%2Fstrike.txt",
        "{corpus}/strike.txt",
        "..%2Fcorpus%2Fstrike.txt",
        "..%2Findex%2Fcatalog.sqlite",
        "strike.txt.meta.json",
    ],
)
def test_unknown_documents_never_reach_the_file_system(client, shared_web_archive, path):
    """Each of these names a file that exists, inside the corpus or beside it; none is the id
    of a document, so none is served: documents are found by id, never by path."""
    settings, _ = shared_web_archive
    path = path.format(corpus=settings.corpus)
    named = settings.corpus / urllib.parse.unquote(path)
    assert named.is_file(), named
    for url in (f"/api/documents/{path}", f"/documents/{path}"):
        response = client.get(url)
        assert response.status_code == 404, (url, response.text[:200])
        assert "Strike bulletin" not in response.text and "December 15" not in response.text
    error_of(client.get(f"/api/documents/{path}"), 404, "document_not_found")


def test_a_file_name_with_a_line_break_has_a_working_url(make_settings, fake_embedder):
    settings = make_settings()
    (settings.corpus / "minutes\nof the assembly.txt").write_text(
        "The assembly met in Lima on 10 December.\n", encoding="utf-8"
    )
    assistant = Assistant(settings, fake_embedder)
    assistant.build()
    with TestClient(create_app(settings, assistant)) as client:
        hit = client.get("/api/search", params={"q": "assembly Lima"}).json()["hits"][0]
        assert hit["url"].startswith("/documents/minutes%0Aof%20the%20assembly.txt#p")
        assert client.get(hit["url"].split("#")[0]).status_code == 200
        api = client.get("/api/documents/minutes%0Aof%20the%20assembly.txt")
        assert api.status_code == 200 and api.json()["id"] == "minutes\nof the assembly.txt"
