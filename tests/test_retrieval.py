"""Hybrid, dense and lexical retrieval, metadata filters, and language-aware matching."""

from __future__ import annotations

import json

import pytest

from qa.errors import InvalidQueryError
from qa.query import SearchFilters
from qa.service import Assistant


@pytest.fixture
def assistant(make_settings, fake_embedder):
    settings = make_settings()
    records = [
        {
            "title": "National strike",
            "date": "2022-12-15",
            "source": "Radio",
            "language": "en",
            "text": "The national strike took place on 15 December across Peru.",
        },
        {
            "title": "Assembly",
            "date": "2022-12-10",
            "source": "Press",
            "language": "en",
            "text": "Two hundred delegates met at the national assembly in Lima.",
        },
        {
            "title": "Movilizaciones",
            "date": "2023-01",
            "source": "Radio",
            "language": "es",
            "text": "Las movilizaciones campesinas llegaron a Lima en enero.",
        },
        {
            "title": "Harvest",
            "date": "2021-05",
            "source": "Press",
            "language": "en",
            "text": "Potato farmers reported a good harvest in the highlands.",
        },
    ]
    (settings.corpus / "news.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8"
    )
    assistant = Assistant(settings, fake_embedder)
    assistant.build()
    return assistant


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_each_mode_finds_the_passage(assistant, mode):
    hits = assistant.search("When was the national strike?", k=2, mode=mode)
    assert hits[0].title == "National strike"
    assert hits[0].rank == 1 and hits[0].score >= hits[-1].score


def test_hits_carry_their_place_in_the_document(assistant):
    hit = assistant.search("potato harvest", k=1)[0]
    document, passages = assistant.document(hit.document_id)
    assert document.text[hit.start : hit.end] == hit.text
    assert hit.passage_id in {p.id for p in passages}


def test_accents_and_stemming_follow_the_language(assistant):
    hits = assistant.search("movilizacion campesina", k=1, mode="lexical")
    assert hits and hits[0].title == "Movilizaciones"


def test_filters_on_source_language_and_dates(assistant):
    radio = assistant.search("strike assembly harvest", k=10, filters=SearchFilters(source="Radio"))
    assert {h.title for h in radio} == {"National strike", "Movilizaciones"}
    spanish = assistant.search("Lima", k=10, filters=SearchFilters(language="es"))
    assert [h.title for h in spanish] == ["Movilizaciones"]
    december = assistant.search(
        "strike assembly harvest Lima",
        k=10,
        filters=SearchFilters(date_from="2022-12", date_to="2022-12-31"),
    )
    assert {h.title for h in december} == {"National strike", "Assembly"}
    january = assistant.search("Lima", k=10, filters=SearchFilters(date_from="2023-01-15"))
    assert [h.title for h in january] == ["Movilizaciones"]  # a month-dated document overlaps


@pytest.mark.parametrize(
    "query, k, message",
    [
        ("", 5, "empty"),
        ("   ", 5, "empty"),
        ("x" * 1001, 5, "limit is 1000"),
        ("strike", 0, "k must"),
        ("strike", 51, "k must"),
    ],
)
def test_bad_queries_are_refused_with_a_reason(assistant, query, k, message):
    with pytest.raises(InvalidQueryError, match=message):
        assistant.search(query, k=k)


def test_a_query_matching_nothing_lexically_still_gets_dense_hits(assistant):
    hits = assistant.search("zzzz qqqq", k=3)
    assert len(hits) == 3
