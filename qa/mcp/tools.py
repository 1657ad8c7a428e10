"""The MCP server over the assistant: four read-only tools whose results are the JSON API's
models (`qa.web.models`), as `/api/search`, `/api/ask`, `/api/documents/{id}` and
`/api/timeline` answer them, so that a field added to a core type reaches MCP clients as it
reaches the API, with no change here.

A result is the model's JSON twice, as the protocol asks of structured results: as text
(what most assistants read) and as `structuredContent`, which the tool's `outputSchema` (the
model's own serialization schema) describes. Passage links (`url`) are the paths of the web
chat's pages, or full addresses under the `base_url` setting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import version
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from qa.core.config import MAX_K, MAX_TIMELINE_EVENTS, SearchMode, Settings
from qa.mcp.errors import translated
from qa.search.query import BLANK, search_filters
from qa.service.assistant import Assistant
from qa.web.models import (
    AnswerResponse,
    DocumentResponse,
    SearchResponse,
    TimelineResponse,
    Turn,
)

INSTRUCTIONS = (
    "Answers from a document archive, in the archive's own sentences, each cited. Use `ask` "
    "for a question, `search` for the passages about something, `read_document` to read a "
    "whole document by its id, `timeline` for the dated events. An answer's `verdict` says "
    "what it is: 'answered'; 'uncertain' (the archive may not answer: its sentences are the "
    "closest it comes, not to be given as an answer); 'not_in_archive' (`abstained: true`: "
    "the citations are the closest passages, not an answer). `confidence` is the chance, "
    "0 to 1, that the answer holds. Every passage comes with `url`, its place in the "
    "archive's web chat."
)
#: The tools only read the archive: the same call gives the same result while the index
#: stays the same, and nothing outside the archive is reached.
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

Source = Annotated[
    str | None, Field(description="Only documents from this source (their metadata's source).")
]
Language = Annotated[
    str | None, Field(description="Only documents in this language (ISO code: 'en', 'es').")
]
DateFrom = Annotated[
    str | None,
    Field(description="Only documents dated on or after this date (YYYY, YYYY-MM or YYYY-MM-DD)."),
]
DateTo = Annotated[
    str | None,
    Field(description="Only documents dated on or before this date (YYYY, YYYY-MM or YYYY-MM-DD)."),
]


def create_server(assistant: Assistant, settings: Settings) -> MCPServer:
    """The MCP server whose tools answer from `assistant`; its links start with the
    settings' `base_url` when there is one."""
    result = _results(settings.base_url)

    @translated
    def search(
        query: Annotated[str, Field(description="Words or a question, in any language.")],
        k: Annotated[
            int | None, Field(ge=1, le=MAX_K, description=f"Number of hits, 1 to {MAX_K}.")
        ] = None,
        mode: Annotated[
            SearchMode | None,
            Field(description="'hybrid' (the default: words and meaning), 'lexical' or 'dense'."),
        ] = None,
        source: Source = None,
        language: Language = None,
        date_from: DateFrom = None,
        date_to: DateTo = None,
    ) -> CallToolResult:
        """Search the archive's passages, best first. Each hit has its document's id and
        title, the passage's text, its scores and `url`, the passage in the web chat."""
        filters = search_filters(source, language, date_from, date_to)
        hits = assistant.search(query, k=k, mode=mode, filters=filters)
        return result(SearchResponse(query=query, hits=hits))

    @translated
    def ask(
        question: Annotated[str, Field(description="The question, in any language.")],
        history: Annotated[
            list[Turn] | None,
            Field(
                max_length=100,
                description="Earlier turns of the conversation, oldest first, so that a "
                "follow-up ('and when did it end?') is understood.",
            ),
        ] = None,
        source: Source = None,
        language: Language = None,
        date_from: DateFrom = None,
        date_to: DateTo = None,
    ) -> CallToolResult:
        """Answer a question with the archive's own sentences, each followed by [n], the
        number of the citation it comes from; each citation holds the passage, its document
        and `url`. `verdict`: 'answered'; 'uncertain', the archive may not answer and the
        sentences are the closest it comes; 'not_in_archive' (`abstained: true`), the
        citations are then the closest passages, not an answer. `confidence` is the chance,
        0 to 1, that the first two sentences hold the answer; `events` are the dated events
        of the cited sentences."""
        filters = search_filters(source, language, date_from, date_to)
        turns = [turn.model_dump() for turn in history] if history else None
        answer = assistant.ask(question, history=turns, filters=filters)
        return result(AnswerResponse.model_validate(answer))

    @translated
    def read_document(
        document_id: Annotated[
            str, Field(description="The document's id: `document_id` of a hit or citation.")
        ],
    ) -> CallToolResult:
        """A whole document of the archive: its title, text, language, metadata and `url`,
        and its passages in order, each with its id and `url`."""
        document, passages = assistant.document(document_id)
        return result(DocumentResponse.of(document, passages))

    @translated
    def timeline(
        query: Annotated[
            str | None,
            Field(description="Only the events of the passages this query finds; none: all."),
        ] = None,
        source: Source = None,
        language: Language = None,
        date_from: Annotated[
            str | None, Field(description="Only events on or after (YYYY, YYYY-MM or YYYY-MM-DD).")
        ] = None,
        date_to: Annotated[
            str | None, Field(description="Only events on or before (YYYY, YYYY-MM or YYYY-MM-DD).")
        ] = None,
        limit: Annotated[
            int | None,
            Field(ge=1, le=MAX_TIMELINE_EVENTS, description="Most events listed."),
        ] = None,
    ) -> CallToolResult:
        """The archive's dated events, oldest first: each with its date (ISO, with its
        precision), a label for people, the sentence that tells it and every source that
        does, with its `url`. `total` counts the events before `limit`."""
        filters = search_filters(source, language, date_from, date_to)
        text = (query or "").strip(BLANK) or None  # a blank query asks for every event
        return result(TimelineResponse.model_validate(assistant.timeline(text, filters, limit)))

    tools = [
        _tool(search, SearchResponse),
        _tool(ask, AnswerResponse),
        _tool(read_document, DocumentResponse),
        _tool(timeline, TimelineResponse),
    ]
    return MCPServer(
        "archive-qa",
        instructions=INSTRUCTIONS,
        version=version("archive-qa"),
        tools=tools,
        log_level="WARNING",  # the SDK configures logging (to stderr) at this level
    )


def _tool(function: Callable[..., CallToolResult], model: type[BaseModel]) -> Tool:
    """`function` as a read-only tool whose output schema is the JSON `model` writes (from
    a return annotation the SDK would derive the schema `model` reads, which names the core's
    fields, `value_start`, not the JSON's, `date_start`)."""
    tool = Tool.from_function(function, annotations=READ_ONLY)
    tool.fn_metadata.output_schema = model.model_json_schema(mode="serialization")
    return tool


def _results(base_url: str | None) -> Callable[[BaseModel], CallToolResult]:
    """What makes a tool's result of a model: its JSON as text and as structured content,
    the links under `base_url` when there is one."""
    base = base_url.rstrip("/") if base_url else None

    def result(model: BaseModel) -> CallToolResult:
        data = model.model_dump(mode="json")
        if base is not None:
            data = _under(base, data)
        text = TextContent(type="text", text=json.dumps(data, ensure_ascii=False))
        return CallToolResult(content=[text], structured_content=data)

    return result


def _under(base: str, value: Any) -> Any:
    """JSON `value` with each `url` path made an address under `base` (a document's own
    metadata, which may hold a `url` of its own, is left as it is)."""
    if isinstance(value, list):
        return [_under(base, item) for item in value]
    if not isinstance(value, dict):
        return value
    linked = {}
    for key, item in value.items():
        if key == "url" and isinstance(item, str) and item.startswith("/"):
            linked[key] = base + item
        elif key == "metadata":
            linked[key] = item
        else:
            linked[key] = _under(base, item)
    return linked
