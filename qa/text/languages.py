"""Which language a document, a question or a metadata value is in."""

from __future__ import annotations

import io
import lzma
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

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
    code, _ = _identifier(None).classify(sample)
    return code or default


@lru_cache(maxsize=1024)
def detect_question_language(text: str, default: str = DEFAULT_LANGUAGE) -> str:
    """The language of a question, among the languages the lexical index stems: a short
    text leaves a detector over ~100 languages too much room (0.993 of XQuAD's English
    questions are told English that way, 0.998 among these). Remembered: retrieval, fusion
    and the answer step each ask for the same question's language."""
    if len(WORD.findall(text)) < 3:
        return default
    code, _ = _identifier(tuple(sorted(STEMMERS))).classify(text[:4000])
    return code or default


@lru_cache(maxsize=2)
def _identifier(languages: tuple[str, ...] | None):
    """py3langid's identifier over all its languages (None) or only `languages`, made from
    one copy of its model."""
    from py3langid.langid import LanguageIdentifier

    ptc, pc, classes, nextmove, row, output = _model()
    identifier = LanguageIdentifier(ptc, pc, classes, nextmove, output, tk_row=row)
    if languages is not None:
        identifier.set_languages(list(languages))
    return identifier


@lru_cache(maxsize=1)
def _model() -> tuple:
    """py3langid's model, decompressed in memory (0.35 s): its own loader writes the 68 MB
    it decompresses to a temporary file first, which every build and server start paid."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE
    from py3langid.modelio import _to_array

    path = Path(MODEL_FILE) if Path(MODEL_FILE).is_absolute() else MODEL_DIR / MODEL_FILE
    with np.load(io.BytesIO(lzma.decompress(path.read_bytes())), allow_pickle=False) as data:
        return (
            data["ptc"],
            data["pc"],
            data["classes"].tolist(),
            _to_array(data["nextmove"]),
            _to_array(data["nextmove_row"]),
            data["out_feat"].tolist(),
        )
