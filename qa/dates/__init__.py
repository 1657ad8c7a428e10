"""Dates: the calendar values of date mentions, the rules that find them in text (English and
Spanish, absolute, partial and relative to a document's date), and ISO date prefixes."""
