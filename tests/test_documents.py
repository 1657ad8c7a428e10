"""Reading each supported format, and skipping what cannot be read, with its reason."""

from __future__ import annotations

import json

from conftest import read_corpus
from pdfs import write_pdf

from qa.core.config import Settings
from qa.core.types import Document, SkippedFile
from qa.ingest.documents import MetadataLimits, load_document, normalise_date, scan_corpus

LIMITS = MetadataLimits.of(Settings())


def read(root):
    results = list(read_corpus(root))
    documents = {r.id: r for r in results if isinstance(r, Document)}
    skipped = {r.path: r.reason for r in results if isinstance(r, SkippedFile)}
    return documents, skipped


def test_plain_text_title_from_first_line_and_sidecar_metadata(tmp_path):
    (tmp_path / "a.txt").write_text("Strike in Lima\n\nWorkers marched on 15 December.", "utf-8")
    (tmp_path / "b.txt").write_text("Workers marched. They sang.", "utf-8")
    (tmp_path / "b.txt.meta.json").write_text(
        json.dumps({"title": "Sidecar title", "date": "2022-12-15", "source": "Radio"}), "utf-8"
    )
    documents, skipped = read(tmp_path)
    assert skipped == {}
    assert documents["a.txt"].title == "Strike in Lima"
    assert documents["a.txt"].language == "en"
    assert documents["b.txt"].title == "Sidecar title"
    assert documents["b.txt"].date == "2022-12-15"
    assert documents["b.txt"].source == "Radio"


def test_markdown_front_matter_keeps_every_field(tmp_path):
    (tmp_path / "note.md").write_text(
        "---\ntitle: Asamblea nacional\ndate: 2022-12-10\nlanguage: es\nsource: Wayka\n"
        "url: https://example.org/a\nauthor: Ana\n---\nLa asamblea se reunió en Lima.\n",
        "utf-8",
    )
    document = read(tmp_path)[0]["note.md"]
    assert document.title == "Asamblea nacional"
    assert document.language == "es"
    assert document.date == "2022-12-10"
    assert document.metadata["author"] == "Ana"
    assert document.metadata["url"] == "https://example.org/a"
    assert document.text == "La asamblea se reunió en Lima."


def test_html_keeps_main_text_and_drops_scripts_and_boilerplate(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><head><title>Paro nacional</title><script>alert('x')</script>"
        "<style>p{color:red}</style></head><body><nav>Inicio | Contacto</nav><article>"
        "<h1>Paro nacional</h1><p>El 15 de diciembre se realizó el paro nacional en todo el Perú."
        "</p><p>Los gremios marcharon en Lima y en las regiones del sur.</p></article>"
        "<footer>Copyright 2022 Todos los derechos</footer></body></html>",
        "utf-8",
    )
    document = read(tmp_path)[0]["page.html"]
    assert document.title == "Paro nacional"
    assert "15 de diciembre" in document.text
    assert "alert" not in document.text and "color:red" not in document.text
    assert "Copyright" not in document.text
    assert document.language == "es"


def test_pdf_text_per_page_with_page_of_each_offset(tmp_path):
    write_pdf(
        tmp_path / "r.pdf",
        ["First page about the assembly.", "Second page about the strike."],
        title="Report",
    )
    document = read(tmp_path)[0]["r.pdf"]
    assert document.title == "Report"
    second = document.text.index("Second page")
    assert document.page_at(0) == 1
    assert document.page_at(second) == 2


def test_jsonl_one_document_per_line_bad_line_skipped_and_named(tmp_path):
    lines = [
        json.dumps({"text": "First record text.", "title": "One", "source": "X"}),
        "{not json",
        json.dumps({"title": "no text"}),
        "",
        json.dumps({"text": "Fourth record text.", "title": "Four", "tags": ["a", "b"]}),
    ]
    (tmp_path / "export.jsonl").write_text("\n".join(lines), "utf-8")
    documents, skipped = read(tmp_path)
    assert set(documents) == {"export.jsonl:1", "export.jsonl:5"}
    assert documents["export.jsonl:5"].metadata["tags"] == ["a", "b"]
    assert "bad JSON" in skipped["export.jsonl:2"]
    assert "no 'text'" in skipped["export.jsonl:3"]


def test_unreadable_files_are_skipped_with_reasons(tmp_path):
    (tmp_path / "good.txt").write_text("A good document about the strike.", "utf-8")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    (tmp_path / "empty.txt").write_text("   \n", "utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "bad.md").write_text("---\ntitle: [unclosed\n---\nText.", "utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    documents, skipped = read(tmp_path)
    assert set(documents) == {"good.txt"}
    assert "PDF" in skipped["broken.pdf"]
    assert skipped["empty.txt"] == "no text"
    assert "binary" in skipped["binary.txt"]
    assert "front matter" in skipped["bad.md"]
    assert "unsupported format" in skipped["image.png"]


def test_ids_come_from_paths_not_order_and_hashes_from_content(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "z.txt").write_text("Zeta text.", "utf-8")
    (tmp_path / "a.txt").write_text("Alpha text.", "utf-8")
    first = scan_corpus(tmp_path).entries
    (tmp_path / "0.txt").write_text("New first file.", "utf-8")
    second = scan_corpus(tmp_path).entries
    hashes = {entry.id: entry.content_hash for entry in first}
    assert set(hashes) == {"a.txt", "sub/z.txt"}
    # A file sorted before the others changes no id and no hash.
    again = {entry.id: entry.content_hash for entry in second}
    assert set(again) == {"0.txt", "a.txt", "sub/z.txt"}
    assert {key: again[key] for key in hashes} == hashes
    assert len(set(again.values())) == 3
    (tmp_path / "a.txt").write_text("Alpha text, changed.", "utf-8")
    third = {entry.id: entry.content_hash for entry in scan_corpus(tmp_path).entries}
    assert third["a.txt"] != hashes["a.txt"]
    assert (
        load_document(next(e for e in second if e.id == "0.txt"), LIMITS).text == "New first file."
    )


def test_a_file_found_as_it_was_is_not_read_again(tmp_path, files_read):
    """A file whose signature is the one recorded is listed unchanged, not read: a change
    to it, to its sidecar, or a new sidecar makes it read again."""
    (tmp_path / "a.txt").write_text("Alpha text.", "utf-8")
    (tmp_path / "b.jsonl").write_text('{"text": "One."}\n{"text": "Two."}\n', "utf-8")
    first = scan_corpus(tmp_path)
    assert set(first.signatures) == {"a.txt", "b.jsonl"}
    assert first.unchanged_files == []

    files_read.clear()
    again = scan_corpus(tmp_path, first.signatures)
    assert (again.entries, sorted(again.unchanged_files), files_read) == (
        [],
        ["a.txt", "b.jsonl"],
        [],
    )

    with (tmp_path / "a.txt").open("a", encoding="utf-8") as handle:
        handle.write(" More.")
    (tmp_path / "b.jsonl.meta.json").write_text('{"source": "Wire"}', "utf-8")
    changed = scan_corpus(tmp_path, first.signatures)
    assert changed.unchanged_files == []
    assert [entry.id for entry in changed.entries] == ["a.txt", "b.jsonl:1", "b.jsonl:2"]
    assert changed.signatures["a.txt"] != first.signatures["a.txt"]


def test_a_file_changed_a_moment_ago_has_no_signature_to_trust(tmp_path):
    """Within the file system's timestamp granularity a second change could leave the same
    times: such a file is read (and hashed) by every scan until it has settled."""
    (tmp_path / "a.txt").write_text("Alpha text.", "utf-8")
    scan = scan_corpus(tmp_path)
    assert [entry.id for entry in scan.entries] == ["a.txt"]
    assert scan.signatures == {}


def test_dates_normalise_to_iso_prefixes():
    assert normalise_date("2022-12") == "2022-12"
    assert normalise_date("2022/12/5") == "2022-12-05"
    assert normalise_date("2022-12-15T10:00:00Z") == "2022-12-15"
    assert normalise_date("December 2022") is None
