"""The tools over streamable HTTP at /mcp of the web app: what `qa serve` serves.

The route sits inside the web app, so every request to it passes the app's middleware first:
the host name check of `qa.web.middleware` (the SDK's own check of Host and Origin is left
off, so that one list, `allowed_hosts`, and one refusal hold for every path) and the
nosniff header. The SDK's session manager runs inside the app's lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

from qa.core.config import Settings
from qa.mcp.tools import create_server
from qa.service.assistant import Assistant
from qa.web.app import create_app

#: Where the web app serves the tools.
MCP_PATH = "/mcp"


class StreamableHttpTools:
    """The MCP server as the ASGI endpoint of a route, with the lifespan that runs it.

    Stateless, with plain JSON responses: every call is one POST answered by one JSON body,
    and the server keeps no session between calls (the tools need none).
    """

    def __init__(self, server: MCPServer) -> None:
        self.server = server

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        # The SDK's session manager runs only once, so each start of the app makes one.
        self.server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        async with self.server.session_manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.server.session_manager.handle_request(scope, receive, send)


def serving_app(settings: Settings, assistant: Assistant) -> FastAPI:
    """The web app of `create_app` with the MCP tools at /mcp."""
    app = create_app(settings, assistant)
    tools = StreamableHttpTools(create_server(assistant, settings))
    router = APIRouter(lifespan=tools.lifespan)  # merged into the app's lifespan
    router.add_route(MCP_PATH, tools, include_in_schema=False)
    app.include_router(router)
    return app
