"""Errors at the MCP edge, translated once: a domain error becomes a tool error, which the
client receives as a result marked `isError` holding the error's message, for the model to
read and act on (ask something else, pick another document)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from qa.core.errors import QAError

P = ParamSpec("P")
R = TypeVar("R")


def translated(tool: Callable[P, R]) -> Callable[P, R]:
    """`tool`, raising a ToolError with the message of any domain error it raises (anything
    else is a crash, which the SDK reports without its text and logs)."""

    @functools.wraps(tool)  # the SDK reads the tool's signature and docstring through this
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return tool(*args, **kwargs)
        except QAError as error:
            raise ToolError(str(error)) from error

    return call
