"""The HTTP face of the assistant: the JSON API and the web pages, made by `create_app`.

Routes only validate input, call the core (`qa.service.Assistant`) and shape its output.
Domain errors are translated here, once: to a JSON body `{"error": {"type", "message"}}`
under /api, and to an HTML error page elsewhere.
"""

from __future__ import annotations

import hmac
import logging
import threading
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from qa import pages
from qa.api_models import (
    EXAMPLE_DOCUMENT_ID,
    AnswerResponse,
    AskRequest,
    DocumentResponse,
    ErrorResponse,
    HealthResponse,
    HitOut,
    RebuildStatus,
    SearchResponse,
    TimelineResponse,
)
from qa.config import MAX_K, MAX_TIMELINE_EVENTS, SearchMode, Settings
from qa.errors import (
    BuildInProgressError,
    CorpusError,
    DocumentNotFoundError,
    IndexMismatchError,
    IndexMissingError,
    InvalidQueryError,
    QAError,
)
from qa.middleware import HeadAsGet, HostCheck, NoSniffing
from qa.pages import AssistantDep
from qa.query import BLANK, NOT_BLANK_PATTERN, SearchFilters, search_filters
from qa.service import Assistant

logger = logging.getLogger(__name__)

WEB = Path(__file__).resolve().parent.parent / "web"
#: What the core accepts as a date filter: a year or a month (or an empty field: no
#: filter), or a day of the calendar (no 30 February).
DATE_SCHEMA = [
    {"type": "string", "pattern": r"^([0-9]{4}(-(0[1-9]|1[0-2]))?)?$"},
    {"type": "string", "format": "date"},
    {"type": "null"},
]
#: Document ids of the index in service that the schema gives as examples.
EXAMPLE_IDS = 3


#: Domain error -> (HTTP status, error type in the JSON body).
ERROR_STATUS: dict[type[QAError], tuple[int, str]] = {
    InvalidQueryError: (422, "invalid_query"),
    DocumentNotFoundError: (404, "document_not_found"),
    IndexMissingError: (503, "index_missing"),
    IndexMismatchError: (503, "index_mismatch"),
    BuildInProgressError: (409, "build_in_progress"),
    CorpusError: (503, "corpus_unavailable"),
}
HTTP_ERROR_TYPES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}


ERROR_DESCRIPTIONS = {
    400: "The body could not be read (for example, it is not UTF-8).",
    401: "No admin token was sent.",
    403: "The admin token is wrong.",
    404: "No document has this id.",
    409: "A rebuild is already running.",
    422: f"The input is invalid (blank or over-long text, k out of 1..{MAX_K}, bad dates...).",
    503: "The index is missing or was built with other settings.",
}


def _error_responses(*statuses: int) -> dict[int | str, dict]:
    """The documented error answers of a route, for the OpenAPI schema."""
    return {
        status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


def _error_json(status: int, kind: str, message: str, headers=None) -> JSONResponse:
    body = {"error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _wants_json(request: Request) -> bool:
    return request.url.path == "/api" or request.url.path.startswith("/api/")


def _error(request: Request, status: int, kind: str, message: str, headers=None) -> Response:
    if _wants_json(request):
        return _error_json(status, kind, message, headers)
    return pages.error_page(request, status, message, headers)


async def _domain_error(request: Request, error: Exception) -> Response:
    status, kind = next(
        (value for cls, value in ERROR_STATUS.items() if isinstance(error, cls)),
        (400, "error"),
    )
    return _error(request, status, kind, str(error))


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem.get("loc", ())[1:])
        problems.append(f"{where}: {problem.get('msg')}" if where else str(problem.get("msg")))
    return _error(request, 422, "invalid_request", "; ".join(problems) or "Invalid request.")


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    kind = HTTP_ERROR_TYPES.get(error.status_code, "http_error")
    return _error(request, error.status_code, kind, str(error.detail), error.headers)


async def _unexpected_error(request: Request, error: Exception) -> Response:
    logger.exception("Unexpected error on %s", request.url.path, exc_info=error)
    return _error(request, 500, "internal_error", "Something went wrong on the server.")


# --- Dependencies ----------------------------------------------------------------------


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(auto_error=False, description="The admin token (QA_ADMIN_TOKEN).")


def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let through only requests bearing the configured admin token (compared in constant time)."""
    if credentials is None:
        raise HTTPException(
            401,
            "Send the admin token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected = (settings.admin_token or "").encode("utf-8")
    try:
        sent = credentials.credentials.encode("latin-1")  # the header's bytes, as sent
    except UnicodeEncodeError:
        sent = b""
    if not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "The admin token is wrong.")


def filters_of_request(
    source: Annotated[str | None, Query(description="Only documents from this source.")] = None,
    language: Annotated[
        str | None, Query(description="Only documents in this language (ISO code).")
    ] = None,
    date_from: Annotated[
        str | None,
        Query(description="Only documents dated on or after (YYYY, YYYY-MM or YYYY-MM-DD)."),
    ] = None,
    date_to: Annotated[
        str | None, Query(description="Only documents dated on or before (same formats).")
    ] = None,
) -> SearchFilters:
    """The metadata filters of a request; empty form fields mean no filter."""
    return search_filters(source, language, date_from, date_to)


FiltersDep = Annotated[SearchFilters, Depends(filters_of_request)]


# --- Rebuilds --------------------------------------------------------------------------


class Rebuilds:
    """Runs one index rebuild at a time in a background thread.

    The core writes a new index version beside the one in service and switches to it in one
    atomic step; requests in flight finish on the version they started with.
    """

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.status = RebuildStatus(running=False)
        self._running = threading.Lock()

    def start(self, full: bool) -> RebuildStatus:
        if not self._running.acquire(blocking=False):
            raise BuildInProgressError("A rebuild is already running; try again when it ends.")
        self.status = RebuildStatus(running=True, full=full)
        threading.Thread(target=self._run, args=(full,), name="qa-rebuild", daemon=True).start()
        return self.status

    def _run(self, full: bool) -> None:
        try:
            report = self.assistant.build(full=full)
            self.status = RebuildStatus(running=False, full=full, version=report.version)
        except Exception as error:  # reported through the status, and logged
            logger.exception("Index rebuild failed")
            self.status = RebuildStatus(running=False, full=full, error=str(error))
        finally:
            self._running.release()


# --- The JSON API ------------------------------------------------------------------------

api = APIRouter(prefix="/api", tags=["api"])


@api.get(
    "/search",
    response_model=SearchResponse,
    responses=_error_responses(422, 503),
    summary="Search the archive's passages",
)
def api_search(
    assistant: AssistantDep,
    filters: FiltersDep,
    q: Annotated[str, Query(description="The query.", examples=["national strike"])],
    k: Annotated[
        int | None, Query(ge=1, le=MAX_K, description=f"Number of hits, 1 to {MAX_K}.")
    ] = None,
    mode: Annotated[SearchMode | None, Query(description="Retrieval mode.")] = None,
) -> SearchResponse:
    """The best passages for a query, best first: the hits of `qa search --json`."""
    hits = assistant.search(q, k=k, mode=mode, filters=filters)
    return SearchResponse(query=q, hits=[HitOut.build(hit) for hit in hits])


@api.get(
    "/timeline",
    response_model=TimelineResponse,
    responses=_error_responses(422, 503),
    summary="The archive's dated events, oldest first",
)
def api_timeline(
    assistant: AssistantDep,
    filters: FiltersDep,
    q: Annotated[
        str | None,
        Query(description="Only events of the passages this query finds.", examples=["strike"]),
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_TIMELINE_EVENTS, description="Most events listed.")
    ] = None,
) -> TimelineResponse:
    """Dated events, each with its date, precision, sentence and every source that tells it:
    the timeline of `qa timeline --json`. `date_from` and `date_to` apply to the events'
    dates; `source` and `language` to their documents."""
    query = (q or "").strip(BLANK) or None  # a blank query asks for the whole timeline
    return TimelineResponse.build(assistant.timeline(query, filters, limit))


@api.post(
    "/ask",
    response_model=AnswerResponse,
    responses=_error_responses(400, 422, 503),
    summary="Answer a question, each sentence cited",
)
def api_ask(assistant: AssistantDep, body: AskRequest) -> AnswerResponse:
    """An extractive answer with citations, or an abstention (`abstained: true`) with the
    closest passages: the answer of `qa ask --json`. Send the earlier turns of the
    conversation in `history` so that follow-up questions are understood."""
    filters = search_filters(body.source, body.language, body.date_from, body.date_to)
    history = [turn.model_dump() for turn in body.history] if body.history else None
    answer = assistant.ask(body.question, history=history, filters=filters)
    return AnswerResponse.build(answer)


@api.get(
    "/documents/{document_id:document_id}",
    response_model=DocumentResponse,
    responses=_error_responses(404, 503),
    summary="A document with its metadata and passages",
)
def api_document(assistant: AssistantDep, document_id: str) -> DocumentResponse:
    """Documents are looked up by id in the index; ids may contain '/' and ':'."""
    document, passages = assistant.document(document_id)
    return DocumentResponse.build(document, passages)


@api.get(
    "/health",
    response_model=HealthResponse,
    responses=_error_responses(503),
    summary="Index version, counts and model",
)
def api_health(assistant: AssistantDep) -> HealthResponse:
    return HealthResponse(**assistant.health())


admin = APIRouter(prefix="/api/index", tags=["admin"], dependencies=[Depends(require_admin)])


@admin.post(
    "/rebuild",
    status_code=202,
    response_model=RebuildStatus,
    responses=_error_responses(401, 403, 409, 422),
    summary="Rebuild the index in the background",
)
def api_rebuild(
    request: Request,
    full: Annotated[bool, Query(description="Rebuild from scratch.")] = False,
) -> RebuildStatus:
    """Starts a rebuild from the corpus and returns at once; the new index is swapped in
    when it is ready, without failing any request in flight."""
    return request.app.state.rebuilds.start(full)


@admin.get(
    "/status",
    response_model=RebuildStatus,
    responses=_error_responses(401, 403),
    summary="State of the last rebuild",
)
def api_rebuild_status(request: Request) -> RebuildStatus:
    return request.app.state.rebuilds.status


# --- The factory -------------------------------------------------------------------------


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files swagger-ui-py ships (works offline); its set-up is
    a static file, so the page keeps the strict Content-Security-Policy of the others."""
    import swagger_ui

    assets = Path(swagger_ui.__file__).resolve().parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return pages.render(request, "docs.html", {})


def _schema_with_limits(app: FastAPI, settings: Settings, assistant: Assistant):
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


def create_app(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
    """The web app over `assistant` (one is made from `settings` when none is given)."""
    app = FastAPI(
        title="archive-qa",
        summary="Cited question answering over a document archive, offline.",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.assistant = assistant or Assistant(settings)
    app.state.rebuilds = Rebuilds(app.state.assistant)
    app.state.templates = pages.templates(WEB / "templates")

    app.add_exception_handler(QAError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

    app.include_router(api)
    if settings.admin_token:
        app.include_router(admin)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    _mount_docs(app)
    app.openapi = _schema_with_limits(app, settings, app.state.assistant)
    # Outermost last: the host check comes first, then HEAD, then the headers.
    app.add_middleware(NoSniffing)
    app.add_middleware(HeadAsGet)
    app.add_middleware(HostCheck, names=settings.host_names())
    return app
