"""docs/settings.md written from `Settings`, so the settings' documentation is the code's.

    python -m qa.core.settings_doc docs/settings.md     # write it (no argument: print it)

tests/test_docs.py fails when docs/settings.md differs from what this writes.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Annotated, Literal, Union, get_args, get_origin

from pydantic.fields import FieldInfo

from qa.core.config import Settings

COMMAND = "python -m qa.core.settings_doc docs/settings.md"

HEADER = f"""# Settings

<!-- Generated from `Settings` in qa/core/config.py by `{COMMAND}`; do not edit by hand. -->

Every setting of archive-qa is a field of `Settings` in
[`qa/core/config.py`](../qa/core/config.py). Each takes its value from the command's option
when there is one (`--corpus`, `--index`, `--host`, `--port`, ...), else from the
environment variable `QA_<NAME>` (upper case), else from the default below. Booleans are
`true` or `false` (`1`, `0`, `yes`, `no` too); a setting whose default is "unset" stays unset
while its variable is left out of the environment. A value out of bounds stops the command
with one line that names the variable.
"""


def _plain(annotation) -> tuple[object, list]:
    """The annotation without `Annotated` wrappers, and the constraints those carried."""
    constraints = []
    while get_origin(annotation) is Annotated:
        annotation, *extras = get_args(annotation)
        for extra in extras:
            constraints += extra.metadata if isinstance(extra, FieldInfo) else [extra]
    return annotation, constraints


def _type_name(annotation) -> tuple[str, list, bool]:
    """A reader's name for a field's type ('integer', "one of `a`, `b`"), its constraints and
    whether it may be unset."""
    annotation, constraints = _plain(annotation)
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        present = [arg for arg in get_args(annotation) if arg is not type(None)]
        name, inner, _ = _type_name(present[0]) if len(present) == 1 else ("value", [], False)
        return name, constraints + inner, len(present) < len(get_args(annotation))
    if origin is Literal:
        return "one of " + ", ".join(f"`{choice}`" for choice in get_args(annotation)), [], False
    if origin is list:
        return "comma-separated list", constraints, False
    names = {int: "integer", float: "number", bool: "boolean", str: "text", Path: "path"}
    name = names.get(annotation, getattr(annotation, "__name__", str(annotation)))
    return name, constraints, False


def _bounds(constraints: list) -> str:
    """'from 0 to 1', 'at least 16', 'matching `^...$`' or ''."""

    def bound(kind: str):
        return next((getattr(c, kind) for c in constraints if hasattr(c, kind)), None)

    low, high, above, below = bound("ge"), bound("le"), bound("gt"), bound("lt")
    parts = []
    if low is not None and high is not None:
        parts.append(f"from {low:g} to {high:g}")
    elif low is not None:
        parts.append(f"at least {low:g}")
    elif high is not None:
        parts.append(f"at most {high:g}")
    if above is not None:
        parts.append(f"above {above:g}")
    if below is not None:
        parts.append(f"below {below:g}")
    parts += [
        f"matching `{c.pattern}`" for c in constraints if getattr(c, "pattern", None) is not None
    ]
    return ", ".join(parts)


def _default(field: FieldInfo) -> str:
    """The default as its environment variable would spell it."""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return f"`{','.join(map(str, value))}`"
    return f"`{value}`"


def settings_markdown() -> str:
    """docs/settings.md: one section per setting, in the order `Settings` declares them."""
    prefix = Settings.model_config.get("env_prefix", "")
    sections = [HEADER]
    for name, field in Settings.model_fields.items():
        type_name, constraints, optional = _type_name(field.annotation)
        bounds = _bounds(field.metadata + constraints)
        kind = " ".join(filter(None, [type_name, bounds])) + (", or unset" if optional else "")
        sections.append(
            f"## `{name}`\n\n"
            f"`{prefix}{name.upper()}` · {kind} · default {_default(field)}\n\n"
            f"{field.description}\n"
        )
    return "\n".join(sections)


def main(argv: list[str]) -> None:
    text = settings_markdown()
    if not argv:
        sys.stdout.write(text)
        return
    Path(argv[0]).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
