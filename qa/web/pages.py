"""The web pages: the chat, search and document views, rendered server-side with Jinja2.

Every text from documents and users reaches the page through Jinja2's autoescaping; the
highlighting helpers here cut texts into (piece, highlighted) parts so that templates never
need to mark up raw text themselves. The chat page works without JavaScript (a plain form
POST); `web/static/chat.js` upgrades it to answers without page reloads.
"""

from __future__ import annotations

import datetime
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Annotated

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from qa.core.errors import InvalidQueryError
from qa.core.types import Document, Passage
from qa.search.query import search_filters, search_limits, timeline_limit
from qa.text.terms import terms
from qa.web.dependencies import AssistantDep, EventLimitQuery, HitCountQuery, ModeQuery, SettingsDep
from qa.web.models import document_url

#: Pages load scripts, styles and images from this server only: no inline script can run.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_WORD = re.compile(r"\w+")

router = APIRouter(include_in_schema=False)


# --- Text helpers used by the templates --------------------------------------------------


def marked(text: str, spans) -> list[tuple[str, bool]]:
    """`text` cut into (piece, highlighted) parts, the given character spans highlighted."""
    parts: list[tuple[str, bool]] = []
    position = 0
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if end <= position:
            continue
        start = max(start, position)
        if start > position:
            parts.append((text[position:start], False))
        parts.append((text[start:end], True))
        position = end
    if position < len(text):
        parts.append((text[position:], False))
    return parts


def term_spans(text: str, query_terms: set[str], language: str) -> list[tuple[int, int]]:
    """Spans of the words of `text` that share a lexical term (stemmed) with the query."""
    spans = []
    for match in _WORD.finditer(text):
        word_terms = terms(match.group(), language)
        if word_terms and word_terms[0] in query_terms:
            spans.append(match.span())
    return spans


def display_date(value) -> str | None:
    """'2022-12-15' -> '15 Dec 2022', '2022-12' -> 'Dec 2022'; anything else unchanged."""
    if not value:
        return None
    text = str(value)
    for pattern, shown in (("%Y-%m-%d", "%-d %b %Y"), ("%Y-%m", "%b %Y")):
        try:
            return datetime.datetime.strptime(text, pattern).strftime(shown)
        except ValueError:
            continue
    return text


def mention_parts(sentence: str, mention: str) -> list[tuple[str, bool]]:
    """A timeline sentence cut into parts, its date expression highlighted."""
    start = sentence.find(mention) if mention else -1
    return marked(sentence, [(start, start + len(mention))] if start >= 0 else [])


@dataclass
class Segment:
    """A run of document text between passage (or page) boundaries."""

    text: str
    passages: list[str] = field(default_factory=list)  # ids of the passages covering it
    anchors: list[int] = field(default_factory=list)  # ids of the passages starting here
    page: int | None = None  # the page that starts here, for paged documents


def document_segments(document: Document, passages: list[Passage]) -> list[Segment]:
    """The document text cut at every passage start and end, so that any one passage
    (they overlap) can be highlighted exactly by the segments it covers."""
    text = document.text
    length = len(text)
    page_starts = list(document.page_starts) if len(document.page_starts) > 1 else []
    cuts = {0, length, *page_starts}
    for passage in passages:
        cuts.update((passage.start, passage.end))
    bounds = sorted(c for c in cuts if 0 <= c <= length)
    segments = [Segment(text[a:b]) for a, b in pairwise(bounds)]
    starts = bounds[:-1]
    for passage in passages:
        first = bisect_left(starts, passage.start)
        last = bisect_left(starts, passage.end)
        if first < len(segments):
            segments[first].anchors.append(passage.id)
        for segment in segments[first:last]:
            segment.passages.append(str(passage.id))
    for number, start in enumerate(page_starts, start=1):
        position = bisect_left(starts, start)
        if position < len(segments) and starts[position] == start:
            segments[position].page = number
    return segments


# --- Rendering ---------------------------------------------------------------------------


def templates() -> Jinja2Templates:
    """The pages' templates, read from the package (`web/templates`, shipped as `qa.web.assets`)."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("qa.web.assets", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(
        marked=marked,
        document_url=document_url,
        display_date=display_date,
        mention_parts=mention_parts,
    )
    return Jinja2Templates(env=environment)


def render(
    request: Request, name: str, context: dict, status: int = 200, headers=None
) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request,
        name,
        context,
        status_code=status,
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


def error_page(request: Request, status: int, message: str, headers=None) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "message": message}, status, headers)


# --- Routes ------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def chat(request: Request, assistant: AssistantDep) -> HTMLResponse:
    context = {"turns": [], "history": [], "stats": assistant.health(), "error": None}
    return render(request, "chat.html", context)


@router.post("/", response_class=HTMLResponse)
def chat_form(
    request: Request,
    assistant: AssistantDep,
    question: Annotated[str, Form()] = "",
    history_question: Annotated[list[str] | None, Form()] = None,
    history_answer: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    """The chat without JavaScript: earlier turns travel in hidden fields."""
    history = [
        {"question": q, "answer": a}
        for q, a in zip(history_question or [], history_answer or [], strict=False)
    ]
    turns: list[dict] = [{"question": t["question"], "answer_text": t["answer"]} for t in history]
    error = None
    try:
        answer = assistant.ask(question, history=list(history) or None)
    except InvalidQueryError as problem:
        error = str(problem)
    else:
        turns.append({"question": answer.question, "answer": answer})
        history.append({"question": answer.question, "answer": answer.answer})
    context = {
        "turns": turns,
        "history": history,
        "stats": assistant.health(),
        "error": error,
        "draft": question if error else "",
    }
    return render(request, "chat.html", context, status=422 if error else 200)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    assistant: AssistantDep,
    settings: SettingsDep,
    q: str = "",
    k: HitCountQuery = None,
    mode: ModeQuery = None,
    source: str = "",
    language: str = "",
    date_from: str = "",
    date_to: str = "",
) -> HTMLResponse:
    """Passages for a query; the number of hits and the mode default to the settings'
    `search_k` and `search_mode`, as in the API and the CLI."""
    k, mode = search_limits(k, mode, settings)
    form = {
        "q": q,
        "k": k,
        "mode": mode,
        "source": source,
        "language": language,
        "date_from": date_from,
        "date_to": date_to,
    }
    results, error = [], None
    if q.strip():
        try:
            filters = search_filters(source, language, date_from, date_to)
            hits = assistant.search(q, k=k, mode=mode, filters=filters)
        except InvalidQueryError as problem:
            error = str(problem)
        else:
            query_terms: dict[str, set[str]] = {}
            for hit in hits:
                language_of_hit = str(hit.metadata.get("language") or "en")
                if language_of_hit not in query_terms:
                    query_terms[language_of_hit] = set(
                        terms(q, language_of_hit, drop_stop_words=True)
                    )
                spans = term_spans(hit.text, query_terms[language_of_hit], language_of_hit)
                results.append({"hit": hit, "parts": marked(hit.text, spans)})
    context = {
        "form": form,
        "results": results,
        "error": error,
        "searched": bool(q.strip()),
        "default_mode": settings.search_mode,
        "k_choices": sorted({5, 10, 20, 50, k}),
    }
    return render(request, "search.html", context, status=422 if error else 200)


@router.get("/documents/{document_id:document_id}", response_class=HTMLResponse)
def document_page(request: Request, assistant: AssistantDep, document_id: str) -> HTMLResponse:
    document, passages = assistant.document(document_id)
    context = {
        "document": document,
        "passages": passages,
        "segments": document_segments(document, passages),
        "pages": len(document.page_starts),
    }
    return render(request, "document.html", context)


@router.get("/timeline", response_class=HTMLResponse)
def timeline_page(
    request: Request,
    assistant: AssistantDep,
    q: str = "",
    source: str = "",
    language: str = "",
    date_from: str = "",
    date_to: str = "",
    limit: EventLimitQuery = None,
) -> HTMLResponse:
    """The archive's dated events, oldest first, each with its sources."""
    limit = timeline_limit(limit, assistant.settings)  # the settings' default
    form = {
        "q": q,
        "source": source,
        "language": language,
        "date_from": date_from,
        "date_to": date_to,
        "limit": limit,
    }
    timeline, error = None, None
    try:
        filters = search_filters(source, language, date_from, date_to)
        timeline = assistant.timeline(q.strip() or None, filters, limit)
    except InvalidQueryError as problem:
        error = str(problem)
    context = {"form": form, "timeline": timeline, "error": error}
    return render(request, "timeline.html", context, status=422 if error else 200)
