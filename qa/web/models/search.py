"""The hits of a search: `GET /api/search` and `qa search --json`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from qa.core.types import Hit
from qa.web.models.common import (
    EXAMPLE_DOCUMENT_ID,
    EXAMPLE_METADATA,
    EXAMPLE_PASSAGE_ID,
    EXAMPLE_PASSAGE_TEXT,
    EXAMPLE_PASSAGE_URL,
    EXAMPLE_TITLE,
)
from qa.web.models.derived import PassageLink, derived


class HitOut(derived(Hit), PassageLink):
    pass


class SearchResponse(BaseModel):
    """The hits of a query, best first."""

    query: str
    hits: list[HitOut]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "national strike",
                    "hits": [
                        {
                            "passage_id": EXAMPLE_PASSAGE_ID,
                            "document_id": EXAMPLE_DOCUMENT_ID,
                            "title": EXAMPLE_TITLE,
                            "text": EXAMPLE_PASSAGE_TEXT,
                            "score": 0.93,
                            "start": 1163,
                            "end": 1310,
                            "page": 2,
                            "rank": 1,
                            "dense_score": 0.61,
                            "lexical_score": 7.2,
                            "metadata": EXAMPLE_METADATA,
                            "url": EXAMPLE_PASSAGE_URL,
                        }
                    ],
                }
            ]
        }
    )
