"""qa.ingest.metadata"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from qa.core.config import Settings
from qa.ingest.readers import UnreadableDocument


@dataclass(frozen=True)
class MetadataLimits:
    """How much metadata one document may carry (see `Settings.metadata_max_*`)."""

    max_chars: int
    max_depth: int

    @classmethod
    def of(cls, settings: Settings) -> MetadataLimits:
        return cls(settings.metadata_max_chars, settings.metadata_max_depth)


def bounded_metadata(metadata: dict, limits: MetadataLimits) -> dict[str, Any]:
    """`metadata` as JSON values, or UnreadableDocument when it would take more than
    `limits.max_chars` characters as JSON or nest deeper than `limits.max_depth`. Checked
    while walking, so shared YAML aliases are never expanded past the limit."""
    budget = limits.max_chars

    def convert(value: Any, depth: int) -> Any:
        nonlocal budget
        if depth > limits.max_depth:
            raise UnreadableDocument(f"metadata nested deeper than {limits.max_depth} levels")
        if isinstance(value, dict):
            budget -= 2
            result: Any = {}
            for key, item in value.items():
                name = key if isinstance(key, str) else str(_scalar(key))
                budget -= len(name) + 4
                result[name] = convert(item, depth + 1)
        elif isinstance(value, (list, tuple, set, frozenset)):
            budget -= 2
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
            result = [convert(item, depth + 1) for item in items]
        else:
            result = _scalar(value)
            budget -= len(json.dumps(result, ensure_ascii=False)) + 1
        if budget < 0:
            raise UnreadableDocument(
                f"metadata too large: over {limits.max_chars:,} characters as JSON "
                "(QA_METADATA_MAX_CHARS)"
            )
        return result

    return convert(metadata, 0)


def _scalar(value: Any) -> Any:
    """A metadata value that is not a container, as JSON can hold it."""
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
