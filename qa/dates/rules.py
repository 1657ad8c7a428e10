"""The grammar of `qa.dates.mentions`: tables of English and Spanish month, weekday and relative
words, and one rule per kind of expression, each a regular expression with a reader that
turns its match into (first day, last day, precision, relative) or None when a part is
missing and the document's date cannot give it."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

from qa.dates.relative import (
    FUTURE,
    NUMBER_WORDS,
    group,
    numbered,
    read_ago,
    read_day_word,
    read_relative_unit,
    read_weekday,
)
from qa.dates.values import Reference, valid_date

MONTHS_EN = numbered(
    "january jan, february feb, march mar, april apr, may, june jun, july jul, august aug, "
    "september sep sept, october oct, november nov, december dec"
)
MONTHS_ES = numbered(
    "enero ene, febrero feb, marzo mar, abril abr, mayo may, junio jun, julio jul, agosto ago, "
    "septiembre setiembre sep set, octubre oct, noviembre nov, diciembre dic"
)
#: Words after a four-digit number that make it a count, not a year ("2000 people").
COUNTED = (
    "people persons personas more más mas passengers pasajeros workers trabajadores jobs "
    "empleos votes votos members miembros units copies times veces tonnes tons toneladas "
    "metres meters metros miles km kilometres dollars dólares euros pounds soles residents "
    "delegates delegados students estudiantes soldiers soldados police troops homes houses "
    "viviendas cars visitors fans muertos heridos feet yards words points puntos hectares "
    "hectáreas families familias protesters manifestantes acres"
).split()
#: Words before a bare month or year that make it a date in the past ("since June").
SINCE = re.compile(r"\b(since|desde)\s+(?:el\s+|the\s+)?$", re.IGNORECASE)
#: Days by which a year-less date may lie after the document's date before it is read as
#: the year before ("on 19 December" in a report of January 2005 is December 2004).
NEAREST_YEAR_DAYS = 183


# --- The grammar ---------------------------------------------------------------------------

_EN_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)"
)
_ES_MONTH = (
    r"(?i:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre"
    r"|noviembre|diciembre)"
)
_EN_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_ES_WEEKDAY = r"(?:lunes|martes|miércoles|miercoles|jueves|viernes|sábado|sabado|domingo)"
_YEAR = r"(?:1[5-9]\d\d|20\d\d)(?!\d)"
_DAY = r"(?:[0-3]?\d)"
_ORD = r"(?:st|nd|rd|th|º|°)?"
_NUMBER = r"(?:\d{1,2}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"


@dataclass(frozen=True)
class _Rule:
    name: str
    pattern: re.Pattern
    read: Callable[[re.Match, str, Reference | None], tuple | None]


def _month_number(name: str) -> int:
    key = name.lower().rstrip(".")
    return MONTHS_EN.get(key) or MONTHS_ES[key]


# Each reader returns (first day, last day, precision, relative) or None when the
# expression cannot be placed (a part missing and no document date to take it from).


def _read_date(match: re.Match, text: str, ref: Reference | None):
    day = int(match["day"])
    month = _month_number(match["month"])
    year_text = group(match, "year")
    if year_text:
        found = valid_date(int(year_text), month, day)
        return (found, found, "day", False) if found else None
    found = year_less(ref, month, day, text, match.start())
    return (found, found, "day", False) if found else None


def _read_day_range(match: re.Match, text: str, ref: Reference | None):
    month = _month_number(match["month"])
    year_text = group(match, "year")
    first_day, last_day = int(match["day"]), int(match["day2"])
    if first_day >= last_day:
        return None
    if year_text:
        first = valid_date(int(year_text), month, first_day)
    else:
        first = year_less(ref, month, first_day, text, match.start())
    last = first and valid_date(first.year, month, last_day)
    return (first, last, "day", False) if first and last else None


def _read_numeric(match: re.Match, text: str, ref: Reference | None):
    if group(match, "a"):  # day/month/year, or month/day/year when only that fits
        first, second = int(match["a"]), int(match["b"])
        day, month = (second, first) if second > 12 >= first else (first, second)
    else:
        day, month = int(match["day"]), int(match["month"])
    found = valid_date(int(match["year"]), month, day)
    return (found, found, "day", False) if found else None


def _read_month_year(match: re.Match, text: str, ref: Reference | None):
    first = valid_date(int(match["year"]), _month_number(match["month"]), 1)
    return (first, first, "month", False) if first else None


def _read_year_range(match: re.Match, text: str, ref: Reference | None):
    first = int(match["year"])
    second_text = match["year2"]
    second = int(second_text) if len(second_text) == 4 else first // 100 * 100 + int(second_text)
    if not first < second <= first + 50:
        return None
    return datetime.date(first, 1, 1), datetime.date(second, 1, 1), "year", False


def _read_year(match: re.Match, text: str, ref: Reference | None):
    before = text[max(0, match.start() - 12) : match.start()]
    if re.search(r"[$£€#]\s*$|\b(?:No|no|número|number)\.?\s*$", before):
        return None
    if re.match(rf"\s+(?:{'|'.join(COUNTED)})\b", text[match.end() :], re.IGNORECASE):
        return None
    year = int(match["year"])
    return datetime.date(year, 1, 1), datetime.date(year, 1, 1), "year", False


def _read_month(match: re.Match, text: str, ref: Reference | None):
    name = match["month"]
    before = text[: match.start()]
    if (
        name[0].isupper()
        and name.lower() in ("may", "mayo")
        and not re.search(
            r"\b(?:in|since|until|till|by|of|from|to|during|throughout|before|after|early|mid|"
            r"late|last|next|this|en|de|desde|hasta|para|durante)[\s-]+$",
            before,
            re.IGNORECASE,
        )
    ):
        return None  # "Theresa May", "Mayo Quispe": a name
    if name in MONTHS_ES and name[0].isupper() and match.start() > 0:
        if not re.search(r"\b(?:en|de|desde|hasta|para|durante)\s+$", before, re.IGNORECASE):
            return None
    if ref is None:
        return None
    month = _month_number(name)
    relation = (group(match, "relation") or group(match, "relation2") or "").lower()
    if relation.startswith(("last", "pasad")):
        year = ref.year if month < (ref.month or 13) else ref.year - 1
        return datetime.date(year, month, 1), datetime.date(year, month, 1), "month", True
    if relation.startswith(("next", "próxim", "proxim")):
        year = ref.year if month > (ref.month or 0) else ref.year + 1
        return datetime.date(year, month, 1), datetime.date(year, month, 1), "month", True
    first = year_less(ref, month, None, text, match.start())
    return (first, first, "month", False) if first else None


RULES: tuple[_Rule, ...] = (
    _Rule("iso", re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b"), _read_numeric),
    _Rule(
        "numeric",
        re.compile(r"\b(?P<a>\d{1,2})[/.](?P<b>\d{1,2})[/.](?P<year>\d{4})\b"),
        _read_numeric,
    ),
    _Rule(
        "en-day-range",
        re.compile(
            rf"\b(?:(?:from|between)\s+(?:the\s+)?)?(?P<day>{_DAY}){_ORD}\s*"
            rf"(?:-|–|to|until|till|and)\s*(?:the\s+)?(?P<day2>{_DAY}){_ORD}\s+(?:of\s+)?"
            rf"(?P<month>{_EN_MONTH})(?![a-z])(?:,?\s+(?P<year>{_YEAR}))?"
        ),
        _read_day_range,
    ),
    _Rule(
        "en-month-day-range",
        re.compile(
            rf"\b(?P<month>{_EN_MONTH})\s+(?P<day>{_DAY}){_ORD}\s*(?:-|–|to|through|until)\s*"
            rf"(?P<day2>{_DAY}){_ORD}\b(?:,?\s+(?P<year>{_YEAR}))?"
        ),
        _read_day_range,
    ),
    _Rule(
        "es-day-range",
        re.compile(
            rf"(?i:\b(?:del|entre\s+el|de|desde\s+el)\s+)(?P<day>{_DAY})\s+"
            rf"(?i:al|y\s+el|a|hasta\s+el)\s+(?P<day2>{_DAY})\s+de\s+(?P<month>{_ES_MONTH})\b"
            rf"(?:\s+(?:de|del)\s+(?P<year>{_YEAR}))?"
        ),
        _read_day_range,
    ),
    _Rule(
        "en-day-month",
        re.compile(
            rf"\b(?:{_EN_WEEKDAY},?\s+)?(?:the\s+)?(?P<day>{_DAY}){_ORD}\s+(?:of\s+)?"
            rf"(?P<month>{_EN_MONTH})(?![a-z])(?:,?\s+(?P<year>{_YEAR}))?"
        ),
        _read_date,
    ),
    _Rule(
        "en-month-day",
        re.compile(
            rf"\b(?:{_EN_WEEKDAY},?\s+)?(?P<month>{_EN_MONTH})\s+(?P<day>{_DAY}){_ORD}\b"
            rf"(?![.,:]\d|\s*%)(?:,?\s+(?P<year>{_YEAR}))?"
        ),
        _read_date,
    ),
    _Rule(
        "es-day-month",
        re.compile(
            rf"\b(?:{_ES_WEEKDAY}\s+)?(?P<day>{_DAY}){_ORD}\s+de\s+(?P<month>{_ES_MONTH})\b"
            rf"(?:\s+(?:de|del)\s+(?P<year>{_YEAR}))?"
        ),
        _read_date,
    ),
    _Rule(
        "en-month-year",
        re.compile(rf"\b(?P<month>{_EN_MONTH})(?![a-z]),?\s+(?:of\s+)?(?P<year>{_YEAR})"),
        _read_month_year,
    ),
    _Rule(
        "es-month-year",
        re.compile(rf"\b(?P<month>{_ES_MONTH})\s+(?:de|del)\s+(?P<year>{_YEAR})"),
        _read_month_year,
    ),
    _Rule(
        "year-range",
        re.compile(
            rf"(?<![\d$£€.,/-])\b(?P<year>{_YEAR})\s*(?:-|–|/)\s*(?P<year2>\d{{4}}|\d{{2}})\b"
            r"(?![\d%-])"
        ),
        _read_year_range,
    ),
    _Rule(
        "year",
        re.compile(
            rf"(?<![\d$£€.,:/-])\b(?P<year>{_YEAR})\b(?!%|[.,:/-]\d|\s*(?:%|per\s*cent|percent"
            r"|por\s+ciento))"
        ),
        _read_year,
    ),
    _Rule(
        "en-month",
        re.compile(
            r"\b(?:(?P<relation>last|next|this)\s+)?"
            r"(?P<month>January|February|March|April|May|June|July|August|September|October"
            r"|November|December)\b(?!\s+\d)"
        ),
        _read_month,
    ),
    _Rule(
        "es-month",
        re.compile(
            rf"\b(?:(?:el\s+)?(?P<relation>(?i:pasado|próximo|proximo))\s+)?"
            rf"(?P<month>{_ES_MONTH})\b(?!\s+\d)(?:\s+(?P<relation2>pasado|próximo))?"
        ),
        _read_month,
    ),
    _Rule(
        "en-weekday",
        re.compile(
            rf"\b(?:(?P<relation>last|next|this)\s+)?(?P<weekday>{_EN_WEEKDAY})(?:'s|’s)?\b"
        ),
        read_weekday,
    ),
    _Rule(
        "es-weekday",
        re.compile(
            r"\b(?:(?P<relation>(?i:pasado|próximo|proximo))\s+)?"
            rf"(?P<weekday>(?i:{_ES_WEEKDAY}))\b"
            r"(?:\s+(?P<relation2>pasado|próximo|que\s+viene))?(?:\s+(?P<day>\d{1,2})\b(?!\s+de\b))?"
        ),
        read_weekday,
    ),
    _Rule(
        "day-word",
        re.compile(
            r"\b(?P<word>(?i:the\s+day\s+before\s+yesterday|yesterday|today|tonight|tomorrow"
            r"|anteayer|antier|ayer|hoy|pasado\s+mañana|mañana))\b"
        ),
        read_day_word,
    ),
    _Rule(
        "en-relative",
        re.compile(
            r"\b(?P<relation>(?i:last|this|next))\s+(?P<unit>(?i:week|month|year))(?:'s|’s)?\b"
        ),
        read_relative_unit,
    ),
    _Rule(
        "es-relative",
        re.compile(
            r"\b(?P<determiner>(?i:la|el|esta|este))\s+(?:(?P<relation>(?i:pasad[oa]|próxim[oa]"
            r"|proxim[oa]))\s+)?(?P<unit>(?i:semana|mes|año))\b(?:\s+(?P<relation2>(?i:pasad[oa]"
            r"|próxim[oa]|proxim[oa]|que\s+viene|entrante)))?"
        ),
        read_relative_unit,
    ),
    _Rule(
        "en-ago",
        re.compile(
            rf"\b(?P<number>(?i:{_NUMBER}))\s+(?P<unit>(?i:day|week|month|year))s?\s+(?i:ago)\b"
        ),
        read_ago,
    ),
    _Rule(
        "es-ago",
        re.compile(
            rf"\b(?i:hace)\s+(?P<number>(?i:{_NUMBER}))\s+"
            r"(?P<unit>(?i:días?|dias?|semanas?|mes|meses|años?))\b"
        ),
        read_ago,
    ),
)
#: A cheap test that a text may hold a date at all (most sentences hold none).
MAYBE = re.compile(
    r"\d|(?i:january|february|march|april|may|june|july|august|september|october|november"
    r"|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today"
    r"|tonight|tomorrow|week|month|year|enero|febrero|marzo|abril|mayo|junio|julio|agosto"
    r"|septiembre|setiembre|octubre|noviembre|diciembre|lunes|martes|miércoles|miercoles"
    r"|jueves|viernes|sábado|sabado|domingo|ayer|hoy|mañana|semana|mes|año|day|ago|días|dias)"
)


def year_less(
    ref: Reference | None, month: int, day: int | None, text: str, position: int
) -> datetime.date | None:
    """A date whose year is not said: the document's year, or the year before when that
    would put a past event months after the document (or the year after for a future one
    months before it)."""
    if ref is None:
        return None
    found = valid_date(ref.year, month, day or 1)
    if found is None or ref.month is None:
        return found
    future = bool(FUTURE.search(text))
    if SINCE.search(text[:position]) and found > ref.last:
        return valid_date(ref.year - 1, month, day or 1)
    if not future and (found - ref.first).days > NEAREST_YEAR_DAYS:
        return valid_date(ref.year - 1, month, day or 1)
    if future and (ref.first - found).days > NEAREST_YEAR_DAYS:
        return valid_date(ref.year + 1, month, day or 1)
    return found
