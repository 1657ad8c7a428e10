"""Hybrid, dense and lexical retrieval, metadata filters, and language-aware matching."""

from __future__ import annotations

import json
import threading

import pytest
from archives import write
from fake_embedder import FakeEmbedder

from qa.core.config import Settings
from qa.core.errors import InvalidQueryError
from qa.index.versions import open_index
from qa.search.fusion import Candidate, convex
from qa.search.retriever import Retriever
from qa.service.assistant import Assistant
from qa.store.filters import SearchFilters
from qa.store.parts import VectorParts
from qa.text.terms import words


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


class _NotEmbedded(RuntimeError):
    pass


class _WaitsForTheLexicalSearch(FakeEmbedder):
    """Embeds a question only once the lexical search has started: a search that embeds
    first and then looks up terms would wait forever (here, fail after a few seconds)."""

    def __init__(self, started: threading.Event) -> None:
        super().__init__()
        self.started = started
        self.threads: list[str] = []

    def encode_query(self, text):
        self.threads.append(threading.current_thread().name)
        if not self.started.wait(timeout=5):
            raise _NotEmbedded("the lexical search never started while the question was embedded")
        return super().encode_query(text)


def test_the_question_is_embedded_while_its_terms_are_looked_up(assistant, monkeypatch):
    """The caller's thread embeds (it holds the GIL for the embedder's Python steps); the
    lexical side runs beside it on another."""
    index = assistant.engine().index
    started = threading.Event()
    lexical_search = index.catalog.lexical_search
    lexical_threads: list[str] = []

    def lexical_search_that_signals(*args, **kwargs):
        lexical_threads.append(threading.current_thread().name)
        started.set()
        return lexical_search(*args, **kwargs)

    monkeypatch.setattr(index.catalog, "lexical_search", lexical_search_that_signals)
    embedder = _WaitsForTheLexicalSearch(started)
    retriever = Retriever(index, embedder, assistant.settings)
    hits = retriever.search("When was the national strike?", k=2, mode="hybrid")
    assert hits[0].title == "National strike"
    assert embedder.threads == [threading.current_thread().name]
    assert lexical_threads and lexical_threads[0] != threading.current_thread().name
    # Embedded once: the answer step and a repeated search reuse the vector.
    retriever.query_vector("When was the national strike?")
    retriever.search("When was the national strike?", k=2, mode="dense")
    assert len(embedder.threads) == 1


def test_an_embedding_failure_reaches_the_caller_as_itself(assistant):
    index = assistant.engine().index
    never = threading.Event()
    retriever = Retriever(index, _WaitsForTheLexicalSearch(never), assistant.settings)
    with pytest.raises(_NotEmbedded, match="never started"):
        retriever.search("potato harvest", mode="dense")


class _FailingEmbedder(FakeEmbedder):
    def encode_query(self, text):
        raise _NotEmbedded("the model failed")


def test_an_embedding_failure_beside_the_lexical_side_reaches_the_caller(assistant):
    index = assistant.engine().index
    retriever = Retriever(index, _FailingEmbedder(), assistant.settings)
    with pytest.raises(_NotEmbedded, match="the model failed"):
        retriever.search("When was the national strike?", mode="hybrid")
    # The lexical side, which ran beside it, left the index usable.
    assert retriever.search("national strike", mode="lexical")[0].title == "National strike"


#: What the translating fake model reads a Spanish word as (accent-folded words).
SPANISH_MEANINGS = {
    "quienes": "who",
    "bloquearon": "blocked",
    "las": "the",
    "carreteras": "roads",
    "en": "in",
}


class _TranslatingEmbedder(FakeEmbedder):
    """The fake model, reading the Spanish words it knows as their English meaning: a
    multilingual model's dense side sees across languages, where words do not match."""

    def encode_passages(self, texts, batch_size: int = 32):
        read = [" ".join(SPANISH_MEANINGS.get(w, w) for w in words(t)) for t in texts]
        return super().encode_passages(read, batch_size)


@pytest.fixture
def bilingual(make_settings):
    """English passages (one answers "who blocked the roads" in other words, one only names
    Oruro, twice) and a Spanish one, searched by a model that reads Spanish."""

    def make(share: float) -> Assistant:
        settings = make_settings(cross_language_lexical_share=share)
        for name, text, language in [
            ("blockade.txt", "Miners blocked the roads for a week.", "en"),
            ("carnival.txt", "Oruro is famous for its carnival; dancers fill Oruro streets.", "en"),
            ("harvest.txt", "The potato harvest doubled in the highlands.", "en"),
            ("glacier.txt", "The glacier retreated forty metres over the summer.", "en"),
            ("puerto.txt", "El puerto de Potosí cerró durante la huelga.", "es"),
        ]:
            write(settings.corpus, name, text + "\n", {"title": name[:-4], "language": language})
        assistant = Assistant(settings, _TranslatingEmbedder())
        assistant.build(full=True)
        return assistant

    return make


def test_across_languages_the_passage_that_only_shares_a_name_does_not_lead(bilingual):
    """A Spanish question over English passages: the only word they share is the name
    Oruro, which a passage about something else repeats. With the lexical side weighed in
    full, that passage leads; with the share it keeps across languages (a quarter by
    default), the passage that means the answer leads."""
    question = "¿Quiénes bloquearon las carreteras en Oruro?"
    default = bilingual(Settings.model_fields["cross_language_lexical_share"].default)
    hits = default.search(question, k=3)
    assert hits[0].title == "blockade", [(h.title, h.score) for h in hits]
    assert hits[0].lexical_score == 0.0  # no word in common: its meaning alone found it
    carnival = next(h for h in hits if h.title == "carnival")
    assert carnival.lexical_score > 0 and carnival.dense_score < hits[0].dense_score
    full = bilingual(1.0).search(question, k=3)
    assert full[0].title == "carnival", [(h.title, h.score) for h in full]


def test_the_cross_language_share_leaves_passages_in_the_questions_language_alone(bilingual):
    """An English question: its English passages keep the whole lexical weight, whatever the
    share; only the Spanish passage, which shares the name Potosí with it, moves."""
    question = "Who blocked the roads between Oruro and Potosí?"
    scores = []
    for share in (1.0, 0.0):
        hits = bilingual(share).search(question, k=5)
        scores.append({h.title: h.score for h in hits})
    full, none = scores
    english = ["blockade", "carnival", "harvest", "glacier"]
    assert [full[t] for t in english] == pytest.approx([none[t] for t in english], abs=1e-9)
    assert full["blockade"] > full["carnival"] > 0
    assert abs(full["puerto"] - none["puerto"]) > 0.05


def test_a_cross_language_passage_at_share_zero_is_judged_by_meaning_alone():
    """Two candidates in another language than the question, alike in meaning but not in
    shared words: with no lexical share they tie; with the whole share the one sharing
    more words wins, as it does among passages in the question's language."""

    def fused(share: float, same_language: bool) -> list[float]:
        candidates = [
            Candidate(1, dense=0.8, lexical=9.0, same_language=same_language),
            Candidate(2, dense=0.8, lexical=1.0, same_language=same_language),
            Candidate(3, dense=0.2, lexical=0.0, same_language=same_language),
        ]
        convex(candidates, dense_weight=0.5, cross_language_share=share)
        return [c.fused for c in candidates]

    many_words, few_words, unlike = fused(0.0, same_language=False)
    assert many_words == few_words > unlike
    many_words, few_words, _ = fused(1.0, same_language=False)
    assert many_words > few_words
    assert fused(1.0, same_language=False) == fused(0.0, same_language=True)


@pytest.fixture
def agencies(make_settings, fake_embedder):
    """300 dated notes from three agencies, in an inverted file whose every list is searched
    (so every dense search is exact)."""
    settings = make_settings(ivf_min_passages=100, ivf_probes=1000)
    records = [
        {
            "title": f"Note {n}",
            "source": f"agency-{n % 3}",
            "date": f"20{10 + n % 10}-05-01",
            "text": f"Report {n} on district {n}: the council met about roads, water and schools.",
        }
        for n in range(300)
    ]
    (settings.corpus / "notes.jsonl").write_text("\n".join(json.dumps(r) for r in records), "utf-8")
    assistant = Assistant(settings, fake_embedder)
    assistant.build()
    return assistant


@pytest.mark.parametrize(
    "filters, keeps",
    [
        (SearchFilters(source="agency-1"), lambda n: n % 3 == 1),
        (SearchFilters(date_from="2012", date_to="2014-12-31"), lambda n: 2 <= n % 10 <= 4),
    ],
)
def test_a_filter_through_the_candidates_finds_what_listing_finds(
    agencies, filters, keeps, monkeypatch
):
    """Whether the vectors' own candidates are checked against a filter or the filter's
    passages are listed and searched exactly, the dense hits are the same, all kept."""
    query = "council district roads 17"
    widened = agencies.search(query, k=10, mode="dense", filters=filters)
    listed = []
    original = VectorParts.search
    monkeypatch.setattr(VectorParts, "search_passing", lambda self, *args: ([], False))
    monkeypatch.setattr(
        VectorParts,
        "search",
        lambda self, query, k, allowed=None: (
            listed.append(allowed) or original(self, query, k, allowed)
        ),
    )
    exact = agencies.search(query, k=10, mode="dense", filters=filters)
    assert listed and len(listed[0]) == sum(keeps(n) for n in range(300))
    assert [h.passage_id for h in exact] == [h.passage_id for h in widened]
    assert len(widened) == 10 and all(keeps(int(hit.title.split()[1])) for hit in widened)


def test_a_filters_passages_are_listed_up_to_a_limit(agencies):
    """The list a narrow filter's exact search reads stops at its limit, and checking ids
    against a filter keeps exactly those whose document passes."""
    index = open_index(agencies.settings)
    try:
        filters = SearchFilters(source="agency-1")
        every = index.catalog.filtered_passage_ids(filters)
        assert len(every) == 100
        assert set(index.catalog.filtered_passage_ids(filters, limit=7)) <= set(every.tolist())
        assert len(index.catalog.filtered_passage_ids(filters, limit=7)) == 7
        some = index.catalog.passage_ids(limit=30)
        assert index.catalog.passing_filters(filters, some) == set(some) & set(every.tolist())
    finally:
        index.close()
