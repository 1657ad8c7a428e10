"""The web pages through FastAPI's test client: the chat (with and without JavaScript), the
document and search pages, and the escaping of every text from archives and users."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from http_helpers import LONG_QUESTION

from qa.web.app import create_app


def test_chat_page_is_served_with_its_assets_and_strict_headers(client):
    page = client.get("/")
    assert page.status_code == 200
    assert '<form class="composer" id="ask-form" method="post" action="/">' in page.text
    assert "6 documents" in page.text
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'self'
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "http://" not in page.text and "https://" not in page.text
    for asset in ("/static/app.css", "/static/chat.js", "/static/document.js"):
        response = client.get(asset)
        assert response.status_code == 200
        assert "http://" not in response.text and "https://" not in response.text


@pytest.mark.parametrize(
    ("documents", "passages", "line"),
    [
        (1, 1, "1 document · 1 passage indexed"),
        (1, 2, "1 document · 2 passages indexed"),
        (2, 1, "2 documents · 1 passage indexed"),
        (0, 0, "0 documents · 0 passages indexed"),
    ],
)
def test_chat_page_counts_documents_and_passages_in_words(
    client, shared_web_archive, monkeypatch, documents, passages, line
):
    assistant = shared_web_archive[1]
    counts = {**assistant.health(), "documents": documents, "passages": passages}
    monkeypatch.setattr(assistant, "health", lambda: counts)
    assert f'<p class="stats">{line}</p>' in client.get("/").text


def test_chat_form_without_javascript_renders_the_answer(client):
    page = client.post("/", data={"question": "When was the national strike called?"})
    assert page.status_code == 200
    assert "From the archive" in page.text
    assert "<mark>The national strike was called for December 15" in page.text
    assert 'class="cite" href="#t1-c1"' in page.text
    assert "Open in document" in page.text
    assert "/documents/strike.txt#p" in page.text
    # The turn travels on in hidden fields, for the follow-up.
    assert 'name="history_question" value="When was the national strike called?"' in page.text


def test_chat_form_carries_the_conversation(web_archive):
    settings, assistant = web_archive
    seen = []
    original = assistant.ask
    assistant.ask = lambda question, history=None, filters=None: (
        seen.append(history) or original(question, history=history, filters=filters)
    )
    with TestClient(create_app(settings, assistant)) as client:
        page = client.post(
            "/",
            data={
                "question": "Who joined the strike?",
                "history_question": ["When was the strike?"],
                "history_answer": ["December 15. [1]"],
            },
        )
    assert page.status_code == 200
    assert seen == [[{"question": "When was the strike?", "answer": "December 15. [1]"}]]
    assert "When was the strike?" in page.text and "December 15. [1]" in page.text
    assert 'id="t2"' in page.text


def test_chat_form_says_what_is_wrong_with_a_bad_question(client):
    page = client.post("/", data={"question": "   "})
    assert page.status_code == 422
    assert "The question is empty." in page.text
    page = client.post("/", data={"question": LONG_QUESTION})
    assert page.status_code == 422
    assert "limit is 1000" in page.text


def test_chat_form_abstains_plainly(client):
    page = client.post("/", data={"question": "Quantum chromodynamics lattice gauge?"})
    assert "The archive does not say." in page.text
    assert "Not an answer" in page.text


def test_document_page_anchors_every_passage(client):
    passages = client.get("/api/documents/reports/harvest.md").json()["passages"]
    page = client.get("/documents/reports/harvest.md")
    assert page.status_code == 200
    assert "Harvest report" in page.text and "Farm office" in page.text
    assert "2 May 2019" in page.text
    for passage in passages:
        assert f'id="p{passage["id"]}"' in page.text
        assert f'data-p="{passage["id"]}"' in page.text


def test_document_page_for_an_unknown_id_is_a_404_page(client):
    page = client.get("/documents/missing/report.pdf")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "No document has the id" in page.text


def test_search_page_highlights_and_filters(client):
    page = client.get("/search", params={"q": "harvest", "source": "Farm office"})
    assert page.status_code == 200
    assert "<mark>harvest</mark>" in page.text
    assert "/documents/reports/harvest.md#p" in page.text
    assert "Strike bulletin" not in page.text
    empty = client.get("/search", params={"q": "harvest", "source": "Nobody"})
    assert "No passage matches" in empty.text


def test_search_page_reports_bad_filters_and_bad_k(client):
    page = client.get("/search", params={"q": "strike", "date_from": "2022-02-30"})
    assert page.status_code == 422
    assert "date_from must be a date" in page.text
    page = client.get("/search", params={"q": "strike", "k": 0})
    assert page.status_code == 422
    assert "text/html" in page.headers["content-type"]


def test_archive_and_user_text_is_escaped_everywhere(client):
    evil_markup = ("<script>", "<img src=x", "<b>bold</b>")
    pages = [
        client.get("/documents/evil.txt"),
        client.get("/search", params={"q": "lighthouse keeper storm"}),
        client.post(
            "/", data={"question": "What did the lighthouse keeper log? <script>x()</script>"}
        ),
        client.post("/", data={"question": '<img src=x onerror="alert(1)">'}),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "lighthouse" in page.text or "&lt;img" in page.text
        for markup in evil_markup:
            assert markup not in page.text
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt; Evil memo" in pages[0].text
    assert "&lt;img src=x onerror=" in pages[0].text
    assert "&lt;script&gt;x()&lt;/script&gt;" in pages[2].text
