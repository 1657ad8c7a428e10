"""`/api/search` and `/api/health` through FastAPI's test client: the hits of the CLI, the
filters, and every refusal with its reason."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from http_helpers import LONG_QUESTION, error_of

from qa.cli import main

CLI_SEARCH_KEYS = {
    "passage_id", "document_id", "title", "text", "score", "start", "end", "page", "rank",
    "dense_score", "lexical_score", "metadata",
}  # fmt: skip


def cli_search(settings, query: str) -> str:
    """What `qa search QUERY -k 3 --json` prints over the archive of `settings` (fake model)."""
    paths = ["--corpus", str(settings.corpus), "--index", str(settings.index)]
    printed = CliRunner().invoke(
        main,
        ["search", *paths, query, "-k", "3", "--json"],
        env={"QA_EMBEDDER": "fake", "QA_MODEL": "fake"},
        catch_exceptions=False,
    )
    assert printed.exit_code == 0, printed.output
    return printed.stdout


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


def test_search_returns_the_hits_of_the_cli(client, shared_web_archive):
    settings, _ = shared_web_archive
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
    cli = json.loads(cli_search(settings, "potato harvest"))
    assert cli["query"] == body["query"]
    assert len(body["hits"]) == len(cli["hits"]) == 3
    for cli_hit, api_hit in zip(cli["hits"], body["hits"], strict=True):
        assert CLI_SEARCH_KEYS <= set(cli_hit)
        assert {key: api_hit.get(key) for key in cli_hit} == cli_hit


def test_a_passage_id_past_2_53_reaches_a_javascript_client_whole(client, shared_web_archive):
    """Passage ids are 63-bit integers; a JSON number past 2**53 loses its last digits in a
    JavaScript client (its numbers are doubles), so the API and `qa search --json` send ids as
    strings, every digit kept."""
    settings, assistant = shared_web_archive
    _, passages = assistant.document("reports/harvest.md")
    (stored,) = [passage.id for passage in passages]
    assert stored > 2**53 and float(stored) != stored  # a double cannot hold it
    response = client.get("/api/search", params={"q": "potato harvest", "k": 3})
    assert response.status_code == 200
    # Read as JavaScript reads JSON: every number a double.
    top = json.loads(response.text, parse_int=float)["hits"][0]
    assert top["document_id"] == "reports/harvest.md"
    assert top["passage_id"] == str(stored)
    assert top["url"] == f"/documents/reports/harvest.md#p{stored}"
    assert int(top["passage_id"]) == stored

    printed = cli_search(settings, "potato harvest")
    assert json.loads(printed, parse_int=float)["hits"][0]["passage_id"] == str(stored)


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


@pytest.mark.parametrize("date", ["２０２２", "٢٠٢٢-١٢", "2022-1２"])
def test_dates_in_other_digits_are_refused(client, date):
    response = client.get("/api/search", params={"q": "strike", "date_from": date})
    assert "date_from" in error_of(response, 422, "invalid_query")


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
