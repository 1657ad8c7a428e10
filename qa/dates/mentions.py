"""Date expressions of a sentence, in English and Spanish, normalised to ISO values.

"10 December 2022", "December 10, 2022", "el 10 de diciembre", "on Thursday", "last week",
"in 2020", "from 13 to 15 December", "del 13 al 15 de diciembre", "mid-December"... each
becomes a `DateMention` with its span, an ISO value (YYYY, YYYY-MM or YYYY-MM-DD; a range
has two) and its precision (day, month or year). What a sentence leaves out is taken from
its document's date: the year of "December 10", the day of "on Thursday" or "yesterday".
When the document's date lacks that part (or there is none), the mention is left out
rather than guessed.

A small grammar of regular expressions finds and reads the expressions (see the README for
why not dateparser): its rules are in `qa.dates.rules` (relative expressions in
`qa.dates.relative`), calendar values in `qa.dates.values`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.dates.rules import MAYBE, RULES
from qa.dates.values import Precision, Reference, iso_value, value_bounds

__all__ = ["DateMention", "Reference", "find_dates"]


@dataclass(frozen=True)
class DateMention:
    """A date expression of a text: its span and text, and its normalised value."""

    start: int
    end: int
    text: str
    value_start: str
    value_end: str
    precision: Precision
    #: Read against the document's date ("yesterday", "last week", "on Thursday").
    relative: bool = False

    @property
    def value(self) -> str:
        """ISO value; a range is START/END."""
        if self.value_start == self.value_end:
            return self.value_start
        return f"{self.value_start}/{self.value_end}"

    @property
    def first_day(self) -> str:
        return value_bounds(self.value_start)[0].isoformat()

    @property
    def last_day(self) -> str:
        return value_bounds(self.value_end)[1].isoformat()


#: Between two mentions of one precision, what makes them one range ("from X to Y").
_RANGE_OPENER = re.compile(r"(?i:\b(?:from|between|del|de|desde|entre)(?:\s+el)?\s+)$")
_RANGE_JOINER = re.compile(r"(?i:\s*(?:-|–|to|until|till|through|and|al|a|hasta|y)\s+(?:el\s+)?)")
_HYPHEN = re.compile(r"\s*[-–]\s*")


# --- Reading a text ----------------------------------------------------------------------


def find_dates(text: str, document_date: object = None) -> list[DateMention]:
    """The date mentions of `text` (a sentence), in order, read against `document_date`
    (an ISO prefix such as "2022", "2022-12" or "2022-12-15", or None)."""
    if not text or not MAYBE.search(text):
        return []
    ref = Reference.parse(document_date) if document_date else None
    found: list[tuple] = []
    for priority, rule in enumerate(RULES):
        for match in rule.pattern.finditer(text):
            if match.end() > match.start():
                found.append((match.start(), match.end(), priority, rule, match))
    # The longest expression wins ("10 December 2022" over "December 2022" over "2022").
    found.sort(key=lambda item: (item[0] - item[1], item[2], item[0]))
    taken: list[tuple[int, int]] = []
    mentions: list[DateMention] = []
    for start, end, _, rule, match in found:
        if any(start < other_end and other_start < end for other_start, other_end in taken):
            continue
        taken.append((start, end))
        read = rule.read(match, text, ref)
        if read is None:
            continue
        first, last, precision, relative = read
        mentions.append(
            DateMention(
                start,
                end,
                text[start:end],
                iso_value(first, precision),
                iso_value(last, precision),
                precision,
                relative,
            )
        )
    mentions.sort(key=lambda mention: mention.start)
    return _join_ranges(text, mentions)


def _join_ranges(text: str, mentions: list[DateMention]) -> list[DateMention]:
    """'from January 2001 to March 2003', 'entre 2016 y 2021': one range of two mentions."""
    joined: list[DateMention] = []
    for mention in mentions:
        previous = joined[-1] if joined else None
        if previous is not None and previous.precision == mention.precision:
            between = text[previous.end : mention.start]
            opener = _RANGE_OPENER.search(text[: previous.start])
            if (
                (opener and _RANGE_JOINER.fullmatch(between))
                or (previous.precision == "year" and _HYPHEN.fullmatch(between))
            ) and previous.value_start < mention.value_end:
                start = opener.start() if opener else previous.start
                joined[-1] = DateMention(
                    start,
                    mention.end,
                    text[start : mention.end],
                    previous.value_start,
                    mention.value_end,
                    mention.precision,
                    previous.relative or mention.relative,
                )
                continue
        joined.append(mention)
    return joined
