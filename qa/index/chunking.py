"""Sentence-aware chunking, sized in the embedding model's own wordpieces.

A passage is a run of whole sentences whose wordpieces fit the budget; neighbours share
`overlap` sentences. A sentence too long for any passage is cut at wordpiece boundaries
into pieces that fit, so that no passage is ever longer than the model reads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from qa.core.types import Document, Passage, Sentence
from qa.embedders import Embedder
from qa.text.sentences import split_sentences

#: Wordpieces reserved for the model's [CLS] and [SEP].
SPECIAL_TOKENS = 2
#: Wordpieces at most that a title takes in front of an embedded passage.
TITLE_TOKENS = 40


@dataclass(frozen=True)
class ChunkingParameters:
    """What a manifest records about chunking: a change to any of these means a full rebuild."""

    max_tokens: int
    overlap_sentences: int
    title_in_passage: bool


def passage_budget(embedder: Embedder, requested: int, title_in_passage: bool) -> int:
    """Wordpieces a passage body may have so that title + body + special tokens fit the model."""
    room = embedder.max_tokens - SPECIAL_TOKENS - (TITLE_TOKENS + 1 if title_in_passage else 0)
    return max(8, min(requested, room))


def passage_id(document_id: str, text: str, occurrence: int) -> int:
    """A stable 63-bit id: the same passage text of the same document keeps its id across
    rebuilds, so links to it survive re-indexing."""
    key = f"{document_id}\0{occurrence}\0{text}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") >> 1


def embedding_text(title: str, text: str, title_in_passage: bool) -> str:
    """The text embedded (and lexically indexed) for a passage: its document's title in front."""
    return f"{title}\n{text}" if title_in_passage and title else text


def truncate_title(embedder: Embedder, title: str) -> str:
    """`title` cut to TITLE_TOKENS wordpieces."""
    spans = embedder.token_spans([title])[0]
    return title if len(spans) <= TITLE_TOKENS else title[: spans[TITLE_TOKENS - 1][1]]


def chunk_document(
    document: Document, embedder: Embedder, max_tokens: int, overlap: int
) -> list[Passage]:
    """Cut `document` into passages of whole sentences, each at most `max_tokens` wordpieces."""
    sentences = split_sentences(document.text, document.language)
    if not sentences:
        return []
    sentences, sizes = _fit_sentences(sentences, embedder, max_tokens)
    pages = [document.page_at(sentence.start) for sentence in sentences]
    # paragraph_starts[i]: a blank line separates sentence i from the one before it.
    paragraph_starts = [False] + [
        "\n\n" in document.text[before.end : after.start]
        for before, after in zip(sentences, sentences[1:], strict=False)
    ]
    groups: list[tuple[int, int]] = []  # [first, last) sentence indexes of each passage
    first = 0
    while first < len(sentences):
        last, total = first, 0
        # A passage never crosses a page break, so that its citation names one page, and
        # ends at a paragraph's end once it is half full: paragraphs are units of meaning.
        while (
            last < len(sentences)
            and total + sizes[last] <= max_tokens
            and pages[last] == pages[first]
            and not (last > first and paragraph_starts[last] and 2 * total >= max_tokens)
        ):
            total += sizes[last]
            last += 1
        last = max(last, first + 1)
        groups.append((first, last))
        if last >= len(sentences):
            break
        if paragraph_starts[last]:
            first = last  # a new paragraph starts afresh, without overlap
            continue
        # Step back `overlap` sentences (within the page), but always move forward.
        first = max(first + 1, last - overlap)
        while pages[first] != pages[last]:
            first += 1

    passages: list[Passage] = []
    seen: dict[str, int] = {}
    for ordinal, (first, last) in enumerate(groups):
        members = tuple(sentences[first:last])
        start, end = members[0].start, members[-1].end
        text = document.text[start:end]
        occurrence = seen.get(text, 0)
        seen[text] = occurrence + 1
        passages.append(
            Passage(
                id=passage_id(document.id, text, occurrence),
                document_id=document.id,
                ordinal=ordinal,
                start=start,
                end=end,
                text=text,
                sentences=members,
                page=document.page_at(start),
            )
        )
    return passages


def _fit_sentences(
    sentences: list[Sentence], embedder: Embedder, max_tokens: int
) -> tuple[list[Sentence], list[int]]:
    """Sentences with their wordpiece counts, any sentence over `max_tokens` cut into pieces."""
    spans_per_sentence = embedder.token_spans([sentence.text for sentence in sentences])
    fitted: list[Sentence] = []
    sizes: list[int] = []
    for sentence, spans in zip(sentences, spans_per_sentence, strict=True):
        if len(spans) <= max_tokens:
            fitted.append(sentence)
            sizes.append(len(spans))
            continue
        for begin in range(0, len(spans), max_tokens):
            piece_spans = spans[begin : begin + max_tokens]
            start = piece_spans[0][0] if begin else 0
            end = piece_spans[-1][1] if begin + max_tokens < len(spans) else len(sentence.text)
            text = sentence.text[start:end]
            stripped = len(text) - len(text.lstrip())
            text = text.strip()
            if text:
                absolute = sentence.start + start + stripped
                fitted.append(Sentence(absolute, absolute + len(text), text))
                sizes.append(len(piece_spans))
    return fitted, sizes
