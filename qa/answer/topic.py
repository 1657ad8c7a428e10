"""Whether a question is about something the archive never mentions ("off-topic"), from what
the archive itself can tell, before any sentence is offered as its answer.

- **The model.** Each candidate sentence's cosine with the question is measured against
  everyday text in the sentence's language (`qa.answer.background`), which no archive moves: a
  sentence about the question's subject rises well above that text. The question is on topic
  when some candidate rises far enough: the sentence the answer would open with may be
  another (a Spanish question over English and Spanish documents may be answered first from a
  Spanish sentence on another subject). Cosines across languages are lower than within one,
  for related and unrelated text alike, so a sentence in another language than the question
  has its own least lift. Headings and titles are no evidence: short generic lines ("How
  answers cite the archive") sit near any question of the same form.
- **The words.** A question that names something ("Budapest", "iOS", "Machu Picchu") the
  archive never mentions, in either language, must rise further. Each name is looked up in
  the archive's vocabulary stemmed as each of the archive's languages stems its documents, so
  a name reads alike in an English or a Spanish question ("Andahuaylas", "Pedro Castillo"),
  and a stem whose spelling only drifts between the two ("Congreso", "Congress") is met by its
  first letters. The share of the question's other content words that the archive holds is
  measured too (`TopicWords.known_share`, in `Answer.signals`); it does not decide, because
  words other than names rarely survive a paraphrase or a translation. A question none of
  whose words the archive holds at all, that rises less far in its own language than one
  with an unknown name must, is answered as the closest the archive comes, not refused
  (`barely_on_topic`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qa.answer.background import BACKGROUND
from qa.text.terms import stop_words, terms, words

#: Words shorter than this say nothing of a subject (articles, prepositions, "que", "del"
#: that a language's stop-word list may lack).
SHORTEST_WORD = 4
#: A name may be shorter ("iOS", "ONU").
SHORTEST_NAME = 3
#: A stem missing from the archive may still meet a stored term that begins with its first
#: letters (one name spelt in Spanish and English: "Congreso" / "Congress"): this many, or
#: all but its last two when that is more; shorter stems must match whole.
SHARED_PREFIX = 6
#: Words that say when, not what: no subject of their own.
_DATE_WORDS = frozenset(
    "january february march april may june july august september october november december "
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre "
    "diciembre year years today yesterday tomorrow".split()
)
#: How a sentence of prose ends; a line without it is a heading, a title or a list item.
_PROSE_ENDINGS = (".", "!", "?", ";", ":", '"', "”", "’", ")", "»", "…")


@dataclass(frozen=True)
class TopicWords:
    """What a question names (its words written with a capital, past the first word) and its
    other content words, accent-folded; and which of them the archive holds."""

    names: tuple[str, ...]
    words: tuple[str, ...]
    known: frozenset[str]

    @property
    def known_share(self) -> float:
        """The share of the question's content words (names included) the archive holds; 0 for
        a question with none."""
        every = self.names + self.words
        return sum(word in self.known for word in every) / len(every) if every else 0.0

    @property
    def unknown_names(self) -> tuple[str, ...]:
        return tuple(name for name in self.names if name not in self.known)

    @property
    def none_known(self) -> bool:
        """Whether the question has content words and the archive holds none of them."""
        return bool(self.names or self.words) and not self.known


def topic_words(question: str, language: str, languages: list[str]) -> tuple[list, list]:
    """The names and the other content words of a question in `language`, folded, without the
    stop words of its language or of the archive's `languages`, numbers and date words."""
    stops = stop_words(language).union(*(stop_words(code) for code in languages))
    names: list[str] = []
    others: list[str] = []
    for position, token in enumerate(question.lstrip("¿¡\"'«“ ").split()):
        # A name is written with a capital past the question's first word ("Budapest", "iOS").
        named = position > 0 and any(ch.isupper() for ch in token)
        for word in words(token):
            shortest = SHORTEST_NAME if named else SHORTEST_WORD
            if len(word) < shortest or word in stops or word in _DATE_WORDS:
                continue
            if any(ch.isdigit() for ch in word) or word in names or word in others:
                continue
            (names if named else others).append(word)
    return names, others


def archive_words(
    question: str,
    language: str,
    languages: list[str],
    frequencies: Callable[[list[str]], dict[str, int]],
    has_prefix: Callable[[str], bool],
) -> TopicWords:
    """The question's `topic_words` and which of them the archive holds: `frequencies(terms)`
    gives each stemmed term's passage count (`IndexVersion.frequencies`), `has_prefix(prefix)`
    whether a stored term begins so (`IndexVersion.has_term_with_prefix`)."""
    names, others = topic_words(question, language, languages)
    stemmed = {
        word: {stem for code in languages for stem in terms(word, code)} | {word}
        for word in names + others
    }
    counts = frequencies(sorted({stem for stems in stemmed.values() for stem in stems}))
    known = set()
    for word, stems in stemmed.items():
        if any(counts.get(stem, 0) > 0 for stem in stems):
            known.add(word)
        elif any(has_prefix(_prefix(stem)) for stem in stems if len(stem) >= SHARED_PREFIX):
            known.add(word)
    return TopicWords(tuple(names), tuple(others), frozenset(known))


def _prefix(stem: str) -> str:
    return stem[: max(SHARED_PREFIX, len(stem) - 2)]


@lru_cache(maxsize=4)
def background_vectors(embedder) -> dict[str, np.ndarray]:
    """Everyday text (`qa.answer.background`) embedded by a model, by language, once per model."""
    return {code: embedder.encode_passages(list(texts)) for code, texts in BACKGROUND.items()}


def background_cosine(embedder, query_vector: np.ndarray, language: str | None) -> float:
    """The question's mean cosine with everyday text in `language` (with all of it for a language
    without its own)."""
    vectors = background_vectors(embedder)
    chosen = vectors[language] if language in vectors else np.vstack(list(vectors.values()))
    return float(np.mean(chosen @ query_vector))


def lift(cosine: float, floor: float) -> float:
    """How far a cosine rises above a floor, as a share of the room above it."""
    return (cosine - floor) / (1 - floor) if floor < 1 else 0.0


def is_prose(sentence: str) -> bool:
    """Whether a sentence reads as prose, not as a heading or a title."""
    text = sentence.strip()
    return text.endswith(_PROSE_ENDINGS) and not text.startswith("#")


@dataclass(frozen=True)
class TopicLift:
    """The highest lift above everyday text among the candidate sentences of prose in the
    question's language, and among those in another (None where there is none)."""

    same: float | None
    across: float | None


def candidate_lifts(
    embedder,
    query_vector: np.ndarray,
    question_language: str,
    candidates: Iterable[tuple[str, float, str | None]],
) -> TopicLift:
    """`candidates`: each candidate sentence's text, cosine with the question and language."""
    floors: dict[str | None, float] = {}
    same: float | None = None
    across: float | None = None
    for text, cosine, language in candidates:
        if not cosine or not is_prose(text):
            continue
        if language not in floors:
            floors[language] = background_cosine(embedder, query_vector, language)
        value = lift(cosine, floors[language])
        if language in (question_language, None):
            same = value if same is None else max(same, value)
        else:
            across = value if across is None else max(across, value)
    return TopicLift(same, across)


def off_topic(
    lifts: TopicLift,
    held: TopicWords,
    least: float,
    least_across: float,
    unknown_name: float,
    unheld_words: bool = False,
) -> bool:
    """Whether no candidate rises far enough above everyday text: `least` in the question's
    language, `least_across` in another, both `unknown_name` more for a question that names
    something the archive does not hold. With `unheld_words`, a question none of whose words
    the archive holds must rise as far in its own language too (`barely_on_topic`)."""
    margin = unknown_name if held.unknown_names else 0.0
    within_margin = unknown_name if unheld_words and held.none_known else margin
    within = lifts.same is not None and lifts.same >= least + within_margin
    across = lifts.across is not None and lifts.across >= least_across + margin
    return not (within or across)


def barely_on_topic(
    lifts: TopicLift, held: TopicWords, least: float, least_across: float, unknown_name: float
) -> bool:
    """Whether a question none of whose words the archive holds clears the off-topic check
    only by less than an unknown name's margin in its own language: "How do I get rid of ants
    in the kitchen?" over guides on adding documents, whose sentences rise 0.29 above
    everyday text by the question's form alone. A paraphrase may share no word with the
    archive too ("¿A quiénes se invitó a unirse desde los cuarteles?", 0.31), so this is not
    a refusal: the answer is the closest the archive comes. Across languages no word is
    shared anyway, and the least lift there is the plain one."""
    return not off_topic(lifts, held, least, least_across, unknown_name) and off_topic(
        lifts, held, least, least_across, unknown_name, unheld_words=True
    )
