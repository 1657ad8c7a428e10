"""BM25's named functions against SQLite FTS5's own ranking, and the query module's limits
as the CLI, the API and the pages meet them."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from qa.cli import main
from qa.core.config import MAX_K
from qa.core.errors import InvalidQueryError
from qa.search.lexical import bm25_scores, idf_lucene, idf_robertson, query_terms
from qa.search.query import search_filters, search_limits
from qa.service.assistant import Assistant
from qa.web.app import create_app

TEXTS = {
    "strike.txt": "The national strike was called for December 15. The strike closed roads.",
    "assembly.txt": "The assembly of unions met in Lima and called for a national strike.",
    "harvest.txt": "The potato harvest doubled in the highlands after the canals opened.",
    "river.txt": "The river flooded the lower town in March; the town rebuilt its bridge.",
    "glacier.txt": "The glacier retreated forty metres over the summer in the highlands.",
}


@pytest.fixture
def assistant(make_settings, fake_embedder):
    settings = make_settings(search_k=2, search_mode="lexical")
    for name, text in TEXTS.items():
        (settings.corpus / name).write_text(text + "\n", encoding="utf-8")
    assistant = Assistant(settings, fake_embedder)
    assistant.build()
    return assistant


def test_the_exact_bm25_of_candidates_is_what_fts5_ranks_with(assistant):
    """Retrieval re-scores every candidate with `bm25_scores`; for the passages FTS5 finds,
    that score is FTS5's own bm25(), to float precision."""
    engine = assistant.engine()
    index = engine.index
    terms = query_terms("national strike in the highlands", "en", index.languages)
    ranked_by_fts5 = dict(index.catalog.lexical_search(terms, limit=10))
    assert len(ranked_by_fts5) >= 4  # strike, assembly, harvest, glacier
    frequencies = index.frequencies(terms)
    total = index.passages_total
    weights = {t: idf_robertson(df, total) for t, df in frequencies.items() if df}
    ours = bm25_scores(weights, index.catalog.passage_terms(ranked_by_fts5), index.average_terms)
    assert ours.keys() == ranked_by_fts5.keys()
    for passage_id, score in ranked_by_fts5.items():
        assert ours[passage_id] == pytest.approx(score, rel=1e-9)


def test_the_two_idf_variants_differ_where_a_term_is_common():
    # A term in 4 of 5 passages: Robertson's idf would be negative, FTS5 floors it at 1e-6;
    # Lucene's stays positive and small.
    assert idf_robertson(4, 5) == 1e-6
    assert idf_lucene(4, 5) == pytest.approx(math.log(1 + 1.5 / 4.5))
    # A rare term: both positive, Lucene's one more inside the logarithm.
    assert idf_robertson(1, 5) == pytest.approx(math.log(4.5 / 1.5))
    assert idf_lucene(1, 5) == pytest.approx(math.log(1 + 4.5 / 1.5))


def test_search_limits_take_the_settings_defaults_and_refuse_the_rest(make_settings):
    settings = make_settings(search_k=7, search_mode="dense")
    assert search_limits(None, None, settings) == (7, "dense")
    assert search_limits(MAX_K, "lexical", settings) == (MAX_K, "lexical")
    for k, mode, message in [(0, None, "k must be"), (MAX_K + 1, None, "k must be")] + [
        (None, "fuzzy", "mode must be")
    ]:
        with pytest.raises(InvalidQueryError, match=message):
            search_limits(k, mode, settings)


def test_empty_filter_fields_mean_no_filter_and_bad_dates_are_refused():
    assert search_filters("", "", "", "").is_empty()
    assert search_filters(None, "es", "2022", None).language == "es"
    with pytest.raises(InvalidQueryError, match="date_from must be a date"):
        search_filters(date_from="2022-02-30")


def test_the_cli_the_api_and_the_search_page_use_the_settings_defaults(assistant):
    """search_k=2 and search_mode=lexical: the same two hits everywhere, found by their words
    alone, though four passages hold a word of the query."""
    settings = assistant.settings
    query = "strike in the highlands"
    result = CliRunner().invoke(
        main,
        ["search", query, "--json", "--corpus", str(settings.corpus)]
        + ["--index", str(settings.index)],
        env={"QA_EMBEDDER": "fake", "QA_MODEL": "fake", "QA_SEARCH_K": "2"}
        | {"QA_SEARCH_MODE": "lexical"},
    )
    assert result.exit_code == 0, result.output
    cli_hits = [hit["document_id"] for hit in json.loads(result.output)["hits"]]
    assert len(cli_hits) == 2
    assert len(assistant.search(query, k=MAX_K)) == 4
    with TestClient(create_app(settings, assistant)) as client:
        api = client.get("/api/search", params={"q": query}).json()
        assert [hit["document_id"] for hit in api["hits"]] == cli_hits
        assert all(hit["dense_score"] == 0.0 for hit in api["hits"])  # lexical alone
        page = client.get("/search", params={"q": query})
        assert page.status_code == 200
        assert page.text.count("Open in document") == 2
        assert '<option value="lexical" selected' in page.text
        too_many = client.get("/api/search", params={"q": query, "k": MAX_K + 1})
        assert too_many.status_code == 422
