"""Which sentences of a passage are headings or title lines, from its document's structure.

A heading names what follows; it states nothing, so it may give a passage its context but
never opens an answer. What counts as one depends on what the document's format says:

- **Markdown**: the headings its parser finds (`# ...` lines and underlined `===` / `---`
  ones), not a guess from the text: a `#` line inside a fenced code block is no heading.
- **Markdown, HTML and PDF**: a whole line that is the document's title (an HTML page's `<h1>`
  that repeats its `<title>`, a PDF's first line that its metadata names as the title).
- **Plain text and JSON Lines records**: nothing. They carry no structure, and a first line
  read as the title when no metadata gives one may be a sentence of the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import PurePosixPath

from qa.core.types import Sentence

#: File suffixes whose documents have a structure this module reads, and what it is.
MARKUP_BY_SUFFIX = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
#: Formats whose title comes from the file's own structure (front matter, `<title>`, the PDF's
#: metadata) or its sidecar, so a line that repeats it is a title line.
TITLED = frozenset({"markdown", "html", "pdf"})
_SPACES = re.compile(r"\s+")


def document_markup(document_id: str) -> str:
    """'markdown', 'html', 'pdf' or 'text', from a document id (its path in the corpus folder;
    a JSON Lines record's id ends in ':LINE' and reads as 'text')."""
    return MARKUP_BY_SUFFIX.get(PurePosixPath(document_id).suffix.lower(), "text")


def heading_flags(
    text: str, start: int, sentences: Sequence[Sentence], markup: str, title: str
) -> list[bool]:
    """For each of a passage's `sentences`, whether it is a heading or a title line.

    `text` is the passage's text and `start` its offset in the document (sentence spans are
    the document's); `markup` is `document_markup`'s, `title` the document's title."""
    if markup not in TITLED or not sentences:
        return [False] * len(sentences)
    spans = _markdown_heading_spans(text) if markup == "markdown" else ()
    wanted = _folded(title)
    flags = []
    for sentence in sentences:
        begin, end = sentence.start - start, sentence.end - start
        heading = any(low < end and begin < high for low, high in spans)
        if not heading and wanted and _folded(sentence.text) == wanted:
            heading = _whole_line(text, begin, end)
        flags.append(heading)
    return flags


def _folded(text: str) -> str:
    return _SPACES.sub(" ", text.strip().lstrip("#").strip()).casefold()


def _whole_line(text: str, begin: int, end: int) -> bool:
    """Whether [begin, end) of `text` is a line of its own (or runs to the text's edges)."""
    before = text[:begin].rstrip(" \t")
    after = text[end:].lstrip(" \t")
    return (not before or before.endswith("\n")) and (not after or after.startswith("\n"))


@lru_cache(maxsize=4096)
def _markdown_heading_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Character spans of the lines that CommonMark reads as headings in `text`."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    lines = [token.map for token in tokens if token.type == "heading_open" and token.map]
    if not lines:
        return ()
    offsets = [0]
    for line in text.split("\n"):
        offsets.append(offsets[-1] + len(line) + 1)
    return tuple(
        (offsets[first], offsets[min(last, len(offsets) - 1)] - 1) for first, last in lines
    )
