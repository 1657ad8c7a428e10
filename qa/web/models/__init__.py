"""The JSON shapes of the HTTP API (and of the CLI's `--json`): requests, responses and
errors, with OpenAPI examples, one module per area.

A response model is derived from the core's dataclass it shows (`derived`): the same fields,
with the core's defaults and descriptions; a route returns `Model.model_validate(result)`.
Passage ids are strings in JSON (`JsonPassageId`): JavaScript numbers cannot hold 63 bits.
"""

from qa.web.models.answers import AnswerResponse, AnswerSentenceOut, AskRequest, CitationOut, Turn
from qa.web.models.common import (
    EXAMPLE_DOCUMENT_ID,
    DocumentIdConvertor,
    ErrorDetail,
    ErrorResponse,
    JsonPassageId,
    Text,
    document_url,
)
from qa.web.models.documents import DocumentResponse, PassageOut
from qa.web.models.health import HealthResponse, RebuildStatus
from qa.web.models.search import HitOut, SearchResponse
from qa.web.models.timeline import EventSourceOut, TimelineEventOut, TimelineResponse

__all__ = [
    "EXAMPLE_DOCUMENT_ID",
    "AnswerResponse",
    "AnswerSentenceOut",
    "AskRequest",
    "CitationOut",
    "DocumentIdConvertor",
    "DocumentResponse",
    "ErrorDetail",
    "ErrorResponse",
    "EventSourceOut",
    "HealthResponse",
    "HitOut",
    "JsonPassageId",
    "PassageOut",
    "RebuildStatus",
    "SearchResponse",
    "Text",
    "TimelineEventOut",
    "TimelineResponse",
    "Turn",
    "document_url",
]
