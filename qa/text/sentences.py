"""Sentences of a text with their character spans, split by each language's rules."""

from __future__ import annotations

import re

from qa.core.types import Sentence


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
