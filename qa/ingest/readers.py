"""Reading each format: bytes in, text and the metadata found in the file out.

Every reader raises `UnreadableDocument` with a reason a person can act on; `qa.ingest.documents`
decides what to read, bounds the metadata and turns the result into a `Document`.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import re
import unicodedata
from typing import Any

# pypdf reports damaged files through `logging` ("EOF marker not found") as well as by its
# exceptions, which carry the same news into the build report; keep the log off stderr.
logging.getLogger("pypdf").addHandler(logging.NullHandler())
logging.getLogger("pypdf").propagate = False

#: Byte-order marks and the codec each announces (UTF-32's first: they start as UTF-16's do).
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Among encodings that explain a file equally well, the one most text in the wild uses.
PREFERRED_LEGACY_ENCODING = "cp1252"


class UnreadableDocument(Exception):
    """A file or record to skip; carries the reason."""


def decode_text(data: bytes) -> str:
    """The text of `data`: by its byte-order mark, as UTF-8, or in the encoding that
    charset-normalizer finds explains it (Windows-1252 when several do equally well)."""
    for mark, encoding in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as error:
                raise UnreadableDocument(
                    f"not {encoding.upper()} text despite its byte-order mark (byte {error.start})"
                ) from None
    if b"\0" in data[:8192]:
        raise UnreadableDocument("binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise UnreadableDocument("not text: no character encoding explains its bytes")
    # Short Spanish or French text fits Windows-1250 as well as Windows-1252 (and 0xF1 is
    # 'ń' in one, 'ñ' in the other): among equals, take the far more common 1252.
    for match in matches:
        equal = match.chaos == best.chaos and match.coherence == best.coherence
        if equal and PREFERRED_LEGACY_ENCODING in match.could_be_from_charset:
            return data.decode(PREFERRED_LEGACY_ENCODING)
    return str(best)


def normalise_text(text: str) -> str:
    """NFC, Unix line ends, no trailing spaces, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def read_json(text: str, what: str) -> Any:
    """`text` parsed as JSON; UnreadableDocument naming `what` if it cannot be."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableDocument(
            f"bad JSON in {what}: {error.msg} at column {error.colno}"
        ) from None
    except RecursionError:
        raise UnreadableDocument(f"bad JSON in {what}: nested too deep to read") from None
    except ValueError as error:  # for example an integer of more than 4,300 digits
        raise UnreadableDocument(f"bad JSON in {what}: {error}") from None


def read_sidecar(data: bytes, name: str) -> dict[str, Any]:
    """The metadata object of a sidecar file `name`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableDocument(f"bad metadata file {name}: not UTF-8 ({error.start})") from None
    value = read_json(text, f"metadata file {name}")
    if not isinstance(value, dict):
        raise UnreadableDocument(f"bad metadata file {name}: not a JSON object")
    return value


def read_jsonl_record(line: str) -> tuple[str, dict[str, Any]]:
    record = read_json(line, "record")
    if not isinstance(record, dict):
        raise UnreadableDocument("record is not a JSON object")
    text = record.pop("text", None)
    if not isinstance(text, str):
        raise UnreadableDocument("record has no 'text' string")
    return text, record


def read_markdown(raw: str) -> tuple[str, dict[str, Any]]:
    """The text after the front matter, and the front matter (any keys, as found)."""
    import frontmatter
    import yaml

    # The handler itself, not `frontmatter.loads`: a Post takes the fields as keyword
    # arguments, which must be strings, and YAML keys may be numbers ("2022: annual").
    text = raw.strip()
    handler = frontmatter.detect_format(text, frontmatter.handlers)
    if handler is None:
        return text, {}
    try:
        front, content = handler.split(text)
    except ValueError:
        return text, {}
    try:
        metadata = handler.load(front)
    except yaml.YAMLError as error:
        reason = str(error).splitlines()[0]
        raise UnreadableDocument(f"bad front matter: {reason}") from None
    except RecursionError:
        raise UnreadableDocument("bad front matter: nested too deep to read") from None
    except (ValueError, TypeError) as error:  # e.g. "date: 2022-13-45": month must be in 1..12
        raise UnreadableDocument(f"bad front matter: {error}") from None
    if metadata is None:  # "---\n---": empty front matter
        metadata = {}
    if not isinstance(metadata, dict):
        raise UnreadableDocument("bad front matter: not a mapping")
    return content.strip(), metadata


def read_html(raw: str) -> tuple[str, dict[str, Any]]:
    import trafilatura

    # Main text only: navigation, footers, scripts and styles are dropped.
    result = trafilatura.bare_extraction(
        raw, favor_recall=True, with_metadata=True, include_comments=False, include_tables=True
    )
    if result is None:
        raise UnreadableDocument("no main text found in HTML")
    found = result.as_dict() if hasattr(result, "as_dict") else dict(result)
    metadata = {
        key: found[key]
        for key in ("title", "date", "author", "sitename", "url", "language", "description")
        if found.get(key)
    }
    if "sitename" in metadata:
        metadata.setdefault("source", metadata.pop("sitename"))
    return found.get("text") or "", metadata


def read_pdf(data: bytes) -> tuple[str, dict[str, Any], tuple[int, ...]]:
    """The pages' text joined by blank lines, the title, and where each page starts."""
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [normalise_text(page.extract_text() or "") for page in reader.pages]
        info = reader.metadata or {}
        title = info.get("/Title") if hasattr(info, "get") else None
    except Exception as error:  # pypdf raises many types for damaged files
        raise UnreadableDocument(f"unreadable PDF: {type(error).__name__}: {error}") from None
    text_parts: list[str] = []
    page_starts: list[int] = []
    offset = 0
    for page_text in pages:
        page_starts.append(offset)
        text_parts.append(page_text)
        offset += len(page_text) + 2
    metadata = {"title": str(title)} if title else {}
    return "\n\n".join(text_parts), metadata, tuple(page_starts)
