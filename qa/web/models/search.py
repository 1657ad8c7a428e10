"""The hits of a search: `GET /api/search` and `qa search --json`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qa.core.types import Hit
from qa.web.models.common import (
    EXAMPLE_DOCUMENT_ID,
    EXAMPLE_METADATA,
    EXAMPLE_PASSAGE_TEXT,
    EXAMPLE_TITLE,
    document_url,
)


class HitOut(BaseModel):
    passage_id: int = Field(description="Stable id of the passage (a 63-bit integer).")
    document_id: str
    title: str
    text: str = Field(description="The passage text.")
    score: float = Field(description="Fused relevance score, higher is better.")
    start: int = Field(description="Character offset of the passage in the document text.")
    end: int
    page: int | None = Field(None, description="Page of a paged document (PDF), else null.")
    rank: int = 0
    dense_score: float = 0.0
    lexical_score: float = 0.0
    metadata: dict[str, Any] = Field(default_factory=dict)
    url: str = Field(description="Web page of the document, scrolled to this passage.")

    @classmethod
    def build(cls, hit: Hit) -> HitOut:
        return cls(**asdict(hit), url=document_url(hit.document_id, hit.passage_id))


class SearchResponse(BaseModel):
    query: str
    hits: list[HitOut]

    @classmethod
    def build(cls, query: str, hits: list[Hit]) -> SearchResponse:
        return cls(query=query, hits=[HitOut.build(hit) for hit in hits])

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "national strike",
                    "hits": [
                        {
                            "passage_id": 451602466766482477,
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
                            "url": "/documents/reports/strike-2022.pdf#p451602466766482477",
                        }
                    ],
                }
            ]
        }
    )
