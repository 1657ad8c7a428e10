"""Language-aware text handling: language detection, sentence splitting and lexical terms.

Everything here follows the language of the text it touches: sentence boundaries
(sentencex's per-language abbreviation rules), stop words and Snowball stemming.
Accents are folded before stemming on both the document and the question side, so a
question typed without accents ("movilizacion") meets the accented text.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

from qa.types import Sentence

DEFAULT_LANGUAGE = "en"

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
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
_local = threading.local()  # PyStemmer objects are not safe to share between threads.


def fold_accents(text: str) -> str:
    """Lower-case and strip combining marks: "Movilización" -> "movilizacion"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise_language(value: object) -> str | None:
    """An ISO 639-1 code from metadata such as "es", "ES", "es-PE" or "spanish"; None if unknown."""
    if not value:
        return None
    code = str(value).strip().lower().replace("_", "-").split("-")[0]
    names = {name: iso for iso, name in STEMMERS.items()}
    names.update({"espanol": "es", "castellano": "es", "ingles": "en"})
    code = names.get(fold_accents(code), code)
    return code if _LANGUAGE_CODE.match(code) else None


def detect_language(text: str, default: str = DEFAULT_LANGUAGE) -> str:
    """The language of `text` by py3langid, or `default` for text too short to tell."""
    sample = text[:4000]
    if len(_WORD.findall(sample)) < 3:
        return default
    import py3langid

    code, _ = py3langid.classify(sample)
    return code or default


@lru_cache(maxsize=1024)
def detect_question_language(text: str, default: str = DEFAULT_LANGUAGE) -> str:
    """The language of a question, among the languages the lexical index stems: a short
    text leaves a detector over ~100 languages too much room (0.993 of XQuAD's English
    questions are told English that way, 0.998 among these). Remembered: retrieval, fusion
    and the answer step each ask for the same question's language."""
    if len(_WORD.findall(text)) < 3:
        return default
    code, _ = _question_identifier().classify(text[:4000])
    return code or default


@lru_cache(maxsize=1)
def _question_identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    identifier.set_languages(sorted(STEMMERS))
    return identifier


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
    return _WORD.findall(fold_accents(text))


def terms(text: str, language: str, drop_stop_words: bool = False) -> list[str]:
    """The lexical terms of `text`: folded words, stemmed for `language`, in order."""
    tokens = words(text)
    if drop_stop_words:
        stops = stop_words(language)
        tokens = [token for token in tokens if token not in stops]
    stemmer = _stemmer(language)
    return stemmer.stemWords(tokens) if stemmer else tokens


def split_sentences(text: str, language: str, offset: int = 0) -> list[Sentence]:
    """Sentences of `text` with their character spans (shifted by `offset`), blanks dropped.

    sentencex knows each language's abbreviations ("Sr.", "Dr.", "dic.") and never
    splits inside numbers; a line break always ends a sentence, so headlines stay apart.
    """
    import sentencex

    sentences: list[Sentence] = []
    for line_match in re.finditer(r"[^\n]+", text):
        line = line_match.group()
        if not line.strip():
            continue
        cursor = 0
        for piece in sentencex.segment(language, line):
            start = line.find(piece, cursor)
            if start < 0:  # defensive: the segmenter returned text it did not find
                continue
            cursor = start + len(piece)
            stripped_start = start + len(piece) - len(piece.lstrip())
            stripped_end = start + len(piece.rstrip())
            if stripped_end > stripped_start:
                begin = line_match.start() + stripped_start + offset
                end = line_match.start() + stripped_end + offset
                sentences.append(Sentence(begin, end, line[stripped_start:stripped_end]))
    return sentences
