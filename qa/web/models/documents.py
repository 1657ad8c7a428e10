"""A document with its metadata and passages: `GET /api/documents/{id}`."""

from __future__ import annotations

from pydantic import ConfigDict, Field, computed_field

from qa.core.types import Document, Passage
from qa.web.models.common import (
    EXAMPLE_DOCUMENT_ID,
    EXAMPLE_METADATA,
    EXAMPLE_PASSAGE_ID,
    EXAMPLE_PASSAGE_TEXT,
    EXAMPLE_PASSAGE_URL,
    EXAMPLE_TITLE,
    document_url,
)
from qa.web.models.derived import derived


class PassageOut(derived(Passage, exclude={"sentences"})):
    document_id: str = Field(exclude=True)  # read for the url; the document says it

    @computed_field(description="Web page of the document, scrolled to this passage.")
    @property
    def url(self) -> str:
        return document_url(self.document_id, self.id)


class DocumentResponse(derived(Document, exclude={"content_hash"})):
    date: str | None = Field(None, description="The date of its metadata.")
    source: str | None = Field(None, description="The source of its metadata.")
    passages: list[PassageOut]

    @computed_field(description="Web page of the document.")
    @property
    def url(self) -> str:
        return document_url(self.id)

    @classmethod
    def of(cls, document: Document, passages: list[Passage]) -> DocumentResponse:
        """The document's fields and properties, and its passages."""
        values = {name: getattr(document, name) for name in cls.model_fields if name != "passages"}
        return cls.model_validate({**values, "passages": passages})

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_DOCUMENT_ID,
                    "path": EXAMPLE_DOCUMENT_ID,
                    "title": EXAMPLE_TITLE,
                    "text": EXAMPLE_PASSAGE_TEXT,
                    "language": "en",
                    "metadata": EXAMPLE_METADATA,
                    "page_starts": [0],
                    "date": "2022-12",
                    "source": "Field reports",
                    "passages": [
                        {
                            "id": EXAMPLE_PASSAGE_ID,
                            "ordinal": 0,
                            "start": 0,
                            "end": 147,
                            "text": EXAMPLE_PASSAGE_TEXT,
                            "page": 1,
                            "url": EXAMPLE_PASSAGE_URL,
                        }
                    ],
                    "url": "/documents/reports/strike-2022.pdf",
                }
            ]
        }
    )
