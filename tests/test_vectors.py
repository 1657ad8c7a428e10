"""The FAISS vector store's two layouts (exact, inverted file) and moving between them at
the end of a build without re-embedding."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.index.build import build_index
from qa.index.versions import current_version, open_index
from qa.service.assistant import Assistant
from qa.store import VectorStore, inverted_lists_for


def unit_vectors(count: int, dimension: int = 32, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(count, dimension)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    ids = rng.choice(2**62, size=count, replace=False).astype(np.int64)
    return ids, matrix


def assert_stored(read: np.ndarray, added: np.ndarray) -> None:
    """`read` is what the store holds of the `added` vectors: each number in half precision,
    at most one step of it from numpy's rounding (FAISS breaks ties its own way)."""
    assert read.dtype == np.float32 and read.shape == added.shape
    halves = added.astype(np.float16).astype(np.float32)
    np.testing.assert_allclose(read, halves, rtol=2**-10, atol=2**-24)
    assert np.abs(read - added).max() <= 2**-11  # unit vectors: every number below 1


@pytest.fixture
def inverted() -> tuple[VectorStore, np.ndarray, np.ndarray]:
    ids, matrix = unit_vectors(2000)
    flat = VectorStore.create(32, probes=20)
    flat.add(ids, matrix)
    store = flat.reorganised(20)
    store.probes = 20  # every list: results must equal the exact search
    return store, ids, matrix


def test_lists_follow_the_setting_and_the_archive_size():
    """Exact below `ivf_min_passages`, an inverted file from that many passages on, of about
    4·√N lists: four times the passages, twice the lists."""
    assert inverted_lists_for(10_000_000, "Flat", 50_000) == 0
    assert inverted_lists_for(49_999, "auto", 50_000) == 0
    assert inverted_lists_for(50_000, "auto", 50_000) == 894
    assert inverted_lists_for(100_000, "auto", 50_000) == 1265
    assert inverted_lists_for(400_000, "auto", 50_000) == 2530
    assert inverted_lists_for(1_000_000, "auto", 50_000) == 4000
    assert inverted_lists_for(10, "IVF12,Flat", 50_000) == 12


def test_an_inverted_file_keeps_every_id_and_vector(inverted):
    store, ids, matrix = inverted
    assert store.layout == "IVF20,Flat" and store.size == len(ids)
    assert sorted(store.ids().tolist()) == sorted(ids.tolist())
    assert_stored(store.vectors(ids[:50].tolist()), matrix[:50])


def test_an_inverted_file_searching_every_list_is_exact(inverted):
    store, ids, matrix = inverted
    query = matrix[3] + 0.5 * matrix[4]
    query /= np.linalg.norm(query)
    exact = np.argsort(-(matrix @ query))[:10]
    found = store.search(query, 10)
    assert [i for i, _ in found] == ids[exact].tolist()


def test_fewer_probes_still_find_a_stored_vector_first(inverted):
    store, ids, matrix = inverted
    store.probes = 2
    assert all(store.search(matrix[n], 1)[0][0] == ids[n] for n in range(0, 2000, 97))


def test_filtered_search_returns_only_allowed_ids_best_first(inverted):
    store, ids, matrix = inverted
    allowed = ids[100:160]
    found = store.search(matrix[0], 5, allowed=allowed)
    scores = matrix[100:160] @ matrix[0]
    assert [i for i, _ in found] == allowed[np.argsort(-scores)[:5]].tolist()
    assert store.search(matrix[0], 5, allowed=allowed[:0]) == []


def test_remove_add_save_and_load_an_inverted_file(inverted, tmp_path):
    store, ids, matrix = inverted
    store.save(tmp_path / "vectors.faiss")
    loaded = VectorStore.load(tmp_path / "vectors.faiss", probes=20)
    assert loaded.layout == "IVF20,Flat"
    loaded.remove(ids[:10].tolist())
    assert loaded.size == 1990
    assert ids[0] not in {i for i, _ in loaded.search(matrix[0], 5)}
    new_ids, new_vectors = unit_vectors(5, seed=8)
    loaded.add(new_ids, new_vectors)
    assert_stored(loaded.vectors(new_ids.tolist()), new_vectors)
    assert loaded.search(new_vectors[2], 1)[0][0] == new_ids[2]


def test_back_to_exact_keeps_everything(inverted):
    store, ids, matrix = inverted
    flat = store.reorganised(0)
    assert flat.layout == "Flat"
    assert_stored(flat.vectors(ids.tolist()), matrix)
    assert store.reorganised(30) is store  # within a factor 2: kept as it is


def write_archive(corpus, count: int) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (corpus / f"note-{n:03d}.txt").write_text(
            f"Note {n} about the district number {n}. The council of district {n} met on "
            f"day {n % 28 + 1}. Delegates spoke about roads, water and schools.",
            encoding="utf-8",
        )


def test_a_large_archive_moves_to_an_inverted_file_and_back_without_reembedding(
    make_settings, fake_embedder
):
    settings = make_settings(ivf_min_passages=100, ivf_probes=4)
    write_archive(settings.corpus, 240)
    first = build_index(settings, fake_embedder)
    manifest = json.loads((current_version(settings.index) / "manifest.json").read_text())
    assert manifest["vectors_layout"].startswith("IVF") and manifest["faiss_factory"] == "auto"

    (settings.corpus / "note-007.txt").write_text("The water board of district 7 resigned.")
    fake_embedder.encoded.clear()
    update = build_index(settings, fake_embedder)
    assert update.changed == 1 and update.embedded_passages == 1
    # The one passage (title in front) and its one sentence on its own; nothing else.
    assert fake_embedder.encoded == [
        "note 007\nThe water board of district 7 resigned.",
        "The water board of district 7 resigned.",
    ]
    index = open_index(settings)
    assert index.vectors.layout == manifest["vectors_layout"]
    assert index.vectors.size == update.passages == first.passages - 1  # 2 passages -> 1
    hits = Assistant(settings, fake_embedder).search("water board resigned", k=3)
    assert hits[0].document_id == "note-007.txt"

    exact = settings.model_copy(update={"faiss_factory": "Flat"})
    fake_embedder.encoded.clear()
    moved = build_index(exact, fake_embedder)
    assert moved.embedded_passages == 0 and not fake_embedder.encoded
    assert open_index(exact).vectors.layout == "Flat"
    assert Assistant(exact, fake_embedder).search("water board resigned", k=1)[0].document_id == (
        "note-007.txt"
    )


def test_vectors_move_between_layouts_in_chunks(monkeypatch):
    """With chunks smaller than the archive, every vector still reaches the new layout, and
    the lists are the ones one move would train: a search of every list is exact."""
    monkeypatch.setattr("qa.store.vectors.MOVE_CHUNK", 300)
    ids, matrix = unit_vectors(2000)
    flat = VectorStore.create(32, probes=20)
    flat.add(ids, matrix)
    store = flat.reorganised(20)
    assert store.size == 2000
    assert_stored(store.vectors(ids.tolist()), matrix)
    exact = ids[np.argsort(-(matrix @ matrix[11]))[:10]]
    assert [i for i, _ in store.search(matrix[11], 10)] == exact.tolist()
    back = store.reorganised(0)
    assert back.layout == "Flat" and sorted(back.ids().tolist()) == sorted(ids.tolist())
    monkeypatch.setattr("qa.store.vectors.MOVE_CHUNK", 10_000)
    whole = flat.reorganised(20)
    whole.probes = store.probes = 2  # approximate: equal only if the lists are the same
    for n in range(0, 2000, 250):
        assert whole.search(matrix[n] + matrix[n + 1], 10) == store.search(
            matrix[n] + matrix[n + 1], 10
        )


def test_a_search_through_a_filter_widens_until_enough_pass(inverted):
    """A filter keeping one vector in twenty: the first candidates hold too few, so the
    search asks for more, checks each id once, and returns the exact best among those kept."""
    store, ids, matrix = inverted
    keep = set(ids[::20].tolist())
    asked: list[int] = []

    def passing(candidates: list[int]) -> set[int]:
        asked.extend(candidates)
        return keep.intersection(candidates)

    found, complete = store.search_passing(matrix[5], 10, passing)
    kept = np.array([i in keep for i in ids])
    scores = np.where(kept, matrix @ matrix[5], -np.inf)
    assert complete and [i for i, _ in found] == ids[np.argsort(-scores)[:10]].tolist()
    assert len(asked) == len(set(asked)) and 40 < len(asked) < len(ids)


def test_a_filter_too_narrow_for_the_candidates_is_left_to_the_caller(inverted, monkeypatch):
    """When too few of the candidates pass to fill k within MAX_FETCH, the search says so
    (the retriever then lists the filter's passages) instead of scanning ever more."""
    monkeypatch.setattr("qa.store.vectors.MAX_FETCH", 200)
    store, ids, matrix = inverted
    rare = set(ids[::400].tolist())  # 5 of 2,000
    found, complete = store.search_passing(matrix[5], 10, lambda c: rare.intersection(c))
    assert not complete and {i for i, _ in found} <= rare
    assert store.search_passing(matrix[5], 10, lambda candidates: set()) == ([], False)


def test_a_filter_too_narrow_for_the_probed_lists_is_left_to_the_caller(inverted):
    """Two probed lists of twenty hold too few of a rare filter's vectors: incomplete, while
    with every list probed the same search returns all there is, complete."""
    store, ids, matrix = inverted
    rare = set(ids[::400].tolist())
    store.probes = 2
    found, complete = store.search_passing(matrix[5], 10, lambda c: rare.intersection(c))
    assert not complete and {i for i, _ in found} <= rare
    store.probes = 20
    found, complete = store.search_passing(matrix[5], 10, lambda c: rare.intersection(c))
    assert complete and {i for i, _ in found} == rare
