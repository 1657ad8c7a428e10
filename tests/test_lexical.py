"""BM25's named functions against SQLite FTS5's own ranking, and the query module's limits
as the CLI, the API and the pages meet them."""

from __future__ import annotations

import json

import pytest
from archives import write
from click.testing import CliRunner
from fastapi.testclient import TestClient

from qa.answer.features import question_profile
from qa.cli import main
from qa.core.config import MAX_K
from qa.core.errors import InvalidQueryError
from qa.search.lexical import idf_lucene, idf_robertson, query_terms, selective_terms
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


#: Eight passages: "town" in five (at least half: FTS5 floors its idf), "strike" in three,
#: "national" and "highlands" in two each.
STRIKE_TEXTS = [
    "The national strike closed the town roads.",
    "Teachers joined the strike in the town square.",
    "Miners called a strike in the highlands.",
    "The potato harvest doubled in the highlands town.",
    "The national assembly met in the town hall.",
    "The glacier retreated over the summer.",
    "Snow fell early in the mountains.",
    "The port closed during the storm.",
]


def built(settings, embedder, texts: list[str], width: int = 1) -> Assistant:
    """An assistant over `texts`, one document each, named by its number (`width` digits)."""
    for number, text in enumerate(texts):
        write(settings.corpus, f"{number:0{width}d}.txt", text + "\n")
    assistant = Assistant(settings, embedder)
    assistant.build(full=True)
    return assistant


@pytest.fixture
def strike_archive(make_settings, fake_embedder) -> Assistant:
    # At most two postings per proposing term: "strike" and "town" propose no candidate.
    return built(make_settings(lexical_max_postings=2), fake_embedder, STRIKE_TEXTS)


def test_every_hit_reports_the_bm25_that_fts5_ranks_it_with(strike_archive):
    """The lexical score of a hit is SQLite FTS5's own bm25() for its passage, to float
    precision, over all the query's terms: for the candidates the lexical side proposed, for
    those only the dense side proposed (here "Teachers joined the strike in the town
    square", which holds no proposing term), and with a term in most passages, whose idf
    FTS5 floors."""
    index = strike_archive.engine().index
    query = "national strike in the highlands town"
    terms = query_terms(query, "en", index.languages)
    by_fts5 = dict(index.catalog.lexical_search(terms, limit=100))
    hybrid = strike_archive.search(query, k=8, mode="hybrid")
    document_of = {h.passage_id: h.document_id for h in hybrid}
    assert len(hybrid) == 8  # the dense side proposes every passage
    assert {document_of[p] for p in by_fts5} == {"0.txt", "1.txt", "2.txt", "3.txt", "4.txt"}
    # Hits report scores to six decimals.
    for hit in hybrid:
        assert hit.lexical_score == pytest.approx(by_fts5.get(hit.passage_id, 0.0), abs=1e-6)
    teachers = next(h for h in hybrid if h.document_id == "1.txt")
    assert teachers.lexical_score > 0.1

    lexical = strike_archive.search(query, k=8, mode="lexical")
    assert {h.document_id for h in lexical} == {"0.txt", "2.txt", "3.txt", "4.txt"}
    for hit in lexical:
        assert hit.lexical_score == pytest.approx(by_fts5[hit.passage_id], abs=1e-6)


def test_a_term_repeated_back_to_back_counts_as_often_as_fts5_counts_it(
    make_settings, fake_embedder
):
    """ "Strike! Strike!" stores "strike strike": FTS5 counts each, in a run of any length."""
    settings = make_settings()
    texts = [
        "Strike! Strike! Strike! Strike! The roads closed. Strike, strike.",
        "A strike closed the roads of the town for a week.",
        "The harvest doubled in the highlands.",
        "The river flooded the lower town in March.",
        "The glacier retreated over the summer.",
        "Snow fell early in the mountains.",
        "The port closed during the storm.",
        "Teachers met in the square.",
    ]
    assistant = built(settings, fake_embedder, texts)
    index = assistant.engine().index
    by_fts5 = dict(index.catalog.lexical_search(["strike"], limit=10))
    hits = assistant.search("strike", k=8, mode="hybrid")
    assert len(by_fts5) == 2  # in two passages of eight: a weight well above FTS5's floor
    for hit in hits:
        assert hit.lexical_score == pytest.approx(by_fts5.get(hit.passage_id, 0.0), abs=1e-6)
    assert hits[0].document_id == "0.txt"


def test_the_answer_step_weighs_a_term_in_most_passages_a_little_where_search_does_not(
    strike_archive,
):
    """Search weighs terms as FTS5 does: a term in at least half the passages gets FTS5's
    floor, next to nothing. The answer step weighs a question's terms by Lucene's idf, which
    never falls to nothing: "town", in five of the eight passages, still counts, less than
    the rarer terms."""
    for total in (5, 8, 1000):
        lucene = [idf_lucene(df, total) for df in range(1, total + 1)]
        robertson = [idf_robertson(df, total) for df in range(1, total + 1)]
        assert all(a > b > 0 for a, b in zip(lucene, lucene[1:], strict=False))  # rarer weighs more
        assert all(r < x for r, x in zip(robertson, lucene, strict=True))
        common = [r for df, r in enumerate(robertson, 1) if 2 * df >= total]
        assert set(common) == {1e-6}  # FTS5's floor
    index = strike_archive.engine().index
    profile = question_profile(
        "Did the town strike reach the highlands?", "en", index.frequencies, index.passages_total
    )
    weights = profile.weights
    assert set(weights) == {"town", "strike", "reach", "highland"}
    assert weights["highland"] > weights["strike"] > weights["town"] > 0.2 * weights["highland"]


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


def test_only_terms_in_few_passages_find_candidates_the_two_rarest_at_least():
    frequencies = {"glacier": 2, "town": 40, "river": 30, "road": 25, "absent": 0}
    # A term no passage holds finds nothing; one in more passages than the limit would make
    # FTS5 score its whole posting list for little evidence.
    assert selective_terms(["town", "glacier", "absent", "unknown"], frequencies, 10) == ["glacier"]
    assert selective_terms(["glacier", "river", "town"], frequencies, 30) == ["glacier", "river"]
    # Every term common: the two rarest still look (a query is never left without candidates).
    assert selective_terms(["town", "river", "road"], frequencies, 10) == ["road", "river"]
    assert selective_terms(["absent", "unknown"], frequencies, 10) == []


@pytest.fixture
def town_archive(make_settings, fake_embedder):
    """Twelve passages: "town" in four, "glacier" in two (one of them with "town")."""

    def make(max_postings: int) -> Assistant:
        settings = make_settings(lexical_max_postings=max_postings, search_mode="lexical")
        texts = [
            "The glacier above the town retreated forty metres.",
            "The glacier retreated forty metres over the summer.",
            "The town council met on Monday.",
            "A market fills the town square every week.",
            "The town band played at the fair.",
            "Potato farmers reported a good harvest.",
            "The river flooded the lower fields in March.",
            "Teachers marched to the capital.",
            "The assembly of unions met in Lima.",
            "A new bridge opened in the valley.",
            "The port closed during the dock strike.",
            "Snow fell early in the mountains.",
        ]
        return built(settings, fake_embedder, texts, width=2)

    return make


def test_a_common_term_finds_no_candidates_but_still_counts_in_their_scores(town_archive):
    """With at most three postings per proposing term, "town" (in four passages) proposes
    none: only the two glacier passages are found. Among them, the one that also holds
    "town" ranks first: the common term still weighs in every candidate's BM25."""
    hits = town_archive(3).search("glacier town", k=10)
    assert [h.document_id for h in hits] == ["00.txt", "01.txt"]
    assert hits[0].lexical_score > hits[1].lexical_score
    # A limit above the term's postings lets it propose its passages as well.
    everything = town_archive(4).search("glacier town", k=10)
    assert {h.document_id for h in everything} == {"00.txt", "01.txt", "02.txt", "03.txt", "04.txt"}
    # A query of common terms alone still finds their passages, through the rarest of them.
    assert {h.document_id for h in town_archive(3).search("town", k=10)} == {
        "00.txt",
        "02.txt",
        "03.txt",
        "04.txt",
    }


@pytest.mark.parametrize(
    "text",
    [
        "Movilización NACIONAL en Andahuaylas, Perú",
        "plain ASCII text, with Punctuation!",
        "ﬁne ligatures, full-width ＡＢＣ, emoji 😀✓, 中文文本, العربية, naïve café, Ångström",
        "e\u0301 combining acute already decomposed, İstanbul, straße",
        "",
    ],
)
def test_folding_accents_lowers_and_strips_every_combining_mark(text):
    import unicodedata

    from qa.text.terms import fold_accents

    decomposed = unicodedata.normalize("NFKD", text.lower())
    expected = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    assert fold_accents(text) == expected
    assert fold_accents("Movilización") == "movilizacion"
