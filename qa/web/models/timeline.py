"""Dated events: `GET /api/timeline`, `qa timeline --json`, and the events of an answer."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from qa.core.types import EventSource, TimelineEvent
from qa.timeline.build import Timeline
from qa.web.models.common import (
    EXAMPLE_DOCUMENT_ID,
    EXAMPLE_METADATA,
    EXAMPLE_PASSAGE_ID,
    EXAMPLE_PASSAGE_URL,
    EXAMPLE_TITLE,
)
from qa.web.models.derived import PassageLink, derived


class EventSourceOut(derived(EventSource), PassageLink):
    pass


class TimelineEventOut(
    derived(
        TimelineEvent,
        renamed={"value_start": "date_start", "value_end": "date_end"},
        models=[EventSourceOut],
    )
):
    date: str = Field(
        validation_alias="value",
        description="ISO date (YYYY, YYYY-MM or YYYY-MM-DD); START/END for a range.",
    )


class TimelineResponse(derived(Timeline, models=[TimelineEventOut])):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "national strike",
                    "events": [
                        {
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
                                    "passage_id": EXAMPLE_PASSAGE_ID,
                                    "sentence": "The national strike of December 15 was a key "
                                    "moment.",
                                    "start": 1163,
                                    "end": 1216,
                                    "mention": "December 15",
                                    "metadata": EXAMPLE_METADATA,
                                    "citation": None,
                                    "url": EXAMPLE_PASSAGE_URL,
                                }
                            ],
                            "date": "2022-12-15",
                        }
                    ],
                    "total": 1,
                }
            ]
        }
    )
