"""Readers of relative date expressions ("on Thursday", "yesterday", "last week",
"hace tres días"): each needs the document's date to the day, month or year it moves from,
and gives nothing without it. Used by the rules of `qa.dates.rules`."""

from __future__ import annotations

import datetime
import re

from qa.dates.values import Reference, valid_date


def numbered(groups: str, start: int = 1) -> dict[str, int]:
    """'january jan, february feb' -> {'january': 1, 'jan': 1, 'february': 2, 'feb': 2}."""
    return {
        name: number
        for number, group in enumerate(groups.split(","), start=start)
        for name in group.split()
    }


#: Monday is 0, as in `datetime.date.weekday`.
WEEKDAYS = numbered(
    "monday lunes, tuesday martes, wednesday miércoles miercoles, thursday jueves, "
    "friday viernes, saturday sábado sabado, sunday domingo",
    start=0,
)
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "un": 1, "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12,
}  # fmt: skip
#: Words that show a sentence speaks of the future (a weekday then means the next one).
FUTURE = re.compile(
    r"\b(will|won't|shall|\w+'ll|due|scheduled|expected|plans?|planned|planning|tipped|"
    r"set to|going to|is to|are to|later on|upcoming|"
    r"\w+(?:rá|rán|remos)|se espera|próxim[oa]s?|va a|van a|previst[oa]s?|programad[oa]s?)\b",
    re.IGNORECASE,
)
BOUNDS = re.compile(
    r"\b(more than|over|less than|under|almost|nearly|at least|up to|más de|menos de|casi)\s+$",
    re.IGNORECASE,
)


def group(match: re.Match, name: str) -> str | None:
    return match.groupdict().get(name)


def read_weekday(match: re.Match, text: str, ref: Reference | None):
    name = match["weekday"]
    before, after = text[: match.start()], text[match.end() :]
    english = name.lower() in ("monday", "tuesday", "wednesday", "thursday", "friday")
    english = english or name.lower() in ("saturday", "sunday")
    if english and re.match(r"\s+[A-Z][a-z]", after) and not group(match, "relation"):
        if not re.search(r"\b(?:on|by|until|since|from)\s+$", before, re.IGNORECASE):
            return None  # "the Sunday Times": a name
    if not english and name[0].isupper() and match.start() > 0:
        return None  # "Plácido Domingo": Spanish weekdays are written in lower case
    if re.search(r"\blos\s+$", text[: match.start()], re.IGNORECASE):
        return None  # "los lunes": every Monday
    day_number = group(match, "day")
    if day_number:  # "el martes 13": that day of the document's month
        found = ref and ref.month and valid_date(ref.year, ref.month, int(day_number))
        return (found, found, "day", True) if found else None
    if ref is None or ref.day is None:
        return None
    anchor = ref.first
    weekday = WEEKDAYS[name.lower()]
    relation = (group(match, "relation") or group(match, "relation2") or "").lower()
    back = (anchor.weekday() - weekday) % 7
    ahead = (weekday - anchor.weekday()) % 7
    if relation.startswith(("last", "pasad")):
        found = anchor - datetime.timedelta(days=back or 7)
    elif relation.startswith(("next", "próxim", "proxim", "que")):
        found = anchor + datetime.timedelta(days=ahead or 7)
    elif relation == "this":
        found = anchor - datetime.timedelta(days=anchor.weekday() - weekday)
    elif FUTURE.search(text):
        found = anchor + datetime.timedelta(days=ahead or 7)
    else:
        found = anchor - datetime.timedelta(days=back)
    return found, found, "day", True


_DAY_WORDS = {
    "yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1, "the day before yesterday": -2,
    "ayer": -1, "hoy": 0, "mañana": 1, "anteayer": -2, "antier": -2, "pasado mañana": 2,
}  # fmt: skip


def read_day_word(match: re.Match, text: str, ref: Reference | None):
    word = match["word"]
    lowered = word.lower()
    before = text[: match.start()]
    if word[0].isupper() and match.start() > 0 and lowered in ("today", "hoy"):
        return None  # "the Today programme"
    if lowered == "mañana" and re.search(
        r"\b(?:la|esta|una|cada|toda|por|de|en|a|las)\s+$", before, re.IGNORECASE
    ):
        return None  # "por la mañana": the morning
    if lowered == "hoy" and re.match(r"\s+(?:en\s+)?día\b", text[match.end() :], re.IGNORECASE):
        return None  # "hoy en día": nowadays
    if ref is None or ref.day is None:
        return None
    found = ref.first + datetime.timedelta(days=_DAY_WORDS[lowered])
    return found, found, "day", True


def read_relative_unit(match: re.Match, text: str, ref: Reference | None):
    """last/this/next week, month or year, in either language."""
    relation = " ".join(
        part for part in (group(match, "relation"), group(match, "relation2")) if part
    ).lower()
    determiner = (group(match, "determiner") or "").lower()
    if not relation and determiner in ("este", "esta"):
        relation = "this"
    if not relation:
        return None  # "el año": which year is not said
    if re.search(r"\b(?:the|over|in|during|for|past|durante)\s+$", text[: match.start()], re.I):
        if determiner not in ("la", "el", "esta", "este"):
            return None  # "over the last year": a duration
    step = -1 if relation.startswith(("last", "pasad")) else 0 if relation == "this" else 1
    return shift(ref, match["unit"].lower(), step)


def read_ago(match: re.Match, text: str, ref: Reference | None):
    if BOUNDS.search(text[: match.start()]):
        return None
    number = match["number"].lower()
    count = int(number) if number.isdigit() else NUMBER_WORDS.get(number)
    if not count:
        return None
    return shift(ref, match["unit"].lower(), -count)


def shift(ref: Reference | None, unit: str, step: int):
    """The day, week (as a range of days), month or year `step` units from the reference."""
    if ref is None:
        return None
    unit = unit.rstrip("s") if not unit.startswith("mes") else "mes"
    if unit in ("day", "día", "dia", "días", "dias"):
        if ref.day is None:
            return None
        found = ref.first + datetime.timedelta(days=step)
        return found, found, "day", True
    if unit in ("week", "semana"):
        if ref.day is None:
            return None
        monday = (
            ref.first
            - datetime.timedelta(days=ref.first.weekday())
            + datetime.timedelta(weeks=step)
        )
        return monday, monday + datetime.timedelta(days=6), "day", True
    if unit in ("month", "mes", "mese"):
        if ref.month is None:
            return None
        index = ref.year * 12 + ref.month - 1 + step
        found = datetime.date(index // 12, index % 12 + 1, 1)
        return found, found, "month", True
    found = datetime.date(ref.year + step, 1, 1)
    return found, found, "year", True
