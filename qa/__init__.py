"""archive-qa: cited, extractive question answering over a document archive."""

__version__ = "0.1.0"
