"""The date grammar: every due rule of the roadmaps in `roadmaps/`, the issue's examples with their
exact windows, years rolled forward, multi-year offsets, New Year, and errors that name the file,
the item and the phrase."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from nastavnik.dates import (
    MONTH_FORMS,
    DuePhraseError,
    Schedule,
    Window,
    WindowKind,
    parse_due,
    parse_rule,
    planning_span,
    school_year_of,
)
from nastavnik.roadmap import RoadmapError, load_roadmap

ROADMAPS = Path(__file__).parent.parent / "roadmaps"


def _due_phrases() -> list[tuple[str, str, str, str]]:
    """(file, item key, due, written_for) for every item of every roadmap, read from the files."""
    phrases = []
    for path in sorted(ROADMAPS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in data["items"]:
            key = item.get("id") or item["number"]
            phrases.append((path.name, key, item["due"], data["school_year"]))
    return phrases


DUE_PHRASES = _due_phrases()


def test_the_roadmaps_hold_due_rules_to_read() -> None:
    files = {file for file, _key, _due, _year in DUE_PHRASES}
    assert len(files) == 6  # the four seeds, the demo school's and the demo department's roadmaps
    assert len(DUE_PHRASES) == 15 + 25 + 37 + 6 + 15 + 5


@pytest.mark.parametrize(
    ("file", "key", "due", "written_for"),
    DUE_PHRASES,
    ids=[f"{file}:{key}" for file, key, _due, _year in DUE_PHRASES],
)
def test_every_due_rule_in_the_roadmaps_is_read(
    file: str, key: str, due: str, written_for: str
) -> None:
    first_cycle = "2026/2027"
    for cycle_year in range(2026, 2026 + 6):  # a five-year roadmap's years, and one after
        cycle = f"{cycle_year}/{cycle_year + 1}"
        schedule = parse_due(due, written_for=written_for, cycle=cycle, first_cycle=first_cycle)
        if not schedule.applies:
            assert schedule.windows == ()
            continue
        for window in schedule.windows:
            assert window.start <= window.end
            # in the cycle's planning span, or (the first cycle only) in the spring before it
            span = planning_span(cycle)
            lead_in = planning_span(f"{cycle_year - 1}/{cycle_year}")
            assert span.start <= window.end <= span.end or (
                cycle == first_cycle and lead_in.start <= window.end <= lead_in.end
            ), (due, cycle, window)
        if schedule.kind is WindowKind.after_event:
            assert schedule.event == "programme-end"
        if schedule.kind in (WindowKind.on_demand, WindowKind.after_event):
            assert schedule.windows == ()
        else:
            assert schedule.windows


def _w(start: str, end: str) -> Window:
    return Window(date.fromisoformat(start), date.fromisoformat(end))


def dated(*windows: Window, recurring: bool = False) -> Schedule:
    return Schedule(kind=WindowKind.dated, windows=windows, recurring=recurring)


SCHOOL_YEAR_2026 = Schedule(kind=WindowKind.continuous, windows=(_w("2026-09-01", "2027-05-31"),))
MONTHS_2026 = tuple(
    _w(f"{year}-{month:02}-01", f"{year}-{month:02}-{last}")
    for year, month, last in [
        (2026, 9, 30),
        (2026, 10, 31),
        (2026, 11, 30),
        (2026, 12, 31),
        (2027, 1, 31),
        (2027, 2, 28),
        (2027, 3, 31),
        (2027, 4, 30),
        (2027, 5, 31),
    ]
)

# (phrase, written_for, expected in the cycle 2026/2027 as the first cycle)
EXAMPLES: list[tuple[str, str, Schedule]] = [
    # issue 7 and DESIGN §7; a roadmap written for 2021/2022 unless the phrase's year says otherwise
    ("до 13.05.2022", "2021/2022", dated(_w("2026-08-01", "2027-05-13"))),
    ("Август–сентябрь, ежегодно", "2021/2022", dated(_w("2026-08-01", "2026-09-30"))),
    ("Ноябрь 2021 г., далее ежегодно", "2021/2022", dated(_w("2026-11-01", "2026-11-30"))),
    ("сентябрь 2022", "2022/2023", dated(_w("2026-09-01", "2026-09-30"))),
    ("декабрь-январь", "2021/2022", dated(_w("2026-12-01", "2027-01-31"))),
    ("май–июнь 2024", "2023/2024", dated(_w("2027-05-01", "2027-06-30"))),
    ("В течение года (1 раз в месяц)", "2021/2022", dated(*MONTHS_2026, recurring=True)),
    ("ежемесячно", "2021/2022", dated(*MONTHS_2026, recurring=True)),
    (
        "1 раз в четверть",
        "2021/2022",
        dated(
            _w("2026-09-01", "2026-10-31"),
            _w("2026-11-01", "2026-12-31"),
            _w("2027-01-01", "2027-03-31"),
            _w("2027-04-01", "2027-05-31"),
            recurring=True,
        ),
    ),
    ("Постоянно", "2021/2022", SCHOOL_YEAR_2026),
    ("По мере необходимости", "2021/2022", Schedule(kind=WindowKind.on_demand)),
    (
        "По завершении программы",
        "2021/2022",
        Schedule(kind=WindowKind.after_event, event="programme-end"),
    ),
    ("В конце учебного года", "2021/2022", dated(_w("2027-05-16", "2027-05-31"))),
    (
        "в течение 10 дней после завершения",
        "2021/2022",
        Schedule(kind=WindowKind.after_event, event="programme-end", days_after=10),
    ),
    (
        "до 20 числа каждого месяца",
        "2021/2022",
        dated(
            *(Window(window.start, window.start.replace(day=20)) for window in MONTHS_2026),
            recurring=True,
        ),
    ),
    # the usual variations
    ("до 1 сентября", "2021/2022", dated(_w("2026-08-01", "2026-09-01"))),
    ("с 01.09 по 15.10", "2021/2022", dated(_w("2026-09-01", "2026-10-15"))),
    ("1 полугодие", "2021/2022", dated(_w("2026-09-01", "2026-12-31"))),
    ("II квартал", "2021/2022", dated(_w("2027-04-01", "2027-06-30"))),
    ("III четверть", "2021/2022", dated(_w("2027-01-01", "2027-03-31"))),
    (
        "в течение месяца после завершения программы",
        "2021/2022",
        Schedule(kind=WindowKind.after_event, event="programme-end", days_after=30),
    ),
    ("По окончании учебного года", "2021/2022", dated(_w("2027-06-01", "2027-06-30"))),
    ("до конца октября", "2021/2022", dated(_w("2026-08-01", "2026-10-31"))),
    ("15.10.2021", "2021/2022", dated(_w("2026-10-15", "2026-10-15"))),
    ("в феврале", "2021/2022", dated(_w("2027-02-01", "2027-02-28"))),
    ("с сентября по май", "2021/2022", dated(_w("2026-09-01", "2027-05-31"))),
    ("2026-2027 учебный год", "2026/2027", dated(_w("2026-09-01", "2027-05-31"))),
    ("в конце мая", "2021/2022", dated(_w("2027-05-21", "2027-05-31"))),
    ("в начале сентября 2021 г.", "2021/2022", dated(_w("2026-09-01", "2026-09-10"))),
    ("Ежегодно, сентябрь", "2021/2022", dated(_w("2026-09-01", "2026-09-30"))),
    (
        "Январь, май",
        "2021/2022",
        dated(_w("2027-01-01", "2027-01-31"), _w("2027-05-01", "2027-05-31")),
    ),
    (
        "не позднее 2 недель после окончания программы",
        "2021/2022",
        Schedule(kind=WindowKind.after_event, event="programme-end", days_after=14),
    ),
    ("по отдельному графику", "2021/2022", Schedule(kind=WindowKind.on_demand)),
    # Phrases met when a roadmap was written blind from docs/roadmaps.md (a college's plan).
    ("по плану работы техникума", "2026/2027", Schedule(kind=WindowKind.on_demand)),
    (
        "согласно плану работы методического объединения",
        "2026/2027",
        Schedule(kind=WindowKind.on_demand),
    ),
    (
        "в течение 2 недель после закрепления пар",
        "2026/2027",
        Schedule(kind=WindowKind.after_event, event="pairs-fixed", days_after=14),
    ),
    (
        "в течение месяца после издания приказа о закреплении наставнических пар",
        "2026/2027",
        Schedule(kind=WindowKind.after_event, event="pairs-fixed", days_after=30),
    ),
    (
        "После формирования пар и групп",
        "2026/2027",
        Schedule(kind=WindowKind.after_event, event="pairs-fixed"),
    ),
    # … and in a college's, a third time.
    ("IV квартал 2026 г.", "2026/2027", dated(_w("2026-10-01", "2026-12-31"))),
    ("в II квартале 2027 года", "2026/2027", dated(_w("2027-04-01", "2027-06-30"))),
    ("в течение учебного года по плану-графику", "2026/2027", SCHOOL_YEAR_2026),
    (
        "1 раз в 2 месяца",
        "2026/2027",
        dated(
            _w("2026-09-01", "2026-10-31"),
            _w("2026-11-01", "2026-12-31"),
            _w("2027-01-01", "2027-02-28"),
            _w("2027-03-01", "2027-04-30"),
            _w("2027-05-01", "2027-05-31"),
            recurring=True,
        ),
    ),
    (
        "в течение 2 недель после завершения обучения наставников",
        "2026/2027",
        Schedule(kind=WindowKind.after_event, event="training-done", days_after=14),
    ),
    # … and in a college's, a seventh time.
    (
        "в течение 5 рабочих дней после издания приказа о внедрении",
        "2026/2027",
        Schedule(kind=WindowKind.after_event, event="preparation-done", days_after=5),
    ),
    ("согласно графику регионального центра", "2026/2027", Schedule(kind=WindowKind.on_demand)),
    # … and in a gymnasium's, a sixth time.
    ("до конца I полугодия", "2026/2027", dated(_w("2026-08-01", "2026-12-31"))),
    ("в конце каждого учебного года", "2026/2027", dated(_w("2027-05-16", "2027-05-31"))),
    ("в течение первого года работы молодого специалиста", "2026/2027", SCHOOL_YEAR_2026),
    ("по мере поступления молодых специалистов", "2026/2027", Schedule(kind=WindowKind.on_demand)),
    ("по итогам мониторинга", "2026/2027", Schedule(kind=WindowKind.on_demand)),
    (
        "в течение трёх месяцев с момента закрепления наставника",
        "2026/2027",
        Schedule(kind=WindowKind.after_event, event="pairs-fixed", days_after=90),
    ),
    # … and in a centre's, a fifth time.
    ("к началу учебного года", "2026/2027", dated(_w("2026-08-01", "2026-09-01"))),
    ("в каникулярное время", "2026/2027", Schedule(kind=WindowKind.on_demand)),
    (
        "в период летней оздоровительной кампании",
        "2026/2027",
        dated(_w("2027-06-01", "2027-08-31")),
    ),
    ("июнь – август", "2026/2027", dated(_w("2027-06-01", "2027-08-31"))),
    ("июнь – август 2027 г.", "2026/2027", dated(_w("2027-06-01", "2027-08-31"))),
    (
        "в течение 2 недель по окончании программы",
        "2026/2027",
        Schedule(kind=WindowKind.after_event, event="programme-end", days_after=14),
    ),
    (
        "по полугодиям",
        "2026/2027",
        dated(_w("2026-09-01", "2026-12-31"), _w("2027-01-01", "2027-05-31"), recurring=True),
    ),
    # … and in a school's, a fourth time.
    ("3-я неделя сентября", "2026/2027", dated(_w("2026-09-15", "2026-09-21"))),
    ("1–15 октября", "2026/2027", dated(_w("2026-10-01", "2026-10-15"))),
    ("еженедельно, в течение учебного года", "2026/2027", SCHOOL_YEAR_2026),
    ("по плану управления образования", "2026/2027", Schedule(kind=WindowKind.on_demand)),
    # … and in a lyceum's two-year plan, written the same way.
    (
        "в течение двух недель после формирования баз",
        "2026/2027",
        Schedule(kind=WindowKind.after_event, event="bases-formed", days_after=14),
    ),
    ("по итогам I полугодия", "2026/2027", dated(_w("2026-09-01", "2026-12-31"))),
    (
        "Неделя молодого педагога (февраль), ежегодно",
        "2026/2027",
        dated(_w("2027-02-01", "2027-02-28")),
    ),
    ("15.06.2027 (сайт)", "2026/2027", dated(_w("2027-06-15", "2027-06-15"))),
    (
        "15.06.2027 (сайт) / 30.06.2027 (сборник)",
        "2026/2027",
        dated(_w("2027-06-15", "2027-06-15"), _w("2027-06-30", "2027-06-30")),
    ),
    (
        "по окончании каждой четверти",
        "2026/2027",
        dated(
            _w("2026-09-01", "2026-10-31"),
            _w("2026-11-01", "2026-12-31"),
            _w("2027-01-01", "2027-03-31"),
            _w("2027-04-01", "2027-05-31"),
            recurring=True,
        ),
    ),
    (
        "по итогам полугодия",
        "2026/2027",
        dated(_w("2026-09-01", "2026-12-31"), _w("2027-01-01", "2027-05-31"), recurring=True),
    ),
    (
        "ежеквартально",
        "2021/2022",
        dated(
            _w("2026-08-01", "2026-09-30"),
            _w("2026-10-01", "2026-12-31"),
            _w("2027-01-01", "2027-03-31"),
            _w("2027-04-01", "2027-06-30"),
            recurring=True,
        ),
    ),
]


@pytest.mark.parametrize(
    ("phrase", "written_for", "expected"), EXAMPLES, ids=[phrase for phrase, *_ in EXAMPLES]
)
def test_the_examples_give_exact_windows(phrase: str, written_for: str, expected: Schedule) -> None:
    assert parse_due(phrase, written_for=written_for, cycle="2026/2027") == expected


@pytest.mark.parametrize(
    "variant",
    [
        "Август–сентябрь, ежегодно",
        "август-сентябрь ежегодно",
        "АВГУСТ — СЕНТЯБРЬ, ЕЖЕГОДНО.",
        "Август - сентябрь, ежегодно...",
        "август‑сентябрь (ежегодно)",
        "с августа по сентябрь, ежегодно",
        "авг.–сент., ежегодно",
    ],
)
def test_dashes_case_and_punctuation_do_not_matter(variant: str) -> None:
    expected = dated(_w("2026-08-01", "2026-09-30"))
    assert parse_due(variant, written_for="2021/2022", cycle="2026/2027") == expected


@pytest.mark.parametrize(
    "variant",
    ["до 13.05.2022", "До 13.05.2022 года", "до 13.05.2022 г.", "до 13.05.22", "до 13 мая 2022 г."],
)
def test_year_words_and_short_years(variant: str) -> None:
    expected = dated(_w("2026-08-01", "2027-05-13"))
    assert parse_due(variant, written_for="2021/2022", cycle="2026/2027") == expected


def test_every_case_form_of_every_month_is_read() -> None:
    for form, month in MONTH_FORMS.items():
        schedule = parse_due(form, written_for="2026/2027", cycle="2026/2027")
        (window,) = schedule.windows
        assert (window.start.month, window.start.day, window.end.month) == (month, 1, month)
        assert school_year_of(window.end) == "2026/2027"


def test_a_roadmap_written_for_2022_rolls_forward_to_2026() -> None:
    # seed 001 (school 7), written for 2022/2023: «До 01.10.2022 года постоянно»; «Июнь Ежегодно»
    rolled = {
        "До 01.10.2022 года постоянно": dated(_w("2026-08-01", "2026-10-01")),
        "сентябрь 2022": dated(_w("2026-09-01", "2026-09-30")),
        "до 13.05.2023": dated(_w("2026-08-01", "2027-05-13")),
        "Июнь Ежегодно": dated(_w("2027-06-01", "2027-06-30")),
        "с 01.09.2022 по 15.10.2022": dated(_w("2026-09-01", "2026-10-15")),
    }
    for phrase, expected in rolled.items():
        assert parse_due(phrase, written_for="2022/2023", cycle="2026/2027") == expected
    # a date before the roadmap's first year is its lead-in: seed 001 «До 13.05.2022 года»,
    # the spring before 2022/2023, is due in the spring before the first cycle
    assert parse_due("До 13.05.2022 года", written_for="2022/2023", cycle="2026/2027") == dated(
        _w("2025-08-01", "2026-05-13")
    )
    later = parse_due(
        "До 13.05.2022 года", written_for="2022/2023", cycle="2027/2028", first_cycle="2026/2027"
    )
    assert later == Schedule(kind=WindowKind.dated, applies=False)


def test_29_february_rolls_to_28_february() -> None:
    schedule = parse_due("до 29.02.2024", written_for="2023/2024", cycle="2026/2027")
    assert schedule == dated(_w("2026-08-01", "2027-02-28"))


def _in(phrase: str, cycle: str, written_for: str = "2020/2021") -> Schedule:
    return parse_due(phrase, written_for=written_for, cycle=cycle, first_cycle="2026/2027")


def test_a_multi_year_roadmap_keeps_each_item_in_its_year() -> None:
    # seed 002 (Kedrovy, «на 2020-2024 гг.», written for 2020/2021), first cycle 2026/2027
    final = "Октябрь 2024 г."  # «ЗАВЕРШАЮЩИЙ ЭТАП … Организация сбора отчетов»: its fifth year
    assert _in(final, "2026/2027").applies is False
    assert _in(final, "2029/2030").applies is False
    assert _in(final, "2030/2031") == dated(_w("2030-10-01", "2030-10-31"))
    assert _in(final, "2031/2032").applies is False

    assert _in("Ноябрь 2020 г.", "2026/2027") == dated(_w("2026-11-01", "2026-11-30"))
    assert _in("Ноябрь 2020 г.", "2027/2028").applies is False


def test_далее_ежегодно_applies_from_its_year_on() -> None:
    phrase = "Ноябрь 2021 г., далее -  ежегодно или по запросу"  # seed 002, «ОСНОВНОЙ ЭТАП» 4.
    assert _in(phrase, "2026/2027") == Schedule(kind=WindowKind.dated, applies=False)
    for year in (2027, 2028, 2031):
        expected = dated(_w(f"{year}-11-01", f"{year}-11-30"))
        assert _in(phrase, f"{year}/{year + 1}") == expected


def test_далее_continuous_after_its_dated_year() -> None:
    phrase = "Март 2022 г., далее – В течении всего периода реализации"  # seed 002, 7.
    assert _in(phrase, "2026/2027").applies is False
    assert _in(phrase, "2027/2028") == dated(_w("2028-03-01", "2028-03-31"))
    assert _in(phrase, "2028/2029") == Schedule(
        kind=WindowKind.continuous, windows=(_w("2028-09-01", "2029-05-31"),)
    )


def test_a_dated_then_continuous_item_becomes_continuous_later() -> None:
    # seed 001, 4.: «Создание, наполнение и обновление раздела … До 01.10.2022 года постоянно»
    phrase = "До 01.10.2022 года постоянно"
    assert _in(phrase, "2026/2027", "2022/2023") == dated(_w("2026-08-01", "2026-10-01"))
    assert _in(phrase, "2027/2028", "2022/2023").kind is WindowKind.continuous


def test_items_without_a_year_apply_every_year() -> None:
    for phrase in ("Ежегодно", "Сентябрь-октябрь", "Постоянно", "", "до"):
        for year in (2026, 2029):
            assert _in(phrase, f"{year}/{year + 1}").applies


def test_first_cycle_defaults_to_the_cycle() -> None:
    assert parse_due("Октябрь 2024 г.", written_for="2020/2021", cycle="2026/2027").applies is False
    assert parse_due("Ноябрь 2020 г.", written_for="2020/2021", cycle="2030/2031") == dated(
        _w("2030-11-01", "2030-11-30")
    )


def test_a_school_year_written_after_a_half_year_says_which_year_it_is() -> None:
    """«II полугодие 2027-2028 уч. года» of a two-year roadmap: one window, in its second year."""
    phrase = "II полугодие 2027-2028 уч. года"
    first = parse_due(phrase, written_for="2026/2027", cycle="2026/2027")
    second = parse_due(phrase, written_for="2026/2027", cycle="2027/2028", first_cycle="2026/2027")
    assert not first.applies
    assert second.windows == (Window(date(2028, 1, 1), date(2028, 5, 31)),)


def test_windows_across_new_year() -> None:
    assert parse_due("декабрь-январь", written_for="2030/2031", cycle="2030/2031") == dated(
        _w("2030-12-01", "2031-01-31")
    )
    written = "декабрь 2021 – январь 2022"
    assert parse_due(written, written_for="2021/2022", cycle="2026/2027") == dated(
        _w("2026-12-01", "2027-01-31")
    )
    assert parse_due("декабрь–январь 2022", written_for="2021/2022", cycle="2026/2027") == dated(
        _w("2026-12-01", "2027-01-31")
    )
    assert parse_due("с 20.12 по 10.01", written_for="2021/2022", cycle="2026/2027") == dated(
        _w("2026-12-20", "2027-01-10")
    )
    # a year written on the start only: the end takes the next year across New Year
    assert parse_due("с 20.12.2021 по 10.01", written_for="2021/2022", cycle="2026/2027") == dated(
        _w("2026-12-20", "2027-01-10")
    )


def test_seed_phrases_that_need_a_reading() -> None:
    # seed 004 (lyceum), item 1: its due cell cites the documents that did it; due by the last one
    cited = (
        "1.Приказ от 14.06. 2022г. № 37 «Об утверждении положения о системе наставничества "
        "педагогических работников в КГЫПОУ «БПШ». 2. Протокол № 8 от 07.06.2022г. "
        "педагогического совета, с учетом мнения студенческого совета Протокол № 4 от 06.06.2022г."
    )
    assert parse_due(cited, written_for="2022/2023", cycle="2026/2027") == dated(
        _w("2025-08-01", "2026-06-14")
    )
    # seed 003 (Ustyuzhna) left dates blank: «до» and empty cells; «по отдельному графику»
    for blank in ("до", ""):
        schedule = parse_due(blank, written_for="2020/2021", cycle="2026/2027")
        assert schedule == Schedule(
            kind=WindowKind.continuous, windows=(_w("2026-09-01", "2027-05-31"),), undated=True
        )
    separate = parse_due("по отдельному графику", written_for="2020/2021", cycle="2026/2027")
    assert separate == Schedule(kind=WindowKind.on_demand)
    # seed 003, 3.7: «в соответствии со сроками реализации программ наставничества или май 2021 г.»
    either = "в соответствии со сроками реализации программ наставничества или май 2021 г."
    assert parse_due(either, written_for="2020/2021", cycle="2026/2027") == dated(
        _w("2027-05-01", "2027-05-31")
    )
    # seed 001, 7.: the yearly window wins over the corrections «по запросам»
    base = "Август-сентябрь Ежегодно\nКорректировка по запросам Постоянно"
    assert parse_due(base, written_for="2022/2023", cycle="2026/2027") == dated(
        _w("2026-08-01", "2026-09-30")
    )


@pytest.mark.parametrize(
    ("phrase", "reason"),
    [
        ("завтра", "не понимаю «завтра»"),
        ("до 31.04.2022", "нет такой даты «31.04.2022»"),
        ("с 15.10 по 01.09", "начало срока позже его конца"),
        ("Ноябрь 2021 г., далее", "после «далее» нет срока"),
        ("май 2021, далее июнь 2022", "после «далее» срок с годом"),
        ("сентябрь 2021, май 2023", "даты в разных учебных годах (2021/2022, 2022/2023)"),
        ("до 35 числа каждого месяца", "число месяца 35: ожидается от 1 до 31"),
        ("V четверть", "не понимаю «v четверть»"),
        # a note in brackets is read past; words outside brackets still have to be read
        ("(сентябрь) завтра", "не понимаю «завтра»"),
        ("сентябрь, завтра", "не понимаю «завтра»"),
    ],
)
def test_unreadable_phrases_say_why(phrase: str, reason: str) -> None:
    with pytest.raises(DuePhraseError) as raised:
        parse_rule(phrase)
    assert raised.value.phrase == phrase
    assert reason in raised.value.reason
    assert str(raised.value).startswith(f"не удалось прочитать срок «{phrase}»: ")
    assert isinstance(raised.value, ValueError)


def test_a_date_long_before_the_roadmaps_year_is_refused() -> None:
    with pytest.raises(DuePhraseError, match="больше чем на год: проверьте school_year"):
        parse_due("до 10 сентября 2018", written_for="2020/2021", cycle="2026/2027")


def test_bad_school_years_are_refused() -> None:
    with pytest.raises(ValueError, match="ожидается вида 2026/2027"):
        parse_due("Постоянно", written_for="2020/2022", cycle="2026/2027")
    with pytest.raises(ValueError, match="ожидается вида 2026/2027"):
        parse_due("Постоянно", written_for="2020/2021", cycle="2026-2027")


def test_errors_name_the_file_the_item_and_the_phrase(tmp_path: Path) -> None:
    text = (ROADMAPS / "school2_ustyuzhna.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        text.replace("due: до 10.09.2020", "due: до 10.09.20200", 1).replace(
            "due: по отдельному графику", "due: когда-нибудь"
        ),
        encoding="utf-8",
    )
    with pytest.raises(RoadmapError) as raised:
        load_roadmap(bad)
    assert raised.value.errors == [
        f"{bad}: пункт 1.8: поле due: не удалось прочитать срок «до 10.09.20200»: "
        "не понимаю «до 10.09.20200»",
        f"{bad}: пункт 3.4: поле due: не удалось прочитать срок «когда-нибудь»: "
        "не понимаю «когда-нибудь»",
    ]


def _documented_phrases() -> list[str]:
    """Every `phrase` in the first column of docs/roadmaps.md's table of due rules."""
    text = (Path(__file__).parent.parent / "docs" / "roadmaps.md").read_text(encoding="utf-8")
    table = text.split("| written | reads as |")[1].split("\n\n")[0]
    phrases = []
    for row in table.splitlines()[2:]:
        first_column = row.split(" | ")[0]
        phrases += re.findall(r"`([^`]*)`", first_column)
    return phrases


def test_every_phrase_the_documentation_shows_is_read() -> None:
    phrases = _documented_phrases()
    assert len(phrases) > 50
    assert '""' in phrases and "декабрь-январь" in phrases
    for phrase in phrases:
        parse_rule("" if phrase == '""' else phrase)


@pytest.mark.parametrize(
    "phrase", ["по завершении каждого этапа", "в 2023 году", "за неделю до начала"]
)
def test_the_phrases_the_documentation_calls_unknown_are_refused(phrase: str) -> None:
    with pytest.raises(DuePhraseError, match="не понимаю"):
        parse_rule(phrase)
