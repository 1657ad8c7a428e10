"""The real model's question path: the ONNX query encoder must give torch's vectors, be
cached, survive a damaged cache, and give way to torch when it cannot match it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from qa.embedders import EmbedderOptions, onnx_query
from qa.embedders.onnx_query import OnnxQueryEncoder
from qa.embedders.sentence_transformer import SentenceTransformerEmbedder, resolve_model_path

pytestmark = pytest.mark.model

QUESTIONS = [
    "When was the national strike?",
    "Who called for a student strike?",
    "¿Cuándo fue convocado el paro nacional en el Perú?",
    "strike",
    # Longer than the model's 256 wordpieces: both paths must cut it the same way.
    " ".join(["The assembly demanded the dissolution of Congress and a new constitution."] * 40),
]


def model_folder(embedder) -> Path:
    return Path(resolve_model_path(embedder.name))


def torch_vectors(embedder, texts):
    return embedder.encode_passages(texts)


def test_questions_are_embedded_by_onnx_as_torch_embeds_them(real_embedder):
    assert real_embedder.query_backend == "onnx"
    for question in QUESTIONS:
        onnx_vector = real_embedder.encode_query(question)
        torch_vector = torch_vectors(real_embedder, [question])[0]
        assert onnx_vector.dtype == np.float32 and onnx_vector.shape == (384,)
        assert np.abs(onnx_vector - torch_vector).max() < 1e-5
        assert abs(float(np.linalg.norm(onnx_vector)) - 1.0) < 1e-5


def test_the_export_is_cached_and_reused(real_embedder, tmp_path, monkeypatch):
    model = real_embedder._model
    OnnxQueryEncoder.for_model(model, real_embedder.name, model_folder(real_embedder), tmp_path, 1)
    cached = list(tmp_path.glob("query-encoder-*.onnx"))
    assert len(cached) == 1 and cached[0].stat().st_size > 1_000_000

    def no_export(*args):
        raise AssertionError("exported again although a cached export exists")

    monkeypatch.setattr(onnx_query, "_export", no_export)
    again = OnnxQueryEncoder.for_model(
        model, real_embedder.name, model_folder(real_embedder), tmp_path, 1
    )
    again.check_against(real_embedder.encode_passages)


def test_a_damaged_cached_export_is_replaced(real_embedder, tmp_path, caplog):
    model = real_embedder._model
    OnnxQueryEncoder.for_model(model, real_embedder.name, model_folder(real_embedder), tmp_path, 1)
    (cached,) = tmp_path.glob("query-encoder-*.onnx")
    cached.write_bytes(b"not an onnx graph")
    with caplog.at_level(logging.WARNING, logger="qa.embedders.onnx_query"):
        encoder = OnnxQueryEncoder.for_model(
            model, real_embedder.name, model_folder(real_embedder), tmp_path, 1
        )
    encoder.check_against(real_embedder.encode_passages)
    assert "again" in caplog.text
    assert cached.stat().st_size > 1_000_000


def test_torch_embeds_questions_when_the_export_does_not_match(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(onnx_query, "PROBE_TOLERANCE", -1.0)  # no export can pass
    options = EmbedderOptions(query_encoder="onnx", cache_dir=tmp_path)
    embedder = SentenceTransformerEmbedder(options=options)
    with caplog.at_level(logging.WARNING, logger="qa.embedders.sentence_transformer"):
        vector = embedder.encode_query(QUESTIONS[0])
    assert embedder.query_backend == "torch"
    assert "embedded with torch" in caplog.text
    np.testing.assert_array_equal(vector, embedder.encode_passages([QUESTIONS[0]])[0])
