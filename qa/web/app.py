"""The HTTP face of the assistant: the JSON API (`qa.web.api`) and the web pages (`qa.web.pages`),
put together by `create_app` with the error translations (`qa.web.errors`), the static
files and the API documentation."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from qa.core.config import Settings
from qa.service.assistant import Assistant
from qa.web import pages
from qa.web.api import admin, api, schema_with_limits
from qa.web.errors import add_error_handlers
from qa.web.middleware import HeadAsGet, HostCheck, NoSniffing


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files swagger-ui-py ships (works offline); its set-up is
    a static file, so the page keeps the strict Content-Security-Policy of the others."""
    import swagger_ui

    assets = Path(swagger_ui.__file__).resolve().parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return pages.render(request, "docs.html", {})


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
    app.state.templates = pages.templates()

    add_error_handlers(app)
    app.include_router(api)
    if settings.admin_token:
        app.include_router(admin)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(packages=[("qa.web.assets", "static")]), name="static")
    _mount_docs(app)
    app.openapi = schema_with_limits(app, settings, app.state.assistant)
    # Outermost last: the host check comes first, then HEAD, then the headers.
    app.add_middleware(NoSniffing)
    app.add_middleware(HeadAsGet)
    app.add_middleware(HostCheck, names=settings.host_names())
    return app
