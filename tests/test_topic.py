"""The off-topic check's evidence (`qa.answer.topic`): which of a question's names the archive
holds, in the question's language or across, and the rule that reads them with the model's
lifts above everyday text. Fast: the fake model and small archives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.answer.topic import (
    TopicLift,
    TopicWords,
    archive_words,
    background_cosine,
    barely_on_topic,
    candidate_lifts,
    is_prose,
    lift,
    off_topic,
    topic_words,
)
from qa.service.assistant import Assistant
from qa.text.terms import terms

ARTICLE = (
    "Locals in Andahuaylas took police officers hostage during the December protests.\n"
    "The assembly demanded the release of former President Pedro Castillo.\n"
    "Protesters called for the dissolution of Congress and a new constitution.\n"
)


@pytest.fixture
def index(make_settings, fake_embedder):
    """An English one-article archive built with the fake model, opened."""
    settings = make_settings()
    (settings.corpus / "peru.txt").write_text(ARTICLE, encoding="utf-8")
    metadata = {"title": "Protests in Peru", "language": "en"}
    (settings.corpus / "peru.txt.meta.json").write_text(json.dumps(metadata), encoding="utf-8")
    assistant = Assistant(settings, fake_embedder)
    assistant.build(full=True)
    return assistant.engine().index


def _held(index, question: str, language: str) -> TopicWords:
    return archive_words(
        question,
        language,
        index.languages,
        index.frequencies,
        index.has_term_with_prefix,
    )


def test_a_question_names_its_capitalised_words_past_the_first():
    """Names are the words written with a capital past the first word ("iOS" too, shorter than
    other words may be); stop words, numbers and dates are no subject of their own."""
    names, others = topic_words("Who won the 2022 FIFA World Cup in December?", "en", ["en", "es"])
    assert names == ["fifa", "world", "cup"] and others == []
    names, others = topic_words(
        "What programming language is used to build iOS apps?", "en", ["en"]
    )
    assert names == ["ios"] and others == ["programming", "language", "used", "build", "apps"]
    names, others = topic_words("¿Quién pintó La noche estrellada en Arlés?", "es", ["en"])
    assert names == ["arles"] and others == ["pinto", "noche", "estrellada"]


def test_names_are_found_in_an_archive_of_another_language(index):
    """A Spanish question's names meet an English archive: each word is stemmed as the archive's
    languages stem their documents (stemmed as Spanish, "Andahuaylas" is a term the English
    archive does not hold), and "Congreso" meets "Congress" by its first letters."""
    assert index.frequencies(terms("Andahuaylas", "es")) == {"andahuayl": 0}  # the premise
    held = _held(index, "¿Qué pasó en Andahuaylas con Pedro Castillo y el Congreso?", "es")
    assert set(held.names) == {"andahuaylas", "pedro", "castillo", "congreso"}
    assert held.unknown_names == ()
    assert held.known_share == pytest.approx(4 / 5)  # "paso" is no word of the archive


def test_a_name_the_archive_never_mentions_is_unknown(index):
    held = _held(index, "Which river flows through Budapest and Vienna?", "en")
    assert held.unknown_names == ("budapest", "vienna")
    assert held.known_share == 0.0
    assert _held(index, "What did the protesters call for?", "en").known_share == 1.0


def test_a_term_is_found_by_its_first_letters_only_when_long_enough(index):
    assert index.has_term_with_prefix("congre")  # "congress", as stored
    assert index.has_term_with_prefix("andahuayla")
    assert not index.has_term_with_prefix("budap")
    assert not index.has_term_with_prefix("")
    # "Cong" is shorter than the shared prefix a word needs: no first-letters match for it.
    assert _held(index, "Is Cong a name?", "en").unknown_names == ("cong",)


def test_headings_and_titles_are_no_evidence():
    assert is_prose("Locals took police officers hostage.")
    assert is_prose("¿Qué pasó después?")
    assert not is_prose("# How to add documents to this archive")
    assert not is_prose("How answers cite the archive")


def test_candidate_lifts_read_prose_within_and_across_languages(fake_embedder):
    """Each candidate's cosine is measured against everyday text in its own language; the best
    in the question's language and the best in another are kept apart; a title counts for
    nothing however near it is."""
    query = fake_embedder.encode_query("When did the miners strike?")
    english = background_cosine(fake_embedder, query, "en")
    spanish = background_cosine(fake_embedder, query, "es")
    candidates = [
        ("The miners went on strike in March.", 0.6, "en"),
        ("The strike ended in April.", 0.4, "en"),
        ("La huelga empezó en marzo.", 0.3, "es"),
        ("When the miners struck", 0.99, "en"),  # a title
    ]
    lifts = candidate_lifts(fake_embedder, query, "en", candidates)
    assert lifts.same == pytest.approx(lift(0.6, english))
    assert lifts.across == pytest.approx(lift(0.3, spanish))
    alone = candidate_lifts(fake_embedder, query, "en", candidates[:2])
    assert alone.across is None


def test_an_unknown_name_must_rise_further():
    """The same lift is enough for a question whose names the archive holds and not for one that
    names something it never mentions; a sentence in another language than the question's is
    held to the least lift across languages."""
    known = TopicWords(("castillo",), ("released",), frozenset({"castillo", "released"}))
    unknown = TopicWords(("budapest",), ("river",), frozenset())
    rule = {"least": 0.28, "least_across": 0.24, "unknown_name": 0.08}
    near = TopicLift(same=0.30, across=None)
    assert not off_topic(near, known, **rule)
    assert off_topic(near, unknown, **rule)
    assert not off_topic(TopicLift(same=0.40, across=None), unknown, **rule)
    across = TopicLift(same=0.10, across=0.25)
    assert not off_topic(across, known, **rule)
    assert off_topic(across, unknown, **rule)
    assert off_topic(TopicLift(None, None), known, **rule)
    # Without a least lift across languages, only the question's language counts.
    assert off_topic(across, known, least=0.28, least_across=np.inf, unknown_name=0.0)


def test_a_question_none_of_whose_words_the_archive_holds_is_barely_on_topic():
    """'How do I get rid of ants in the kitchen?' over guides on adding documents: no document
    holds 'ants' or 'kitchen', and a guide's sentence rises 0.29 above everyday text by the
    question's form alone. It is not refused (a paraphrase may share no word either), but it
    clears the check only by less than an unknown name's margin in its own language; across
    languages, where no word is shared anyway, the plain least lift counts."""
    rule = {"least": 0.28, "least_across": 0.24, "unknown_name": 0.08}
    none = TopicWords((), ("ants", "kitchen"), frozenset())
    some = TopicWords((), ("walkout", "strike"), frozenset({"strike"}))
    empty = TopicWords((), (), frozenset())
    assert none.none_known and not some.none_known and not empty.none_known
    near = TopicLift(same=0.29, across=None)
    assert not off_topic(near, none, **rule)
    assert barely_on_topic(near, none, **rule)
    assert off_topic(near, none, **rule, unheld_words=True)
    assert not barely_on_topic(near, some, **rule) and not barely_on_topic(near, empty, **rule)
    assert not barely_on_topic(TopicLift(same=0.37, across=None), none, **rule)
    # Refused questions are not 'barely on topic': they are off it.
    assert not barely_on_topic(TopicLift(same=0.20, across=None), none, **rule)
    # A Spanish question over an English article shares no word with it.
    assert not barely_on_topic(TopicLift(same=None, across=0.25), none, **rule)
