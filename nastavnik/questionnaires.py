"""Import of mentors' and mentees' questionnaires (CSV/XLSX exported from online forms).

Contract: ``import_questionnaire`` works inside a SAVEPOINT of the caller's session and flushes,
but never commits; the caller commits (``import_file_transaction`` does it for one file). If
anything unexpected fails, the savepoint is rolled back and nothing of the file remains.
Rows with problems are rejected one by one with a ``RowError``; good rows are kept.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import Consent, ConsentKind, Cycle, MentoringForm, Participant, Person, Role
from models.tables import utcnow

MAX_CELL_CHARS = 2000
MAX_NAME_CHARS = 200
MAX_EXPERIENCE_YEARS = 70
# A 5 MB XLSX may legitimately unpack to ~10x; anything far beyond that is a zip bomb.
XLSX_UNPACK_FACTOR = 20

# Canonical Russian header -> accepted aliases (matched after normalisation, see normalise_header).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "Отметка времени": ("Timestamp", "Время создания", "Дата заполнения", "Дата и время"),
    "Фамилия": ("Фамилия наставляемого", "Фамилия наставника", "Last name"),
    "Имя": ("Имя наставляемого", "Имя наставника", "First name"),
    "Отчество": ("Отчество (при наличии)", "Отчество при наличии", "Middle name"),
    "Дата рождения": ("Дата рождения (ДД.ММ.ГГГГ)", "Birth date", "Date of birth"),
    "Электронная почта": (
        "E-mail",
        "Email",
        "Адрес электронной почты",
        "Эл. почта",
        "Почта",
        "Электронный адрес",
    ),
    "Телефон": ("Номер телефона", "Контактный телефон", "Телефон для связи"),
    "Класс": ("Класс обучения", "Класс (для обучающихся)", "В каком классе вы учитесь"),
    "Форма наставничества": (
        "Форма",
        "Желаемая форма наставничества",
        "Выберите форму наставничества",
    ),
    "Запрос": ("Ваш запрос к наставнику", "Запросы", "Запрос к наставнику", "Запрос наставляемого"),
    "Интересы": ("Ваши интересы", "Увлечения", "Интересы и увлечения"),
    "Предметы": ("Предметные области", "Предмет", "Преподаваемые предметы", "Любимые предметы"),
    "Стаж": (
        "Педагогический стаж (лет)",
        "Опыт работы, лет",
        "Педагогический стаж",
        "Стаж работы",
        "Стаж (лет)",
        "Опыт работы",
    ),
    "Должность": ("Занимаемая должность",),
    "Формат": (
        "Формат наставничества",
        "Формат встреч",
        "Индивидуально или в группе",
        "Индивидуальное или групповое наставничество",
    ),
    "Согласие на обработку персональных данных": (
        "Согласие на обработку ПДн",
        "Я даю согласие на обработку персональных данных",
        "Согласие на обработку персональных данных получено",
    ),
    "Дата согласия": ("Дата согласия на обработку персональных данных",),
    "Согласие законного представителя": (
        "Согласие родителя (законного представителя)",
        "Согласие родителей",
    ),
    "ФИО законного представителя": ("ФИО родителя (законного представителя)", "ФИО родителя"),
    "Дата отзыва согласия": ("Согласие отозвано",),
}

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
}

_YES = {"да", "yes", "true", "1", "+", "согласен", "согласна", "согласен(на)", "даю согласие"}
_NO = {"нет", "no", "false", "0", "-", "не согласен", "не согласна", "не согласен(на)"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_DASHES = re.compile(r"\s*[-‐‑‒–—―−]+\s*")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_GRADE = re.compile(
    r"^(\d{1,2})\s*(?:класс|кл\.?)?\s*[-–]?\s*[\"«']?([^\W\d_]?)[\"»']?\s*(?:класс)?$"
)
_INT = re.compile(r"^(-?\s*\d+)(?:[.,]0+)?\s*(?:г\.?|год|года|лет)?$")
_DATE_RU = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ ,T]+\d{1,2}:\d{2}(?::\d{2})?)?$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_DATE_HINT = "ожидается ДД.ММ.ГГГГ или ГГГГ-ММ-ДД"
_LATIN_TO_CYRILLIC = str.maketrans("ABCEHKMOPTXY", "АВСЕНКМОРТХУ")
_CONSENT_COLUMNS = (
    (ConsentKind.personal_data, "Согласие на обработку персональных данных"),
    (ConsentKind.guardian, "Согласие законного представителя"),
)


@dataclass(frozen=True)
class RowError:
    """One problem of one row, named the way the curator sees the file."""

    file: str
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}, строка {self.row}, поле «{self.field}»: {self.message}"


@dataclass
class ImportReport:
    """What one file's import did: counts of rows and the rejected rows' errors."""

    file: str
    role: Role
    accepted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    consents_recorded: int = 0

    @property
    def rejected_rows(self) -> int:
        """Number of distinct rejected rows (a row may have several errors)."""
        return len({error.row for error in self.rejected})

    def as_rows(self) -> list[dict[str, str | int]]:
        """The errors as table rows with Russian column names."""
        return [
            {"Файл": e.file, "Строка": e.row, "Поле": e.field, "Ошибка": e.message}
            for e in self.rejected
        ]


class ImportFileError(ValueError):
    """The whole file cannot be imported (size, format, encoding, missing columns)."""


def normalise_header(header: str) -> str:
    """A header compared case-insensitively, ё as е, spaces collapsed, trailing «*?:» dropped."""
    text = " ".join(header.replace("ё", "е").replace("Ё", "Е").split()).casefold()
    return text.rstrip("*?: ").strip()


_HEADER_LOOKUP: dict[str, str] = {}
for _canonical, _aliases in HEADER_ALIASES.items():
    for _name in (_canonical, *_aliases):
        _HEADER_LOOKUP[normalise_header(_name)] = _canonical


def canonical_header(header: str) -> str | None:
    """The canonical column name for a header as exported by a form, or None if unknown."""
    return _HEADER_LOOKUP.get(normalise_header(header))


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} МБ".replace(".0 ", " ").replace(".", ",")
    if size >= 1024:
        return f"{size / 1024:.1f} КБ".replace(".0 ", " ").replace(".", ",")
    return f"{size} байт"


def read_questionnaire(path: Path, *, max_bytes: int) -> tuple[list[str], list[dict[str, str]]]:
    """Headers and raw rows of a CSV or XLSX file; row i of the list is sheet row i + 2."""
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportFileError(f"{name}: файл не найден или недоступен") from exc
    if size > max_bytes:
        raise ImportFileError(
            f"{name}: файл слишком большой ({_human_size(size)}), "
            f"допустимо не более {_human_size(max_bytes)}"
        )
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt"}:
        records = _read_csv(path)
    elif suffix in {".xlsx", ".xlsm"}:
        records = _read_xlsx(path, max_bytes=max_bytes)
    elif suffix == ".xls":
        raise ImportFileError(
            f"{name}: формат .xls не поддерживается, сохраните файл как .xlsx или .csv"
        )
    else:
        raise ImportFileError(
            f"{name}: неподдерживаемый формат «{path.suffix or 'без расширения'}», "
            "ожидается .csv или .xlsx"
        )
    if not records or not any(cell.strip() for cell in records[0]):
        raise ImportFileError(f"{name}: файл пуст или первая строка не содержит заголовков")
    headers = _unique_headers(records[0])
    rows = [
        {
            header: (record[i] if i < len(record) else "")
            for i, header in enumerate(headers)
            if header
        }
        for record in records[1:]
    ]
    return headers, rows


def _unique_headers(raw: list[str]) -> list[str]:
    headers: list[str] = []
    seen: dict[str, int] = {}
    for cell in raw:
        header = " ".join(_CONTROL.sub("", cell).split())
        if header:
            seen[header] = seen.get(header, 0) + 1
            if seen[header] > 1:
                header = f"{header} ({seen[header]})"
        headers.append(header)
    return headers


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in data:
        raise ImportFileError(f"{name}: файл не похож на текстовый CSV (двоичные данные)")
    else:
        encodings = ("utf-8-sig", "cp1251")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(f"{name}: не удалось прочитать текст (ожидается UTF-8 или Windows-1251)")


def _read_csv(path: Path) -> list[list[str]]:
    text = _decode(path.read_bytes(), path.name)
    if not text.strip():
        return []
    delimiter = _guess_delimiter(text)
    try:
        return [
            list(record)
            for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        ]
    except csv.Error as exc:
        raise ImportFileError(f"{path.name}: ошибка разбора CSV: {exc}") from exc


def _guess_delimiter(text: str) -> str:
    """';' or ',': whichever splits the header into more known columns (then more columns)."""
    best, best_score = ";", (-1, -1)
    for delimiter in (";", ","):
        try:
            header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        except csv.Error:
            continue
        score = (sum(canonical_header(h) is not None for h in header), len(header))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_xlsx(path: Path, *, max_bytes: int) -> list[list[str]]:
    from openpyxl import load_workbook

    name = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(f"{name}: файл повреждён или не является XLSX") from exc
    if unpacked > max_bytes * XLSX_UNPACK_FACTOR:
        raise ImportFileError(f"{name}: содержимое XLSX слишком велико после распаковки")
    try:
        values = _xlsx_rows(load_workbook(path, read_only=True, data_only=True))
        # Formula cells without a cached value come back as None; keep their text instead.
        formulas = _xlsx_rows(load_workbook(path, read_only=True, data_only=False))
    except Exception as exc:  # openpyxl raises many kinds of errors on broken files
        raise ImportFileError(f"{name}: не удалось открыть XLSX ({type(exc).__name__})") from exc
    records: list[list[str]] = []
    for value_row, formula_row in zip(values, formulas, strict=False):
        record = []
        for i, value in enumerate(value_row):
            if value is None and i < len(formula_row) and isinstance(formula_row[i], str):
                value = formula_row[i]
            record.append(_cell_text(value))
        records.append(record)
    return records


def _xlsx_rows(workbook: Any) -> list[tuple[Any, ...]]:
    try:
        sheet = workbook.worksheets[0]
        return [tuple(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Да" if value else "Нет"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.strftime("%d.%m.%Y")
        return value.strftime("%d.%m.%Y %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def clean_cell(value: str) -> str:
    """A cell without control characters (newline and tab kept) or surrounding spaces."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def fold_text(text: str) -> str:
    """Text for comparing names: ё as е, spaces collapsed, case folded."""
    return " ".join(text.replace("ё", "е").replace("Ё", "Е").split()).casefold()


def parse_date(text: str) -> date | None:
    """A date written as ДД.ММ.ГГГГ or ГГГГ-ММ-ДД (a time part is ignored); None if invalid."""
    text = text.strip()
    match = _DATE_RU.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
    else:
        match = _DATE_ISO.match(text)
        if not match:
            return None
        year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_form(text: str) -> MentoringForm | None:
    """The mentoring form for a free-typed value such as 'Ученик – ученик'; None if unknown."""
    parts = _DASHES.split(fold_text(text))
    if len(parts) != 2:
        return None
    return _FORM_WORDS.get((parts[0].strip(), parts[1].strip()))


def parse_grade(text: str) -> tuple[int, str] | None:
    """Grade number and letter of '7А', '10 Б', '7-а', '11'; None if it does not look like one."""
    match = _GRADE.match(" ".join(text.split()).casefold())
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

    def __init__(self, *, file: str, role: Role, columns: dict[str, str], cycle_start: date):
        self.file, self.role, self.columns, self.cycle_start = file, role, columns, cycle_start

    def parse(self, number: int, raw: dict[str, str]) -> tuple[_Row | None, list[RowError]]:
        errors: list[RowError] = []
        values: dict[str, str] = {}
        for canonical, header in self.columns.items():
            value = clean_cell(raw.get(header, ""))
            limit = (
                MAX_NAME_CHARS if canonical in {"Фамилия", "Имя", "Отчество"} else MAX_CELL_CHARS
            )
            if len(value) > limit:
                errors.append(
                    self._err(
                        number, canonical, f"значение длиннее {limit} символов ({len(value)})"
                    )
                )
                value = ""
            values[canonical] = value

        def err(column: str, message: str) -> None:
            errors.append(self._err(number, column, message))

        for column in REQUIRED_COLUMNS[self.role]:
            if not values.get(column) and not any(e.field == column for e in errors):
                err(column, "обязательное поле не заполнено")

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
            elif not 1 <= parsed[0] <= 11:
                err("Класс", f"класс должен быть от 1 до 11, указано «{values['Класс']}»")
            else:
                grade, letter = parsed

        experience = None
        if values.get("Стаж"):
            experience = self._experience(values["Стаж"], lambda m: err("Стаж", m))
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
            if column in self.columns:
                participant[attribute] = values[column]
        if "Класс" in self.columns:
            participant["grade"], participant["class_letter"] = grade, letter
        if "Стаж" in self.columns:
            participant["experience_years"] = experience
        if "Формат" in self.columns:
            participant["wants_group"] = wants_group
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
        row.key_field = "Электронная почта" if email else "Фамилия"
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


def _resolve_columns(headers: list[str], *, file: str, role: Role) -> dict[str, str]:
    columns: dict[str, str] = {}
    duplicates: dict[str, list[str]] = {}
    for header in headers:
        canonical = canonical_header(header) if header else None
        if canonical is None:
            continue
        if canonical in columns:
            duplicates.setdefault(canonical, [columns[canonical]]).append(header)
        else:
            columns[canonical] = header
    if duplicates:
        canonical, found = next(iter(duplicates.items()))
        listed = ", ".join(f"«{h}»" for h in found)
        raise ImportFileError(f"{file}: столбец «{canonical}» встречается несколько раз: {listed}")
    missing = [column for column in REQUIRED_COLUMNS[role] if column not in columns]
    if missing:
        listed = ", ".join(f"«{c}»" for c in missing)
        raise ImportFileError(f"{file}: нет обязательных столбцов: {listed}")
    return columns


def import_questionnaire(
    *, session: Session, cycle_id: UUID, path: Path, role: Role, max_bytes: int = 5 * 1024 * 1024
) -> ImportReport:
    """Validate and upsert one questionnaire file into the cycle; the caller commits."""
    file = path.name
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} is not known")
    headers, raw_rows = read_questionnaire(path, max_bytes=max_bytes)
    columns = _resolve_columns(headers, file=file, role=role)
    parser = _RowParser(file=file, role=role, columns=columns, cycle_start=cycle.start_date)
    report = ImportReport(file=file, role=role)

    good: dict[str, _Row] = {}
    for index, raw in enumerate(raw_rows):
        if not any(clean_cell(value) for value in raw.values()):
            continue
        row, errors = parser.parse(index + 2, raw)
        report.rejected.extend(errors)
        if row is None:
            continue
        earlier = good.pop(row.key, None)
        if earlier is not None:
            # A form submitted twice: the later answer wins, so re-imports stay idempotent.
            report.rejected.append(
                RowError(
                    file=file,
                    row=earlier.number,
                    field=earlier.key_field,
                    message=f"повторная анкета того же человека, учтена строка {row.number}",
                )
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
        elif _assign(person, known):
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
            if _assign(participant, row.participant):
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


def _assign(target: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed = True
    return changed


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
    if not _assign(consent, updates):
        return False
    consent.source = source
    return True


def import_file_transaction(
    *, engine: Engine, cycle_id: UUID, path: Path, role: Role, max_bytes: int = 5 * 1024 * 1024
) -> ImportReport:
    """Import one file in its own session and transaction: committed once, or not at all."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            report = import_questionnaire(
                session=session, cycle_id=cycle_id, path=path, role=role, max_bytes=max_bytes
            )
            session.commit()
        except Exception:
            session.rollback()
            raise
    return report
