"""The web layer through FastAPI's test client: every endpoint, every error, the escaping."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from qa import service
from qa.app import create_app
from qa.cli import main
from qa.config import Settings
from qa.service import Assistant

EVIL_TITLE = "<script>window.__pwned = 1</script> Evil memo"
EVIL_TEXT = (
    "The lighthouse keeper logged a storm on the island. "
    'Attached image: <img src=x onerror="window.__pwned = 2"> and nothing more.'
)
LONG_QUESTION = "why " * 300
#: The keys of each hit of `qa search --json` (README).
CLI_SEARCH_KEYS = {
    "passage_id", "document_id", "title", "text", "score", "start", "end", "page", "rank",
    "dense_score", "lexical_score", "metadata",
}  # fmt: skip


def write_archive(corpus) -> None:
    """A small archive: sidecar metadata, front matter, a sub-folder, JSON Lines, a hostile file."""
    (corpus / "strike.txt").write_text(
        "The national strike was called for December 15 by the assembly of unions.\n"
        "Teachers and students joined the strike in the capital.\n",
        encoding="utf-8",
    )
    (corpus / "strike.txt.meta.json").write_text(
        json.dumps(
            {
                "title": "Strike bulletin",
                "date": "2022-12",
                "source": "Union press",
                "language": "en",
            }
        ),
        encoding="utf-8",
    )
    reports = corpus / "reports"
    reports.mkdir()
    (reports / "harvest.md").write_text(
        "---\ntitle: Harvest report\ndate: 2019-05-02\nsource: Farm office\n---\n"
        "The potato harvest in the highlands doubled after the new irrigation canals opened.\n",
        encoding="utf-8",
    )
    records = [
        {
            "text": "The river flooded the lower town in March.",
            "title": "Flood note",
            "date": "2021",
        },
        {"text": "El puerto cerró durante la huelga de los estibadores.", "title": "Puerto"},
    ]
    (corpus / "news.jsonl").write_text(
        "\n".join(json.dumps(record, ensure_ascii=False) for record in records) + "\n",
        encoding="utf-8",
    )
    (reports / "field notes #3.txt").write_text(
        "The glacier retreated forty metres over the summer.\n", encoding="utf-8"
    )
    (corpus / "evil.txt").write_text(EVIL_TEXT + "\n", encoding="utf-8")
    (corpus / "evil.txt.meta.json").write_text(
        json.dumps({"title": EVIL_TITLE, "source": "<b>bold</b> source"}), encoding="utf-8"
    )


@pytest.fixture
def archive(make_settings, fake_embedder):
    """Settings and an assistant over a freshly built small archive, for tests that change it."""
    settings = make_settings(admin_token="s3cret-token")
    write_archive(settings.corpus)
    assistant = Assistant(settings, fake_embedder)
    assistant.build()
    return settings, assistant


@pytest.fixture(scope="module")
def shared_archive(tmp_path_factory, module_fake_embedder):
    """Settings and an assistant over one archive that the read-only tests of this module share."""
    folder = tmp_path_factory.mktemp("shared")
    settings = Settings(
        corpus=folder / "corpus",
        index=folder / "index",
        embedder="fake",
        model="fake",
        progress=False,
        admin_token="s3cret-token",
        allowed_hosts=["testserver"],
    )
    settings.corpus.mkdir()
    write_archive(settings.corpus)
    assistant = Assistant(settings, module_fake_embedder)
    assistant.build()
    return settings, assistant


@pytest.fixture(scope="module")
def client(shared_archive):
    """A client of the app over the shared archive."""
    settings, assistant = shared_archive
    with TestClient(create_app(settings, assistant)) as test_client:
        yield test_client


def error_of(response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == kind
    assert body["error"]["message"]
    return body["error"]["message"]


# --- /api/health and /api/search ------------------------------------------------------------


def test_health_reports_index_counts_and_model(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["documents"] == 6
    assert body["passages"] >= 5
    assert body["model"] == "fake"
    assert body["index_version"]
    assert body["vectors_layout"] == "Flat"  # a handful of passages: exact
    assert body["embedder"] == "fake"
    assert body["query_encoder"] == "fake"  # what embeds questions: the backend itself


def test_search_returns_the_hits_of_the_cli(client, shared_archive):
    settings, _ = shared_archive
    response = client.get("/api/search", params={"q": "potato harvest", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "potato harvest"
    top = body["hits"][0]
    assert top["document_id"] == "reports/harvest.md"
    assert "potato harvest" in top["text"]
    assert top["url"] == f"/documents/reports/harvest.md#p{top['passage_id']}"

    # `qa search --json` on the same index prints the same hits, in the same order, with
    # the same values for every key it prints (the README's keys at least).
    paths = ["--corpus", str(settings.corpus), "--index", str(settings.index)]
    printed = CliRunner().invoke(
        main,
        ["search", *paths, "potato harvest", "-k", "3", "--json"],
        env={"QA_EMBEDDER": "fake", "QA_MODEL": "fake"},
        catch_exceptions=False,
    )
    assert printed.exit_code == 0, printed.output
    cli = json.loads(printed.stdout)
    assert cli["query"] == body["query"]
    assert len(body["hits"]) == len(cli["hits"]) == 3
    for cli_hit, api_hit in zip(cli["hits"], body["hits"], strict=True):
        assert CLI_SEARCH_KEYS <= set(cli_hit)
        assert {key: api_hit.get(key) for key in cli_hit} == cli_hit


def test_search_filters_by_source_language_and_dates(client):
    def ids(**params):
        hits = client.get("/api/search", params={"q": "strike harvest flooded", **params})
        assert hits.status_code == 200, hits.text
        return {hit["document_id"] for hit in hits.json()["hits"]}

    assert ids(source="Farm office") == {"reports/harvest.md"}
    assert ids(language="es") == {"news.jsonl:2"}
    assert ids(date_from="2021", date_to="2021-12-31") == {"news.jsonl:1"}
    assert "strike.txt" in ids(date_from="2022-12-01")
    assert "reports/harvest.md" not in ids(date_from="2022-12-01")


@pytest.mark.parametrize(
    ("params", "kind", "fragment"),
    [
        ({"q": ""}, "invalid_query", "empty"),
        ({"q": "   "}, "invalid_query", "empty"),
        ({"q": LONG_QUESTION}, "invalid_query", "limit is 1000"),
        ({"q": "strike", "k": 0}, "invalid_request", "k"),
        ({"q": "strike", "k": 51}, "invalid_request", "k"),
        ({"q": "strike", "k": "many"}, "invalid_request", "k"),
        ({"q": "strike", "mode": "psychic"}, "invalid_request", "mode"),
        ({"q": "strike", "date_from": "2022-13"}, "invalid_query", "date_from"),
        ({"q": "strike", "date_to": "yesterday"}, "invalid_query", "date_to"),
        ({}, "invalid_request", "q"),
    ],
)
def test_search_rejects_bad_input_with_a_reason(client, params, kind, fragment):
    message = error_of(client.get("/api/search", params=params), 422, kind)
    assert fragment in message


def test_a_date_range_that_ends_before_it_starts_matches_nothing(client):
    def search(date_from, date_to):
        params = {"q": "strike harvest flooded", "date_from": date_from, "date_to": date_to}
        response = client.get("/api/search", params=params)
        assert response.status_code == 200, response.text
        return {hit["document_id"] for hit in response.json()["hits"]}

    def ask(date_from, date_to):
        question = {"question": "When was the strike called?"}
        response = client.post(
            "/api/ask", json={**question, "date_from": date_from, "date_to": date_to}
        )
        assert response.status_code == 200, response.text
        return response.json()

    # The same years the right way round find the December 2022 bulletin and answer from it.
    assert search("2022", "2023") == {"strike.txt"}
    assert "December 15" in ask("2022", "2023")["answer"]
    assert search("2023", "2022") == set()
    assert ask("2023", "2022")["abstained"] is True


# --- /api/ask -------------------------------------------------------------------------------


def test_ask_answers_with_cited_sentences(client):
    response = client.post("/api/ask", json={"question": "When was the national strike called?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["abstained"] is False
    assert "hits" not in body
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
    assert body["abstained"] is True
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


def test_ask_passes_the_conversation_to_the_core(archive):
    settings, assistant = archive
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


# --- /api/documents ------------------------------------------------------------------------


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
        "..%2Findex%2FCURRENT",
        "strike.txt.meta.json",
    ],
)
def test_unknown_documents_never_reach_the_file_system(client, shared_archive, path):
    """Each of these names a file that exists, inside the corpus or beside it; none is the id
    of a document, so none is served: documents are found by id, never by path."""
    settings, _ = shared_archive
    path = path.format(corpus=settings.corpus)
    named = settings.corpus / urllib.parse.unquote(path)
    assert named.is_file(), named
    for url in (f"/api/documents/{path}", f"/documents/{path}"):
        response = client.get(url)
        assert response.status_code == 404, (url, response.text[:200])
        assert "Strike bulletin" not in response.text and "December 15" not in response.text
    error_of(client.get(f"/api/documents/{path}"), 404, "document_not_found")


# --- Errors outside the core ---------------------------------------------------------------


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


# --- Rebuilds --------------------------------------------------------------------------------


def test_rebuild_exists_only_with_an_admin_token(make_settings, fake_embedder):
    settings = make_settings()
    with TestClient(create_app(settings, Assistant(settings, fake_embedder))) as client:
        assert client.post("/api/index/rebuild").status_code in (404, 405)
        assert "/api/index/rebuild" not in client.get("/openapi.json").json()["paths"]


def test_rebuild_requires_the_right_token(client):
    response = client.post("/api/index/rebuild")
    error_of(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error_of(
        client.post("/api/index/rebuild", headers={"Authorization": "Bearer nope"}),
        403,
        "forbidden",
    )
    wrong_scheme = {"Authorization": "Basic czNjcmV0LXRva2Vu"}
    error_of(client.post("/api/index/rebuild", headers=wrong_scheme), 401, "unauthorized")
    error_of(client.get("/api/index/status"), 401, "unauthorized")


def wait_for_rebuild(client, headers) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = client.get("/api/index/status", headers=headers).json()
        if not status["running"]:
            return status
        time.sleep(0.02)
    raise AssertionError("the rebuild did not finish in 30 s")


def test_rebuild_swaps_the_index_without_failing_requests(archive, fake_embedder, monkeypatch):
    """Requests keep coming before, during and after a rebuild: all succeed, and the ones
    after the swap see the new version. The rebuild is held at its new document until two
    rounds of requests have been answered, so requests surely run while it builds; the test
    waits on those events, never on a clock."""
    settings, assistant = archive
    headers = {"Authorization": "Bearer s3cret-token"}
    progress = threading.Condition()
    rounds = {"done": 0, "on_new_version": 0, "while_building": 0}
    statuses: list[int] = []
    stop = threading.Event()
    encode = fake_embedder.encode_passages

    def encode_held(texts, batch_size=32):
        if any("volcano" in text for text in texts):  # the rebuild reached the new document
            with progress:
                target = rounds["done"] + 2
                if progress.wait_for(lambda: rounds["done"] >= target, timeout=60):
                    rounds["while_building"] = 2
        return encode(texts, batch_size)

    monkeypatch.setattr(fake_embedder, "encode_passages", encode_held)
    with TestClient(create_app(settings, assistant)) as client:
        before = client.get("/api/health").json()["index_version"]
        (settings.corpus / "late.txt").write_text(
            "The volcano erupted at dawn.\n", encoding="utf-8"
        )

        def keep_asking():
            while not stop.is_set():
                statuses.append(client.get("/api/search", params={"q": "strike"}).status_code)
                statuses.append(
                    client.post("/api/ask", json={"question": "When was the strike?"}).status_code
                )
                health = client.get("/api/health")
                statuses.append(health.status_code)
                with progress:
                    rounds["done"] += 1
                    if health.json().get("index_version") != before:
                        rounds["on_new_version"] += 1
                    progress.notify_all()

        worker = threading.Thread(target=keep_asking)
        worker.start()
        try:
            with progress:
                assert progress.wait_for(lambda: rounds["done"] >= 2, timeout=60)
            started = client.post("/api/index/rebuild", params={"full": True}, headers=headers)
            assert started.status_code == 202
            assert started.json()["running"] is True
            with progress:
                swapped = progress.wait_for(lambda: rounds["on_new_version"] >= 2, timeout=60)
            status = wait_for_rebuild(client, headers)
        finally:
            stop.set()
            worker.join()
        assert status["error"] is None and status["version"]
        assert swapped, "no request saw the new version"
        assert rounds["while_building"] == 2, "no request was answered during the rebuild"
        health = client.get("/api/health").json()
        assert health["index_version"] == status["version"] != before
        assert health["documents"] == 7
        assert len(statuses) >= 3 * 6 and set(statuses) == {200}


def test_a_rebuild_from_a_missing_corpus_fails_and_keeps_the_archive(archive):
    settings, assistant = archive
    headers = {"Authorization": "Bearer s3cret-token"}
    with TestClient(create_app(settings, assistant)) as client:
        before = client.get("/api/health").json()
        settings.corpus.rename(settings.corpus.with_name("moved"))
        assert client.post("/api/index/rebuild", headers=headers).status_code == 202
        status = wait_for_rebuild(client, headers)
        assert "No corpus folder" in status["error"]
        assert client.get("/api/health").json() == before


def test_a_second_rebuild_while_one_runs_is_409(archive, monkeypatch):
    settings, assistant = archive
    release = threading.Event()
    original = service.build_index

    def slow_build_index(*args, **kwargs):
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "build_index", slow_build_index)
    headers = {"Authorization": "Bearer s3cret-token"}
    with TestClient(create_app(settings, assistant)) as client:
        assert client.post("/api/index/rebuild", headers=headers).status_code == 202
        error_of(client.post("/api/index/rebuild", headers=headers), 409, "build_in_progress")
        release.set()
        assert wait_for_rebuild(client, headers)["error"] is None
        assert client.post("/api/index/rebuild", headers=headers).status_code == 202
        wait_for_rebuild(client, headers)


# --- The pages -----------------------------------------------------------------------------


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


def test_chat_form_carries_the_conversation(archive):
    settings, assistant = archive
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


# --- The edges of the API ------------------------------------------------------------------


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


@pytest.mark.parametrize("date", ["２０２２", "٢٠٢٢-١٢", "2022-1２"])
def test_dates_in_other_digits_are_refused(client, date):
    response = client.get("/api/search", params={"q": "strike", "date_from": date})
    assert "date_from" in error_of(response, 422, "invalid_query")


def test_a_follow_up_may_borrow_past_the_length_limit(client):
    question = "And " + "so " * 325 + "when was it called?"  # 998 characters
    history = [{"question": "Who called the national strike?", "answer": "The assembly. [1]"}]
    body = {"question": question, "history": history}
    response = client.post("/api/ask", json=body)
    assert response.status_code == 200, response.text
    assert len(response.json()["resolved_query"]) > 1000
    assert "national" in response.json()["resolved_query"]


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


@pytest.mark.parametrize("token", [" s3cret", "s3cret\n", "s3c\x00ret", "tab\tbed"])
def test_an_admin_token_that_can_never_authenticate_is_refused_at_start(token):
    with pytest.raises(ValueError, match="admin_token"):
        Settings(admin_token=token)
