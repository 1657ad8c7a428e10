"""What the answer step knows about a question and each candidate sentence.

Every signal is a fraction or a cosine, never a raw BM25 score, so weights and the
abstention threshold mean the same thing in an archive of one document or of a million.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qa.core.types import Hit, Sentence
from qa.search.lexical import idf_lucene
from qa.store import StoredPassage
from qa.text.headings import document_markup, heading_flags
from qa.text.terms import WORD, fold_accents, stop_words, terms, words

#: Opening words of a question -> the kind of fact it asks for (accent-folded, en and es).
ANSWER_KINDS: tuple[tuple[str, str], ...] = (
    (
        r"\b(how many|how much|how old|how long|how far|how large|how big|how tall|how high|"
        r"what percentage|what proportion|what age|cuantos|cuantas|cuanto|cuanta|que porcentaje|"
        r"que edad)\b",
        "number",
    ),
    (
        r"\b(when|what year|which year|what century|what decade|what date|in what year|"
        r"cuando|que ano|en que ano|que siglo|que fecha|en que fecha)\b",
        "time",
    ),
    (r"\b(who|whom|whose|quien|quienes)\b", "name"),
    (r"\b(where|donde|adonde)\b", "place"),
)
#: A question that opens by asking for a count, an amount, an age or a share (accent-folded;
#: one word may come first: "And how many", "¿A cuántos"). Not "how long", "how far" or "how
#: big": a date, a place or a comparison may answer those.
_QUANTITY_QUESTION = re.compile(
    r"^(?:\w+ )?(how many|how much|how old|what percentage|what proportion|cuantos|cuantas|"
    r"cuanto|cuanta|que porcentaje|que proporcion|que edad)\b"
)
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_DIGIT = re.compile(r"\d")
_CAPITALISED = re.compile(r"\b[A-ZÁÉÍÓÚÑÜ][\w'’-]+")
MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre "
    "diciembre century centuries siglo siglos decade decada".split()
)
_MONTH_NAMES = "|".join(
    sorted(
        "january february march april june july august september october november december "
        "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre "
        "noviembre diciembre".split()
    )
)
#: The day of a date ("December 15", "15 de diciembre"): a number, but no quantity.
_DATE_DAY = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:de\s+)?(?:{_MONTH_NAMES})\b"
    rf"|\b(?:{_MONTH_NAMES})\s+\d{{1,2}}(?:st|nd|rd|th)?\b",
    re.IGNORECASE,
)
NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
    "hundred hundreds thousand thousands million millions billion dozen dozens half "
    "uno una dos tres cuatro cinco seis siete ocho nueve diez once doce veinte treinta cien "
    "ciento cientos mil miles millon millones docena media".split()
)


@dataclass(frozen=True)
class QuestionProfile:
    """A question's content terms with their rarity, and the kind of fact it asks for."""

    weights: dict[str, float]
    kind: str | None
    words: frozenset[str]

    @property
    def total_weight(self) -> float:
        return sum(self.weights.values()) or 1.0


@dataclass
class SentenceFeatures:
    """One candidate sentence and the signals that rank it (each in [0, 1])."""

    sentence: Sentence
    hit: Hit
    coverage: float  # rarity-weighted share of the question's terms in the sentence
    context: float  # share only the sentence before holds (what "this", "it", "they" refer to)
    passage: float  # the passage's retrieval score over the best passage's
    rank: float  # 1 / the passage's rank
    kind: float  # 1 when the sentence holds the kind of fact the question asks for
    missing: float  # the largest share of the question's weight one term it lacks carries
    #: The sentence's cosine with the question, min-max scaled over the candidate sentences
    #: (0 when the index holds no sentence vectors).
    dense: float = 0.0
    cosine: float = 0.0  # the raw cosine
    #: The same for the sentence embedded with the one before it (0 without context vectors).
    context_dense: float = 0.0
    #: A heading or title line (`qa.text.headings`): context for the sentences after it, never
    #: an answer.
    heading: bool = False


def answer_kind(question: str) -> str | None:
    folded = " ".join(words(question))
    for pattern, kind in ANSWER_KINDS:
        if re.search(pattern, folded):
            return kind
    return None


def asks_quantity(question: str) -> bool:
    """Whether a question opens by asking for a quantity ("How many ...?", "¿Cuántos ...?"): an
    answer to it holds a number (`holds_number`), or it does not answer."""
    return _QUANTITY_QUESTION.search(" ".join(words(question))) is not None


def holds_number(text: str, question_words: frozenset[str]) -> bool:
    """Whether `text` holds a number the question does not name: digits (a year, a day, a count:
    "attended by 2000 guests" reads like a year) or a number word. Looser than
    `holds_kind(text, "number", ...)`, which takes years and days out to rank sentences: a
    sentence without any number surely states no quantity."""
    return any(
        (word.isdigit() or word in NUMBER_WORDS) and word not in question_words
        for word in words(text)
    )


def question_profile(
    question: str,
    language: str,
    document_frequencies,
    passages_total: int,
    borrowed: tuple[str, ...] = (),
    borrowed_weight: float = 0.5,
) -> QuestionProfile:
    """Weights are Lucene's BM25 idf over passages (`document_frequencies(terms)` gives each df);
    words borrowed from earlier turns of a conversation count `borrowed_weight` as much."""
    stops = stop_words(language)
    folded = words(question)
    own = terms(" ".join(w for w in folded if w not in stops), language)
    earlier = [t for t in terms(" ".join(borrowed), language) if t not in own]
    total = max(1, passages_total)
    frequencies = document_frequencies(own + earlier)
    weights = {term: idf_lucene(df, total) for term, df in frequencies.items()}
    for term in earlier:
        weights[term] *= borrowed_weight
    return QuestionProfile(weights, answer_kind(question), frozenset(folded))


def holds_kind(text: str, kind: str | None, question_words: frozenset[str]) -> bool:
    """Whether `text` holds a fact of `kind` that the question itself does not already name."""
    if kind is None:
        return False
    if kind == "time":
        if any(m.group(1) not in question_words for m in _YEAR.finditer(text)):
            return True
        found = words(text)
        # Most sentences name no month: told at once, before looking word by word.
        return not MONTHS.isdisjoint(found) and any(
            w in MONTHS and w not in question_words for w in found
        )
    if kind == "number":
        # A quantity: years and the days of dates are numbers that count nothing (a text
        # without a digit has none to take out).
        folded = fold_accents(text)
        if _DIGIT.search(folded) and _DIGIT.search(_YEAR.sub(" ", _DATE_DAY.sub(" ", folded))):
            return True
        found = WORD.findall(folded)  # words(text)
        return not NUMBER_WORDS.isdisjoint(found) and any(
            w in NUMBER_WORDS and w not in question_words for w in found
        )
    # A name or a place: a capitalised word past the first that the question lacks.
    for match in _CAPITALISED.finditer(text):
        if match.start() == 0:
            continue
        if fold_accents(match.group()) not in question_words:
            return True
    return False


def sentence_features(
    profile: QuestionProfile,
    hits: list[Hit],
    passages: dict[int, StoredPassage],
    query_vector: np.ndarray | None = None,
) -> list[SentenceFeatures]:
    """Signals of every sentence of `hits`' passages, in hit order (a sentence two
    overlapping passages share appears once for each); with the question's vector, each
    sentence's cosine with it, alone and with the sentence before it, from the vectors
    stored with its passage."""
    found = _lexical_features(profile, hits, passages)
    if query_vector is None:
        return found
    # The features were made just now, for this question alone: filled in place. Scaled over
    # the candidates only: a heading is none.
    headings = [features.heading for features in found]
    cosines = _cosines(hits, passages, query_vector, "sentence_vectors")
    if cosines is not None:
        scaled_cosines = _min_max(cosines, headings)
        for features, cosine, scaled in zip(found, cosines, scaled_cosines, strict=True):
            if cosine is not None:
                features.cosine = cosine
            if scaled is not None:
                features.dense = scaled
    context = _cosines(hits, passages, query_vector, "context_vectors")
    if context is not None:
        for features, scaled in zip(found, _min_max(context, headings), strict=True):
            if scaled is not None:
                features.context_dense = scaled
    return found


def _cosines(
    hits: list[Hit], passages: dict[int, StoredPassage], query_vector: np.ndarray, kind: str
) -> list[float | None] | None:
    """Each sentence's cosine with the question from its passage's stored vectors of `kind`
    (None for a sentence whose passage has none; None in all when no passage has any)."""
    cosines: list[float | None] = []
    for hit in hits:
        stored = passages.get(hit.passage_id)
        if stored is None:
            continue
        vectors = getattr(stored, kind)
        if vectors is None:
            cosines += [None] * len(stored.passage.sentences)
        else:
            cosines += (vectors @ query_vector).tolist()
    return cosines if any(c is not None for c in cosines) else None


def _min_max(values: list[float | None], left_out: list[bool]) -> list[float | None]:
    """`values` min-max scaled over those not `left_out` (None for the left out and unknown)."""
    values = [None if out else value for value, out in zip(values, left_out, strict=True)]
    known = [v for v in values if v is not None]
    if not known:
        return values
    low, span = min(known), max(known) - min(known)
    return [None if v is None else (v - low) / span if span > 0 else 1.0 for v in values]


#: Sentences whose terms are remembered: the passages a question retrieves come back often.
SENTENCE_TERMS_CACHE = 20_000


@lru_cache(maxsize=SENTENCE_TERMS_CACHE)
def sentence_terms(text: str, language: str) -> frozenset[str]:
    """The lexical terms of a sentence (`qa.text.terms.terms`), as a set."""
    return frozenset(terms(text, language))


def _lexical_features(
    profile: QuestionProfile, hits: list[Hit], passages: dict[int, StoredPassage]
) -> list[SentenceFeatures]:
    best_passage = max((hit.score for hit in hits), default=0.0) or 1.0
    total = profile.total_weight
    weights = list(profile.weights.items())
    found: list[SentenceFeatures] = []
    for hit in hits:
        stored = passages.get(hit.passage_id)
        if stored is None:
            continue
        passage, rank = max(0.0, hit.score) / best_passage, 1.0 / max(1, hit.rank)
        before: frozenset[str] = frozenset()
        headings = heading_flags(
            stored.passage.text,
            stored.passage.start,
            stored.passage.sentences,
            document_markup(stored.passage.document_id),
            stored.title,
        )
        for sentence, heading in zip(stored.passage.sentences, headings, strict=True):
            own = sentence_terms(sentence.text, stored.language)
            # An answer often refers back to the sentence that names its subject ("This
            # government adopted ..."), so the sentence before lends it the terms it names.
            covered = [w for t, w in weights if t in own]
            lacking = [(t, w) for t, w in weights if t not in own]
            missing = max([w for _, w in lacking], default=0.0)
            found.append(
                SentenceFeatures(
                    sentence=sentence,
                    hit=hit,
                    coverage=sum(covered) / total,
                    context=sum([w for t, w in lacking if t in before]) / total,
                    passage=passage,
                    rank=rank,
                    kind=float(holds_kind(sentence.text, profile.kind, profile.words)),
                    missing=missing / total,
                    heading=heading,
                )
            )
            before = own
    return found
