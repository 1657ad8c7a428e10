"""The timeline: the archive's dated events, oldest first, each with every source that tells it.

Without a query it lists every dated sentence that the filters let through; with one, the
dated sentences of the passages a hybrid search finds best for it. Sentences of the same date
whose content terms mostly agree are one event with several sources. Questions that ask what
happened in a span of dates ("What happened between 10 and 15 December?") are answered with
the events of that span, and every other answer carries the dates of its cited sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qa.config import MAX_TIMELINE_EVENTS, Settings
from qa.dates import find_dates
from qa.fusion import Candidate
from qa.query import SearchFilters, search_query, timeline_limit, validate_query
from qa.retrieval import Retriever
from qa.store import Catalog, DatedSentence
from qa.text import detect_question_language, stop_words, terms, words
from qa.types import Answer, AnswerSentence, Citation, EventSource, TimelineEvent

MONTH_ABBREVIATIONS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
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


@dataclass
class Timeline:
    """The events of a timeline request, oldest first, and how many there were in all."""

    query: str | None
    events: list[TimelineEvent] = field(default_factory=list)
    total: int = 0


def event_label(value_start: str, value_end: str, precision: str) -> str:
    """'2022-12-10' -> '10 Dec 2022'; '2022-12-13'..'2022-12-15' -> '13–15 Dec 2022'."""
    first, last = _label(value_start), _label(value_end)
    if value_start == value_end:
        return first
    if precision == "day" and value_start[:7] == value_end[:7]:
        return f"{int(value_start[8:])}–{last}"
    return f"{first} – {last}"


def _label(value: str) -> str:
    parts = value.split("-")
    if len(parts) == 1:
        return value
    month = MONTH_ABBREVIATIONS[int(parts[1]) - 1]
    return f"{int(parts[2])} {month} {parts[0]}" if len(parts) == 3 else f"{month} {parts[0]}"


def build_timeline(
    retriever: Retriever,
    settings: Settings,
    query: str | None = None,
    filters: SearchFilters | None = None,
    limit: int | None = None,
) -> Timeline:
    """Dated events matching `query` (all of them without one) and `filters`, oldest first.
    The date filters apply to the events' dates, the others to their documents."""
    filters = filters or SearchFilters()
    limit = timeline_limit(limit, settings)
    catalog = retriever.index.catalog
    passage_ids = None
    if query is not None and query.strip():
        query = validate_query(query, settings)
        documents_only = SearchFilters(filters.source, filters.language)
        searched = search_query(query, retriever.index.languages)
        candidates = retriever.candidates(searched, "hybrid", documents_only, settings.candidates)
        # Hybrid search always proposes passages; those scoring half the best or less match
        # neither the query's words nor much of its meaning, and add no event to its timeline.
        floor = settings.timeline_relative_score * (candidates[0].fused if candidates else 0.0)
        passage_ids = [
            c.passage_id for c in candidates[: settings.timeline_passages] if c.fused > floor
        ]
    else:
        query = None
    rows = catalog.dates.overlapping(
        filters.source, filters.language, filters.date_from, filters.date_to, passage_ids
    )
    events = merge_events(rows, settings.timeline_same_event)
    return Timeline(query, events[:limit], len(events))


def merge_events(rows: list[DatedSentence], same_event: float) -> list[TimelineEvent]:
    """One event per date and story: sentences of one date whose content terms (the date left
    out) overlap by `same_event` of the shorter one are sources of the same event."""
    events: list[TimelineEvent] = []
    words: list[set[str]] = []
    by_date: dict[tuple[str, str, str], list[int]] = {}
    for row in rows:
        key = (row.value_start, row.value_end, row.precision)
        own = _content_terms(row)
        source = EventSource(
            document_id=row.document_id,
            title=row.title,
            passage_id=row.passage_id,
            sentence=row.sentence,
            start=row.start,
            end=row.end,
            mention=row.mention,
            metadata=row.metadata,
        )
        for index in by_date.get(key, []):
            other = words[index]
            shared = len(own & other) / max(1, min(len(own), len(other)))
            if own and other and shared >= same_event:
                known = {(s.document_id, s.start) for s in events[index].sources}
                if (row.document_id, row.start) not in known:  # one sentence, two mentions
                    events[index].sources.append(source)
                break
        else:
            by_date.setdefault(key, []).append(len(events))
            words.append(own)
            events.append(
                TimelineEvent(
                    value_start=row.value_start,
                    value_end=row.value_end,
                    precision=row.precision,
                    first_day=row.first_day,
                    last_day=row.last_day,
                    label=event_label(row.value_start, row.value_end, row.precision),
                    text=row.sentence,
                    sources=[source],
                )
            )
    return events


def _content_terms(row: DatedSentence) -> set[str]:
    """The sentence's stemmed terms without stop words, numbers or its date expression."""
    relative_start = row.mention_start - row.start
    text = row.sentence[:relative_start] + " " + row.sentence[relative_start + len(row.mention) :]
    stops = stop_words(row.language)
    return {
        term
        for term in terms(text, row.language)
        if term not in stops and not term.isdigit() and len(term) > 1
    }


# --- Answers -------------------------------------------------------------------------------


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
    hits = {hit.passage_id: hit for hit in retriever.hits([Candidate(i) for i in told_in])}
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
