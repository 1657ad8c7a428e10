"""The archive's MCP tools through the SDK's own clients, over the live archive and the real
model: `qa --corpus corpus --index DIR mcp` in a child process over stdio, and /mcp of the
session's real server over streamable HTTP.

Each transport is started once per module and driven through one conversation (a client
checks every structured result against the tool's output schema as it arrives); the tests
read what it answered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from archives import write_web_archive
from http_helpers import LONG_QUESTION, request
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult

from qa.index.versions import current_version

pytestmark = pytest.mark.model

T = TypeVar("T")

QUESTION = "When was the national strike?"
TOOLS = {"search", "ask", "read_document", "timeline"}
UNKNOWN_DOCUMENT = "no/such-document.txt"
#: The `qa` command of this environment.
QA = str(Path(sys.executable).with_name("qa"))
#: `qa` with the tests' fake model registered, for a child that builds its own index.
QA_WITH_FAKE_MODEL = "import sys, fake_embedder; from qa.cli import main; main(sys.argv[1:])"


class Complaints(logging.Handler):
    """What the SDK's client logs at WARNING or above while it is attached: a line on the
    server's stdout that is no message of the protocol, for one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def complaints() -> Iterator[list[str]]:
    handler = Complaints()
    client_logger = logging.getLogger("mcp.client")
    client_logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        client_logger.removeHandler(handler)


async def _converse(server: Any) -> dict[str, Any]:
    """What `server` (a URL or a transport) answers to the calls a user of the tools would
    make, by name, and what the client complained of meanwhile."""
    with complaints() as complained:
        async with Client(server) as client:
            answers: dict[str, Any] = {"tools": (await client.list_tools()).tools}
            answers["search"] = await client.call_tool(
                "search", {"query": "national strike", "k": 3}
            )
            answers["ask"] = await client.call_tool("ask", {"question": QUESTION})
            cited = answers["ask"].structured_content["citations"][0]["document_id"]
            answers["read_document"] = await client.call_tool(
                "read_document", {"document_id": cited}
            )
            answers["timeline"] = await client.call_tool("timeline", {"query": "national strike"})
            answers["unknown_document"] = await client.call_tool(
                "read_document", {"document_id": UNKNOWN_DOCUMENT}
            )
            answers["long_question"] = await client.call_tool("ask", {"question": LONG_QUESTION})
            answers["bad_date"] = await client.call_tool(
                "search", {"query": "strike", "date_from": "15/12/2022"}
            )
    answers["complaints"] = complained
    return answers


def run(function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """`anyio.run(function, *args)` in a thread of its own: Playwright's sync API (the browser
    tests) leaves an event loop running in the main thread."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(anyio.run, function, *args).result()


def converse(server: Any) -> dict[str, Any]:
    return run(_converse, server)


def text_of(result: CallToolResult) -> str:
    (content,) = result.content
    assert content.type == "text"
    return content.text


def json_of(result: CallToolResult) -> dict:
    """A tool's result, checked to be the same JSON as text and as structured content."""
    assert not result.is_error, text_of(result)
    body = json.loads(text_of(result))
    assert body == result.structured_content
    return body


def stdio_parameters(folder: Path, args: list[str], env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=args[0], args=args[1:], cwd=folder, env=env)


@pytest.fixture(scope="module")
def over_stdio(live_archive, tmp_path_factory) -> dict[str, Any]:
    """The conversation with `qa --corpus corpus --index DIR mcp`, run in the live archive's
    folder (the model's settings in its environment, as an MCP client's configuration gives
    them), and what the child wrote on stderr."""
    settings, _ = live_archive
    folder = settings.corpus.parent
    environment = {
        "QA_EMBEDDER": settings.embedder,
        "QA_MODEL": settings.model,
        "QA_CACHE_DIR": str(settings.cache_dir),
    }
    command = [QA, "--corpus", "corpus", "--index", str(settings.index), "mcp"]
    stderr = tmp_path_factory.mktemp("mcp-stdio") / "stderr.txt"
    with stderr.open("w", encoding="utf-8") as errors:
        transport = stdio_client(stdio_parameters(folder, command, environment), errlog=errors)
        answers = converse(transport)
    answers["stderr"] = stderr.read_text(encoding="utf-8")
    return answers


@pytest.fixture(scope="module")
def over_http(server_url) -> dict[str, Any]:
    """The conversation with /mcp of the session's real server."""
    return converse(f"{server_url}/mcp")


@pytest.fixture(params=["stdio", "http"])
def answers(request) -> dict[str, Any]:
    return request.getfixturevalue(f"over_{request.param}")


def test_the_tools_are_listed_with_what_they_take(answers):
    tools = {tool.name: tool for tool in answers["tools"]}
    assert set(tools) == TOOLS
    search = tools["search"].input_schema["properties"]
    assert {"query", "k", "mode", "source", "language", "date_from", "date_to"} <= set(search)
    assert {"question", "history"} <= set(tools["ask"].input_schema["properties"])
    assert all(tool.annotations.read_only_hint for tool in tools.values())
    assert all(tool.description and tool.output_schema for tool in tools.values())


def test_search_finds_the_national_strike_with_links(answers):
    assert "December 15" in text_of(answers["search"])
    found = json_of(answers["search"])
    assert found["query"] == "national strike" and len(found["hits"]) == 3
    top = found["hits"][0]
    assert top["url"] == f"/documents/{top['document_id']}#p{top['passage_id']}"


def test_ask_answers_with_the_apis_fields_and_cites_its_passages(answers):
    assert "December 15" in text_of(answers["ask"])
    answer = json_of(answers["ask"])
    assert answer["abstained"] is False and "December 15" in answer["answer"]
    assert {"question", "sentences", "citations", "confidence", "resolved_query"} <= set(answer)
    assert answer["verdict"] == "answered" and 0.0 <= answer["confidence"] <= 1.0
    cited = {citation["n"]: citation for citation in answer["citations"]}
    first = cited[answer["sentences"][0]["citation"]]
    assert "December 15" in first["text"]
    assert first["url"] == f"/documents/{first['document_id']}#p{first['passage_id']}"


def test_read_document_gives_the_cited_document_whole(answers):
    cited = json_of(answers["ask"])["citations"][0]
    document = json_of(answers["read_document"])
    assert document["id"] == cited["document_id"] and "Peru" in document["title"]
    assert cited["text"] in document["text"]
    passages = {passage["id"]: passage for passage in document["passages"]}
    assert passages[cited["passage_id"]]["url"] == cited["url"]


def test_the_timeline_dates_the_strike_and_cites_it(answers):
    timeline = json_of(answers["timeline"])
    dates = [event["date"] for event in timeline["events"]]
    assert dates == sorted(dates) and "2022-12-15" in dates
    strike = timeline["events"][dates.index("2022-12-15")]
    assert all(source["url"].startswith("/documents/") for source in strike["sources"])


def test_bad_calls_are_tool_errors_that_say_why(answers):
    unknown = answers["unknown_document"]
    assert unknown.is_error and f"No document has the id '{UNKNOWN_DOCUMENT}'" in text_of(unknown)
    long = answers["long_question"]
    assert long.is_error and "the limit is 1000" in text_of(long)
    bad_date = answers["bad_date"]
    assert bad_date.is_error and "YYYY-MM-DD" in text_of(bad_date)


def test_the_transports_carry_nothing_but_the_protocol(answers):
    assert answers["complaints"] == []


def test_stdio_writes_its_messages_on_stderr(over_stdio):
    assert "Serving the tools of" in over_stdio["stderr"]


def test_a_request_for_a_foreign_host_is_refused(live_archive):
    settings, _ = live_archive
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    headers = {
        "Host": "attacker.example",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    status, _, content = request(settings.port, "POST", "/mcp", body, headers)
    assert status == 400 and b"not to the host name 'attacker.example'" in content


def test_qa_mcp_builds_a_missing_index_and_links_to_base_url(tmp_path):
    """As `qa serve` does, `qa mcp` builds the index first when there is none (here with the
    fake model); its build messages go to stderr, and `--base-url` makes links addresses."""
    write_web_archive(tmp_path / "corpus")
    environment = {
        "QA_EMBEDDER": "fake",
        "QA_MODEL": "fake",
        "PYTHONPATH": str(Path(__file__).parent),
    }
    command = [sys.executable, "-c", QA_WITH_FAKE_MODEL, "--corpus", "corpus"]
    command += ["--index", "index", "mcp", "--base-url", "http://127.0.0.1:8000/"]
    stderr = tmp_path / "stderr.txt"

    async def search() -> CallToolResult:
        with stderr.open("w", encoding="utf-8") as errors:
            transport = stdio_client(stdio_parameters(tmp_path, command, environment), errors)
            async with Client(transport) as client:
                return await client.call_tool("search", {"query": "potato harvest", "k": 1})

    with complaints() as complained:  # the build's messages went to stderr, not the protocol
        (hit,) = json_of(run(search))["hits"]
    assert complained == []
    assert hit["url"] == f"http://127.0.0.1:8000/documents/reports/harvest.md#p{hit['passage_id']}"
    assert "Built the index: 6 documents" in stderr.read_text(encoding="utf-8")
    assert current_version(tmp_path / "index") is not None
