"""Builds belong to the assistant: the corpus check before serving, and the warm-up. (One lock
for the builds of a process, whoever asks: tests/test_api_rebuild.py, a rebuild in progress.)"""

from __future__ import annotations

import pytest

from qa.core.errors import CorpusError
from qa.service import assistant as service
from qa.service.assistant import Assistant


def test_serving_refuses_a_missing_corpus_even_with_an_index(make_settings, fake_embedder):
    settings = make_settings()
    (settings.corpus / "a.txt").write_text("The assembly met in Lima.\n", encoding="utf-8")
    assistant = Assistant(settings, fake_embedder)
    assert assistant.ensure_index() is not None  # no index yet: built
    assert assistant.ensure_index() is None  # built already
    settings.corpus.rename(settings.corpus.with_name("moved"))
    with pytest.raises(CorpusError, match="No corpus folder"):
        assistant.ensure_index()


def test_the_warm_up_embeds_a_question_before_anyone_asks(make_settings, fake_embedder):
    settings = make_settings()
    (settings.corpus / "a.txt").write_text("The assembly met in Lima.\n", encoding="utf-8")
    assistant = Assistant(settings, fake_embedder)
    assistant.ensure_index()
    fake_embedder.encoded.clear()
    assistant.start_warm_up().join(60)
    # The question's path ran once: the first question finds it ready.
    assert fake_embedder.encoded == [service.WARM_UP_QUESTION]
    answer = assistant.ask("Where did the assembly meet?")
    assert "Lima" in answer.hits[0].text


def test_a_failed_warm_up_is_logged_and_the_first_question_still_answered(
    make_settings, fake_embedder, caplog
):
    settings = make_settings()
    (settings.corpus / "a.txt").write_text("The assembly met in Lima.\n", encoding="utf-8")
    assistant = Assistant(settings, fake_embedder)
    assistant.ensure_index()
    original = fake_embedder.encode_query
    calls = []

    def fails_once(text):
        calls.append(text)
        if len(calls) == 1:
            raise RuntimeError("the model is not ready")
        return original(text)

    fake_embedder.encode_query = fails_once
    assistant.warm_up()  # does not raise
    assert "Warming up failed" in caplog.text and "the model is not ready" in caplog.text
    answer = assistant.ask("Where did the assembly meet?")
    assert "Lima" in answer.hits[0].text
