"""Import of mentors' and mentees' questionnaires (CSV/XLSX exported from online forms).

Contract: ``import_questionnaire`` works inside a SAVEPOINT of the caller's session and flushes,
but never commits; the caller commits (``import_file_transaction`` does it for one file). If
anything unexpected fails, the savepoint is rolled back and nothing of the file remains.
Rows with problems are rejected one by one with a ``RowError``; good rows are kept.
Files are read by ``nastavnik.tabular`` (formats, encodings, headers, «ФИО», saved mappings).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import (
    Consent,
    ConsentKind,
    Cycle,
    ImportKind,
    MenteeCategory,
    MentoringForm,
    Participant,
    Person,
    Role,
)
from models.tables import utcnow
from nastavnik.db import session_scope
from nastavnik.tabular import (
    FULL_NAME,
    REQUIRED_HINT,
    Field,
    ImportFileError,
    ImportReport,
    Record,
    RowError,
    TableSpec,
    clean_headers,
    fold_text,
    parse_date,
    person_fields,
    read_cells,
    read_table,
    resolve_columns,
    saved_mappings,
    update_fields,
)

__all__ = [
    "HEADER_ALIASES",
    "QUESTIONNAIRE",
    "REQUIRED_COLUMNS",
    "ImportFileError",
    "ImportReport",
    "RowError",
    "canonical_header",
    "import_file_transaction",
    "import_questionnaire",
    "parse_date",
    "parse_form",
    "parse_grade",
    "parse_mentee_category",
    "person_key",
    "read_questionnaire",
]

MAX_CELL_CHARS = 2000
MAX_NAME_CHARS = 200
MAX_EXPERIENCE_YEARS = 70
MAX_COURSE = 6

# The fields of a questionnaire; the key is what `nastavnik columns set` takes.
QUESTIONNAIRE = TableSpec(
    ImportKind.questionnaire,
    (
        Field(
            "timestamp",
            "Отметка времени",
            ("Timestamp", "Время создания", "Дата заполнения", "Дата и время"),
        ),
        *person_fields(
            last_name=("Фамилия наставляемого", "Фамилия наставника"),
            first_name=("Имя наставляемого", "Имя наставника"),
        ),
        Field(
            "birth_date",
            "Дата рождения",
            ("Дата рождения (ДД.ММ.ГГГГ)", "Birth date", "Date of birth"),
        ),
        Field("phone", "Телефон", ("Номер телефона", "Контактный телефон", "Телефон для связи")),
        Field(
            "grade",
            "Класс",
            (
                "Класс обучения",
                "Класс (для обучающихся)",
                "В каком классе вы учитесь",
                # A college's students give their course in the same column.
                "Курс",
                "Курс обучения",
                "Класс/курс",
                "Класс (курс)",
                "На каком курсе вы учитесь",
            ),
        ),
        Field(
            "form",
            "Форма наставничества",
            ("Форма", "Желаемая форма наставничества", "Выберите форму наставничества"),
        ),
        Field(
            "request",
            "Запрос",
            ("Ваш запрос к наставнику", "Запросы", "Запрос к наставнику", "Запрос наставляемого"),
        ),
        Field("interests", "Интересы", ("Ваши интересы", "Увлечения", "Интересы и увлечения")),
        Field(
            "subjects",
            "Предметы",
            ("Предметные области", "Предмет", "Преподаваемые предметы", "Любимые предметы"),
        ),
        Field(
            "experience",
            "Стаж",
            (
                "Педагогический стаж (лет)",
                "Опыт работы, лет",
                "Педагогический стаж",
                "Стаж работы",
                "Стаж (лет)",
                "Опыт работы",
            ),
        ),
        Field("position", "Должность", ("Занимаемая должность",)),
        Field(
            "mentee_category",
            "Категория наставляемого",
            (
                # Not plain «Категория»: a teacher's «квалификационная категория» is another thing.
                "Категория наставляемого педагога",
                "Категория педагога-наставляемого",
                "Основание для наставничества",
                "Почему вам нужен наставник",
                "Ваша ситуация",
            ),
        ),
        Field(
            "format",
            "Формат",
            (
                "Формат наставничества",
                "Формат встреч",
                "Индивидуально или в группе",
                "Индивидуальное или групповое наставничество",
            ),
        ),
        Field(
            "consent",
            "Согласие на обработку персональных данных",
            (
                "Согласие на обработку ПДн",
                "Я даю согласие на обработку персональных данных",
                "Согласие на обработку персональных данных получено",
            ),
        ),
        Field("consent_date", "Дата согласия", ("Дата согласия на обработку персональных данных",)),
        Field(
            "guardian_consent",
            "Согласие законного представителя",
            ("Согласие родителя (законного представителя)", "Согласие родителей"),
        ),
        Field(
            "guardian_name",
            "ФИО законного представителя",
            ("ФИО родителя (законного представителя)", "ФИО родителя"),
        ),
        Field("revoked_on", "Дата отзыва согласия", ("Согласие отозвано",)),
    ),
)
# Canonical Russian header -> accepted aliases (matched after normalise_header).
HEADER_ALIASES: dict[str, tuple[str, ...]] = QUESTIONNAIRE.aliases()

REQUIRED_COLUMNS: dict[Role, tuple[str, ...]] = {
    Role.mentor: ("Фамилия", "Имя", "Форма наставничества"),
    Role.mentee: ("Фамилия", "Имя", "Форма наставничества", "Дата рождения"),
}

# Normalised "first–second" words -> form; "педагог"/"обучающийся" are common in regulations.
_FORM_WORDS: dict[tuple[str, str], MentoringForm] = {
    ("ученик", "ученик"): MentoringForm.student_student,
    ("обучающийся", "обучающийся"): MentoringForm.student_student,
    ("учитель", "учитель"): MentoringForm.teacher_teacher,
    ("педагог", "педагог"): MentoringForm.teacher_teacher,
    ("работодатель", "ученик"): MentoringForm.employer_student,
    ("работодатель", "обучающийся"): MentoringForm.employer_student,
    ("студент", "ученик"): MentoringForm.university_student_pupil,
    ("студент", "обучающийся"): MentoringForm.university_student_pupil,
    ("преподаватель", "студент"): MentoringForm.teacher_student,
    # A college's forms (seed roadmap_lyceum_blagoveshchensk.txt).
    ("студент", "студент"): MentoringForm.student_student_college,
    ("работодатель", "студент"): MentoringForm.employer_student_college,
    ("преподаватель", "преподаватель"): MentoringForm.lecturer_lecturer,
    ("мастер", "обучающийся"): MentoringForm.master_student,
    ("мастер", "студент"): MentoringForm.master_student,
    ("мастер", "школьник"): MentoringForm.master_student,
    ("директор", "педагог"): MentoringForm.director_teacher,
    ("директор", "учитель"): MentoringForm.director_teacher,
    ("директор", "преподаватель"): MentoringForm.director_teacher,
}
# Longer role names of the forms as organisations write them -> the word above.
_ROLE_WORDS = {
    "мастер производственного обучения": "мастер",
    "мастер п/о": "мастер",
    "преподаватель/мастер производственного обучения": "мастер",
    "директор образовательной организации": "директор",
    "руководитель образовательной организации": "директор",
}
# §2.3 categories: what a Russian answer says, checked on the folded text (ё as е).
_CATEGORY_PATTERNS: tuple[tuple[MenteeCategory, re.Pattern[str]], ...] = (
    (
        MenteeCategory.young_specialist,
        re.compile(r"молод\w* (специалист|педагог|учител|преподавател)|начинающ"),
    ),
    (
        MenteeCategory.newcomer,
        re.compile(r"нов\w* (сотрудник|работник)|смен\w* места работы|нов\w* мест\w* работы"),
    ),
    (
        MenteeCategory.new_methods,
        re.compile(r"(освоени|овладени|изучени)\w* (нов|современ)|нов\w* (методик|метод|технолог)"),
    ),
    (MenteeCategory.distance_teaching, re.compile(r"дистанц|онлайн-обучен")),
    (MenteeCategory.burnout, re.compile(r"выгоран|хроническ\w* усталост")),
)

_YES = {"да", "yes", "true", "1", "+", "согласен", "согласна", "согласен(на)", "даю согласие"}
_NO = {"нет", "no", "false", "0", "-", "не согласен", "не согласна", "не согласен(на)"}
_DASHES = re.compile(r"\s*[-‐‑‒–—―−]+\s*")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_GRADE = re.compile(
    r"^(\d{1,2})\s*(?:класс|кл\.?)?\s*[-–]?\s*[\"«']?([^\W\d_]?)[\"»']?\s*(?:класс)?$"
)
_COURSE = re.compile(r"^(?:(\d)\s*(?:-?\s*(?:й|ой|ый))?\s*курс|курс\s*(\d))$")
_INT = re.compile(r"^(-?\s*\d+)(?:[.,]0+)?\s*(?:г\.?|год|года|лет)?$")
_DATE_HINT = "ожидается ДД.ММ.ГГГГ или ГГГГ-ММ-ДД"
_LATIN_TO_CYRILLIC = str.maketrans("ABCEHKMOPTXY", "АВСЕНКМОРТХУ")
_CONSENT_COLUMNS = (
    (ConsentKind.personal_data, "Согласие на обработку персональных данных"),
    (ConsentKind.guardian, "Согласие законного представителя"),
)
_NAME_FIELDS = {"Фамилия", "Имя", "Отчество"}


def canonical_header(header: str) -> str | None:
    """The canonical column name for a header as exported by a form, or None if unknown."""
    return QUESTIONNAIRE.canonical(header)


def read_questionnaire(path: Path, *, max_bytes: int) -> tuple[list[str], list[dict[str, str]]]:
    """Headers and raw rows of a CSV or XLSX file; row i of the list is sheet row i + 2."""
    records = read_cells(path, max_bytes=max_bytes, known=lambda h: canonical_header(h) is not None)
    headers = clean_headers(records[0])
    return headers, [
        {
            header: (record[i] if i < len(record) else "")
            for i, header in enumerate(headers)
            if header
        }
        for record in records[1:]
    ]


def _resolve_columns(headers: list[str], *, file: str, role: Role) -> dict[str, str]:
    return resolve_columns(QUESTIONNAIRE, headers, file=file)


def parse_form(text: str) -> MentoringForm | None:
    """The mentoring form for a free-typed value such as 'Ученик – ученик'; None if unknown."""
    parts = _DASHES.split(fold_text(text))
    if len(parts) != 2:
        return None
    first, second = (" ".join(_ROLE_WORDS.get(p.strip(), p.strip()).split()) for p in parts)
    return _FORM_WORDS.get((first, second))


def parse_mentee_category(text: str) -> MenteeCategory | None:
    """The §2.3 category an answer names («Молодой специалист», «Профессиональное выгорание»).

    None when it names none; ValueError (with the categories found) when it names several.
    """
    folded = fold_text(text)
    found = [category for category, pattern in _CATEGORY_PATTERNS if pattern.search(folded)]
    if len(found) > 1:
        raise ValueError(", ".join(f"«{c.value}»" for c in found))
    return found[0] if found else None


def parse_grade(text: str) -> tuple[int, str] | None:
    """Grade number and letter of '7А', '10 Б', '7-а', '11'; None if it does not look like one.

    A college student's course («2 курс», «2-й курс», «курс 2») comes back as (2, "").
    """
    folded = " ".join(text.split()).casefold()
    course = _COURSE.match(folded)
    if course:
        return int(course.group(1) or course.group(2)), ""
    match = _GRADE.match(folded)
    if not match:
        return None
    letter = match.group(2).upper().translate(_LATIN_TO_CYRILLIC)
    return int(match.group(1)), letter


def person_key(
    *, email: str, last_name: str, first_name: str, middle_name: str, birth_date: date | None
) -> str:
    """Stable identity of a person: lower-case e-mail, else normalised name and birth date."""
    if email:
        key = email.strip().casefold()
    else:
        born = birth_date.isoformat() if birth_date else ""
        key = "|".join(fold_text(part) for part in (last_name, first_name, middle_name, born))
    if len(key) > 255:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


@dataclass
class _Row:
    number: int
    person: dict[str, Any]
    participant: dict[str, Any]
    consents: dict[ConsentKind, dict[str, Any]]
    revoked_on: date | None
    key: str = ""
    key_field: str = "Фамилия"


class _RowParser:
    """Validates one row; collects RowErrors instead of raising."""

    def __init__(self, *, file: str, role: Role, split_name: bool, cycle_start: date):
        self.file, self.role, self.split_name = file, role, split_name
        self.cycle_start = cycle_start

    def _field(self, column: str) -> str:
        """The column a name error is about: «ФИО» when the file has one name column."""
        return FULL_NAME.name if self.split_name and column in _NAME_FIELDS else column

    def parse(self, record: Record) -> tuple[_Row | None, list[RowError]]:
        number = record.number
        errors: list[RowError] = []
        values: dict[str, str] = {}
        for canonical, value in record.values.items():
            limit = MAX_NAME_CHARS if canonical in _NAME_FIELDS else MAX_CELL_CHARS
            if len(value) > limit:
                message = f"значение длиннее {limit} символов ({len(value)})"
                errors.append(self._err(number, self._field(canonical), message))
                value = ""
            values[canonical] = value

        def err(column: str, message: str) -> None:
            errors.append(self._err(number, column, message))

        for column in REQUIRED_COLUMNS[self.role]:
            field = self._field(column)
            if not values.get(column) and not any(e.field == field for e in errors):
                typed = values.get(FULL_NAME.name, "")
                if field == column or not typed:
                    err(field, REQUIRED_HINT)
                else:
                    err(field, f"ожидаются фамилия, имя и отчество через пробел, указано «{typed}»")

        birth_date = self._date(values, "Дата рождения", err)
        if birth_date and not (date(1900, 1, 1) <= birth_date < self.cycle_start):
            err("Дата рождения", f"неправдоподобная дата рождения {birth_date:%d.%m.%Y}")
            birth_date = None

        email = values.get("Электронная почта", "").casefold()
        if email and not _EMAIL.match(email):
            typed = values["Электронная почта"]
            err("Электронная почта", f"неверный адрес электронной почты «{typed}»")

        form = None
        if values.get("Форма наставничества"):
            form = parse_form(values["Форма наставничества"])
            if form is None:
                allowed = ", ".join(f.value for f in MentoringForm)
                err(
                    "Форма наставничества",
                    f"неизвестная форма наставничества "
                    f"«{values['Форма наставничества']}»; допустимы: {allowed}",
                )

        grade, letter = None, ""
        if values.get("Класс"):
            parsed = parse_grade(values["Класс"])
            if parsed is None:
                err(
                    "Класс",
                    f"не удалось распознать класс «{values['Класс']}», "
                    "ожидается, например, 7А или 10 Б",
                )
            elif "курс" in values["Класс"].casefold() and not 1 <= parsed[0] <= MAX_COURSE:
                err("Класс", f"курс должен быть от 1 до {MAX_COURSE}, указано «{values['Класс']}»")
            elif not 1 <= parsed[0] <= 11:
                err("Класс", f"класс должен быть от 1 до 11, указано «{values['Класс']}»")
            else:
                grade, letter = parsed

        experience = None
        if values.get("Стаж"):
            experience = self._experience(values["Стаж"], lambda m: err("Стаж", m))
        category = None
        if values.get("Категория наставляемого"):
            category = self._category(
                values["Категория наставляемого"], lambda m: err("Категория наставляемого", m)
            )
        wants_group = False
        if values.get("Формат"):
            folded = fold_text(values["Формат"])
            wants_group = "групп" in folded
            if not wants_group and "индивид" not in folded and "пар" not in folded:
                err(
                    "Формат",
                    f"ожидается «индивидуально» или «в группе», указано «{values['Формат']}»",
                )

        consent_date = self._date(values, "Дата согласия", err)
        revoked_on = self._date(values, "Дата отзыва согласия", err)
        stamp_text = values.get("Отметка времени", "")
        stamp_date = parse_date(stamp_text) if stamp_text else None
        consents: dict[ConsentKind, dict[str, Any]] = {}
        for kind, column in _CONSENT_COLUMNS:
            answer = values.get(column, "")
            folded = fold_text(answer)
            if not folded or folded in _NO:
                continue
            given_on = parse_date(answer)
            if given_on is None:
                if not (folded in _YES or folded.startswith("да")):
                    err(column, f"ожидается «Да», «Нет» или дата, указано «{answer}»")
                    continue
                given_on = stamp_date or consent_date
            if given_on is None:
                if stamp_text:
                    if not any(e.field == "Отметка времени" for e in errors):
                        err("Отметка времени", f"неверная дата «{stamp_text}», {_DATE_HINT}")
                elif not values.get("Дата согласия"):
                    err(
                        column,
                        "согласие отмечено, но дата не указана: нужна "
                        "«Отметка времени» или «Дата согласия»",
                    )
                continue
            consents[kind] = {"given_on": given_on, "revoked_on": None, "guardian_name": ""}
        if ConsentKind.guardian in consents:
            consents[ConsentKind.guardian]["guardian_name"] = values.get(
                "ФИО законного представителя", ""
            )
        personal = consents.get(ConsentKind.personal_data)
        if personal and revoked_on:
            if revoked_on < personal["given_on"]:
                err(
                    "Дата отзыва согласия",
                    f"дата отзыва {revoked_on:%d.%m.%Y} раньше даты "
                    f"согласия {personal['given_on']:%d.%m.%Y}",
                )
            personal["revoked_on"] = revoked_on

        if errors:
            return None, errors
        assert form is not None
        person = {
            "last_name": values["Фамилия"],
            "first_name": values["Имя"],
            "middle_name": values.get("Отчество", ""),
            "birth_date": birth_date,
            "email": email,
            "phone": values.get("Телефон", ""),
        }
        participant: dict[str, Any] = {"form": form}
        optional = {
            "Запрос": "requests",
            "Интересы": "interests",
            "Предметы": "subjects",
            "Должность": "position",
        }
        for column, attribute in optional.items():
            if column in values:
                participant[attribute] = values[column]
        if "Класс" in values:
            participant["grade"], participant["class_letter"] = grade, letter
        if "Стаж" in values:
            participant["experience_years"] = experience
        if "Формат" in values:
            participant["wants_group"] = wants_group
        if "Категория наставляемого" in values:
            participant["mentee_category"] = category
        row = _Row(
            number=number,
            person=person,
            participant=participant,
            consents=consents,
            revoked_on=revoked_on,
        )
        row.key = person_key(
            email=email,
            last_name=values["Фамилия"],
            first_name=values["Имя"],
            middle_name=values.get("Отчество", ""),
            birth_date=birth_date,
        )
        row.key_field = "Электронная почта" if email else self._field("Фамилия")
        return row, []

    def _err(self, number: int, column: str, message: str) -> RowError:
        return RowError(file=self.file, row=number, field=column, message=message)

    @staticmethod
    def _date(values: dict[str, str], column: str, err: Any) -> date | None:
        text = values.get(column, "")
        if not text:
            return None
        parsed = parse_date(text)
        if parsed is None:
            err(column, f"неверная дата «{text}», {_DATE_HINT}")
        return parsed

    @staticmethod
    def _category(text: str, err: Any) -> MenteeCategory | None:
        try:
            category = parse_mentee_category(text)
        except ValueError as several:
            err(f"указано несколько категорий ({several}), выберите одну: «{text}»")
            return None
        if category is None:
            allowed = ", ".join(f"«{c.value}»" for c in MenteeCategory)
            err(f"неизвестная категория «{text}»; допустимы: {allowed}")
        return category

    @staticmethod
    def _experience(text: str, err: Any) -> int | None:
        match = _INT.match(text.casefold())
        if not match:
            err(f"стаж должен быть целым числом лет, указано «{text}»")
            return None
        years = int(match.group(1).replace(" ", ""))
        if years < 0:
            err(f"стаж не может быть отрицательным, указано «{text}»")
            return None
        if years > MAX_EXPERIENCE_YEARS:
            err(f"неправдоподобный стаж «{text}» (больше {MAX_EXPERIENCE_YEARS} лет)")
            return None
        return years


def import_questionnaire(
    *, session: Session, cycle_id: UUID, path: Path, role: Role, max_bytes: int = 5 * 1024 * 1024
) -> ImportReport:
    """Validate and upsert one questionnaire file into the cycle; the caller commits."""
    file = path.name
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} is not known")
    mappings = saved_mappings(
        session=session, organization_id=cycle.organization_id, spec=QUESTIONNAIRE
    )
    table = read_table(path, QUESTIONNAIRE, max_bytes=max_bytes, mappings=mappings)
    table.require(REQUIRED_COLUMNS[role])
    parser = _RowParser(
        file=file, role=role, split_name=table.split_name, cycle_start=cycle.start_date
    )
    report = ImportReport(file=file, role=role, ignored_columns=table.ignored)

    good: dict[str, _Row] = {}
    for record in table.records:
        row, errors = parser.parse(record)
        report.rejected.extend(errors)
        if row is None:
            continue
        earlier = good.pop(row.key, None)
        if earlier is not None:
            # A form submitted twice: the later answer wins, so re-imports stay idempotent.
            report.reject(
                earlier.number,
                earlier.key_field,
                f"повторная анкета того же человека, учтена строка {row.number}",
            )
        good[row.key] = row
    report.rejected.sort(key=lambda e: e.row)

    with session.begin_nested():
        _write_rows(
            session=session,
            cycle=cycle,
            role=role,
            file=file,
            rows=sorted(good.values(), key=lambda r: r.number),
            report=report,
        )
    return report


def _write_rows(
    *,
    session: Session,
    cycle: Cycle,
    role: Role,
    file: str,
    rows: Iterable[_Row],
    report: ImportReport,
) -> None:
    people = {
        p.person_key: p
        for p in session.exec(select(Person).where(Person.organization_id == cycle.organization_id))
    }
    participants = {
        p.person_id: p
        for p in session.exec(
            select(Participant).where(Participant.cycle_id == cycle.id, Participant.role == role)
        )
    }
    consents = {
        (c.person_id, c.kind): c
        for c in session.exec(select(Consent).where(Consent.cycle_id == cycle.id))
    }
    now = utcnow()
    rows = list(rows)
    persons: list[Person] = []
    person_changed: list[bool] = []
    for row in rows:
        known = {k: v for k, v in row.person.items() if v not in ("", None)}
        person = people.get(row.key)
        changed = False
        if person is None:
            person = Person(organization_id=cycle.organization_id, person_key=row.key, **known)
            session.add(person)
            people[row.key] = person
        elif update_fields(person, **known):
            person.updated_at = now
            changed = True
        persons.append(person)
        person_changed.append(changed)
    # No ORM relationships link the tables, so people must exist before rows that refer to them.
    session.flush()

    for row, person, changed in zip(rows, persons, person_changed, strict=True):
        created = False
        participant = participants.get(person.id)
        if participant is None:
            participant = Participant(
                cycle_id=cycle.id,
                person_id=person.id,
                role=role,
                source_file=file,
                source_row=row.number,
                **row.participant,
            )
            session.add(participant)
            participants[person.id] = participant
            created = True
        else:
            if update_fields(participant, **row.participant):
                participant.updated_at = now
                changed = True
            # Where the row sits is provenance, not data: moving it is not an update.
            participant.source_file, participant.source_row = file, row.number

        for kind, incoming in row.consents.items():
            consent = consents.get((person.id, kind))
            source = f"{file}:{row.number}"
            if consent is None:
                consent = Consent(
                    person_id=person.id, cycle_id=cycle.id, kind=kind, source=source, **incoming
                )
                session.add(consent)
                consents[(person.id, kind)] = consent
                report.consents_recorded += 1
                changed = True
            elif _merge_consent(consent, incoming, source):
                report.consents_recorded += 1
                changed = True
        if row.revoked_on and ConsentKind.personal_data not in row.consents:
            existing = consents.get((person.id, ConsentKind.personal_data))
            if existing is not None and _merge_consent(
                existing,
                {"given_on": existing.given_on, "revoked_on": row.revoked_on, "guardian_name": ""},
                f"{file}:{row.number}",
            ):
                report.consents_recorded += 1
                changed = True

        if created:
            report.accepted += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()


def _merge_consent(consent: Consent, incoming: dict[str, Any], source: str) -> bool:
    """Order-independent merge: the earliest consent and the earliest revocation win."""
    given_on: date = incoming["given_on"]
    revoked_on: date | None = incoming["revoked_on"]
    updates: dict[str, Any] = {}
    if consent.revoked_on is not None and given_on > consent.revoked_on:
        # Consent given again after a revocation: a fresh consent replaces the revoked one.
        updates = {"given_on": given_on, "revoked_on": revoked_on}
    else:
        if given_on < consent.given_on:
            updates["given_on"] = given_on
        if revoked_on is not None and (
            consent.revoked_on is None or revoked_on < consent.revoked_on
        ):
            updates["revoked_on"] = revoked_on
    if incoming["guardian_name"] and incoming["guardian_name"] != consent.guardian_name:
        updates["guardian_name"] = incoming["guardian_name"]
    if not update_fields(consent, **updates):
        return False
    consent.source = source
    return True


def import_file_transaction(
    *, engine: Engine, cycle_id: UUID, path: Path, role: Role, max_bytes: int = 5 * 1024 * 1024
) -> ImportReport:
    """Import one file in its own session and transaction: committed once, or not at all."""
    with session_scope(engine) as session:
        return import_questionnaire(
            session=session, cycle_id=cycle_id, path=path, role=role, max_bytes=max_bytes
        )
