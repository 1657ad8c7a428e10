"""The timeline: the archive's dated events, oldest first, each with every source that tells it.

Without a query it lists every dated sentence that the filters let through; with one, the
dated sentences of the passages a hybrid search finds best for it. Sentences of the same date
whose content terms mostly agree are one event with several sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.core.config import Settings
from qa.core.types import EventSource, TimelineEvent, described
from qa.search.query import search_query, timeline_limit, validate_query
from qa.search.retriever import Retriever
from qa.store import DatedSentence
from qa.store.filters import SearchFilters
from qa.text.terms import terms

MONTH_ABBREVIATIONS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass
class Timeline:
    """The events of a timeline request, oldest first, and how many there were in all."""

    query: str | None = described("The query, or null for the whole archive.")
    events: list[TimelineEvent] = described("Oldest first.", default_factory=list)
    total: int = described("Events found, before `limit`.", default=0)


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
    # Stop words go before stemming: the list holds words, not stems ("because" -> "becaus").
    return {
        term
        for term in terms(text, row.language, drop_stop_words=True)
        if not term.isdigit() and len(term) > 1
    }
