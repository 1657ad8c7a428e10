"""Reading the archive: a folder tree of .txt, .md, .html/.htm, .pdf and .jsonl documents.

Reading is two steps so that an incremental build parses only what changed: `scan_corpus`
lists every document with a content hash (cheap: bytes only), and `load_document` parses
one (the formats themselves are read in `qa.ingest.readers`). A file found as it was when
last read (`file_signature`: size, times and inode, its sidecar's too) is not read again:
the scan names it unchanged, so that an incremental build costs what changed, not the
archive (a 744 MB JSON Lines file took 3 s to read and hash at a million passages).
Whatever cannot be read becomes a `SkippedFile` with its reason; it never stops the build.

Nothing outside the corpus folder is read: symbolic links are followed only to files inside
it, and FIFOs, sockets and devices are named and left alone. Names starting with '.' (.git,
editor files) are ignored.

Metadata: Markdown front matter, a JSON Lines record's fields, HTML and PDF metadata, and
for any file a sidecar `NAME.EXT.meta.json` (for example `report.pdf.meta.json`); it is
bounded in size and depth (`MetadataLimits`), so a YAML alias bomb is refused, not expanded.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.core.errors import CorpusError
from qa.core.types import Document, SkippedFile
from qa.dates.values import normalise_date
from qa.ingest.files import (
    SETTLED_NS,
    SIDECAR_SUFFIX,
    OutsideCorpus,
    file_kind,
    file_signature,
    is_inside,
    read_inside,
)
from qa.ingest.metadata import MetadataLimits, bounded_metadata
from qa.ingest.readers import (
    UnreadableDocument,
    decode_text,
    normalise_text,
    read_html,
    read_jsonl_record,
    read_markdown,
    read_pdf,
    read_sidecar,
)
from qa.text.languages import detect_language, normalise_language

__all__ = [
    "SETTLED_NS",
    "CorpusScan",
    "MetadataLimits",
    "SourceEntry",
    "UnreadableDocument",
    "check_corpus",
    "lies_in",
    "load_document",
    "normalise_date",
    "scan_corpus",
]

#: Bumped when parsing changes, so that documents are re-read by the next build.
READER_VERSION = "1"
FORMATS = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl"}
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class SourceEntry:
    """One document found in the corpus, before parsing: where it is and its content hash."""

    id: str
    path: Path
    relative_path: str
    content_hash: str
    root: str  # the corpus folder, links resolved: nothing outside it is read
    line: int | None = None  # JSON Lines: the 1-based line of the record
    raw_line: str | None = None


@dataclass
class CorpusScan:
    """What a scan found: documents to read, what it skipped, and the paths (files or
    folders) it could not read, whose previously indexed documents a build keeps."""

    entries: list[SourceEntry] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    #: Files found as `known` described them: not read, their documents as they were.
    unchanged_files: list[str] = field(default_factory=list)
    #: The signature of each file read (settled ones only), to be recorded with its documents.
    signatures: dict[str, str] = field(default_factory=dict)

    def keeps(self, document_id: str) -> bool:
        """Whether `document_id` lies in a file or folder this scan could not read."""
        return any(lies_in(document_id, path) for path in self.unreadable)


def lies_in(document_id: str, path: str) -> bool:
    """Whether the document `document_id` comes from the file or folder `path`."""
    return document_id == path or document_id.startswith((path + "/", path + ":"))


def check_corpus(root: Path) -> None:
    """Raises CorpusError unless `root` is a folder this process can list (it may be empty)."""
    if not Path(root).is_dir():
        raise CorpusError(f"No corpus folder at {root}.")
    try:
        with os.scandir(root):
            pass
    except OSError as error:
        raise CorpusError(f"Cannot read the corpus folder {root}: {error.strerror}.") from None


def scan_corpus(root: Path, known: Mapping[str, str] | None = None) -> CorpusScan:
    """Every document under `root` with its content hash, in a stable order, and the skips.

    `known` maps files (relative paths) to their signatures when their documents were last
    read; a file whose signature is the same is listed in `unchanged_files`, not read.
    Raises CorpusError when `root` is missing or cannot be listed (an empty folder is fine)."""
    root = Path(root)
    check_corpus(root)
    real_root = os.path.realpath(root)
    scan = CorpusScan()
    known = known or {}
    for relative, path in _regular_files(root, real_root, scan):
        if relative.endswith(SIDECAR_SUFFIX):
            continue
        suffix = path.suffix.lower()
        if suffix not in FORMATS:
            scan.skipped.append(
                SkippedFile(relative, f"unsupported format '{suffix or path.name}'")
            )
            continue
        signature = file_signature(path, real_root)  # before reading: a later change shows
        if signature is not None:
            signature = f"{READER_VERSION} {signature}"
        if signature is not None and known.get(relative) == signature:
            scan.unchanged_files.append(relative)
            continue
        try:
            data = read_inside(path, real_root)
            extra = _sidecar_bytes(path, real_root)
            lines = decode_text(data).split("\n") if suffix == ".jsonl" else None
        except OSError as error:
            _unreadable(scan, relative, f"cannot read file: {error.strerror or error}")
            continue
        except OutsideCorpus as error:
            scan.skipped.append(SkippedFile(relative, str(error)))
            continue
        except UnreadableDocument as error:
            _unreadable(scan, relative, str(error))
            continue
        if signature is not None:
            scan.signatures[relative] = signature
        if lines is None:
            scan.entries.append(
                SourceEntry(relative, path, relative, _hash(data, extra), real_root)
            )
            continue
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\r")
            if line.strip():
                digest = _hash(line.encode(), extra)
                entry = SourceEntry(
                    f"{relative}:{number}", path, relative, digest, real_root, number, line
                )
                scan.entries.append(entry)
    scan.entries.sort(key=lambda entry: (entry.relative_path, entry.line or 0))
    scan.skipped.sort(key=lambda skipped: skipped.path)
    return scan


def load_document(entry: SourceEntry, limits: MetadataLimits) -> Document:
    """Parse one scanned entry into a Document; raises UnreadableDocument with the reason,
    whatever went wrong: one document's failure must never stop a build."""
    try:
        return _load(entry, limits)
    except (UnreadableDocument, OSError):
        raise  # OSError here is the machine's (a full disk), not the document's: fatal
    except RecursionError:
        raise UnreadableDocument("nested too deep to read") from None
    except Exception as error:  # a library's surprise on a hostile file: named, not fatal
        raise UnreadableDocument(f"cannot read: {type(error).__name__}: {error}") from None


def current_hash(entry: SourceEntry) -> str:
    """The content hash of the entry's document as it reads now (the scan's hash if it has
    not changed since): a worker that reads a document the scan found checks it with this."""
    data = read_inside(entry.path, entry.root)
    extra = _sidecar_bytes(entry.path, entry.root)
    if entry.line is None:
        return _hash(data, extra)
    lines = decode_text(data).split("\n")
    line = lines[entry.line - 1].rstrip("\r") if entry.line <= len(lines) else ""
    return _hash(line.encode(), extra)


def _load(entry: SourceEntry, limits: MetadataLimits) -> Document:
    sidecar = _sidecar_metadata(entry)
    suffix = entry.path.suffix.lower()
    page_starts: tuple[int, ...] = ()
    if suffix == ".jsonl":
        text, found = read_jsonl_record(entry.raw_line or "")
    elif suffix == ".pdf":
        text, found, page_starts = read_pdf(_file_bytes(entry))
    else:
        raw = decode_text(_file_bytes(entry))
        if suffix in {".md", ".markdown"}:
            text, found = read_markdown(raw)
        elif suffix in {".html", ".htm"}:
            text, found = read_html(raw)
        else:
            text, found = raw, {}
    # The sidecar is the archivist's word: it wins over what was found in the file.
    metadata = bounded_metadata({**found, **sidecar}, limits)
    if not page_starts:
        text = normalise_text(text)
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
        metadata=metadata,
        page_starts=page_starts,
        content_hash=entry.content_hash,
    )


def _regular_files(root: Path, real_root: str, scan: CorpusScan) -> Iterator[tuple[str, Path]]:
    """(relative path, path) of each regular file under `root`, links to files inside the
    corpus included; every other thing found is named in `scan`, not silently passed over."""
    pending = [""]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(root / folder if folder else root) as listing:
                children = [(child.name, child.is_symlink()) for child in listing]
        except OSError as error:
            if not folder:  # it could be listed a moment ago
                raise CorpusError(f"Cannot read the corpus folder {root}: {error}.") from None
            _unreadable(scan, folder, f"cannot read folder: {error.strerror or error}")
            continue
        for name, is_link in children:
            if name.startswith("."):
                continue
            relative = f"{folder}/{name}" if folder else name
            path = root / relative
            if not _is_utf8(relative):
                printable = relative.encode("utf-8", "surrogateescape").decode(
                    "utf-8", "backslashreplace"
                )
                scan.skipped.append(SkippedFile(printable, "file name is not UTF-8"))
                continue
            kind, reason = _classify(path, is_link, real_root)
            if kind == "folder":
                pending.append(relative)
            elif kind == "file":
                yield relative, path
            elif kind == "unreadable":
                _unreadable(scan, relative, reason)
            else:
                scan.skipped.append(SkippedFile(relative, reason))


def _classify(path: Path, is_link: bool, real_root: str) -> tuple[str, str]:
    """('folder' | 'file' | 'unreadable' | 'skip', reason) for one thing in the corpus."""
    try:
        mode = os.stat(path).st_mode  # follows a link to what it names
    except OSError as error:
        if not is_link:
            return "unreadable", f"cannot read: {error.strerror or error}"
        if error.errno == errno.ELOOP:
            return "skip", "symbolic link loop"
        if error.errno == errno.ENOENT:
            return "skip", "broken symbolic link"
        return "skip", f"symbolic link that cannot be followed: {error.strerror or error}"
    if is_link:
        what = "folder" if stat.S_ISDIR(mode) else "file"
        if not is_inside(os.path.realpath(path), real_root):
            return "skip", f"symbolic link to a {what} outside the corpus"
        if stat.S_ISDIR(mode):
            return "skip", "symbolic link to a folder, not followed (its files are read there)"
    if stat.S_ISDIR(mode):
        return "folder", ""
    if stat.S_ISREG(mode):
        return "file", ""
    return "skip", f"not a regular file ({file_kind(mode)})"


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept by the OS as lone surrogates
        return False
    return True


def _unreadable(scan: CorpusScan, relative: str, reason: str) -> None:
    scan.skipped.append(SkippedFile(relative, reason))
    scan.unreadable.append(relative)


def _sidecar_bytes(path: Path, real_root: str) -> bytes:
    """The bytes of the file's sidecar, b"" when it has none."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not os.path.lexists(sidecar):
        return b""
    try:
        return read_inside(sidecar, real_root)
    except OSError as error:
        reason = f"cannot read metadata file {sidecar.name}: {error.strerror or error}"
        raise UnreadableDocument(reason) from None
    except UnreadableDocument as error:
        raise type(error)(f"metadata file {sidecar.name}: {error}") from None


def _file_bytes(entry: SourceEntry) -> bytes:
    try:
        return read_inside(entry.path, entry.root)
    except OSError as error:  # gone, or closed, since the scan
        raise UnreadableDocument(f"cannot read file: {error.strerror or error}") from None


def _sidecar_metadata(entry: SourceEntry) -> dict[str, Any]:
    data = _sidecar_bytes(entry.path, entry.root)
    return read_sidecar(data, entry.path.name + SIDECAR_SUFFIX) if data else {}


def _hash(data: bytes, extra: bytes) -> str:
    digest = hashlib.sha256(READER_VERSION.encode())
    digest.update(data)
    digest.update(b"\0")
    digest.update(extra)
    return digest.hexdigest()


def _title_from_text(text: str, entry: SourceEntry) -> str:
    first_line = text.strip().split("\n", 1)[0].strip()
    if 0 < len(first_line) <= 150 and not first_line.endswith((".", ",", ";", ":")):
        return first_line
    return Path(entry.relative_path).stem.replace("_", " ").replace("-", " ")
