"""A document with its metadata and passages: `GET /api/documents/{id}`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qa.core.types import Document, Passage
from qa.web.models.common import (
    EXAMPLE_DOCUMENT_ID,
    EXAMPLE_METADATA,
    EXAMPLE_PASSAGE_TEXT,
    EXAMPLE_TITLE,
    document_url,
)


class PassageOut(BaseModel):
    id: int
    ordinal: int = Field(description="Position of the passage in its document, from 0.")
    start: int
    end: int
    page: int | None = None
    text: str
    url: str

    @classmethod
    def build(cls, passage: Passage) -> PassageOut:
        return cls(
            id=passage.id,
            ordinal=passage.ordinal,
            start=passage.start,
            end=passage.end,
            page=passage.page,
            text=passage.text,
            url=document_url(passage.document_id, passage.id),
        )


class DocumentResponse(BaseModel):
    id: str
    path: str = Field(description="Path of the file in the corpus folder.")
    title: str
    language: str
    date: str | None = None
    source: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    text: str
    page_starts: list[int] = Field(
        default_factory=list, description="Character offset where each page starts (PDF)."
    )
    passages: list[PassageOut]
    url: str

    @classmethod
    def build(cls, document: Document, passages: list[Passage]) -> DocumentResponse:
        return cls(
            id=document.id,
            path=document.path,
            title=document.title,
            language=document.language,
            date=document.date,
            source=document.source,
            metadata=document.metadata,
            text=document.text,
            page_starts=list(document.page_starts),
            passages=[PassageOut.build(p) for p in passages],
            url=document_url(document.id),
        )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_DOCUMENT_ID,
                    "path": EXAMPLE_DOCUMENT_ID,
                    "title": EXAMPLE_TITLE,
                    "language": "en",
                    "date": "2022-12",
                    "source": "Field reports",
                    "metadata": EXAMPLE_METADATA,
                    "text": EXAMPLE_PASSAGE_TEXT,
                    "page_starts": [0],
                    "passages": [
                        {
                            "id": 451602466766482477,
                            "ordinal": 0,
                            "start": 0,
                            "end": 147,
                            "page": 1,
                            "text": EXAMPLE_PASSAGE_TEXT,
                            "url": "/documents/reports/strike-2022.pdf#p451602466766482477",
                        }
                    ],
                    "url": "/documents/reports/strike-2022.pdf",
                }
            ]
        }
    )
