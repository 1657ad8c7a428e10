"""Headings and title lines are context, never an answer: which sentences are headings
(`qa.text.headings`, from each format's structure) and the answer step passing them over,
with the fake model here and the real one over the bundled archive in test_offtopic.py."""

from __future__ import annotations

from qa.service.assistant import Assistant
from qa.text.headings import document_markup, heading_flags
from qa.text.sentences import split_sentences


def _headings(text: str, markup: str, title: str = "", start: int = 0) -> list[str]:
    sentences = split_sentences(text, "en", offset=start)
    flags = heading_flags(text, start, sentences, markup, title)
    return [sentence.text for sentence, flag in zip(sentences, flags, strict=True) if flag]


def test_markdown_headings_come_from_the_parser():
    text = (
        "# Adding documents\n\n"
        "Put new documents anywhere. Then run the index command.\n\n"
        "```bash\n# a comment in a code block\n```\n\n"
        "Deleting documents\n==================\n"
        "Deleted documents disappear from the index.\n\n"
        "#hashtag is not a heading, nor is this line.\n"
        "## Last section ##"
    )
    assert _headings(text, "markdown") == [
        "# Adding documents",
        "Deleting documents",
        "==================",
        "## Last section ##",
    ]


def test_a_passage_that_starts_inside_its_document_is_read_by_its_own_offsets():
    text = "Some closing words.\n\n## Next part\nIt says something."
    assert _headings(text, "markdown", start=1200) == ["## Next part"]


def test_a_line_that_is_the_title_is_a_title_line_in_titled_formats():
    text = "How answers cite the archive\n\nEvery sentence of an answer is copied from a document."
    title = "How answers cite the archive"
    assert _headings(text, "pdf", title) == [title]
    assert _headings(text, "html", title.upper()) == [title]
    # The title inside a sentence of prose is no title line.
    prose = "This page explains how answers cite the archive. It is short."
    assert _headings(prose, "html", "How answers cite the archive") == []
    assert _headings(f"{title} now\n", "pdf", title) == []


def test_plain_text_loses_no_sentence():
    """A plain-text document's title may have been read from its first line: that line, and
    any '#' line, stays a candidate (plain text has no structure to tell a heading by)."""
    text = "Peru's strike, day two\nThe strike went on.\n# of arrests rose to forty"
    assert _headings(text, "text", "Peru's strike, day two") == []
    assert document_markup("reports/strike.txt") == "text"
    assert document_markup("guides/consultas.jsonl:2") == "text"
    assert document_markup("guides/Adding.MD") == "markdown"
    assert document_markup("guides/formats.htm") == "html"
    assert document_markup("guides/citations.pdf") == "pdf"


def _assistant(make_settings, fake_embedder, files: dict[str, str]) -> Assistant:
    settings = make_settings()
    for name, text in files.items():
        (settings.corpus / name).write_text(text, encoding="utf-8")
    assistant = Assistant(settings, fake_embedder)
    assistant.build(full=True)
    return assistant


def test_an_answer_never_opens_with_a_heading_but_its_passage_keeps_it(
    make_settings, fake_embedder
):
    """The heading holds every word of the question, as the statement under it does, and
    opened the answer before headings were told apart; the answer is the statement, and the
    cited passage still shows the heading as its context."""
    guide = (
        "---\ntitle: Renewing a library card\nlanguage: en\n---\n"
        "# Renewing a library card\n\n"
        "A library card is renewed at the front desk with a photo identity document.\n"
        "Renewal costs nothing for residents of the town.\n"
    )
    assistant = _assistant(make_settings, fake_embedder, {"guide.md": guide})
    answer = assistant.ask("How is a library card renewed?")
    assert not answer.abstained
    assert answer.sentences[0].text == (
        "A library card is renewed at the front desk with a photo identity document."
    )
    assert all(not s.text.startswith("#") for s in answer.sentences)
    cited = answer.citations[answer.sentences[0].citation - 1]
    assert cited.text.startswith("# Renewing a library card")


def test_a_plain_text_first_line_may_still_answer(make_settings, fake_embedder):
    """A plain-text document's first line, read as its title, is still a sentence of it."""
    notes = "Renewing a library card\nThe weather was cold that week in the town.\n"
    assistant = _assistant(make_settings, fake_embedder, {"notes.txt": notes})
    answer = assistant.ask("Renewing a library card?")
    assert not answer.abstained
    assert answer.sentences[0].text == "Renewing a library card"
