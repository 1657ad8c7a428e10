"""Staged vectors (qa.index.staging): what a cluster build keeps per document comes back
as it was stored, under the passage ids the document has now, and only for the same key."""

from __future__ import annotations

import numpy as np

from qa.core.config import Settings
from qa.embedders import smoothing
from qa.index.chunking import ChunkingParameters
from qa.index.embedding import EmbeddedGroup
from qa.index.staging import Staging, vector_identity


def test_a_staged_document_comes_back_whole_under_its_new_ids(tmp_path):
    rng = np.random.default_rng(7)
    rows = lambda n: rng.standard_normal((n, 4)).astype(np.float32)  # noqa: E731
    group = EmbeddedGroup(
        np.array([11, 12, 13, 21], dtype=np.int64),
        rows(4),
        sentences={11: rows(2), 12: rows(3), 13: rows(1), 21: rows(2)},
        context={11: rows(2), 13: rows(1), 21: rows(2)},  # 12: none pooled
    )
    identity = vector_identity(Settings(), ChunkingParameters(200, 1, True))
    staging = Staging(tmp_path, identity)
    key = staging.key("hash-of-document", ["first", "second", "third"])
    staging.save(key, group, [11, 12, 13])

    found = Staging(tmp_path, identity).load(key, [31, 32, 33])  # the file moved: new ids
    assert found.ids.tolist() == [31, 32, 33]
    np.testing.assert_array_equal(found.matrix, group.matrix[:3])
    for new, old in zip([31, 32, 33], [11, 12, 13], strict=True):
        np.testing.assert_array_equal(found.sentences[new], group.sentences[old])
    np.testing.assert_array_equal(found.context[31], group.context[11])
    np.testing.assert_array_equal(found.context[33], group.context[13])
    assert 32 not in found.context
    assert staging.key("hash-of-document", ["first", "second", "changed"]) != key
    other = Staging(
        tmp_path, vector_identity(Settings(batch_size=8), ChunkingParameters(200, 1, True))
    )
    assert (
        other.load(other.key("hash-of-document", ["first", "second", "third"]), [1, 2, 3]) is None
    )
    # Vectors of the int8 passage graph are staged apart from float32's.
    int8 = vector_identity(Settings(passage_precision="int8"), ChunkingParameters(200, 1, True))
    assert int8 != identity and "int8_graph" in int8 and "int8_graph" not in identity
    sentences = Settings(passage_precision="int8", sentence_precision="int8")
    assert vector_identity(sentences, ChunkingParameters(200, 1, True)) != int8
    # ... and those of its u8 weights (where this CPU's s8 products saturate) apart from s8's.
    assert ('"int8_weights": "u8"' in int8) == smoothing.signed_weights_saturate()


def test_a_finished_build_keeps_only_the_staged_vectors_it_used(tmp_path):
    group = EmbeddedGroup(np.array([1, 2], dtype=np.int64), np.ones((2, 4), dtype=np.float32))
    staging = Staging(tmp_path, "identity")
    staging.save("a" * 64, group, [1])
    staging.save("b" * 64, group, [2])
    later = Staging(tmp_path, "identity")
    assert later.load("a" * 64, [5]) is not None
    later.keep_only_used()
    assert [path.stem for path in tmp_path.glob("*/*.npz")] == ["a" * 64]
