"""Errors at the HTTP edge, translated once: a domain error, a request that does not validate
or an HTTP error becomes a JSON body `{"error": {"type", "message"}}` under /api and an HTML
error page elsewhere; the API's routes document the answers they may give."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from qa.core.config import MAX_K
from qa.core.errors import (
    BuildInProgressError,
    CorpusError,
    DocumentNotFoundError,
    IndexMismatchError,
    IndexMissingError,
    InvalidQueryError,
    QAError,
)
from qa.web import pages
from qa.web.models import ErrorResponse

logger = logging.getLogger(__name__)

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


def error_responses(*statuses: int) -> dict[int | str, dict]:
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


def add_error_handlers(app: FastAPI) -> None:
    """Route every error the app raises through the translations above."""
    app.add_exception_handler(QAError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
