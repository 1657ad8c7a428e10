"""The JSON API: routes that parse input, call the assistant and shape its output with the
models of `qa.web.models`; the admin routes exist only when an admin token is set."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Response
from pydantic import BaseModel

from qa.core.config import Settings
from qa.core.errors import QAError
from qa.search.query import BLANK, NOT_BLANK_PATTERN, search_filters
from qa.service.assistant import Assistant
from qa.web.dependencies import (
    AssistantDep,
    EventLimitQuery,
    FiltersDep,
    HitCountQuery,
    ModeQuery,
    require_admin,
)
from qa.web.errors import error_responses
from qa.web.models import (
    EXAMPLE_DOCUMENT_ID,
    AnswerResponse,
    AskRequest,
    DocumentResponse,
    HealthResponse,
    RebuildStatus,
    SearchResponse,
    TimelineResponse,
)

#: What the core accepts as a date filter: a year or a month (or an empty field: no
#: filter), or a day of the calendar (no 30 February).
DATE_SCHEMA = [
    {"type": "string", "pattern": r"^([0-9]{4}(-(0[1-9]|1[0-2]))?)?$"},
    {"type": "string", "format": "date"},
    {"type": "null"},
]
#: Document ids of the index in service that the schema gives as examples.
EXAMPLE_IDS = 3


api = APIRouter(prefix="/api", tags=["api"])


def as_json(model: BaseModel, status_code: int = 200) -> Response:
    """The route's answer: its model's JSON, as FastAPI would write it for the route's
    `response_model`. Sent as it is, because the model was validated when it was made and
    FastAPI would validate it again on a worker thread, a hop that costs each question about
    half a millisecond; the schema still comes from `response_model`."""
    return Response(
        model.model_dump_json(by_alias=True), status_code=status_code, media_type="application/json"
    )


@api.get(
    "/search",
    response_model=SearchResponse,
    responses=error_responses(422, 503),
    summary="Search the archive's passages",
)
def api_search(
    assistant: AssistantDep,
    filters: FiltersDep,
    q: Annotated[str, Query(description="The query.", examples=["national strike"])],
    k: HitCountQuery = None,
    mode: ModeQuery = None,
) -> Response:
    """The best passages for a query, best first: the hits of `qa search --json`."""
    hits = assistant.search(q, k=k, mode=mode, filters=filters)
    return as_json(SearchResponse(query=q, hits=hits))


@api.get(
    "/timeline",
    response_model=TimelineResponse,
    responses=error_responses(422, 503),
    summary="The archive's dated events, oldest first",
)
def api_timeline(
    assistant: AssistantDep,
    filters: FiltersDep,
    q: Annotated[
        str | None,
        Query(description="Only events of the passages this query finds.", examples=["strike"]),
    ] = None,
    limit: EventLimitQuery = None,
) -> Response:
    """Dated events, each with its date, precision, sentence and every source that tells it:
    the timeline of `qa timeline --json`. `date_from` and `date_to` apply to the events'
    dates; `source` and `language` to their documents."""
    query = (q or "").strip(BLANK) or None  # a blank query asks for the whole timeline
    return as_json(TimelineResponse.model_validate(assistant.timeline(query, filters, limit)))


@api.post(
    "/ask",
    response_model=AnswerResponse,
    responses=error_responses(400, 422, 503),
    summary="Answer a question, each sentence cited",
)
def api_ask(assistant: AssistantDep, body: AskRequest) -> Response:
    """An extractive answer with citations, or an abstention (`abstained: true`) with the
    closest passages: the answer of `qa ask --json`. Send the earlier turns of the
    conversation in `history` so that follow-up questions are understood."""
    filters = search_filters(body.source, body.language, body.date_from, body.date_to)
    history = [turn.model_dump() for turn in body.history] if body.history else None
    answer = assistant.ask(body.question, history=history, filters=filters)
    return as_json(AnswerResponse.model_validate(answer))


@api.get(
    "/documents/{document_id:document_id}",
    response_model=DocumentResponse,
    responses=error_responses(404, 503),
    summary="A document with its metadata and passages",
)
def api_document(assistant: AssistantDep, document_id: str) -> Response:
    """Documents are looked up by id in the index; ids may contain '/' and ':'."""
    document, passages = assistant.document(document_id)
    return as_json(DocumentResponse.of(document, passages))


@api.get(
    "/health",
    response_model=HealthResponse,
    responses=error_responses(503),
    summary="Index version, counts and model",
)
def api_health(assistant: AssistantDep) -> Response:
    return as_json(HealthResponse(**assistant.health()))


admin = APIRouter(prefix="/api/index", tags=["admin"], dependencies=[Depends(require_admin)])


@admin.post(
    "/rebuild",
    status_code=202,
    response_model=RebuildStatus,
    responses=error_responses(401, 403, 409, 422),
    summary="Rebuild the index in the background",
)
def api_rebuild(
    assistant: AssistantDep,
    full: Annotated[bool, Query(description="Rebuild from scratch.")] = False,
) -> Response:
    """Starts a rebuild from the corpus and returns at once; the new index is swapped in
    when it is ready, without failing any request in flight."""
    return as_json(RebuildStatus.model_validate(assistant.start_rebuild(full)), status_code=202)


@admin.get(
    "/status",
    response_model=RebuildStatus,
    responses=error_responses(401, 403),
    summary="State of the last rebuild",
)
def api_rebuild_status(assistant: AssistantDep) -> Response:
    return as_json(RebuildStatus.model_validate(assistant.rebuild_status()))


def schema_with_limits(app: FastAPI, settings: Settings, assistant: Assistant):
    """app.openapi, saying what the core accepts (the question limits come from the
    settings) and giving documents of the index in service as example ids."""
    generate = app.openapi

    def openapi() -> dict:
        schema = generate()  # made once and kept by FastAPI
        text = {
            "minLength": 1,
            "maxLength": settings.max_question_chars,
            "pattern": NOT_BLANK_PATTERN,
        }
        search = schema["paths"]["/api/search"]["get"]["parameters"]
        timeline = schema["paths"]["/api/timeline"]["get"]["parameters"]
        ask = schema["components"]["schemas"]["AskRequest"]["properties"]
        for parameter in search + timeline:
            if parameter["name"] == "q" and parameter in search:
                parameter["schema"].update(text)
            if parameter["name"] == "q" and parameter in timeline:
                # Optional: a blank query means the whole timeline.
                parameter["schema"]["anyOf"] = [
                    {"type": "string", "maxLength": settings.max_question_chars},
                    {"type": "null"},
                ]
            if parameter["name"] in {"date_from", "date_to"}:
                parameter["schema"]["anyOf"] = DATE_SCHEMA
        ask["question"].update(text)
        for name in ("date_from", "date_to"):
            ask[name]["anyOf"] = DATE_SCHEMA
        (document,) = schema["paths"]["/api/documents/{document_id}"]["get"]["parameters"]
        ids = _example_document_ids(assistant)
        document["examples"] = {f"document {n}": {"value": i} for n, i in enumerate(ids, 1)}
        return schema

    return openapi


def _example_document_ids(assistant: Assistant) -> list[str]:
    try:
        return assistant.document_ids(limit=EXAMPLE_IDS) or [EXAMPLE_DOCUMENT_ID]
    except QAError:  # no index yet
        return [EXAMPLE_DOCUMENT_ID]
