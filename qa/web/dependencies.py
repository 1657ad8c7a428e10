"""What the routes of the API and the pages ask FastAPI for: the app's assistant and
settings, the admin token check, a request's search filters and the query parameters that
bound a search or a timeline.

Those that only read the request are coroutines: FastAPI runs a plain function dependency in
its thread pool, a hop to another thread and back for each, before the route's own."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from qa.core.config import MAX_K, MAX_TIMELINE_EVENTS, SearchMode, Settings
from qa.search.query import search_filters
from qa.service.assistant import Assistant
from qa.store.filters import SearchFilters


async def get_assistant(request: Request) -> Assistant:
    """The app's one assistant (see `qa.app.create_app`)."""
    return request.app.state.assistant


AssistantDep = Annotated[Assistant, Depends(get_assistant)]


async def get_settings(request: Request) -> Settings:
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


async def filters_of_request(
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


#: The number of hits a search asks for (the settings' `search_k` when not given).
HitCountQuery = Annotated[
    int | None, Query(ge=1, le=MAX_K, description=f"Number of hits, 1 to {MAX_K}.")
]
#: The retrieval mode a search asks for (the settings' `search_mode` when not given).
ModeQuery = Annotated[SearchMode | None, Query(description="Retrieval mode.")]
#: The most events a timeline lists (the settings' `timeline_limit` when not given).
EventLimitQuery = Annotated[
    int | None, Query(ge=1, le=MAX_TIMELINE_EVENTS, description="Most events listed.")
]
