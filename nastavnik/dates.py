"""The date grammar: a roadmap item's due rule, in the source's Russian words, as dated windows.

`parse_due(phrase, written_for=…, cycle=…, first_cycle=…)` reads one due rule («Август–сентябрь,
ежегодно», «Ноябрь 2021 г., далее ежегодно», «до 20 числа каждого месяца», «По завершении
программы») and returns the item's `Schedule` in one cycle's school year. The grammar, its choices
(which months a «ежемесячно» covers, what «В конце учебного года» means) and how years shift are
documented in `docs/roadmaps.md`; keep the two in step.

Why a grammar of our own rather than a date library: dateparser and babel read (or format) one
calendar date and guess a missing year from today — a hidden clock, the thing the core must not
have. Roadmaps need the opposite: month ranges without a year placed in a school year (across New
Year), recurrences («1 раз в четверть»), relative rules («в течение 10 дней после завершения»),
continuity («Постоянно») and years that roll forward, and a clear refusal of anything else. A small
tokenizer with a table of every case form of the month names does exactly that and no more.

A school year's planning span is 1 August of its first year to 31 July of its second: a month
written without a year falls in the span (August–December in the first calendar year,
January–July in the second).
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

SCHOOL_YEAR = re.compile(r"^(\d{4})/(\d{4})$")


def first_year(school_year: str) -> int:
    """2026 for «2026/2027»; refuses anything else."""
    match = SCHOOL_YEAR.match(school_year)
    if not match or int(match[2]) != int(match[1]) + 1:
        raise ValueError(f"учебный год {school_year!r}: ожидается вида 2026/2027")
    return int(match[1])


class WindowKind(StrEnum):
    dated = "dated"  # one window, or one per occurrence of a recurring item
    continuous = "continuous"  # all year («Постоянно», «В течение года»)
    on_demand = "on_demand"  # «По мере необходимости»: no date, never overdue
    after_event = "after_event"  # «По завершении программы», «в течение 10 дней после завершения»


@dataclass(frozen=True, order=True)
class Window:
    """Dates from start to end, both inclusive; `end` is the due date."""

    start: date
    end: date


@dataclass(frozen=True)
class Schedule:
    """An item's dates in one cycle's school year."""

    kind: WindowKind
    windows: tuple[Window, ...] = ()
    event: str | None = None  # after_event: which event («programme-end», «pair-end», ...)
    days_after: int | None = None  # after_event: due this many days after the event
    recurring: bool = False
    applies: bool = True  # False: a multi-year roadmap's item of another year
    undated: bool = False  # the source gives no date (an empty cell, a blank «до …»)


class DuePhraseError(ValueError):
    """A due rule the grammar cannot read; `reason` says what stopped it."""

    def __init__(self, phrase: str, reason: str) -> None:
        self.phrase = phrase
        self.reason = reason
        super().__init__(f"не удалось прочитать срок «{phrase}»: {reason}")


# The events an after-event rule waits for: the end of the pairs' mentoring programme, and the
# pairs fixed by order (the first pair's start).
PROGRAMME_END = "programme-end"
PAIRS_FIXED = "pairs-fixed"
BASES_FORMED = "bases-formed"  # the registers of mentees and mentors approved
TRAINING_DONE = "training-done"  # the order appointing the trained mentors approved
PREPARATION_DONE = "preparation-done"  # the orders introducing the model approved

# The school year proper inside the planning span: continuous items and recurrences live here.
SCHOOL_START = (9, 1)
SCHOOL_END = (5, 31)
# «В конце учебного года»: the last fortnight of May; «По окончании учебного года»: June.
END_OF_YEAR = ((5, 16), (5, 31))
AFTER_YEAR = ((6, 1), (6, 30))
# Russian school quarters (четверти), approximately: the holidays fall at their ends.
SCHOOL_QUARTERS = (((9, 1), (10, 31)), ((11, 1), (12, 31)), ((1, 1), (3, 31)), ((4, 1), (5, 31)))
HALF_YEARS = (((9, 1), (12, 31)), ((1, 1), (5, 31)))
CALENDAR_QUARTERS = (((1, 1), (3, 31)), ((4, 1), (6, 30)), ((7, 1), (9, 30)), ((10, 1), (12, 31)))
MONTHS_OF_SCHOOL_YEAR = (9, 10, 11, 12, 1, 2, 3, 4, 5)

_MONTH_STEMS = {
    1: ("январ", ("янв",)),
    2: ("феврал", ("фев", "февр")),
    3: ("март", ("мар",)),
    4: ("апрел", ("апр",)),
    5: ("ма", ()),
    6: ("июн", ()),
    7: ("июл", ()),
    8: ("август", ("авг",)),
    9: ("сентябр", ("сен", "сент")),
    10: ("октябр", ("окт",)),
    11: ("ноябр", ("ноя", "нояб")),
    12: ("декабр", ("дек",)),
}


def _month_forms() -> dict[str, int]:
    forms: dict[str, int] = {}
    for month, (stem, abbreviations) in _MONTH_STEMS.items():
        if stem in ("март", "август"):  # hard stems: март, марта, марте, марту, мартом
            endings: tuple[str, ...] = ("", "а", "е", "у", "ом")
        elif stem == "ма":  # май, мая, мае, маю, маем
            endings = ("й", "я", "е", "ю", "ем")
        else:  # январь, января, январе, январю, январем (ё is read as е)
            endings = ("ь", "я", "е", "ю", "ем")
        forms.update({stem + ending: month for ending in endings})
        forms.update(dict.fromkeys(abbreviations, month))
    return forms


MONTH_FORMS = _month_forms()
_MONTH_WORD = "|".join(sorted(MONTH_FORMS, key=len, reverse=True))


def _month(name: str) -> str:
    return rf"(?P<{name}>{_MONTH_WORD})(?![а-я])\.?"


def _year(name: str) -> str:
    return rf"(?P<{name}>\d{{4}})(?!\d)(?:\s*(?:года|году|год|гг|г)(?![а-я])\.?)?"


def _date(name: str) -> str:
    """«13.05.2022», «13.05.22 г.», «14.06. 2022г.», «01.09», «10 сентября 2020», «1 сентября»."""
    numeric = (
        rf"(?P<{name}_nd>\d{{1,2}})\.\s?(?P<{name}_nm>\d{{1,2}})"
        rf"(?:\.\s?(?P<{name}_ny>\d{{4}}|\d{{2}})(?!\d)"
        rf"(?:\s*(?:года|году|год|г)(?![а-я])\.?)?)?(?![\d])(?!\.\s?\d)"
    )
    worded = rf"(?P<{name}_wd>\d{{1,2}})(?:-?(?:го|е|ое))?\s+{_month(name + '_wm')}" + (
        rf"(?:\s+{_year(name + '_wy')})?"
    )
    return rf"(?:{numeric}|{worded})"


_NUMBER_WORDS = {"одного": 1, "один": 1, "1": 1, "двух": 2, "трех": 3, "пяти": 5, "десяти": 10}
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}


@dataclass(frozen=True)
class _Written:
    """A window as written: month/day pairs, years only where the source gives them."""

    start: tuple[int, int] | None  # None: from the start of the school year («до 13.05.2022»)
    end: tuple[int, int | None]  # day None: the month's last day
    year: int | None = None  # calendar year of the end, if written
    start_year: int | None = None  # calendar year of the start, if written apart


class _Recurrence(StrEnum):
    monthly = "monthly"
    bimonthly = "bimonthly"  # «1 раз в 2 месяца»: September–October, …, May
    school_quarterly = "school-quarterly"
    quarterly = "quarterly"
    half_yearly = "half-yearly"


@dataclass
class _Part:
    """What one part of a phrase (before or after «далее») says."""

    windows: list[_Written] = field(default_factory=list)
    recurrence: _Recurrence | None = None
    monthly_day: int | None = None  # «до 20 числа каждого месяца»
    continuous: bool = False
    on_demand: bool = False
    yearly: bool = False
    event: tuple[str, int | None] | None = None
    undated: bool = False

    def is_empty(self) -> bool:
        return not (
            self.windows
            or self.recurrence
            or self.continuous
            or self.on_demand
            or self.yearly
            or self.event
            or self.undated
        )


def _group(match: re.Match[str], name: str) -> str | None:
    return match.groupdict().get(name)


def _read_date(match: re.Match[str], name: str) -> tuple[int, int, int | None]:
    """(month, day, year or None) from a `_date(name)` match; checks the day exists."""
    if _group(match, name + "_nd") is not None:
        day, month = int(match[name + "_nd"]), int(match[name + "_nm"])
        year_text = _group(match, name + "_ny")
    else:
        day, month = int(match[name + "_wd"]), MONTH_FORMS[match[name + "_wm"]]
        year_text = _group(match, name + "_wy")
    year = None
    if year_text is not None:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year or 2024, month)[1]:
        parts = [f"{name}_{suffix}" for suffix in ("nd", "nm", "ny", "wd", "wm", "wy")]
        spans = [match.span(part) for part in parts if _group(match, part) is not None]
        written = match.string[min(start for start, _ in spans) : max(end for _, end in spans)]
        raise _Refusal(f"нет такой даты «{written}»")
    return month, day, year


def _read_month(match: re.Match[str], name: str) -> int:
    return MONTH_FORMS[match[name]]


def _read_year(match: re.Match[str], name: str) -> int | None:
    text = _group(match, name)
    return int(text) if text is not None else None


class _Refusal(Exception):
    """Raised inside the scanner; becomes a DuePhraseError with the phrase."""


# --- the grammar: each rule is a pattern tried at the current position and what it adds ---------

_Handler = Callable[[re.Match[str], _Part], None]
_END = r"(?![а-я0-9])"
_OBJECT = r"(?:\s+(?:программы|программ|наставничества|реализации|работы|пары))*"


def _after(event: str) -> _Handler:
    """«по завершении программы» (no delay given) or «в течение 10 дней после завершения»; the
    same for the pairs fixed («в течение 2 недель после закрепления пар»)."""

    def handle(match: re.Match[str], part: _Part) -> None:
        days: int | None = None
        count_text = _group(match, "count")
        unit = _group(match, "unit") or _group(match, "unit_alone")
        if unit is not None:
            count = 1 if count_text is None else _NUMBER_WORDS.get(count_text) or int(count_text)
            per_unit = 30 if unit.startswith("месяц") else 7 if unit.startswith("недел") else 1
            days = count * per_unit
        part.event = (event, days)

    return handle


_after_programme = _after(PROGRAMME_END)


def _set(**values: object) -> Callable[[re.Match[str], _Part], None]:
    def handle(_match: re.Match[str], part: _Part) -> None:
        for name, value in values.items():
            setattr(part, name, value)

    return handle


def _fixed_window(
    start: tuple[int, int], end: tuple[int, int]
) -> Callable[[re.Match[str], _Part], None]:
    def handle(_match: re.Match[str], part: _Part) -> None:
        part.windows.append(_Written(start, end))

    return handle


def _numbered_window(
    windows: tuple[tuple[tuple[int, int], tuple[int, int]], ...],
) -> Callable[[re.Match[str], _Part], None]:
    def handle(match: re.Match[str], part: _Part) -> None:
        number = _ROMAN.get(match["n"]) or _NUMBER_WORDS.get(match["n"])
        if number is None or number > len(windows):
            raise _Refusal(f"нет такого периода «{match[0].strip()}»")
        start, end = windows[number - 1]
        year = _read_year(match, "by")  # «IV квартал 2026 г.»: the calendar year of its end
        start_year = None if year is None or start[0] <= end[0] else year - 1
        part.windows.append(_Written(start, end, year, start_year))

    return handle


def _half_year_deadline(match: re.Match[str], part: _Part) -> None:
    number = 1 if match["n"] in ("1", "i", "первого") else 2
    part.windows.append(_Written(None, HALF_YEARS[number - 1][1]))


def _half_year(match: re.Match[str], part: _Part) -> None:
    number = 1 if match["n"] in ("1", "i", "первое", "первом", "первого") else 2
    start, end = HALF_YEARS[number - 1]
    part.windows.append(_Written(start, end))


def _monthly_until(match: re.Match[str], part: _Part) -> None:
    day = int(match["day"])  # «до 30 числа»: the last day of a shorter month
    if not 1 <= day <= 31:
        raise _Refusal(f"число месяца {day}: ожидается от 1 до 31")
    part.recurrence, part.monthly_day = _Recurrence.monthly, day


def _from_to(match: re.Match[str], part: _Part) -> None:
    start_month, start_day, start_year = _read_date(match, "a")
    end_month, end_day, end_year = _read_date(match, "b")
    start, end = (start_month, start_day), (end_month, end_day)
    part.windows.append(
        _Written(start, end, _end_year(start, end, start_year, end_year), start_year)
    )


def _end_year(
    start: tuple[int, int],
    end: tuple[int, int | None],
    start_year: int | None,
    end_year: int | None,
) -> int | None:
    """«с 01.09.2022 по 15.10»: the end takes the start's year (the next one across New Year)."""
    if end_year is not None or start_year is None:
        return end_year
    return start_year if (end[0], end[1] or 31) >= start else start_year + 1


def _deadline(match: re.Match[str], part: _Part) -> None:
    month, day, year = _read_date(match, "b")
    part.windows.append(_Written(None, (month, day), year))


def _single_date(match: re.Match[str], part: _Part) -> None:
    month, day, year = _read_date(match, "b")
    part.windows.append(_Written((month, day), (month, day), year))


def _end_of_month(match: re.Match[str], part: _Part) -> None:
    part.windows.append(_Written(None, (_read_month(match, "bm"), None), _read_year(match, "by")))


def _month_range(match: re.Match[str], part: _Part) -> None:
    start, end = (_read_month(match, "am"), 1), (_read_month(match, "bm"), None)
    start_year, end_year = _read_year(match, "ay"), _read_year(match, "by")
    part.windows.append(
        _Written(start, end, _end_year(start, end, start_year, end_year), start_year)
    )


def _school_year_window(match: re.Match[str], part: _Part) -> None:
    first, second = int(match["first"]), int(match["second"])
    if second != first + 1:
        raise _Refusal(f"учебный год «{match[0].strip()}»: годы должны идти подряд")
    yearless = [w for w in part.windows if w.year is None and w.start_year is None]
    if not yearless:
        part.windows.append(_Written(SCHOOL_START, SCHOOL_END, second, first))
        return
    # «II полугодие 2027-2028 уч. года», «май 2027/2028 учебного года»: the school year says
    # which year the windows written before it fall in; it adds no window of its own.
    for written in yearless:
        end_year = first if written.end[0] >= 8 else second
        start_year = None
        if written.start is not None:
            start_year = first if written.start[0] >= 8 else second
        part.windows[part.windows.index(written)] = replace(
            written, year=end_year, start_year=start_year
        )


# «в начале / середине / конце месяца»: its first, middle and last ten days
_PARTS_OF_MONTH = {"начале": (1, 10), "середине": (11, 20), "конце": (21, None)}


def _part_of_month(match: re.Match[str], part: _Part) -> None:
    month = _read_month(match, "bm")
    first, last = _PARTS_OF_MONTH[match["part"]]
    part.windows.append(_Written((month, first), (month, last), _read_year(match, "by")))


# «3-я неделя сентября»: the month's weeks as seven-day stretches, the last one to its end
_WEEKS = {"1": 1, "первая": 1, "2": 2, "вторая": 2, "3": 3, "третья": 3, "4": 4, "четвертая": 4}


def _week_of_month(match: re.Match[str], part: _Part) -> None:
    month = _read_month(match, "bm")
    week = _WEEKS.get(match["w"])
    first, last = (22, None) if week is None else ((week - 1) * 7 + 1, week * 7)
    part.windows.append(_Written((month, first), (month, last), _read_year(match, "by")))


def _days_of_month(match: re.Match[str], part: _Part) -> None:
    """«1–15 октября»: days of one month."""
    month = _read_month(match, "bm")
    first, last = int(match["d1"]), int(match["d2"])
    if not (1 <= first <= last <= 31):
        raise _Refusal(f"дни «{match[0].strip()}»: ожидается от 1 до 31, начало не позже конца")
    part.windows.append(_Written((month, first), (month, last), _read_year(match, "by")))


def _single_month(match: re.Match[str], part: _Part) -> None:
    month = _read_month(match, "bm")
    part.windows.append(_Written((month, 1), (month, None), _read_year(match, "by")))


_ONE = r"(?:1|один|одного)"
_WITHIN = (
    r"(?:в течение|в течении|не позднее|не позже)\s+(?:(?P<count>\d+|одного|двух|трех|пяти|"
    r"десяти)\s+(?:рабочих\s+|календарных\s+)?(?P<unit>дн(?:я|ей)|недел[ьи]|месяц(?:а|ев)?)|"
    r"(?P<unit_alone>месяца|недели))\s+(?:после|по|с момента|со дня|с даты)\s+"
)
# «закрепления (наставнических) пар (и групп)», «издания приказа о закреплении пар»
_PAIRS_FIXED = (
    r"(?:(?:издания\s+)?приказа\s+о\s+)?(?:закреплени[яеи]|формировани[яеи]|утверждени[яеи])"
    r"\s+(?:(?:наставнических\s+)?(?:пар|групп)(?:\s*(?:и|/)\s*групп)?|наставник(?:а|ов))"
)
# «по плану работы техникума», «согласно плану работы школы / методического объединения»
_WORK_PLAN = (
    r"(?:\s+работы)?(?:\s+(?:школы|техникума|колледжа|лицея|гимназии|училища|учреждения|"
    r"организации|оо|доу|детского сада|центра|куратора|методического объединения|мо|"
    r"педагогического совета|управления образования|отдела образования|"
    r"(?:регионального\s+)?(?:методического\s+)?центра|"
    r"(?:муниципальной\s+)?методической службы|ммс))?"
)
# «формирования баз (наставников и наставляемых)», «утверждения реестров»
_BASES_FORMED = (
    r"(?:формировани[яеи]|создани[яеи]|утверждени[яеи])\s+(?:баз[ыа]?|реестров)"
    r"(?:\s+(?:и\s+)?(?:наставников|наставляемых))*"
)
_SCHEDULE = r"(?:графику|плану-графику|плану)"
# «завершения обучения наставников», «назначения наставников», «приказа о назначении наставников»
_TRAINING_DONE = (
    r"(?:(?:завершени[яеи]|окончани[яеи])\s+)?(?:(?:издания\s+)?приказа\s+о\s+)?"
    r"(?:обучени[яеи]|назначени[яеи])\s+наставник(?:ов|а)"
)
# «издания приказа о внедрении (целевой модели наставничества)», «утверждения положения»
_PREPARATION_DONE = (
    r"(?:(?:издания\s+)?приказа\s+о\s+внедрении|утверждени[яеи]\s+(?:положения|дорожной карты))"
    r"(?:\s+(?:целевой|модели|наставничества|о|системе|в|оо))*"
)
_RULES: list[tuple[str, _Handler]] = [
    # relative to the preparation orders approved
    (rf"{_WITHIN}{_PREPARATION_DONE}{_END}", _after(PREPARATION_DONE)),
    (rf"(?:после|по)\s+{_PREPARATION_DONE}{_END}", _after(PREPARATION_DONE)),
    # relative to the mentors trained and appointed
    (rf"{_WITHIN}{_TRAINING_DONE}{_END}", _after(TRAINING_DONE)),
    (rf"(?:после|по)\s+{_TRAINING_DONE}{_END}", _after(TRAINING_DONE)),
    # relative to the pairs fixed by order, or to the bases formed
    (rf"{_WITHIN}{_PAIRS_FIXED}{_END}", _after(PAIRS_FIXED)),
    (rf"(?:после|по)\s+{_PAIRS_FIXED}{_END}", _after(PAIRS_FIXED)),
    (rf"{_WITHIN}{_BASES_FORMED}{_END}", _after(BASES_FORMED)),
    (rf"(?:после|по)\s+{_BASES_FORMED}{_END}", _after(BASES_FORMED)),
    # relative to the end of the programme
    (
        rf"{_WITHIN}(?:завершени[яеи]|окончани[яеи]){_END}{_OBJECT}",
        _after_programme,
    ),
    # «до конца I полугодия»: by the half-year's end
    (
        rf"(?:до|к)\s+конц[ау]\s+(?P<n>1|2|i|ii|первого|второго)(?:-?го)?\s+полугодия{_END}",
        _half_year_deadline,
    ),
    # the summer that ends the school year; holidays (no one date); the start of the school year
    (
        rf"(?:в\s+)?(?:летний период|летние каникулы|летнее время|"
        rf"(?:в\s+)?период летн(?:ей|их) (?:оздоровительной кампании|каникул)|"
        rf"летн(?:яя|юю) оздоровительн(?:ая|ую) кампани[яю]){_END}",
        _fixed_window((6, 1), (8, 31)),
    ),
    (
        rf"(?:в\s+)?(?:каникулярное время|период каникул|каникулы|дни каникул){_END}",
        _set(on_demand=True),
    ),
    (rf"(?:к|до) началу? учебного года{_END}", _fixed_window((8, 1), (9, 1))),
    # the end of the school year (before the programme's end: «по окончании учебного года»)
    (
        rf"в конце (?:каждого )?(?:учебного )?года{_END}",
        _fixed_window(*END_OF_YEAR),
    ),
    (
        rf"(?:по окончании|по окончанию|после окончания|по итогам|по завершении|по завершению)"
        rf"\s+учебного года{_END}",
        _fixed_window(*AFTER_YEAR),
    ),
    (
        rf"(?:по завершени[июи]|по окончани[июи]|после завершения|после окончания|"
        rf"до завершения|до окончания){_END}(?!\s+(?:кажд|четверт|полугоди|месяц))"
        rf"{_OBJECT}|"
        rf"по итогам\s+(?:реализации\s+)?программ(?:ы)?(?:\s+наставничества)?{_END}",
        _after_programme,
    ),
    # all year
    (
        rf"(?:постоянно|регулярно|систематически|регулярное обновление|"
        rf"еженедельно(?:\s+по\s+(?:понедельникам|вторникам|средам|четвергам|пятницам|субботам))?|"
        rf"каждую неделю|(?:не реже\s+)?{_ONE}\s+раза?\s+в\s+неделю|"
        rf"(?:в течение|в течении|на протяжении)\s+(?:всего\s+)?(?:учебного\s+)?года|"
        rf"(?:в течение|в течении|на протяжении)\s+всего\s+периода(?:\s+(?:реализации|внедрения))?"
        rf"(?:\s+(?:цмн|программы|программ|проекта|наставничества))*|"
        rf"в соответствии со сроками реализации программ(?:ы)?(?:\s+наставничества)?|"
        rf"(?:в течение|в течении)\s+первого года работы"
        rf"(?:\s+молодого\s+(?:специалиста|педагога))?){_END}",
        _set(continuous=True),
    ),
    # no date at all
    (
        rf"(?:по мере необходимости|по необходимости|по мере обновления|по запросу|по запросам|"
        rf"по мере поступления(?:\s+(?:молодых специалистов|новых педагогов|педагогов|сотрудников|"
        rf"обучающихся|заявок|запросов))?|"
        rf"по итогам (?:мониторинга|диагностики|анкетирования)|"
        rf"корректировка по запросам|по (?:отдельному )?{_SCHEDULE}{_WORK_PLAN}|"
        rf"согласно {_SCHEDULE}{_WORK_PLAN}|"
        rf"в соответствии со сроками,?\s+(?:устанавливаемыми|установленными)\s+[а-я ]+){_END}",
        _set(on_demand=True),
    ),
    # recurrences within the school year
    (
        rf"(?:ежемесячно\s+)?до\s+(?P<day>\d{{1,2}})(?:-?го)?\s+числа(?:\s+каждого\s+месяца)?{_END}",
        _monthly_until,
    ),
    (
        rf"(?:ежемесячно|каждый месяц|(?:не реже\s+)?{_ONE}\s+раза?\s+в\s+месяц|"
        rf"в конце каждого месяца|(?:по итогам|по окончании)\s+каждого месяца){_END}",
        _set(recurrence=_Recurrence.monthly),
    ),
    (
        rf"(?:(?:не реже\s+)?{_ONE}\s+раза?\s+в\s+(?:2|два)\s+месяца|раз в два месяца){_END}",
        _set(recurrence=_Recurrence.bimonthly),
    ),
    (
        rf"(?:(?:не реже\s+)?{_ONE}\s+раза?\s+в\s+четверть|каждую четверть|по четвертям|"
        rf"ежечетвертно|(?:по окончании|по окончанию|по итогам|в конце)\s+(?:каждой\s+)?"
        rf"четверти){_END}",
        _set(recurrence=_Recurrence.school_quarterly),
    ),
    (
        rf"(?:ежеквартально|(?:не реже\s+)?{_ONE}\s+раза?\s+в\s+квартал){_END}",
        _set(recurrence=_Recurrence.quarterly),
    ),
    (
        rf"(?:(?:не реже\s+)?{_ONE}\s+раза?\s+в\s+полугодие|2 раза в год|два раза в год|"
        rf"(?:по окончании|по окончанию|по итогам|в конце)\s+(?:каждого\s+)?полугодия|"
        rf"по полугодиям){_END}",
        _set(recurrence=_Recurrence.half_yearly),
    ),
    (
        rf"(?:ежегодно|каждый год|(?:не реже\s+)?{_ONE}\s+раза?\s+в\s+год){_END}",
        _set(yearly=True),
    ),
    # named parts of the school year
    (
        rf"(?:в\s+|(?:по итогам|по окончании)\s+)?(?P<n>1|2|i|ii|первое|второе|первом|втором|"
        rf"первого|второго)(?:-?е|-?м|-?го)?\s+полугоди[еяи]{_END}",
        _half_year,
    ),
    (
        rf"(?:в\s+)?(?P<n>iv|iii|ii|i|[1-4])(?:-?[йяем])?\s+четверт(?:ь|и|ью){_END}"
        rf"(?:\s+{_year('by')})?",
        _numbered_window(SCHOOL_QUARTERS),
    ),
    (
        rf"(?:в\s+)?(?P<n>iv|iii|ii|i|[1-4])(?:-?[йгм]о?)?\s+квартал(?:а|е)?{_END}"
        rf"(?:\s+{_year('by')})?",
        _numbered_window(CALENDAR_QUARTERS),
    ),
    # a school year written out: «2023-2024 учебный год», «в течение 2023/2024 уч. года»
    (
        r"(?:(?:в течение|в течении|на протяжении)\s+)?(?P<first>\d{4})\s*[-/]\s*(?P<second>\d{4})"
        rf"\s+(?:уч\.|учебн(?:ый|ого|ом))\s*(?:года|году|год|г\.?){_END}",
        _school_year_window,
    ),
    # part of a month: «в начале сентября», «в середине октября», «в конце мая»
    (
        rf"(?:в\s+)?(?P<part>начале|середине|конце)\s+{_month('bm')}(?:\s+{_year('by')})?",
        _part_of_month,
    ),
    # a week of a month: «3-я неделя сентября», «последняя неделя мая»
    (
        rf"(?:на\s+|в\s+)?(?P<w>[1-4]|первая|вторая|третья|четвертая|последняя)(?:-?я)?\s+"
        rf"недел[яеюи]\s+{_month('bm')}(?:\s+{_year('by')})?",
        _week_of_month,
    ),
    # days of one month: «1–15 октября», «с 1 по 15 октября»
    (
        rf"(?:с\s+)?(?P<d1>\d{{1,2}})\s*(?:-|по)\s*(?P<d2>\d{{1,2}})\s+{_month('bm')}"
        rf"(?:\s+{_year('by')})?",
        _days_of_month,
    ),
    # dated windows
    (rf"(?:с|со)\s+{_date('a')}\s*(?:по|до|-)\s*{_date('b')}", _from_to),
    (rf"{_date('a')}\s*-\s*{_date('b')}", _from_to),
    (
        rf"(?:(?:с|со)\s+)?{_month('am')}(?:\s+{_year('ay')})?\s*(?:-|по|до)\s*"
        rf"{_month('bm')}(?:\s+{_year('by')})?",
        _month_range,
    ),
    (rf"(?:в срок до|до|по|не позднее|не позже|к)\s+{_date('b')}", _deadline),
    (rf"(?:до|к)\s+конц[ау]\s+{_month('bm')}(?:\s+{_year('by')})?", _end_of_month),
    (rf"(?:в\s+)?{_date('b')}", _single_date),
    (rf"(?:в\s+(?:течение\s+|течении\s+)?)?{_month('bm')}(?:\s+{_year('by')})?", _single_month),
    # a blank left after «до» in the source: the item has no date
    (r"до(?=[\s.,;:]*$)", _set(undated=True)),
]
_COMPILED: list[tuple[re.Pattern[str], _Handler]] = [
    (re.compile(pattern), handler) for pattern, handler in _RULES
]
_SKIP = re.compile(
    r"(?:[\s,.;:()\-«»\"/]+|(?:и|или|а также|также|а|обновление|срок|сроки)(?![а-я0-9]))+"
)
_THEN = re.compile(r"далее(?![а-я])")
_CITED_DOCUMENT = re.compile(r"(?:приказ|протокол|распоряжени|решени)[а-я]*\b.*?\bот\s+\d")
_CITED_DATE = re.compile(rf"\bот\s+{_date('b')}")


def _normalise(phrase: str) -> str:
    text = phrase.lower().replace("ё", "е")
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class DueRule:
    """A parsed due rule, independent of any year; `schedule` places it in a cycle."""

    phrase: str
    first: _Part
    later: _Part | None = None  # after «далее»

    def schedule(self, *, written_for: str, cycle: str, first_cycle: str | None = None) -> Schedule:
        """The item's windows in `cycle`, for a roadmap written for `written_for` (module doc)."""
        written_year = first_year(written_for)
        cycle_year = first_year(cycle)
        first_cycle_year = first_year(first_cycle or cycle)
        index = cycle_year - first_cycle_year  # which year of a multi-year roadmap this cycle is
        try:
            return self._schedule(written_year, cycle_year, first_cycle_year, index)
        except _Refusal as refusal:
            raise DuePhraseError(self.phrase, str(refusal)) from None

    def _schedule(
        self, written_year: int, cycle_year: int, first_cycle_year: int, index: int
    ) -> Schedule:
        home_year = _written_school_year(self.first)
        if home_year is None:  # no year written: every year, in the cycle's own span
            return _part_schedule(self.first, cycle_year)
        if home_year < written_year - 1:
            raise _Refusal(
                f"дата в {home_year}/{home_year + 1} учебном году, раньше учебного года дорожной "
                f"карты {written_year}/{written_year + 1} больше чем на год: проверьте school_year"
            )
        home = max(home_year - written_year, 0)  # dated before the roadmap's year: its lead-in
        if index == home:
            shift = first_cycle_year - written_year
            return _part_schedule(self.first, home_year + shift, shift=shift)
        if index > home:
            later = self.later
            if later is not None and not _only_repeats(later):
                return _part_schedule(later, cycle_year)
            if later is not None or self.first.yearly:  # «далее ежегодно»: the same months
                return _part_schedule(_without_years(self.first), cycle_year)
            if self.first.continuous:  # «До 01.10.2022 года постоянно»
                return _continuous(cycle_year)
        kind = _part_schedule(self.first, home_year).kind
        return Schedule(kind=kind, applies=False)


def _only_repeats(part: _Part) -> bool:
    """«далее ежегодно (или по запросу)»: the first part's windows again each year."""
    return part.yearly and not (part.windows or part.recurrence or part.event or part.continuous)


@functools.lru_cache(maxsize=4096)
def _past_a_note(text: str, position: int) -> int:
    """Where to read on when no rule reads `text` at `position`: past a note in brackets
    («15.06.2027 (сайт)», «ежемесячно (последняя неделя месяца)»), or past a name that stands
    before a bracketed date («Неделя молодого педагога (февраль)»); else a refusal."""
    opened, closed = text.rfind("(", 0, position), text.rfind(")", 0, position)
    ends = text.find(")", position)
    if opened > closed and ends != -1:
        return ends + 1
    name = re.compile(r"[а-я ]+(?=\()").match(text, position)
    if name is not None and name.end() > position:
        return name.end()
    raise _Refusal(f"не понимаю «{text[position:].rstrip(')').strip()}»")


def parse_rule(phrase: str) -> DueRule:
    """Read a due rule once (cached: a rule is never changed after parsing); DuePhraseError."""
    text = _normalise(phrase)
    try:
        cited = _cited_deadline(text)
        if cited is not None:
            return DueRule(phrase, cited)
        parts = [_Part()]
        position = 0
        while position < len(text):
            skipped = _SKIP.match(text, position)
            if skipped and skipped.end() > position:
                position = skipped.end()
                continue
            then = _THEN.match(text, position)
            if then:
                if len(parts) == 2:
                    raise _Refusal("«далее» встречается дважды")
                parts.append(_Part())
                position = then.end()
                continue
            for pattern, handle in _COMPILED:
                match = pattern.match(text, position)
                if match and match.end() > position:
                    handle(match, parts[-1])
                    position = match.end()
                    break
            else:
                position = _past_a_note(text, position)
        if len(parts) == 2 and parts[1].is_empty():
            raise _Refusal("после «далее» нет срока")
        if parts[0].is_empty():
            parts[0].undated = True  # an empty cell: the source gives no date
        rule = DueRule(phrase, parts[0], parts[1] if len(parts) == 2 else None)
        _written_school_year(rule.first)  # refuses dates in two school years
        for part in parts:  # refuses windows that end before they start
            _part_schedule(part, 2000)
        if rule.later is not None and _written_school_year(rule.later) is not None:
            raise _Refusal("после «далее» срок с годом: ожидается правило без года")
        return rule
    except _Refusal as refusal:
        raise DuePhraseError(phrase, str(refusal)) from None


def parse_due(
    phrase: str, *, written_for: str, cycle: str, first_cycle: str | None = None
) -> Schedule:
    """The item's Schedule in `cycle`'s school year; raises DuePhraseError if unreadable."""
    return parse_rule(phrase).schedule(
        written_for=written_for, cycle=cycle, first_cycle=first_cycle
    )


def planning_span(school_year: str) -> Window:
    """1 August of the school year's first year .. 31 July of its second."""
    year = first_year(school_year)
    return Window(date(year, 8, 1), date(year + 1, 7, 31))


def school_year_of(day: date) -> str:
    """The school year whose planning span holds `day`: 2026/2027 for 2026-08-01 .. 2027-07-31."""
    year = day.year if day.month >= 8 else day.year - 1
    return f"{year}/{year + 1}"


# --- placing a parsed rule in a year -------------------------------------------------------------


def _cited_deadline(text: str) -> _Part | None:
    """«1.Приказ от 14.06. 2022г. № 37 …; 2. Протокол № 8 от 07.06.2022г.»: due by the last date."""
    if not _CITED_DOCUMENT.search(text):
        return None
    cited: list[tuple[int, int, int]] = []
    for match in _CITED_DATE.finditer(text):
        month, day, year = _read_date(match, "b")
        if year is None:
            raise _Refusal(f"у даты документа нет года: «{match[0]}»")
        cited.append((year, month, day))
    if not cited:
        return None
    year, month, day = max(cited)
    return _Part(windows=[_Written(None, (month, day), year)])


def _written_school_year(part: _Part) -> int | None:
    """The school year (its first calendar year) of the part's dated windows, if they give one."""
    years = set()
    for written in part.windows:
        if written.year is not None:
            end = _end_date(written, written.year)
            summer = _through_summer(written) and written.start_year in (None, written.year)
            years.add(end.year if end.month >= 8 and not summer else end.year - 1)
    if len(years) > 1:
        listed = ", ".join(f"{year}/{year + 1}" for year in sorted(years))
        raise _Refusal(f"даты в разных учебных годах ({listed}): разделите пункт")
    return years.pop() if years else None


def _without_years(part: _Part) -> _Part:
    windows = [replace(written, year=None, start_year=None) for written in part.windows]
    return replace(part, windows=windows)


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _end_date(written: _Written, year: int) -> date:
    month, day = written.end
    return date(year, month, min(day or 31, _last_day(year, month)))


def _through_summer(written: _Written) -> bool:
    """A window from a month of January–July to August: the summer that ends the school year,
    not the one before it («июнь – август», «в летний период»; a calendar quarter «III квартал»,
    July–September, is the one the span starts in)."""
    return written.start is not None and written.start[0] < 8 and written.end[0] == 8


def _place(written: _Written, span_year: int, shift: int) -> Window:
    """A written window as dates: in the span of `span_year` if it has no year, else shifted."""
    end_month = written.end[0]
    if written.year is not None:
        end_year = written.year + shift
    elif _through_summer(written):  # «июнь – август»: the summer after the school year
        end_year = span_year + 1
    else:
        end_year = span_year if end_month >= 8 else span_year + 1
    end = _end_date(written, end_year)
    if written.start is None:  # «до …»: from the start of the planning span holding the date
        span_start = end.year if end.month >= 8 else end.year - 1
        return Window(date(span_start, 8, 1), end)
    start_month, start_day = written.start
    if written.start_year is not None:
        start_year = written.start_year + shift
    elif (start_month, start_day) <= (end.month, end.day):
        start_year = end.year
    elif start_month >= 8 > end.month:  # across New Year: «декабрь-январь»
        start_year = end.year - 1
    else:
        raise _Refusal("начало срока позже его конца")
    start = date(start_year, start_month, min(start_day, _last_day(start_year, start_month)))
    if start > end:
        raise _Refusal("начало срока позже его конца")
    return Window(start, end)


def _continuous(span_year: int) -> Schedule:
    return Schedule(
        kind=WindowKind.continuous,
        windows=(_window(span_year, SCHOOL_START, SCHOOL_END),),
    )


def _window(span_year: int, start: tuple[int, int], end: tuple[int, int | None]) -> Window:
    return _place(_Written(start, end), span_year, 0)


def _recurrence_windows(part: _Part, span_year: int) -> tuple[Window, ...]:
    if part.recurrence is _Recurrence.monthly:
        windows = []
        for month in MONTHS_OF_SCHOOL_YEAR:
            year = span_year if month >= 8 else span_year + 1
            last = min(part.monthly_day or 31, _last_day(year, month))
            windows.append(Window(date(year, month, 1), date(year, month, last)))
        return tuple(windows)
    if part.recurrence is _Recurrence.bimonthly:
        pairs = [MONTHS_OF_SCHOOL_YEAR[i : i + 2] for i in range(0, len(MONTHS_OF_SCHOOL_YEAR), 2)]
        return tuple(_window(span_year, (months[0], 1), (months[-1], None)) for months in pairs)
    if part.recurrence is _Recurrence.school_quarterly:
        return tuple(_window(span_year, start, end) for start, end in SCHOOL_QUARTERS)
    if part.recurrence is _Recurrence.half_yearly:
        return tuple(_window(span_year, start, end) for start, end in HALF_YEARS)
    # calendar quarters, cut to the planning span: Aug–Sep, Oct–Dec, Jan–Mar, Apr–Jun
    quarters = [_window(span_year, start, end) for start, end in CALENDAR_QUARTERS]
    span_start = date(span_year, 8, 1)
    return tuple(sorted(Window(max(window.start, span_start), window.end) for window in quarters))


def _part_schedule(part: _Part, span_year: int, *, shift: int = 0) -> Schedule:
    """What a part means in the span of `span_year`; written years move by `shift` years."""
    if part.event is not None:
        event, days_after = part.event
        return Schedule(kind=WindowKind.after_event, event=event, days_after=days_after)
    if part.windows:
        dated = sorted(_place(written, span_year, shift) for written in part.windows)
        return Schedule(kind=WindowKind.dated, windows=tuple(dated))
    if part.recurrence is not None:
        windows = _recurrence_windows(part, span_year)
        return Schedule(kind=WindowKind.dated, windows=windows, recurring=True)
    if part.continuous or part.yearly:
        return _continuous(span_year)
    if part.undated:
        return replace(_continuous(span_year), undated=True)
    return Schedule(kind=WindowKind.on_demand)
