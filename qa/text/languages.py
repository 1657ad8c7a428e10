"""Which language a document, a question or a metadata value is in."""

from __future__ import annotations

import re
from functools import lru_cache

from qa.text.terms import STEMMERS, WORD, fold_accents

DEFAULT_LANGUAGE = "en"


_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


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
    if len(WORD.findall(sample)) < 3:
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
    if len(WORD.findall(text)) < 3:
        return default
    code, _ = _question_identifier().classify(text[:4000])
    return code or default


@lru_cache(maxsize=1)
def _question_identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    identifier.set_languages(sorted(STEMMERS))
    return identifier
