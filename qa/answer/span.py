"""Answers about a span of dates ("What happened between 10 and 15 December?"): the span's
events in order, each sentence cited; and the dated events of any answer's cited sentences."""

from __future__ import annotations

import re

from qa.core.config import MAX_TIMELINE_EVENTS, Settings
from qa.core.types import Answer, AnswerSentence, Citation, TimelineEvent
from qa.dates.mentions import find_dates
from qa.search.retriever import Retriever
from qa.store import Catalog, DatedSentence
from qa.store.filters import SearchFilters
from qa.text.languages import detect_question_language
from qa.text.terms import stop_words, words
from qa.timeline.build import build_timeline, merge_events

#: Questions that ask for the events of a span of dates, in English and Spanish.
EVENTS_QUESTION = re.compile(
    r"\b(what (?:happened|took place|occurred|went on)|which events|what events|"
    r"qu[ée] (?:pas[óo]|ocurri[óo]|sucedi[óo]|hechos|eventos|acontecimientos))\b",
    re.IGNORECASE,
)


#: Words of asking for events that name no topic ("What events took place in 2020?").
EVENT_WORDS = frozenset(
    "happen happened happens occur occurred took take place places went go event events "
    "pasó paso pasaron ocurrió ocurrio ocurrieron sucedió sucedio sucedieron hecho hechos "
    "evento eventos acontecimiento acontecimientos hubo".split()
)


#: Years whose events a year-less question span ("between 10 and 15 December") may mean.
CANDIDATE_YEARS = 30


def asks_for_a_span(question: str) -> bool:
    """Whether the question asks what happened in a span and nothing more: "What happened
    to the rate of deforestation between 2004 and 2014?" asks about deforestation, which
    the ordinary answer step finds; the span's events would bury it."""
    asked = EVENTS_QUESTION.search(question)
    if asked is None:
        return False
    # Any year makes a year-less span ("between 10 and 15 December") a date mention too.
    mentions = find_dates(question, "2000-01-01")
    rest = [question[: asked.start()]]
    position = asked.end()
    for mention in sorted(mentions, key=lambda m: m.start):
        if mention.start >= position:
            rest.append(question[position : mention.start])
            position = mention.end
    rest.append(question[position:])
    language = detect_question_language(question)
    stops = stop_words(language)
    topic = [w for w in words(" ".join(rest)) if w not in stops and w not in EVENT_WORDS]
    return not [w for w in topic if not w.isdigit()]


def question_span(catalog: Catalog, question: str) -> tuple[str, str] | None:
    """The span of days a question asks about ("between 10 and 15 December", "in 2020"),
    or None. A year the question leaves out is the year whose events that span holds most."""
    spans = _span(find_dates(question))
    if spans is not None:
        return spans
    best, best_count = None, 0
    for year in catalog.dates.busiest_years(CANDIDATE_YEARS):
        span = _span(find_dates(question, year))
        if span is None:
            continue
        count = catalog.dates.count_within(*span)
        if count > best_count or (count == best_count and best and span > best):
            best, best_count = span, count
    return best


def _span(mentions) -> tuple[str, str] | None:
    absolute = [m for m in mentions if not m.relative]
    if not absolute:
        return None
    return min(m.first_day for m in absolute), max(m.last_day for m in absolute)


def events_answer(
    retriever: Retriever, settings: Settings, question: str, filters: SearchFilters | None
) -> Answer | None:
    """The answer to 'what happened between ... and ...?': the span's events in order, each
    sentence cited; None when the question asks no such thing or the span holds no event."""
    if not asks_for_a_span(question):
        return None
    catalog = retriever.index.catalog
    span = question_span(catalog, question)
    if span is None:
        return None
    filters = filters or SearchFilters()
    within = SearchFilters(filters.source, filters.language, span[0], span[1])
    overlapping = build_timeline(retriever, settings, None, within, MAX_TIMELINE_EVENTS).events
    # Events the span holds whole come first: "December 2022" does not say what happened
    # between the 10th and the 15th.
    inside = [e for e in overlapping if e.first_day >= span[0] and e.last_day <= span[1]]
    events = (inside or overlapping)[: settings.timeline_answer_events]
    if not events:
        return None
    # The passages that tell the events, as (unscored) hits, to be cited as answers cite.
    told_in = dict.fromkeys(s.passage_id for e in events for s in e.sources)
    stored = catalog.passages(told_in, vectors=False)
    found = [i for i in told_in if i in stored]
    hits = {i: stored[i].hit(rank) for rank, i in enumerate(found, 1)}
    citations: dict[int, Citation] = {}
    sentences: list[AnswerSentence] = []
    for event in events:
        for source in event.sources:
            hit = hits.get(source.passage_id)
            if hit is None:
                continue
            citation = citations.get(hit.passage_id)
            if citation is None:
                citation = Citation.of(len(citations) + 1, hit)
                citations[hit.passage_id] = citation
            span_in_passage = (source.start - hit.start, source.end - hit.start)
            if span_in_passage not in citation.highlights:
                citation.highlights.append(span_in_passage)
            source.citation = citation.n
        first = event.sources[0]
        if first.citation is not None:
            sentences.append(AnswerSentence(first.sentence, first.citation, 1.0))
    if not sentences:
        return None
    return Answer(
        question=question,
        answer=" ".join(f"{s.text} [{s.citation}]" for s in sentences),
        abstained=False,
        sentences=sentences,
        citations=list(citations.values()),
        confidence=1.0,
        resolved_query=question,
        events=events,
    )


def cited_events(catalog: Catalog, answer: Answer) -> list[TimelineEvent]:
    """The dated events of an answer's cited sentences, oldest first."""
    rows: list[DatedSentence] = []
    numbers: dict[tuple[str, int], int] = {}
    if answer.abstained:
        return []
    for citation in answer.citations:
        for start, _ in citation.highlights:
            found = catalog.dates.of_sentence(citation.document_id, citation.start + start)
            for row in found:
                numbers[(row.document_id, row.start)] = citation.n
            rows.extend(found)
    rows.sort(key=lambda row: (row.first_day, row.last_day))
    events = merge_events(rows, 1.1)  # an answer's own sentences stay apart
    for event in events:
        for source in event.sources:
            source.citation = numbers.get((source.document_id, source.start))
    return events
