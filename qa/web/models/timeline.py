"""Dated events: `GET /api/timeline`, `qa timeline --json`, and the events of an answer."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qa.core.types import EventSource, TimelineEvent
from qa.web.models.common import EXAMPLE_DOCUMENT_ID, EXAMPLE_METADATA, EXAMPLE_TITLE, document_url


class EventSourceOut(BaseModel):
    document_id: str
    title: str
    passage_id: int = Field(description="The passage that holds the sentence.")
    sentence: str = Field(description="The sentence that tells the event.")
    start: int = Field(description="Character offset of the sentence in the document text.")
    end: int
    mention: str = Field(description="The date expression as the sentence writes it.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    citation: int | None = Field(
        None, description="In an answer, the `n` of the citation this sentence comes from."
    )
    url: str = Field(description="Web page of the document, scrolled to the passage.")

    @classmethod
    def build(cls, source: EventSource) -> EventSourceOut:
        return cls(**asdict(source), url=document_url(source.document_id, source.passage_id))


class TimelineEventOut(BaseModel):
    date: str = Field(description="ISO date (YYYY, YYYY-MM or YYYY-MM-DD); START/END for a range.")
    date_start: str
    date_end: str
    precision: str = Field(description="'day', 'month' or 'year'.")
    first_day: str = Field(description="First day the date covers (YYYY-MM-DD).")
    last_day: str
    label: str = Field(description="The date for people: '10 Dec 2022', '13–15 Dec 2022'.")
    text: str = Field(description="The sentence of the first source.")
    sources: list[EventSourceOut] = Field(description="Every document that tells the event.")

    @classmethod
    def build(cls, event: TimelineEvent) -> TimelineEventOut:
        return cls(
            date=event.value,
            date_start=event.value_start,
            date_end=event.value_end,
            precision=event.precision,
            first_day=event.first_day,
            last_day=event.last_day,
            label=event.label,
            text=event.text,
            sources=[EventSourceOut.build(source) for source in event.sources],
        )


class TimelineResponse(BaseModel):
    query: str | None = Field(None, description="The query, or null for the whole archive.")
    total: int = Field(description="Events found, before `limit`.")
    events: list[TimelineEventOut] = Field(description="Oldest first.")

    @classmethod
    def build(cls, timeline) -> TimelineResponse:
        return cls(
            query=timeline.query,
            total=timeline.total,
            events=[TimelineEventOut.build(event) for event in timeline.events],
        )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "national strike",
                    "total": 1,
                    "events": [
                        {
                            "date": "2022-12-15",
                            "date_start": "2022-12-15",
                            "date_end": "2022-12-15",
                            "precision": "day",
                            "first_day": "2022-12-15",
                            "last_day": "2022-12-15",
                            "label": "15 Dec 2022",
                            "text": "The national strike of December 15 was a key moment.",
                            "sources": [
                                {
                                    "document_id": EXAMPLE_DOCUMENT_ID,
                                    "title": EXAMPLE_TITLE,
                                    "passage_id": 451602466766482477,
                                    "sentence": "The national strike of December 15 was a key "
                                    "moment.",
                                    "start": 1163,
                                    "end": 1216,
                                    "mention": "December 15",
                                    "metadata": EXAMPLE_METADATA,
                                    "citation": None,
                                    "url": "/documents/reports/strike-2022.pdf#p451602466766482477",
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )
