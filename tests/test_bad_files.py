"""Hostile and damaged files: each is read when some encoding explains it, else skipped and
named with its reason; none stops a build, loses a good document or reaches outside the corpus.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest
from conftest import read_corpus, run_bound_by_permissions

from qa.core.errors import CorpusError
from qa.core.types import Document, SkippedFile
from qa.index.build import build_index
from qa.index.versions import current_version, open_index
from qa.ingest.documents import MetadataLimits, UnreadableDocument, load_document, scan_corpus

GOOD_TEXT = "The national strike was called for December 15 by the assembly of unions."
SPANISH = (
    "El paro nacional del 15 de diciembre reunió a campesinos, estudiantes y trabajadores "
    "en Perú. La señora Núñez habló en la asamblea de Puno."
)


def read(root, limits: MetadataLimits | None = None):
    results = list(read_corpus(root, limits))
    documents = {r.id: r for r in results if isinstance(r, Document)}
    skipped = {r.path: r.reason for r in results if isinstance(r, SkippedFile)}
    return documents, skipped


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """YAML 'billion laughs': each level lists the level below `width` times, by alias."""
    lines = ["a0: &a0 [lol]"]
    for level in range(1, levels + 1):
        below = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{below}]")
    return "\n".join(lines)


# --- 1. one bad file never stops the reading -------------------------------------------------


def hostile_corpus(corpus: Path) -> dict[str, str]:
    """Writes good documents beside every kind of bad one; returns bad id -> reason fragment."""
    write(corpus / "good.txt", GOOD_TEXT)
    write(corpus / "sub" / "good.md", "---\ntitle: Fine\ndate: 2022-12-15\n---\n" + GOOD_TEXT)
    write(corpus / "date.md", "---\ndate: 2022-13-45\n---\nText about the month.\n")
    write(corpus / "recursive.md", "---\nx: &a [*a]\n---\nText about recursion.\n")
    write(corpus / "bomb.md", "---\n" + alias_bomb() + "\n---\nText about laughter.\n")
    write(corpus / "deep.jsonl", '{"text": "deep", "x": ' + nested_json(100_000) + "}\n")
    write(corpus / "digits.jsonl", '{"text": "many digits", "n": ' + "9" * 5000 + "}\n")
    write(corpus / "sidecar.txt", GOOD_TEXT)
    write(corpus / "sidecar.txt.meta.json", '{"x": ' + nested_json(100_000) + "}")
    write(corpus / "yaml-digits.md", "---\nn: " + "9" * 5000 + "\n---\nText about numbers.\n")
    return {
        "date.md": "front matter",
        "recursive.md": "nested deeper",
        "bomb.md": "metadata",
        "deep.jsonl:1": "nested",
        "digits.jsonl:1": "JSON",
        "sidecar.txt": "sidecar.txt.meta.json",
        "yaml-digits.md": "front matter",
    }


def test_every_kind_of_bad_document_is_named_beside_the_good_ones(tmp_path):
    expected = hostile_corpus(tmp_path)
    bad_name = os.fsdecode(b"caf\xff.txt")
    write(tmp_path / bad_name, GOOD_TEXT)
    documents, skipped = read(tmp_path)
    assert set(documents) == {"good.txt", "sub/good.md"}
    assert skipped.pop("caf\\xff.txt") == "file name is not UTF-8"
    assert set(skipped) == set(expected)
    for document_id, fragment in expected.items():
        assert fragment in skipped[document_id], (document_id, skipped[document_id])


def test_front_matter_keys_that_are_not_strings_are_kept_as_strings(tmp_path):
    write(tmp_path / "a.md", "---\n2022: annual\ntrue: yes\ntitle: Report\n---\n" + GOOD_TEXT)
    document = read(tmp_path)[0]["a.md"]
    assert document.title == "Report"
    assert document.metadata["2022"] == "annual"
    assert document.metadata["True"] is True


def test_a_file_deleted_between_the_scan_and_its_parse_is_named(tmp_path):
    write(tmp_path / "gone.txt", GOOD_TEXT)
    scan = scan_corpus(tmp_path)
    (tmp_path / "gone.txt").unlink()
    with pytest.raises(UnreadableDocument, match="cannot read file: No such file"):
        load_document(scan.entries[0], MetadataLimits(10_000, 10))


def test_one_bad_file_never_stops_a_build(make_settings, fake_embedder, monkeypatch):
    settings = make_settings()
    expected = hostile_corpus(settings.corpus)
    write(settings.corpus / os.fsdecode(b"r\xe9sum\xe9.txt"), GOOD_TEXT)
    write(settings.corpus / "vanishing.txt", GOOD_TEXT)

    import qa.index.build

    real_scan = qa.index.build.scan_corpus

    def scan_then_delete(root, known=None):  # the file goes between the scan and its parse
        scan = real_scan(root, known)
        (Path(root) / "vanishing.txt").unlink()
        return scan

    monkeypatch.setattr(qa.index.build, "scan_corpus", scan_then_delete)
    report = build_index(settings, fake_embedder)
    named = {skip.path: skip.reason for skip in report.skipped}
    assert report.documents == 2
    assert set(named) == {*expected, "r\\xe9sum\\xe9.txt", "vanishing.txt"}
    assert "No such file" in named["vanishing.txt"]
    assert set(open_index(settings).catalog.document_hashes()) == {"good.txt", "sub/good.md"}


# --- 5. metadata is bounded -------------------------------------------------------------------


def test_metadata_is_bounded_in_size_and_depth(tmp_path):
    write(tmp_path / "bomb.md", "---\n" + alias_bomb(levels=12, width=10) + "\n---\nLaughs.\n")
    write(tmp_path / "wide.txt", GOOD_TEXT)
    write(tmp_path / "wide.txt.meta.json", json.dumps({"notes": "x" * 5000}))
    write(tmp_path / "deep.txt", GOOD_TEXT)
    write(tmp_path / "deep.txt.meta.json", json.dumps({"x": json.loads(nested_json(8))}))
    write(tmp_path / "fine.txt", GOOD_TEXT)
    write(
        tmp_path / "fine.txt.meta.json",
        json.dumps({"tags": ["a", "b"], "people": [{"name": "Ana", "roles": ["editor"]}]}),
    )
    documents, skipped = read(tmp_path, MetadataLimits(max_chars=1000, max_depth=5))
    assert set(documents) == {"fine.txt"}
    assert documents["fine.txt"].metadata["people"] == [{"name": "Ana", "roles": ["editor"]}]
    assert "metadata too large" in skipped["bomb.md"] and "1,000" in skipped["bomb.md"]
    assert "metadata too large" in skipped["wide.txt"]
    assert "nested deeper than 5" in skipped["deep.txt"]
    # The defaults keep ordinary metadata and still refuse the bomb.
    documents, skipped = read(tmp_path)
    assert {"fine.txt", "wide.txt", "deep.txt"} <= set(documents)
    assert "metadata too large" in skipped["bomb.md"]


# --- 6. text in other encodings --------------------------------------------------------------


def test_text_in_legacy_and_utf16_encodings_is_read(tmp_path):
    quoted = "“Comillas” — " + SPANISH + " Precio: 5 €."
    (tmp_path / "latin1.txt").write_bytes(SPANISH.encode("latin-1"))
    (tmp_path / "windows.txt").write_bytes(quoted.encode("cp1252"))
    (tmp_path / "short.txt").write_bytes("Café en Perú.".encode("latin-1"))
    (tmp_path / "utf16le.txt").write_bytes(SPANISH.encode("utf-16"))
    (tmp_path / "utf16be.txt").write_bytes(b"\xfe\xff" + SPANISH.encode("utf-16-be"))
    (tmp_path / "bom8.txt").write_bytes(b"\xef\xbb\xbf" + SPANISH.encode())
    (tmp_path / "note.md").write_bytes(
        ("---\ntitle: Asamblea de Núñez\n---\n" + SPANISH).encode("cp1252")
    )
    (tmp_path / "page.html").write_bytes(
        (
            "<html><head><title>Paro</title></head><body><article><p>"
            + SPANISH
            + "</p></article></body></html>"
        ).encode("latin-1")
    )
    (tmp_path / "records.jsonl").write_bytes(
        (json.dumps({"text": SPANISH, "title": "Núñez"}, ensure_ascii=False) + "\n").encode(
            "latin-1"
        )
    )
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (tmp_path / "noise.txt").write_bytes(bytes(range(128, 256)) * 8)
    documents, skipped = read(tmp_path)
    for name in ("latin1.txt", "utf16le.txt", "utf16be.txt", "bom8.txt"):
        assert documents[name].text == SPANISH, name
    assert documents["windows.txt"].text == quoted
    assert documents["short.txt"].text == "Café en Perú."
    assert documents["note.md"].title == "Asamblea de Núñez"
    assert documents["note.md"].text == SPANISH
    assert "señora Núñez" in documents["page.html"].text
    assert documents["records.jsonl:1"].title == "Núñez"
    assert "binary" in skipped["binary.txt"]
    assert "no character encoding" in skipped["noise.txt"]


# --- 4. symbolic links and special files ----------------------------------------------------


def test_links_outside_the_corpus_loops_and_special_files_are_named(tmp_path):
    corpus = tmp_path / "corpus"
    outside = write(tmp_path / "secret.txt", "The root password is hunter2.")
    write(tmp_path / "elsewhere" / "more.txt", "Secrets in another folder.")
    write(corpus / "real.txt", GOOD_TEXT)
    write(corpus / "sub" / "inner.txt", "Students called a strike in Cusco.")
    (corpus / "passwd.txt").symlink_to(outside)
    (corpus / "etc").symlink_to(tmp_path / "elsewhere")
    (corpus / "alias.txt").symlink_to(corpus / "sub" / "inner.txt")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "broken.txt").symlink_to(corpus / "nothing.txt")
    (corpus / "real.txt.meta.json").symlink_to(outside)
    os.mkfifo(corpus / "pipe.txt")
    expected = {
        "passwd.txt": "outside the corpus",
        "etc": "outside the corpus",
        "loop.txt": "loop",
        "broken.txt": "broken",
        "pipe.txt": "FIFO",
        "real.txt": "outside the corpus",
    }
    try:
        os.mknod(corpus / "device.txt", stat.S_IFCHR | 0o644, os.makedev(1, 3))
        expected["device.txt"] = "character device"
    except PermissionError:
        pass  # without the right to make device files, the FIFO stands for them
    socket_path = corpus / "s.txt"
    if len(os.fsencode(socket_path)) < 100:  # the limit of a Unix socket's address
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(str(socket_path))
        expected["s.txt"] = "socket"

    documents, skipped = read(corpus)
    assert set(documents) == {"sub/inner.txt", "alias.txt"}
    assert documents["alias.txt"].text == "Students called a strike in Cusco."
    for path, fragment in expected.items():
        assert fragment in skipped.get(path, ""), (path, skipped.get(path))
    assert all("hunter2" not in document.text for document in documents.values())


def test_a_link_that_was_indexed_before_is_removed(make_settings, fake_embedder, tmp_path):
    settings = make_settings()
    write(settings.corpus / "real.txt", GOOD_TEXT)
    secret = write(tmp_path / "secret.txt", "The root password is hunter2.")
    (settings.corpus / "passwd.txt").symlink_to(secret)
    report = build_index(settings, fake_embedder)
    assert report.documents == 1
    assert [skip.path for skip in report.skipped] == ["passwd.txt"]
    assert set(open_index(settings).catalog.document_hashes()) == {"real.txt"}


# --- 2 and 3. missing and unreadable folders ------------------------------------------------


def test_a_missing_corpus_is_an_error_that_leaves_the_index_as_it_is(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus / "a.txt", GOOD_TEXT)
    build_index(settings, fake_embedder)
    before = current_version(settings.index)
    settings.corpus.rename(settings.corpus.with_name("renamed"))
    with pytest.raises(CorpusError, match="No corpus folder"):
        build_index(settings, fake_embedder)
    assert current_version(settings.index) == before
    assert [p.name for p in (settings.index / "versions").iterdir()] == [before.name]
    settings.corpus.mkdir()  # an empty but existing folder is fine: it empties the archive
    assert build_index(settings, fake_embedder).documents == 0


BOUND_BUILD = """
import json, sys
from qa.core.config import Settings
from qa.core.errors import QAError
from qa.index.build import build_index
from fake_embedder import FakeEmbedder

settings = Settings(
    corpus=sys.argv[1], index=sys.argv[2], embedder="fake", model="fake", progress=False
)
try:
    report = build_index(settings, FakeEmbedder())
except QAError as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error)}))
else:
    print(json.dumps({"documents": report.documents, "removed": report.removed,
                      "skipped": {s.path: s.reason for s in report.skipped}}))
"""


def build_bound_by_permissions(settings) -> dict:
    done = run_bound_by_permissions(BOUND_BUILD, str(settings.corpus), str(settings.index))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_unreadable_folders_files_and_sidecars_are_named_and_their_documents_kept(
    make_settings, fake_embedder
):
    settings = make_settings()
    corpus = settings.corpus
    for name in ("one", "two", "three"):
        write(corpus / "reports" / f"{name}.txt", f"Report {name} about the strike in Puno.")
    write(corpus / "closed.txt", GOOD_TEXT)
    write(corpus / "open.txt", "The assembly met in Lima.")
    write(corpus / "open.txt.meta.json", json.dumps({"title": "Open"}))
    write(corpus / "records.jsonl", json.dumps({"text": "A record about roads."}) + "\n")
    assert build_index(settings, fake_embedder).documents == 6

    (corpus / "reports").chmod(0)
    (corpus / "closed.txt").chmod(0)
    (corpus / "open.txt.meta.json").chmod(0)
    (corpus / "records.jsonl").chmod(0)
    result = build_bound_by_permissions(settings)
    assert result["documents"] == 6 and result["removed"] == 0
    skipped = result["skipped"]
    assert set(skipped) == {"reports", "closed.txt", "open.txt", "records.jsonl"}
    assert "cannot read folder" in skipped["reports"]
    assert "Permission denied" in skipped["closed.txt"]
    assert "open.txt.meta.json" in skipped["open.txt"]
    assert all("kept" in reason for reason in skipped.values())

    corpus.chmod(0)
    result = build_bound_by_permissions(settings)
    assert result["error"] == "CorpusError" and "Permission denied" in result["message"]
    assert open_index(settings).catalog.counts()[0] == 6
