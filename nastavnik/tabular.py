"""The one reader of the CSV/XLSX files the project imports (questionnaires, attendance, consents…).

What every importer gets from here, so that each file kind is only its fields and its rules:
- bytes to cells: size limits (and the unpacked size of an XLSX), encodings (UTF-8, UTF-8 with
  BOM, Windows-1251, UTF-16 with BOM), the delimiter (``;``, ``,`` or tab, sniffed), the first
  sheet of an XLSX read only, formulas never evaluated;
- cells cleaned: control and Unicode format characters (bidi overrides, zero-width spaces, BOMs)
  removed, spaces stripped;
- headers to fields: aliases per field after ``normalise_header``, the organisation's saved
  mappings first, a field found in two columns refuses the file, unknown columns are listed;
- a single «ФИО» column split into «Фамилия», «Имя», «Отчество»;
- people found by e-mail or full name; one report type with file, row and field errors.
The user-facing contract is ``docs/questionnaires.md``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlmodel import Session, select

from models import ColumnMapping, ImportKind, Person, Role
from models.tables import utcnow

# A 5 MB XLSX may legitimately unpack to ~10x; anything far beyond that is a zip bomb.
XLSX_UNPACK_FACTOR = 20
MAX_MAPPING_KEY = 255

# Control characters except tab and newline, and every Unicode format character (category Cf,
# Unicode 14 of Python 3.11: soft hyphen, bidi marks and overrides U+202A–U+202E, zero-width
# space/joiners U+200B–U+200F, word joiner and invisible operators, BOM U+FEFF, tag characters…).
# A test compares the list with ``unicodedata``; computing it at import would cost half a second.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_DATE_RU = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ ,T]+\d{1,2}:\d{2}(?::\d{2})?)?$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
REQUIRED_HINT = "обязательное поле не заполнено"


# --- errors and the report -------------------------------------------------------------------


class ImportFileError(ValueError):
    """The whole file cannot be imported (size, format, encoding, columns); the text names it."""


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
    """What one file's import did: row counts, the rejected rows' errors, the unread columns."""

    file: str
    role: Role | None = None
    accepted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    consents_recorded: int = 0

    def reject(self, row: int, field: str, message: str) -> None:
        """Add one row error of this file."""
        self.rejected.append(RowError(file=self.file, row=row, field=field, message=message))

    @property
    def rejected_rows(self) -> int:
        """Number of distinct rejected rows (a row may have several errors)."""
        return len({error.row for error in self.rejected})

    @property
    def recorded(self) -> int:
        """Rows taken into account: new, changed or already there."""
        return self.accepted + self.updated + self.unchanged

    def as_rows(self) -> list[dict[str, str | int]]:
        """The errors as table rows with Russian column names."""
        return [
            {"Файл": e.file, "Строка": e.row, "Поле": e.field, "Ошибка": e.message}
            for e in self.rejected
        ]


# --- text -------------------------------------------------------------------------------------


def clean_cell(value: str) -> str:
    """A cell without control or format characters (newline and tab kept) or outer spaces."""
    return _INVISIBLE.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def fold_text(text: str) -> str:
    """Text for comparing names: ё as е, spaces collapsed, case folded."""
    return " ".join(text.replace("ё", "е").replace("Ё", "Е").split()).casefold()


def normalise_header(header: str) -> str:
    """A header compared case-insensitively, ё as е, spaces collapsed, trailing «*?:» dropped."""
    return fold_text(_INVISIBLE.sub("", header)).rstrip("*?: ").strip()


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


def split_full_name(text: str) -> tuple[str, str, str]:
    """«Фамилия Имя Отчество» → its parts; words after the second form the middle name.

    Commas count as spaces. One word gives only a last name; a compound patronymic
    («Рашид оглы») stays whole. The order is always last, first, middle, as Russian forms ask.
    """
    words = text.replace(",", " ").split()
    return (
        words[0] if words else "",
        words[1] if len(words) > 1 else "",
        " ".join(words[2:]),
    )


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} МБ".replace(".0 ", " ").replace(".", ",")
    if size >= 1024:
        return f"{size / 1024:.1f} КБ".replace(".0 ", " ").replace(".", ",")
    return f"{size} байт"


# --- fields of a file kind --------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field a file may carry: a key for the command line, a Russian name, header aliases."""

    key: str
    name: str
    aliases: tuple[str, ...] = ()

    def also(self, *aliases: str) -> Field:
        """The same field accepting more headers (aliases only one kind of file uses)."""
        return replace(self, aliases=self.aliases + aliases)


FULL_NAME = Field(
    "full_name",
    "ФИО",
    ("Ф.И.О.", "Ф. И. О.", "Фамилия, имя, отчество", "Фамилия Имя Отчество"),
)
LAST_NAME = Field("last_name", "Фамилия", ("Last name",))
FIRST_NAME = Field("first_name", "Имя", ("First name",))
MIDDLE_NAME = Field(
    "middle_name", "Отчество", ("Отчество (при наличии)", "Отчество при наличии", "Middle name")
)
EMAIL = Field(
    "email",
    "Электронная почта",
    ("E-mail", "Email", "Адрес электронной почты", "Эл. почта", "Почта", "Электронный адрес"),
)
NAME_PARTS = (LAST_NAME.name, FIRST_NAME.name, MIDDLE_NAME.name)


def person_fields(
    *,
    full_name: tuple[str, ...] = (),
    last_name: tuple[str, ...] = (),
    first_name: tuple[str, ...] = (),
) -> tuple[Field, ...]:
    """ФИО, its three parts and the e-mail, with aliases only one kind of file uses."""
    return (
        FULL_NAME.also(*full_name),
        LAST_NAME.also(*last_name),
        FIRST_NAME.also(*first_name),
        MIDDLE_NAME,
        EMAIL,
    )


@dataclass(frozen=True)
class TableSpec:
    """The fields of one kind of file; headers resolve to them by alias or saved mapping."""

    kind: ImportKind
    fields: tuple[Field, ...]

    @cached_property
    def _lookup(self) -> dict[str, Field]:
        lookup: dict[str, Field] = {}
        for item in self.fields:
            for text in (item.name, *item.aliases):
                other = lookup.setdefault(normalise_header(text), item)
                if other is not item:
                    raise ValueError(f"{self.kind}: «{text}» names {other.key} and {item.key}")
        return lookup

    def canonical(self, header: str) -> str | None:
        """The field name a header means by the built-in aliases, or None."""
        found = self._lookup.get(normalise_header(header))
        return found.name if found else None

    def field(self, text: str) -> Field | None:
        """The field called ``text`` on the command line: its key, name or an alias."""
        for item in self.fields:
            if item.key == text.strip():
                return item
        return self._lookup.get(normalise_header(text))

    def aliases(self) -> dict[str, tuple[str, ...]]:
        """Field name → accepted aliases, in the order of the documentation."""
        return {item.name: item.aliases for item in self.fields}

    def describe(self) -> str:
        """The fields as «key (Name)», for messages."""
        return ", ".join(f"{item.key} ({item.name})" for item in self.fields)


# --- bytes to cells ---------------------------------------------------------------------------


def read_cells(
    path: Path, *, max_bytes: int, known: Callable[[str], bool] = lambda _: False
) -> list[list[str]]:
    """The cells of a CSV or of an XLSX's first sheet as text; ``known`` tells header cells."""
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
    if suffix in {".csv", ".txt", ".tsv"}:
        records = _read_csv(path, known)
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
    if not records or not any(clean_cell(cell) for cell in records[0]):
        raise ImportFileError(f"{name}: файл пуст или первая строка не содержит заголовков")
    return records


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


def _read_csv(path: Path, known: Callable[[str], bool]) -> list[list[str]]:
    text = _decode(path.read_bytes(), path.name)
    if not text.strip():
        return []
    delimiter = _sniff_delimiter(text, known)
    try:
        return [
            list(record)
            for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        ]
    except csv.Error as exc:
        raise ImportFileError(f"{path.name}: ошибка разбора CSV: {exc}") from exc


def _sniff_delimiter(text: str, known: Callable[[str], bool]) -> str:
    """';', ',' or tab: whichever splits the header into more known columns (then more columns)."""
    best, best_score = ";", (-1, -1)
    for delimiter in (";", ",", "\t"):
        try:
            header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        except csv.Error:
            continue
        score = (sum(known(h) for h in header), len(header))
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


# --- cells to records -------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One non-blank row: its number as in a spreadsheet (header = 1) and its cleaned fields."""

    number: int
    values: dict[str, str]

    def get(self, name: str) -> str:
        """The cleaned cell of a field, "" when the file has no such column."""
        return self.values.get(name, "")

    @property
    def full_name(self) -> str:
        """«Фамилия Имя Отчество» as written, from one «ФИО» column or from three."""
        return " ".join(part for part in (self.get(n) for n in NAME_PARTS) if part)


@dataclass
class Table:
    """A file read for one kind: which header gave which field, what was left, the records."""

    file: str
    headers: list[str]
    columns: dict[str, str]  # field name -> header in the file
    ignored: list[str]
    records: list[Record]

    @property
    def split_name(self) -> bool:
        """Whether names come from one «ФИО» column."""
        return FULL_NAME.name in self.columns

    def require(self, names: Iterable[str], *, person: bool = False) -> None:
        """Refuse the file unless it has these fields (and, with ``person``, a name or e-mail)."""
        missing = [name for name in names if not self._has(name)]
        named = self._has(LAST_NAME.name) and self._has(FIRST_NAME.name)
        if person and not (named or self._has(EMAIL.name)):
            missing.insert(0, f"«{FULL_NAME.name}» или «{EMAIL.name}»")
        if not missing:
            return
        listed = ", ".join(name if name.startswith("«") else f"«{name}»" for name in missing)
        if {LAST_NAME.name, FIRST_NAME.name} & set(missing):
            listed += f" (или один столбец «{FULL_NAME.name}»)"
        raise ImportFileError(f"{self.file}: нет обязательных столбцов: {listed}")

    def _has(self, name: str) -> bool:
        return name in self.columns or (name in NAME_PARTS and self.split_name)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _resolve(
    spec: TableSpec, headers: list[str], *, file: str, mappings: dict[str, str]
) -> tuple[dict[str, list[int]], list[str]]:
    found: dict[str, list[int]] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        if not header:
            continue
        name = mappings.get(mapping_key(header)) or spec.canonical(header)
        if name is None:
            ignored.append(header)
        else:
            found.setdefault(name, []).append(index)
    if FULL_NAME.name in found:
        # One «ФИО» column gives all three parts: another column with one of them is a duplicate.
        for part in NAME_PARTS:
            if part in found:
                found[part] = found[FULL_NAME.name] + found[part]
    duplicated = [(name, indexes) for name, indexes in found.items() if len(indexes) > 1]
    if duplicated:
        problems = []
        for name, indexes in duplicated:
            texts = [headers[i] for i in indexes]
            listed = ", ".join(
                f"«{headers[i]}»"
                + (f" (столбец {_column_letter(i)})" if texts.count(headers[i]) > 1 else "")
                for i in indexes
            )
            problems.append(f"столбец «{name}» встречается несколько раз: {listed}")
        raise ImportFileError(f"{file}: " + "; ".join(problems))
    return found, ignored


def resolve_columns(
    spec: TableSpec, headers: list[str], *, file: str, mappings: dict[str, str] | None = None
) -> dict[str, str]:
    """Field name → header; a field in two columns refuses the file (ФИО counts as its parts)."""
    found, _ = _resolve(spec, headers, file=file, mappings=mappings or {})
    return {name: headers[indexes[0]] for name, indexes in found.items()}


def clean_headers(raw: list[str]) -> list[str]:
    """Header cells cleaned like any cell, with inner runs of spaces collapsed."""
    return [" ".join(clean_cell(cell).split()) for cell in raw]


def read_table(
    path: Path, spec: TableSpec, *, max_bytes: int, mappings: dict[str, str] | None = None
) -> Table:
    """Read a CSV/XLSX file as records of ``spec``'s fields; ``mappings`` are the saved ones."""
    mappings = mappings or {}
    records = read_cells(
        path,
        max_bytes=max_bytes,
        known=lambda h: mapping_key(h) in mappings or spec.canonical(h) is not None,
    )
    headers = clean_headers(records[0])
    found, ignored = _resolve(spec, headers, file=path.name, mappings=mappings)
    direct = {name: indexes[0] for name, indexes in found.items()}
    headed = [i for i, header in enumerate(headers) if header]
    rows: list[Record] = []
    for number, record in enumerate(records[1:], start=2):
        cells = {i: clean_cell(record[i]) for i in headed if i < len(record) and record[i]}
        if not any(cells.values()):
            continue
        values = {name: cells.get(index, "") for name, index in direct.items()}
        if FULL_NAME.name in values:
            values.update(zip(NAME_PARTS, split_full_name(values[FULL_NAME.name]), strict=True))
        rows.append(Record(number=number, values=values))
    columns = {name: headers[indexes[0]] for name, indexes in found.items()}
    return Table(file=path.name, headers=headers, columns=columns, ignored=ignored, records=rows)


def update_fields(target: object, **values: object) -> bool:
    """Set the attributes whose value differs; whether any did (an unchanged row stays so)."""
    changed = False
    for name, value in values.items():
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed = True
    return changed


# --- people -----------------------------------------------------------------------------------

T = TypeVar("T")

NOT_FOUND = "not_found"
AMBIGUOUS = "ambiguous"
MISSING = "missing"


@dataclass(frozen=True)
class PersonMatch(Generic[T]):
    """The outcome of a lookup: what was found, or which column is wrong and how."""

    found: T | None
    field: str
    problem: str = ""  # "", NOT_FOUND, AMBIGUOUS or MISSING
    typed: str = ""


class PersonIndex(Generic[T]):
    """People found by e-mail or by full name as a curator types them (case, ё, spaces ignored).

    A full name matches «Фамилия Имя Отчество» and, for people with a middle name, «Фамилия Имя».
    Entries of one person (a mentor who is also a mentee) count once.
    """

    def __init__(self, entries: Iterable[tuple[Person, T]]) -> None:
        self._by_email: dict[str, dict[uuid.UUID, T]] = defaultdict(dict)
        self._by_name: dict[str, dict[uuid.UUID, T]] = defaultdict(dict)
        for person, target in entries:
            if person.email:
                self._by_email[person.email.casefold()][person.id] = target
            self._by_name[fold_text(person.full_name)][person.id] = target
            if person.middle_name:
                short = fold_text(f"{person.last_name} {person.first_name}")
                self._by_name[short][person.id] = target

    def find(self, *, email: str, name: str) -> PersonMatch[T]:
        """The one person with this e-mail, else with this name; otherwise why not."""
        if email:
            by_email = self._by_email.get(email.casefold(), {})
            if len(by_email) == 1:
                return PersonMatch(next(iter(by_email.values())), EMAIL.name, typed=email)
        if name:
            candidates = self._by_name.get(fold_text(name), {})
            if len(candidates) == 1:
                return PersonMatch(next(iter(candidates.values())), FULL_NAME.name, typed=name)
            problem = AMBIGUOUS if candidates else NOT_FOUND
            return PersonMatch(None, FULL_NAME.name, problem, typed=name)
        if email:
            return PersonMatch(None, EMAIL.name, NOT_FOUND, typed=email)
        return PersonMatch(None, FULL_NAME.name, MISSING)


# --- saved column mappings --------------------------------------------------------------------


def mapping_key(header: str) -> str:
    """The stored form of a header: normalised, hashed when longer than the column allows."""
    key = normalise_header(header)
    if len(key) > MAX_MAPPING_KEY:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def saved_mappings(
    *, session: Session, organization_id: uuid.UUID, spec: TableSpec
) -> dict[str, str]:
    """The organisation's mappings for this kind of file: header key → field name."""
    names = {item.key: item.name for item in spec.fields}
    query = select(ColumnMapping).where(
        ColumnMapping.organization_id == organization_id, ColumnMapping.kind == spec.kind
    )
    return {m.header_key: names[m.field_key] for m in session.exec(query) if m.field_key in names}


def list_column_mappings(
    *, session: Session, organization_id: uuid.UUID, kind: ImportKind | None = None
) -> list[ColumnMapping]:
    """The organisation's saved mappings, by kind and header."""
    query = select(ColumnMapping).where(ColumnMapping.organization_id == organization_id)
    if kind is not None:
        query = query.where(ColumnMapping.kind == kind)
    return sorted(session.exec(query), key=lambda m: (m.kind.value, fold_text(m.header)))


def set_column_mapping(
    *, session: Session, organization_id: uuid.UUID, spec: TableSpec, header: str, field: str
) -> ColumnMapping:
    """Remember that ``header`` means ``field`` (key, name or alias) in this kind of file."""
    target = spec.field(field)
    if target is None:
        raise ValueError(f"неизвестное поле «{field}»; допустимы: {spec.describe()}")
    key = mapping_key(header)
    if not key:
        raise ValueError("пустой заголовок столбца")
    mapping = _mapping(session, organization_id, spec.kind, key)
    if mapping is None:
        mapping = ColumnMapping(
            organization_id=organization_id, kind=spec.kind, header_key=key, header="", field_key=""
        )
    mapping.header = " ".join(clean_cell(header).split())
    mapping.field_key, mapping.updated_at = target.key, utcnow()
    session.add(mapping)
    session.flush()
    return mapping


def remove_column_mapping(
    *, session: Session, organization_id: uuid.UUID, kind: ImportKind, header: str
) -> bool:
    """Forget a saved mapping; False when there was none."""
    mapping = _mapping(session, organization_id, kind, mapping_key(header))
    if mapping is None:
        return False
    session.delete(mapping)
    session.flush()
    return True


def _mapping(
    session: Session, organization_id: uuid.UUID, kind: ImportKind, key: str
) -> ColumnMapping | None:
    return session.exec(
        select(ColumnMapping).where(
            ColumnMapping.organization_id == organization_id,
            ColumnMapping.kind == kind,
            ColumnMapping.header_key == key,
        )
    ).first()
