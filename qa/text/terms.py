"""Lexical terms: accent-folded words, stop words and Snowball stems, per language."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

#: ISO 639-1 code -> Snowball stemmer name, for the languages the lexical index stems.
STEMMERS = {
    "en": "english",
    "es": "spanish",
    "pt": "portuguese",
    "fr": "french",
    "it": "italian",
    "de": "german",
    "ca": "catalan",
    "nl": "dutch",
}

# Letters and digits; "_" separates words, as in SQLite FTS5's unicode61 tokenizer.
WORD = re.compile(r"[^\W_]+", re.UNICODE)


_local = threading.local()  # PyStemmer objects are not safe to share between threads.


class _CombiningMarks(dict):
    """A `str.translate` table that removes combining marks and keeps every other character,
    filled in as characters are first met (translating runs in C; a question's answer folds
    thousands of sentences)."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_WITHOUT_MARKS = _CombiningMarks()


def fold_accents(text: str) -> str:
    """Lower-case and strip combining marks: "Movilización" -> "movilizacion"."""
    lowered = text.lower()
    if lowered.isascii():  # nothing to decompose
        return lowered
    return unicodedata.normalize("NFKD", lowered).translate(_WITHOUT_MARKS)


@lru_cache(maxsize=64)
def stop_words(language: str) -> frozenset[str]:
    """Accent-folded stop words of `language` (empty for a language without a list)."""
    import stopwords

    try:
        words = stopwords.get_stopwords(language)
    except Exception:  # the package raises its own error for unknown languages
        return frozenset()
    return frozenset(fold_accents(word) for word in words)


def _stemmer(language: str):
    cache = getattr(_local, "stemmers", None)
    if cache is None:
        cache = _local.stemmers = {}
    if language not in cache:
        import Stemmer

        name = STEMMERS.get(language)
        cache[language] = Stemmer.Stemmer(name) if name else None
    return cache[language]


def words(text: str) -> list[str]:
    """Accent-folded, lower-cased word tokens."""
    return WORD.findall(fold_accents(text))


def terms(text: str, language: str, drop_stop_words: bool = False) -> list[str]:
    """The lexical terms of `text`: folded words, stemmed for `language`, in order."""
    tokens = words(text)
    if drop_stop_words:
        stops = stop_words(language)
        tokens = [token for token in tokens if token not in stops]
    stemmer = _stemmer(language)
    return stemmer.stemWords(tokens) if stemmer else tokens
