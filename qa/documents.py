"""Reading the archive: a folder tree of .txt, .md, .html/.htm, .pdf and .jsonl documents.

Reading is two steps so that an incremental build parses only what changed: `scan_corpus`
lists every document with a content hash (cheap: bytes only), and `load_document` parses
one. A file that cannot be read becomes a `SkippedFile` with its reason; it never stops
the build.

Metadata: Markdown front matter, a JSON Lines record's fields, HTML and PDF metadata, and
for any file a sidecar `NAME.EXT.meta.json` (for example `report.pdf.meta.json`).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from qa.text import detect_language, normalise_language
from qa.types import Document, SkippedFile

#: Bumped when parsing changes, so that documents are re-read by the next build.
READER_VERSION = "1"
SIDECAR_SUFFIX = ".meta.json"
FORMATS = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl"}
MAX_TITLE_CHARS = 200


class UnreadableDocument(Exception):
    """Raised inside this module for a file or record to skip; carries the reason."""


@dataclass(frozen=True)
class SourceEntry:
    """One document found in the corpus, before parsing: where it is and its content hash."""

    id: str
    path: Path
    relative_path: str
    content_hash: str
    line: int | None = None  # JSON Lines: the 1-based line of the record
    raw_line: str | None = None


def scan_corpus(root: Path) -> tuple[list[SourceEntry], list[SkippedFile]]:
    """Every document under `root` with its content hash, in a stable order, and the skips."""
    entries: list[SourceEntry] = []
    skipped: list[SkippedFile] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in Path(relative).parts):
            continue
        if relative.endswith(SIDECAR_SUFFIX):
            continue
        suffix = path.suffix.lower()
        if suffix not in FORMATS:
            skipped.append(SkippedFile(relative, f"unsupported format '{suffix or path.name}'"))
            continue
        try:
            data = path.read_bytes()
        except OSError as error:
            skipped.append(SkippedFile(relative, f"cannot read file: {error.strerror}"))
            continue
        sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
        extra = sidecar.read_bytes() if sidecar.is_file() else b""
        if suffix == ".jsonl":
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
                if not line.strip():
                    continue
                digest = _hash(line.encode(), extra)
                entries.append(
                    SourceEntry(f"{relative}:{number}", path, relative, digest, number, line)
                )
        else:
            entries.append(SourceEntry(relative, path, relative, _hash(data, extra)))
    return entries, skipped


def load_document(entry: SourceEntry) -> Document:
    """Parse one scanned entry into a Document; raises UnreadableDocument with the reason."""
    metadata = _sidecar_metadata(entry.path)
    suffix = entry.path.suffix.lower()
    page_starts: tuple[int, ...] = ()
    if suffix == ".jsonl":
        text, found = _read_jsonl_record(entry.raw_line or "")
    elif suffix == ".pdf":
        text, found, page_starts = _read_pdf(entry.path.read_bytes())
    else:
        raw = _decode(entry.path.read_bytes())
        if suffix in {".md", ".markdown"}:
            text, found = _read_markdown(raw)
        elif suffix in {".html", ".htm"}:
            text, found = _read_html(raw)
        else:
            text, found = raw, {}
    # The sidecar is the archivist's word: it wins over what was found in the file.
    metadata = {**found, **metadata}
    if not page_starts:
        text = _normalise_text(text)
    if not text.strip():
        raise UnreadableDocument("no text")
    language = normalise_language(metadata.get("language")) or detect_language(text)
    metadata["language"] = language
    if "date" in metadata:
        metadata["date"] = normalise_date(metadata["date"])
    title = str(metadata.pop("title", "") or "").strip() or _title_from_text(text, entry)
    return Document(
        id=entry.id,
        path=entry.relative_path,
        title=title[:MAX_TITLE_CHARS],
        text=text,
        language=language,
        metadata={key: _jsonable(value) for key, value in metadata.items()},
        page_starts=page_starts,
        content_hash=entry.content_hash,
    )


def read_corpus(root: Path) -> Iterator[Document | SkippedFile]:
    """Every document of `root`, parsed, or the reason it was skipped (for small archives)."""
    entries, skipped = scan_corpus(root)
    yield from skipped
    for entry in entries:
        try:
            yield load_document(entry)
        except UnreadableDocument as error:
            yield SkippedFile(entry.id, str(error))


def normalise_date(value: Any) -> str | None:
    """An ISO date prefix ("2022", "2022-12", "2022-12-15") from metadata, else None."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    match = re.match(r"^\s*(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?", str(value or ""))
    if not match:
        return None
    year, month, day = match.groups()
    if month and not 1 <= int(month) <= 12:
        return year
    if day and not 1 <= int(day) <= 31:
        day = None
    parts = [year] + [f"{int(part):02d}" for part in (month, day) if part]
    return "-".join(parts)


def _hash(data: bytes, extra: bytes) -> str:
    digest = hashlib.sha256(READER_VERSION.encode())
    digest.update(data)
    digest.update(b"\0")
    digest.update(extra)
    return digest.hexdigest()


def _decode(data: bytes) -> str:
    if b"\0" in data[:8192]:
        raise UnreadableDocument("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableDocument(f"not UTF-8 text (byte {error.start})") from None


def _normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _title_from_text(text: str, entry: SourceEntry) -> str:
    first_line = text.strip().split("\n", 1)[0].strip()
    if 0 < len(first_line) <= 150 and not first_line.endswith((".", ",", ";", ":")):
        return first_line
    return Path(entry.relative_path).stem.replace("_", " ").replace("-", " ")


def _sidecar_metadata(path: Path) -> dict[str, Any]:
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {}
    try:
        value = json.loads(sidecar.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableDocument(f"bad metadata file {sidecar.name}: {error}") from None
    if not isinstance(value, dict):
        raise UnreadableDocument(f"bad metadata file {sidecar.name}: not a JSON object")
    return value


def _read_markdown(raw: str) -> tuple[str, dict[str, Any]]:
    import frontmatter
    import yaml

    try:
        post = frontmatter.loads(raw)
    except yaml.YAMLError as error:
        reason = str(error).splitlines()[0]
        raise UnreadableDocument(f"bad front matter: {reason}") from None
    if not isinstance(post.metadata, dict):
        raise UnreadableDocument("bad front matter: not a mapping")
    return post.content, dict(post.metadata)


def _read_html(raw: str) -> tuple[str, dict[str, Any]]:
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


def _read_pdf(data: bytes) -> tuple[str, dict[str, Any], tuple[int, ...]]:
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [_normalise_text(page.extract_text() or "") for page in reader.pages]
        info = reader.metadata or {}
    except Exception as error:  # pypdf raises many types for damaged files
        raise UnreadableDocument(f"unreadable PDF: {type(error).__name__}: {error}") from None
    text_parts: list[str] = []
    page_starts: list[int] = []
    offset = 0
    for page_text in pages:
        page_starts.append(offset)
        text_parts.append(page_text)
        offset += len(page_text) + 2
    metadata: dict[str, Any] = {}
    title = info.get("/Title") if hasattr(info, "get") else None
    if title:
        metadata["title"] = str(title)
    return "\n\n".join(text_parts), metadata, tuple(page_starts)


def _read_jsonl_record(line: str) -> tuple[str, dict[str, Any]]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise UnreadableDocument(f"bad JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(record, dict):
        raise UnreadableDocument("record is not a JSON object")
    text = record.pop("text", None)
    if not isinstance(text, str):
        raise UnreadableDocument("record has no 'text' string")
    return text, record


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return str(value)
