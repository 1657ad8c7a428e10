"""Sentence-aware chunking sized in the model's wordpieces."""

from __future__ import annotations

import pytest

from qa.core.types import Document
from qa.index.chunking import chunk_document, passage_id
from qa.text.sentences import split_sentences


def document(text: str, language: str = "en", page_starts=()) -> Document:
    return Document("d.txt", "d.txt", "Title", text, language, page_starts=tuple(page_starts))


def test_passages_are_whole_sentences_within_budget_with_overlap(fake_embedder):
    sentences = [f"Sentence number {n} talks about the strike in region {n}." for n in range(20)]
    doc = document(" ".join(sentences))
    passages = chunk_document(doc, fake_embedder, max_tokens=30, overlap=1)
    assert len(passages) > 3
    for passage in passages:
        assert len(fake_embedder.token_spans([passage.text])[0]) <= 30
        assert doc.text[passage.start : passage.end] == passage.text
        for sentence in passage.sentences:
            assert doc.text[sentence.start : sentence.end] == sentence.text
    for before, after in zip(passages, passages[1:], strict=False):
        assert before.sentences[-1] == after.sentences[0]  # one sentence of overlap
    covered = {s.start for p in passages for s in p.sentences}
    assert covered == {s.start for s in split_sentences(doc.text, "en")}


def test_a_sentence_longer_than_the_budget_is_cut_into_pieces_that_fit(fake_embedder):
    long_sentence = " ".join(f"word{n}" for n in range(100)) + "."
    doc = document("Short start. " + long_sentence + " Short end.")
    passages = chunk_document(doc, fake_embedder, max_tokens=25, overlap=0)
    assert max(len(fake_embedder.token_spans([p.text])[0]) for p in passages) <= 25
    text = " ".join(p.text for p in passages)
    assert "word0" in text and "word99" in text


def test_passages_do_not_cross_pdf_pages(fake_embedder):
    page_one = "The assembly met on Saturday. Delegates came from every region."
    page_two = "The strike began on Thursday. Roads were blocked."
    doc = document(page_one + "\n\n" + page_two, page_starts=(0, len(page_one) + 2))
    passages = chunk_document(doc, fake_embedder, max_tokens=60, overlap=1)
    assert [p.page for p in passages] == [1, 2]
    assert "strike" not in passages[0].text


def test_spanish_sentences_respect_abbreviations():
    text = "El Sr. García llegó a Lima. La huelga empezó el jueves."
    assert [s.text for s in split_sentences(text, "es")] == [
        "El Sr. García llegó a Lima.",
        "La huelga empezó el jueves.",
    ]


def test_passage_ids_are_stable_and_distinct():
    assert passage_id("a.txt", "Same text.", 0) == passage_id("a.txt", "Same text.", 0)
    assert passage_id("a.txt", "Same text.", 0) != passage_id("b.txt", "Same text.", 0)
    assert passage_id("a.txt", "Same text.", 0) != passage_id("a.txt", "Same text.", 1)
    assert 0 <= passage_id("a.txt", "x", 0) < 2**63


def sentence(word: str, count: int) -> str:
    """A sentence of `count` words (the fake model's wordpieces)."""
    return " ".join([word.capitalize()] + [word] * (count - 1)) + "."


def texts(passages) -> list[list[str]]:
    return [[s.text for s in passage.sentences] for passage in passages]


@pytest.mark.parametrize("first_words", [10, 12])
def test_a_passage_half_full_ends_with_its_paragraph_and_the_next_starts_afresh(
    fake_embedder, first_words
):
    """A budget of 20 wordpieces; the first paragraph has 10 or 12 (half the budget or
    more). The next paragraph's first sentence would fit, but the passage ends with its
    paragraph, and the next passage starts with the new paragraph, without the usual
    sentence of overlap."""
    first = [sentence("assembly", first_words // 2), sentence("delegates", first_words // 2)]
    second = [sentence("strike", 6), sentence("roads", 6)]
    doc = document(" ".join(first) + "\n\n" + " ".join(second))
    passages = chunk_document(doc, fake_embedder, max_tokens=20, overlap=1)
    assert texts(passages) == [first, second]


def test_a_passage_under_half_full_runs_on_past_its_paragraph(fake_embedder):
    """A first paragraph of 9 wordpieces (under half of 20) does not make a passage of its
    own: the passage takes the next paragraph's sentences while they fit; within that
    paragraph, neighbouring passages share a sentence as usual."""
    first = [sentence("assembly", 9)]
    second = [sentence("strike", 6), sentence("roads", 5), sentence("markets", 6)]
    doc = document(first[0] + "\n\n" + " ".join(second))
    passages = chunk_document(doc, fake_embedder, max_tokens=20, overlap=1)
    assert texts(passages) == [first + second[:2], second[1:]]


def test_a_single_line_break_does_not_end_a_paragraph(fake_embedder):
    first = [sentence("assembly", 6), sentence("delegates", 6)]
    second = [sentence("strike", 6), sentence("roads", 6)]
    doc = document(" ".join(first) + "\n" + " ".join(second))
    passages = chunk_document(doc, fake_embedder, max_tokens=20, overlap=1)
    assert texts(passages) == [first + second[:1], second]
