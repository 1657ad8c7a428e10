"""Index versions that share what did not change: a build writes its new vectors as a new
part and its removals as deletion marks, links every other file of the version before it,
and commits its catalog changes in one transaction; searches run over every part."""

from __future__ import annotations

import os

import numpy as np
import pytest
from archives import write
from test_vectors import assert_stored, unit_vectors

from qa.core.errors import BuildError
from qa.index.build import build_index
from qa.index.versions import open_index
from qa.service.assistant import Assistant
from qa.store import VectorStore
from qa.store.parts import MAX_PARTS, PartsWriter, VectorParts


def write_notes(corpus, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        write(corpus, f"note-{n:03d}.txt", f"Note {n}: the council of district {n} met.")


def test_an_incremental_build_links_the_parts_it_did_not_change(make_settings, fake_embedder):
    settings = make_settings()
    write_notes(settings.corpus, 30)
    first = build_index(settings, fake_embedder)
    write_notes(settings.corpus, 1, start=30)
    second = build_index(settings, fake_embedder)
    old, new = (settings.index / "versions" / v for v in (first.version, second.version))

    base = open_index(settings).manifest.parts[0]
    for suffix in (".faiss", ".ids.npy"):
        shared = base["name"] + suffix
        # One file with two names: nothing of the first part was copied.
        assert os.stat(old / shared).st_ino == os.stat(new / shared).st_ino
    index = open_index(settings)
    assert [part["vectors"] for part in index.manifest.parts] == [30, 1]
    assert index.vectors.size == second.passages == 31
    assert sorted(index.vectors.ids().tolist()) == sorted(index.catalog.passage_ids())
    hits = Assistant(settings, fake_embedder).search("council district 30", k=1)
    assert hits[0].document_id == "note-030.txt"


def test_removed_and_changed_documents_are_marked_and_never_found(make_settings, fake_embedder):
    settings = make_settings()
    write_notes(settings.corpus, 30)
    build_index(settings, fake_embedder)
    (settings.corpus / "note-004.txt").unlink()
    write(settings.corpus, "note-007.txt", "The water board of district seven resigned.")
    report = build_index(settings, fake_embedder)
    assert (report.removed, report.changed) == (1, 1)

    index = open_index(settings)
    base = index.manifest.parts[0]
    assert base["vectors"] == 30 and base["deleted"] == 2  # the removed and the changed one
    assert index.vectors.size == index.catalog.counts()[1] == 29
    stored = set(index.catalog.passage_ids())
    assert set(index.vectors.ids().tolist()) == stored
    query = fake_embedder.vectors(["note-004\nNote 4: the council of district 4 met."])[0]
    assert {i for i, _ in index.vectors.search(query, 29)} == stored  # none deleted
    hits = Assistant(settings, fake_embedder).search("water board resigned", k=1)
    assert hits[0].document_id == "note-007.txt"


def test_a_failed_build_commits_nothing_to_the_shared_catalog(
    make_settings, fake_embedder, monkeypatch
):
    settings = make_settings()
    write_notes(settings.corpus, 5)
    build_index(settings, fake_embedder)
    write_notes(settings.corpus, 1, start=5)

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PartsWriter, "write", full_disk)
    with pytest.raises(BuildError, match="No space left"):
        build_index(settings, fake_embedder)
    monkeypatch.undo()
    index = open_index(settings)
    assert index.catalog.counts() == (5, 5)
    assert "note-005.txt" not in index.catalog.document_hashes()


def test_an_opened_version_keeps_its_catalog_while_a_build_commits(make_settings, fake_embedder):
    settings = make_settings()
    write_notes(settings.corpus, 5)
    build_index(settings, fake_embedder)
    opened = open_index(settings)
    (settings.corpus / "note-001.txt").unlink()
    write_notes(settings.corpus, 3, start=5)
    build_index(settings, fake_embedder)

    # The snapshot of its own version: its documents, its BM25 statistics.
    assert opened.catalog.counts() == (5, 5) and opened.lexical_statistics[0] == 5
    assert "note-001.txt" in opened.catalog.document_hashes()
    newer = open_index(settings)
    assert newer.catalog.counts() == (7, 7) and newer.lexical_statistics[0] == 7
    opened.close()
    newer.close()


def parts_of(sizes: list[int], tmp_path):
    """A version whose parts hold these numbers of vectors, written by successive builds."""
    listing, base, start = [], None, 0
    ids, matrix = unit_vectors(sum(sizes))
    for number, size in enumerate(sizes):
        folder = tmp_path / f"v{number}"
        folder.mkdir()
        writer = PartsWriter(f"v{number}", 32, 8, base, listing)
        writer.add(ids[start : start + size], matrix[start : start + size])
        listing = writer.write(folder, "auto", 50_000)
        base, start = folder, start + size
    return listing, base, ids, matrix


def test_the_merge_policy_keeps_parts_few_and_every_vector_found(tmp_path):
    listing, folder, ids, matrix = parts_of([1000] + [10] * 40, tmp_path)
    assert 2 <= len(listing) <= MAX_PARTS
    assert listing[0]["vectors"] == 1000  # the first part is not rewritten: 400 added
    parts = VectorParts.open(folder, listing, 32, probes=8)
    assert parts.size == 1400
    assert_stored(parts.vectors(ids[::7].tolist()), matrix[::7])
    exact = VectorStore.create(32, probes=8)
    exact.add(ids, matrix)
    for row in (3, 1050, 1399):
        found, expected = parts.search(matrix[row], 10), exact.search(matrix[row], 10)
        assert [i for i, _ in found] == [i for i, _ in expected]
        np.testing.assert_allclose([s for _, s in found], [s for _, s in expected], atol=1e-5)


def test_a_small_exact_part_is_scanned_as_faiss_searches_it(tmp_path):
    ids, matrix = unit_vectors(300)
    store = VectorStore.create(32, probes=8)
    store.add(ids, matrix)
    saved = tmp_path / "part.faiss"
    store.save(saved)
    for part in (store, VectorStore.load(saved, probes=8)):
        scanned, searched = part.scan(matrix[5], 10), part.search(matrix[5], 10)
        assert [i for i, _ in scanned] == [i for i, _ in searched]
        np.testing.assert_allclose([s for _, s in scanned], [s for _, s in searched], atol=1e-5)
        kept = part.scan(matrix[5], 10, excluded=ids[[5]])
        assert ids[5] not in [i for i, _ in kept] and len(kept) == 10
