"""What every area of the API shares: document URLs, the document id URL convertor, text
that must be valid Unicode, passage ids as JSON carries them, the error body, and the example
values of the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    WithJsonSchema,
)
from starlette.convertors import Convertor, register_url_convertor

EXAMPLE_DOCUMENT_ID = "reports/strike-2022.pdf"
EXAMPLE_TITLE = "Peru's mass mobilizations of December 2022"
EXAMPLE_PASSAGE_TEXT = (
    "They outlined key demands, including a national strike scheduled for December 15. "
    "This strike was supported by various unions and social movements."
)
EXAMPLE_METADATA = {"date": "2022-12", "source": "Field reports", "language": "en"}
EXAMPLE_PASSAGE_ID = "451602466766482477"
EXAMPLE_PASSAGE_URL = f"/documents/{EXAMPLE_DOCUMENT_ID}#p{EXAMPLE_PASSAGE_ID}"


def document_url(document_id: str, passage_id: int | None = None) -> str:
    """The web page of a document, scrolled to a passage when one is given (routes take
    the id with the `document_id` convertor below)."""
    url = "/documents/" + quote(document_id, safe="/:")
    return url if passage_id is None else f"{url}#p{passage_id}"


class DocumentIdConvertor(Convertor[str]):
    """A document id in a URL: anything, '/' and line breaks included (ids are paths)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("document_id", DocumentIdConvertor())


def _utf8_text(value: str) -> str:
    # JSON may carry lone surrogates, which no database or response can encode.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_utf8_text)]


# --- Passage ids --------------------------------------------------------------------------

#: Said of every passage id of the schema.
PASSAGE_ID_NOTE = (
    "A 63-bit integer, written as a string of digits: as a JSON number, an id past 2**53 "
    "would lose its last digits in JavaScript. Where an id is read, both forms are taken."
)
_DIGITS = {"type": "string", "pattern": "^[0-9]{1,19}$", "examples": [EXAMPLE_PASSAGE_ID]}


def _int_of_digits(value: object) -> object:
    # A string of ASCII digits is the id; anything else meets the strict int check.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


#: A passage id (`qa.core.types.PassageId`) as the API carries it: an int in Python, a string
#: in JSON; read from either form (a path or query parameter of this type takes both too).
JsonPassageId = Annotated[
    int,
    Strict(),
    Field(ge=0, lt=2**63),
    BeforeValidator(_int_of_digits),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema(_DIGITS, mode="serialization"),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 2**63 - 1}, _DIGITS]},
        mode="validation",
    ),
]


# --- Errors -----------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    type: str = Field(description="A stable, machine-readable kind of error.")
    message: str = Field(description="What is wrong, in a sentence meant for people.")


class ErrorResponse(BaseModel):
    """The body of every 4xx and 5xx answer of the API."""

    error: ErrorDetail

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": {"type": "invalid_query", "message": "The question is empty."}}]
        }
    )
