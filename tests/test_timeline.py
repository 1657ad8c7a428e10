"""The timeline: dated sentences kept through incremental builds, merged events, the CLI,
the API and answers to 'what happened between ... and ...?'."""

from __future__ import annotations

import json

import pytest
from archives import write
from click.testing import CliRunner
from fastapi.testclient import TestClient

from qa.answer.span import asks_for_a_span
from qa.cli import main
from qa.core.config import Settings
from qa.index.build import build_index
from qa.service.assistant import Assistant
from qa.store import DatedSentence
from qa.store.filters import SearchFilters
from qa.timeline.build import merge_events
from qa.web.app import create_app


@pytest.fixture
def archive(make_settings, fake_embedder):
    settings = make_settings()
    corpus = settings.corpus
    write(
        corpus,
        "lima.txt",
        "Delegates met in Lima on 10 December 2022.\n"
        "The national strike began on December 15 across the south.\n",
        {"date": "2022-12", "source": "Lima desk"},
    )
    write(
        corpus,
        "cusco.txt",
        "The national strike began on 15 December 2022 across the south.\nMarkets stayed closed.\n",
        {"date": "2022-12-16", "source": "Cusco desk"},
    )
    write(corpus, "vizcarra.txt", "Congress removed Vizcarra in 2020.\n")
    build_index(settings, fake_embedder)
    return settings, Assistant(settings, fake_embedder)


def labels(timeline) -> list[str]:
    return [event.label for event in timeline.events]


def test_events_are_oldest_first_and_one_event_has_every_source(archive):
    _, assistant = archive
    timeline = assistant.timeline()
    assert labels(timeline) == ["2020", "10 Dec 2022", "15 Dec 2022"]
    strike = timeline.events[-1]
    assert {s.document_id for s in strike.sources} == {"lima.txt", "cusco.txt"}
    assert all("national strike" in s.sentence for s in strike.sources)
    assert strike.sources[0].mention in ("December 15", "15 December 2022")
    assert timeline.total == 3


def test_filters_apply_to_event_dates_and_documents(archive):
    _, assistant = archive
    december = assistant.timeline(filters=SearchFilters(date_from="2022-12-12"))
    assert labels(december) == ["15 Dec 2022"]
    cusco = assistant.timeline(filters=SearchFilters(source="Cusco desk"))
    assert [s.document_id for e in cusco.events for s in e.sources] == ["cusco.txt"]
    assert labels(assistant.timeline("Vizcarra Congress")) == ["2020"]
    # A limit keeps the oldest events and still counts them all.
    limited = assistant.timeline(limit=2)
    assert (labels(limited), limited.total) == (["2020", "10 Dec 2022"], 3)


def test_incremental_builds_keep_the_timeline_right(archive, fake_embedder):
    settings, assistant = archive
    corpus = settings.corpus
    write(corpus, "puno.txt", "Flights to Puno resumed yesterday.\n", {"date": "2023-01-09"})
    (corpus / "vizcarra.txt").write_text("Congress removed Vizcarra in 2018.\n", encoding="utf-8")
    (corpus / "cusco.txt").unlink()
    report = build_index(settings, fake_embedder)
    assert (report.added, report.changed, report.removed) == (1, 1, 1)
    timeline = Assistant(settings, fake_embedder).timeline()
    assert labels(timeline) == ["2018", "10 Dec 2022", "15 Dec 2022", "8 Jan 2023"]
    assert [s.document_id for s in timeline.events[2].sources] == ["lima.txt"]


def test_a_question_about_a_span_is_answered_with_its_events(archive):
    _, assistant = archive
    answer = assistant.ask("What happened between 10 and 15 December?")
    assert not answer.abstained
    assert [event.label for event in answer.events] == ["10 Dec 2022", "15 Dec 2022"]
    assert answer.sentences[0].text == "Delegates met in Lima on 10 December 2022."
    cited = {c.n: c for c in answer.citations}
    for sentence in answer.sentences:
        citation = cited[sentence.citation]
        start, end = citation.highlights[0] if sentence.citation == 1 else (0, 0)
        assert sentence.text in citation.text
        if sentence.citation == 1:
            assert citation.text[start:end] == sentence.text


def test_an_answer_carries_the_dates_of_its_cited_sentences(archive):
    _, assistant = archive
    answer = assistant.ask("When did the national strike begin across the south?")
    assert not answer.abstained
    assert answer.events and answer.events[0].label == "15 Dec 2022"
    assert answer.events[0].sources[0].citation in {c.n for c in answer.citations}


def test_the_api_serves_the_timeline_and_refuses_bad_dates(archive):
    settings, assistant = archive
    client = TestClient(create_app(settings, assistant))
    response = client.get("/api/timeline", params={"q": "national strike"})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "national strike"
    strike = body["events"][-1]
    assert strike["date"] == "2022-12-15" and strike["precision"] == "day"
    assert len(strike["sources"]) == 2
    assert strike["sources"][0]["url"].startswith("/documents/")
    for params, words in (
        ({"date_from": "2022-13"}, "date_from"),
        ({"limit": 0}, "limit"),
        ({"q": "strike " * 200}, "characters"),
    ):
        refused = client.get("/api/timeline", params=params)
        assert refused.status_code == 422, params
        assert words in refused.json()["error"]["message"]
    # A range that ends before it starts is no error, as for search: it matches nothing,
    # where the same years the right way round hold the 2022 events.
    in_2022 = client.get("/api/timeline", params={"date_from": "2022", "date_to": "2022"})
    assert [event["date"] for event in in_2022.json()["events"]] == ["2022-12-10", "2022-12-15"]
    reversed_range = client.get("/api/timeline", params={"date_from": "2023", "date_to": "2022"})
    assert reversed_range.status_code == 200 and reversed_range.json()["events"] == []
    page = client.get("/timeline", params={"q": "strike"})
    assert page.status_code == 200 and "2 sources" in page.text and "15 Dec 2022" in page.text
    assert client.get("/timeline", params={"date_to": "nope"}).status_code == 422


@pytest.mark.model
def test_the_cli_prints_the_bundled_archives_timeline_in_order(bundled_corpus, tmp_path):
    arguments = ["--corpus", str(bundled_corpus), "--index", str(tmp_path / "index")]
    runner = CliRunner()
    assert runner.invoke(main, ["index", *arguments, "--json"]).exit_code == 0
    result = runner.invoke(main, ["timeline", *arguments, "--json"])
    assert result.exit_code == 0, result.output
    events = json.loads(result.output)["events"]
    wanted = [
        ("2020", "Vizcarra"),
        ("2022-12-10", "Extraordinary National Assembly"),
        ("2022-12-13", "indefinite strike"),
        ("2022-12-15", "national strike"),
    ]
    positions = []
    for date, words in wanted:
        found = [n for n, e in enumerate(events) if e["date"] == date and words in e["text"]]
        assert found, (date, words)
        positions.append(found[0])
        source = events[found[0]]["sources"][0]
        assert source["document_id"] == "000_81ed5ffdb9fd1d09.txt"
        assert source["url"] == f"/documents/000_81ed5ffdb9fd1d09.txt#p{source['passage_id']}"
        assert words in source["sentence"]
    assert positions == sorted(positions)
    text = runner.invoke(main, ["timeline", *arguments, "strike", "--date-from", "2022-12-13"])
    assert text.exit_code == 0 and "15 Dec 2022" in text.output and "2020" not in text.output
    bad = runner.invoke(main, ["timeline", *arguments, "--date-to", "2022-02-30"])
    assert bad.exit_code == 1 and "date_to must be a date" in bad.output


def test_eval_dates_prints_precision_and_recall(tmp_path):
    labelled = tmp_path / "labelled.json"
    sentences = [
        {"text": "It met on 10 December 2022.", "document_date": None, "split": "a",
         "mentions": [{"value": "2022-12-10", "precision": "day"}]},
        {"text": "It rained yesterday.", "document_date": "2023-01-09", "split": "a",
         "mentions": [{"value": "2023-01-08", "precision": "day"}]},
        {"text": "It rained on Monday.", "document_date": "2023-01-09", "split": "b",
         "mentions": [{"value": "2023-01-02", "precision": "day"}]},
    ]  # fmt: skip
    labelled.write_text(json.dumps({"sentences": sentences}), encoding="utf-8")
    result = CliRunner().invoke(main, ["eval-dates", str(labelled), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert (scores["a"]["precision"], scores["a"]["recall"]) == (1.0, 1.0)
    assert (scores["b"]["precision"], scores["b"]["recall"]) == (0.0, 0.0)
    text = CliRunner().invoke(main, ["eval-dates", str(labelled), "--errors"])
    assert "It rained on Monday." in text.output and "precision" in text.output
    missing = CliRunner().invoke(main, ["eval-dates", str(tmp_path / "none.json")])
    assert missing.exit_code == 1 and "No labelled file" in missing.output


@pytest.mark.parametrize(
    "question, span_only",
    [
        ("What happened between 10 and 15 December?", True),
        ("¿Qué pasó entre el 10 y el 15 de diciembre?", True),
        ("What events took place in 2020?", True),
        ("What happened in December 2022?", True),
        ("What happened to the rate of deforestation in Brazil between 2004 and 2014?", False),
        ("What happened in 1992 in a UK-wide process?", False),
        ("What happened in Lima on 15 December?", False),
        ("What happened during the test?", False),
    ],
)
def test_only_a_question_about_a_span_and_nothing_else_gets_the_span_events(question, span_only):
    # A question with a topic besides its dates goes to the answer step, which finds the topic.
    assert asks_for_a_span(question) is span_only


def dated(document_id: str, sentence: str, mention: str, language: str) -> DatedSentence:
    """A stored mention of 15 Dec 2022 in `sentence` (the whole sentence of its document)."""
    start = sentence.index(mention)
    return DatedSentence(
        document_id=document_id,
        start=0,
        end=len(sentence),
        passage_id=1,
        mention_start=start,
        mention_end=start + len(mention),
        value_start="2022-12-15",
        value_end="2022-12-15",
        precision="day",
        first_day="2022-12-15",
        last_day="2022-12-15",
        title=document_id,
        language=language,
        metadata={},
        sentence=sentence,
        mention=mention,
    )


@pytest.mark.parametrize(
    ("language", "mention", "first", "unrelated", "related"),
    [
        (
            "en",
            "15 December 2022",
            "Before 15 December 2022, because of rain, markets closed only once.",
            "Before 15 December 2022, because of snow, schools shut only once.",
            "Markets closed because of the rain on 15 December 2022.",
        ),
        (
            "es",
            "15 de diciembre de 2022",
            "Desde el 15 de diciembre de 2022, porque llovió, los mercados cerraron para todos.",
            "Desde el 15 de diciembre de 2022, porque nevó, las aulas quedaron vacías para todos.",
            "Los mercados cerraron por la lluvia el 15 de diciembre de 2022.",
        ),
    ],
    ids=["en", "es"],
)
def test_same_date_sentences_are_one_event_by_their_content_words_not_stop_words(
    language, mention, first, unrelated, related
):
    rows = [dated(name, text, mention, language) for name, text in (("a", first), ("b", unrelated))]
    events = merge_events(rows, Settings().timeline_same_event)
    assert [[s.document_id for s in event.sources] for event in events] == [["a"], ["b"]]
    rows = [dated(name, text, mention, language) for name, text in (("a", first), ("c", related))]
    events = merge_events(rows, Settings().timeline_same_event)
    assert [[s.document_id for s in event.sources] for event in events] == [["a", "c"]]


@pytest.fixture
def ranked_archive(make_settings, fake_embedder):
    """Dated passages that match "national strike" less and less (the strike, then the
    national assembly, then a harvest), and undated ones; `timeline(share, query)` is the
    timeline with `timeline_relative_score` at `share`, and `search(query)` its ranking."""
    settings = make_settings()
    for name, text in [
        ("strike.txt", "The national strike began on 15 December 2022 across the south."),
        ("chant.txt", "They chanted: strike, strike, strike!"),
        ("assembly.txt", "The national assembly of unions met in Lima on 10 December 2022."),
        ("harvest.txt", "The potato harvest across the highlands doubled in May 2019."),
        ("snow.txt", "Snow fell early in the mountains."),
        ("port.txt", "The port closed during the storm."),
    ]:
        write(settings.corpus, name, text + "\n", {"language": "en"})
    Assistant(settings, fake_embedder).build(full=True)

    def timeline(share: float, query: str) -> list[str]:
        tuned = settings.model_copy(update={"timeline_relative_score": share})
        return labels(Assistant(tuned, fake_embedder).timeline(query))

    return timeline, Assistant(settings, fake_embedder)


def test_only_passages_scoring_above_a_share_of_the_best_give_events(ranked_archive):
    """A query's timeline reads the passages its hybrid search finds, but only those scoring
    above `timeline_relative_score` (half) of the best one's: hybrid search proposes
    passages whatever they match. The assembly's passage, at about a third of the best
    score, gives its event only once the share is below its own; the harvest's, which
    scores nothing, never does."""
    timeline, assistant = ranked_archive
    query = "national strike"
    assert labels(assistant.timeline()) == ["May 2019", "10 Dec 2022", "15 Dec 2022"]
    assert labels(assistant.timeline(query)) == ["15 Dec 2022"]  # the default share, 0.5

    scores = {hit.document_id: hit.score for hit in assistant.search(query, k=10)}
    best = max(scores.values())
    # The chant is nearer in meaning, so the best fused score is below 1: the share is one
    # of the best score, not of 1.
    assert scores["strike.txt"] == best < 0.95
    assembly = scores["assembly.txt"] / best
    assert 0.1 < assembly < 0.45 and scores["harvest.txt"] == 0.0
    assert timeline(assembly + 0.01, query) == ["15 Dec 2022"]
    assert timeline(assembly - 0.01, query) == ["10 Dec 2022", "15 Dec 2022"]
    assert timeline(0.0, query) == ["10 Dec 2022", "15 Dec 2022"]
