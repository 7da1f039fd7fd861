"""A realistic, deterministic demo school: questionnaires of mentees and mentors as forms export.

Files written (all names and e-mails are invented; e-mails use example.* domains only):

- ``mentees.csv`` — cp1251, ``;`` (Google Forms export re-saved by Excel): pupils of grades 5–9
  and teacher–teacher young specialists, plus three bad rows (bad date, unknown form, no surname);
- ``mentees_10_11.xlsx`` — pupils of grades 10–11 with date cells, plus one bad row (grade 14);
- ``mentors.csv`` — UTF-8 with BOM, ``,``: teachers, employers and university students;
- ``mentors_students.xlsx`` — pupils of grades 10–11 mentoring younger pupils.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from uuid import UUID

from openpyxl import Workbook, load_workbook
from sqlmodel import Session

from models import Role
from nastavnik import training


def _lines(text: str) -> tuple[str, ...]:
    """The non-empty stripped lines of a block of text."""
    return tuple(line.strip() for line in text.splitlines() if line.strip())


MALE_NAMES = tuple(
    """
    Александр Алексей Андрей Артём Владимир Дмитрий Евгений Иван Кирилл Максим Михаил Никита
    Павел Роман Сергей Тимофей Егор Матвей Даниил Илья Николай Олег Виктор Константин Фёдор
    Глеб Степан Ярослав Марк Лев
    """.split()
)
FEMALE_NAMES = tuple(
    """
    Анастасия Анна Валерия Виктория Дарья Екатерина Елена Ирина Ксения Мария Наталья Ольга
    Полина Светлана Софья Татьяна Юлия Алина Вероника Варвара Алиса Ева Таисия Милана Ульяна
    Людмила Галина Марина Надежда Вера
    """.split()
)
PATRONYMICS = tuple(
    tuple(line.split(" | "))
    for line in _lines(
        """
        Александрович | Александровна
        Алексеевич | Алексеевна
        Андреевич | Андреевна
        Владимирович | Владимировна
        Дмитриевич | Дмитриевна
        Евгеньевич | Евгеньевна
        Иванович | Ивановна
        Михайлович | Михайловна
        Николаевич | Николаевна
        Олегович | Олеговна
        Павлович | Павловна
        Петрович | Петровна
        Сергеевич | Сергеевна
        Викторович | Викторовна
        Юрьевич | Юрьевна
        Игоревич | Игоревна
        Романович | Романовна
        Константинович | Константиновна
        Ильич | Ильинична
        Фёдорович | Фёдоровна
        """
    )
)
# Male forms; the female form is derived by _surname (-ов/-ев/-ин → +а, -ский → -ская).
SURNAMES = tuple(
    """
    Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов
    Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев
    Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев
    Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов Поляков Сорокин
    Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов Филиппов Комаров Давыдов
    Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов Карпов
    Власов Мельников Денисов Покровский Никольский Вишневский Шевченко Ковальчук Черных
    Бондаренко Синицын Галкин Лукин
    """.split()
)
INVARIANT_SURNAMES = {"Шевченко", "Ковальчук", "Черных", "Бондаренко"}

PUPIL_REQUESTS = _lines(
    """
    подготовка к ОГЭ по математике
    подготовка к ОГЭ по русскому языку
    проектная деятельность
    адаптация в новом классе
    помощь в изучении английского языка
    подготовка к олимпиаде по информатике
    развитие лидерских качеств
    участие в научно-практической конференции
    трудности в общении со сверстниками
    организация учёбы и тайм-менеджмент
    подготовка к конкурсу чтецов
    программирование на Python
    подготовка к олимпиаде по математике
    """
)
SENIOR_REQUESTS = _lines(
    """
    подготовка к ЕГЭ по профильной математике
    подготовка к ЕГЭ по физике
    выбор профессии
    подготовка к поступлению в вуз
    индивидуальный проект
    профориентация: IT-профессии
    знакомство с работой инженера
    медицинские профессии
    """
)
TEACHER_REQUESTS = _lines(
    """
    адаптация в новом коллективе
    методика проведения современного урока
    работа с родителями
    дисциплина на уроке
    подготовка к аттестации
    ведение школьной документации
    работа с одарёнными детьми
    работа с детьми с ОВЗ
    классное руководство
    """
)
INTERESTS = _lines(
    """
    шахматы
    робототехника
    футбол
    рисование
    музыка
    чтение
    программирование
    волонтёрство
    театр
    туризм
    фотография
    биология
    история родного края
    танцы
    плавание
    настольный теннис
    """
)
PUPIL_SUBJECTS = _lines(
    """
    математика
    физика
    информатика
    русский язык
    литература
    история
    биология
    химия
    английский язык
    география
    обществознание
    """
)
TEACHER_SUBJECTS = tuple(
    tuple(line.split(" | "))
    for line in _lines(
        """
        математика | учитель математики
        русский язык и литература | учитель русского языка и литературы
        начальные классы | учитель начальных классов
        физика | учитель физики
        химия, биология | учитель химии и биологии
        история, обществознание | учитель истории и обществознания
        английский язык | учитель английского языка
        информатика | учитель информатики
        физическая культура | учитель физической культуры
        музыка | учитель музыки
        технология | учитель технологии
        психология | педагог-психолог
        """
    )
)
EMPLOYERS = tuple(
    tuple(line.split(" | "))
    for line in _lines(
        """
        инженер-программист, ООО «Ромашка» | информатика, программирование
        главный технолог, АО «Василёк» | химия, технология
        врач-педиатр, городская поликлиника № 1 | биология, медицина
        инженер-конструктор, АО «Кедр» | физика, математика
        """
    )
)
DOMAINS = ("example.ru", "example.com", "example.org", "example.net")
FORM_SPELLINGS = {
    "ученик–ученик": ("Ученик – ученик", "ученик-ученик", "Ученик — ученик"),
    "учитель–учитель": ("Учитель – учитель", "учитель-учитель"),
    "работодатель–ученик": ("Работодатель – ученик", "работодатель - ученик"),
    "студент–ученик": ("Студент – ученик", "студент-ученик"),
}
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya".split(),
        strict=True,
    )
)

MENTEES_CSV_HEADERS = _lines(
    """
    Отметка времени
    Фамилия *
    Имя *
    Отчество
    Дата рождения *
    Класс
    Электронная почта
    Телефон
    Форма наставничества *
    Ваш запрос к наставнику
    Интересы
    Предметы
    Педагогический стаж (лет)
    Должность
    Согласие на обработку персональных данных
    Согласие законного представителя
    ФИО законного представителя
    Дата отзыва согласия
    """
)
MENTEES_XLSX_HEADERS = _lines(
    """
    Отметка времени
    Фамилия
    Имя
    Отчество
    Дата рождения
    Класс
    E-mail
    Форма наставничества
    Запросы
    Интересы
    Предметы
    Согласие на обработку персональных данных
    Согласие законного представителя
    ФИО законного представителя
    """
)
MENTORS_CSV_HEADERS = _lines(
    """
    Отметка времени
    Фамилия
    Имя
    Отчество
    Электронная почта
    Телефон
    Форма наставничества
    Должность
    Предметные области
    Опыт работы, лет
    Интересы
    Согласие на обработку персональных данных
    """
)
MENTORS_XLSX_HEADERS = _lines(
    """
    Фамилия
    Имя
    Отчество
    Дата рождения
    E-mail
    Класс
    Форма наставничества
    Предметы
    Интересы
    Согласие на обработку персональных данных
    Дата согласия
    Согласие законного представителя
    ФИО законного представителя
    """
)

# A 200-participant school: 150 mentees (plus 4 bad rows) and 50 mentors, spread over the forms
# as the mentees ask for them: at three mentees each most are paired, a few stay on the search list.
PUPILS_5_9 = 90
YOUNG_SPECIALISTS = 20
SENIORS_10_11 = 40
TEACHER_MENTORS = 12
STUDENT_MENTORS = 26
UNIVERSITY_MENTORS = 8


@dataclass(frozen=True)
class DemoFiles:
    """Paths of the demo questionnaires and what importing them must give."""

    directory: Path
    mentees_csv: Path
    mentees_xlsx: Path
    mentors_csv: Path
    mentors_xlsx: Path
    reference_date: date
    # file name -> (accepted rows, rejected rows) on the first import into an empty cycle
    expected: dict[str, tuple[int, int]] = field(default_factory=dict)
    expected_missing_mentees: int = 0
    expected_missing_mentors: int = 0

    @property
    def mentee_files(self) -> list[Path]:
        """The mentees' questionnaires."""
        return [self.mentees_csv, self.mentees_xlsx]

    @property
    def mentor_files(self) -> list[Path]:
        """The mentors' questionnaires."""
        return [self.mentors_csv, self.mentors_xlsx]

    def files(self) -> list[tuple[Path, Role]]:
        """Every file with the role it holds, in a sensible import order."""
        return [
            (self.mentees_csv, Role.mentee),
            (self.mentees_xlsx, Role.mentee),
            (self.mentors_csv, Role.mentor),
            (self.mentors_xlsx, Role.mentor),
        ]


@dataclass
class _Human:
    last_name: str
    first_name: str
    middle_name: str
    male: bool
    birth_date: date
    email: str = ""
    phone: str = ""


class _School:
    def __init__(self, rng: random.Random, cycle_start: date):
        self.rng, self.start = rng, cycle_start
        self.names: set[tuple[str, str, str]] = set()
        self.emails: set[str] = set()
        self.guardians: dict[tuple[str, str, str], str] = {}

    def human(self, *, born_from: date, born_to: date, email: bool) -> _Human:
        rng = self.rng
        while True:
            male = rng.random() < 0.5
            last = _surname(rng.choice(SURNAMES), male)
            first = rng.choice(MALE_NAMES if male else FEMALE_NAMES)
            middle = rng.choice(PATRONYMICS)[0 if male else 1]
            if (last, first, middle) not in self.names:
                self.names.add((last, first, middle))
                break
        born = born_from + timedelta(days=rng.randrange((born_to - born_from).days + 1))
        person = _Human(last, first, middle, male, born)
        if email:
            person.email = self.email(first, last)
        if rng.random() < 0.7:
            person.phone = (
                f"+7 9{rng.randrange(100):02d} {rng.randrange(1000):03d}-"
                f"{rng.randrange(100):02d}-{rng.randrange(100):02d}"
            )
        return person

    def email(self, first: str, last: str) -> str:
        base = f"{_translit(last)}.{_translit(first)}"
        candidate, n = base, 1
        while any(f"{candidate}@{d}" in self.emails for d in DOMAINS):
            n += 1
            candidate = f"{base}{n}"
        address = f"{candidate}@{self.rng.choice(DOMAINS)}"
        self.emails.add(address)
        return address

    def pupil_born(self, grade: int) -> tuple[date, date]:
        """Birth dates of a pupil in ``grade`` on the cycle start (never exactly 18 on it)."""
        year = self.start.year - grade - 7
        return date(year, 9, 2), date(year + 1, 8, 31)

    def guardian(self, child: _Human) -> str:
        """The child's parent, the same one each time the child is named."""
        key = (child.last_name, child.first_name, child.middle_name)
        if key not in self.guardians:
            mother = self.rng.random() < 0.7
            last = _surname(_male_surname(child.last_name), not mother)
            first = self.rng.choice(FEMALE_NAMES if mother else MALE_NAMES)
            middle = self.rng.choice(PATRONYMICS)[1 if mother else 0]
            self.guardians[key] = f"{last} {first} {middle}"
        return self.guardians[key]

    def stamp(self) -> datetime:
        offset = timedelta(days=self.rng.randrange(-14, 21), minutes=self.rng.randrange(8 * 60))
        return datetime.combine(self.start, datetime.min.time()) + timedelta(hours=9) + offset

    def form(self, value: str) -> str:
        return self.rng.choice(FORM_SPELLINGS[value])

    def few(self, pool: tuple[str, ...], low: int = 1, high: int = 2) -> str:
        return ", ".join(self.rng.sample(pool, self.rng.randint(low, high)))


def _surname(male_form: str, male: bool) -> str:
    if male or male_form in INVARIANT_SURNAMES:
        return male_form
    if male_form.endswith("ский"):
        return male_form[:-4] + "ская"
    return male_form + "а"


def _male_surname(surname: str) -> str:
    if surname.endswith("ская"):
        return surname[:-4] + "ский"
    if surname.endswith(("ова", "ева", "ёва", "ина", "ына")):
        return surname[:-1]
    return surname


def _translit(text: str) -> str:
    return "".join(_TRANSLIT.get(ch, ch) for ch in text.lower()).replace("_", "")


def _ru(day: date | datetime) -> str:
    return day.strftime("%d.%m.%Y %H:%M:%S" if isinstance(day, datetime) else "%d.%m.%Y")


def write_demo_questionnaires(
    directory: Path, *, seed: int = 2026, cycle_start: date = date(2026, 9, 1)
) -> DemoFiles:
    """Write the four questionnaire files into ``directory``; the same seed gives the same files."""
    directory.mkdir(parents=True, exist_ok=True)
    school = _School(random.Random(seed), cycle_start)
    revoked_on = cycle_start + timedelta(days=44)
    senior_mentees, student_mentors = _student_mentors(school)
    files = DemoFiles(
        directory=directory,
        mentees_csv=_write_mentees_csv(directory / "mentees.csv", school, revoked_on),
        mentees_xlsx=_write_mentees_xlsx(directory / "mentees_10_11.xlsx", school, senior_mentees),
        mentors_csv=_write_mentors_csv(directory / "mentors.csv", school),
        mentors_xlsx=_write_mentors_xlsx(
            directory / "mentors_students.xlsx", school, student_mentors
        ),
        reference_date=cycle_start + timedelta(days=75),
        expected={
            "mentees.csv": (PUPILS_5_9 + YOUNG_SPECIALISTS, 3),
            "mentees_10_11.xlsx": (SENIORS_10_11, 1),
            "mentors.csv": (TEACHER_MENTORS + len(EMPLOYERS) + UNIVERSITY_MENTORS, 0),
            "mentors_students.xlsx": (STUDENT_MENTORS, 0),
        },
        # 8 minors without guardian consent, 2 without personal-data consent, 1 revoked
        expected_missing_mentees=11,
        # a pupil mentor without guardian consent, a teacher without personal-data consent
        expected_missing_mentors=2,
    )
    return files


def _student_mentors(school: _School) -> tuple[list[_Human], list[tuple[_Human, int, str]]]:
    """Pupil mentors (grades 10–11); the first two also fill in the seniors' mentee form."""
    mentors = []
    for i in range(STUDENT_MENTORS):
        grade = 10 + i % 2
        person = school.human(
            born_from=school.pupil_born(grade)[0], born_to=school.pupil_born(grade)[1], email=True
        )
        mentors.append((person, grade, "АБ"[i % 2]))
    return [mentors[0][0], mentors[1][0]], mentors


def _write_mentees_csv(path: Path, school: _School, revoked_on: date) -> Path:
    rng = school.rng
    rows: list[list[str]] = []
    no_guardian = set(rng.sample(range(5, PUPILS_5_9), 6))
    no_personal, revoked = 2, 3  # pupils 0..4 keep the special cases apart from no_guardian
    for i in range(PUPILS_5_9):
        grade = 5 + i % 5
        person = school.human(
            born_from=school.pupil_born(grade)[0],
            born_to=school.pupil_born(grade)[1],
            email=rng.random() < 0.5,
        )
        if i == 0:
            person.last_name = _surname("Смирнов", person.male)
        guardian = school.guardian(person)
        if i == 0:
            # HTML in a name must come out as inert text in every document.
            person.last_name = f"<b>{person.last_name}</b>"
        form = "студент–ученик" if grade >= 8 and rng.random() < 0.2 else "ученик–ученик"
        interests = "=СУММ(A1:A3)" if i == 1 else school.few(INTERESTS, 1, 3)
        guardian_yes = i not in no_guardian
        rows.append(
            [
                _ru(school.stamp()),
                person.last_name,
                person.first_name,
                person.middle_name,
                _ru(person.birth_date),
                f"{grade}{rng.choice('АБВ')}",
                person.email,
                person.phone,
                school.form(form),
                school.few(PUPIL_REQUESTS),
                interests,
                school.few(PUPIL_SUBJECTS),
                "",
                "",
                "Нет" if i == no_personal else "Да",
                "Да" if guardian_yes else rng.choice(("Нет", "")),
                guardian if guardian_yes else "",
                _ru(revoked_on) if i == revoked else "",
            ]
        )
    for i in range(YOUNG_SPECIALISTS):
        person = school.human(
            born_from=date(school.start.year - 27, 1, 1),
            born_to=date(school.start.year - 22, 6, 30),
            email=True,
        )
        subject, position = rng.choice(TEACHER_SUBJECTS)
        rows.append(
            [
                _ru(school.stamp()),
                person.last_name,
                person.first_name,
                person.middle_name,
                _ru(person.birth_date),
                "",
                person.email,
                person.phone,
                school.form("учитель–учитель"),
                school.few(TEACHER_REQUESTS, 1, 3),
                school.few(INTERESTS, 0, 2),
                subject,
                str(rng.randint(0, 3)),
                position,
                "Нет" if i == 0 else "Да",
                "",
                "",
                "",
            ]
        )
    bad = [
        _bad_row(school, rows, "date"),
        _bad_row(school, rows, "form"),
        _bad_row(school, rows, "surname"),
    ]
    for offset, row in zip((17, 41, 66), bad, strict=True):
        rows.insert(offset, row)
    with path.open("w", encoding="cp1251", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(MENTEES_CSV_HEADERS)
        writer.writerows(rows)
    return path


def _bad_row(school: _School, rows: list[list[str]], kind: str) -> list[str]:
    template = list(school.rng.choice(rows[3:PUPILS_5_9]))
    person = school.human(
        born_from=school.pupil_born(7)[0], born_to=school.pupil_born(7)[1], email=False
    )
    template[1:5] = [
        person.last_name,
        person.first_name,
        person.middle_name,
        _ru(person.birth_date),
    ]
    template[6], template[16] = "", school.guardian(person)
    template[14], template[15], template[17] = "Да", "Да", ""
    if kind == "date":
        template[4] = f"31.02.{person.birth_date.year}"
    elif kind == "form":
        template[8] = "Родитель – ученик"
    else:
        template[1] = ""
    return template


def _write_mentees_xlsx(path: Path, school: _School, also_mentors: list[_Human]) -> Path:
    rng = school.rng
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Ответы на форму (1)"
    sheet.append(list(MENTEES_XLSX_HEADERS))
    no_guardian = {5, 9}
    adult = 13  # an 11th-grader already 18 on the cycle start: needs no guardian
    for i in range(SENIORS_10_11):
        grade = 10 + i % 2
        if i < len(also_mentors):
            person = also_mentors[i]
        else:
            born = school.pupil_born(grade)
            if i == adult:
                born = (date(born[0].year - 1, 12, 1), date(born[0].year, 8, 25))
            person = school.human(born_from=born[0], born_to=born[1], email=rng.random() < 0.8)
        form = rng.choice(("работодатель–ученик", "студент–ученик", "ученик–ученик"))
        guardian_yes = i not in no_guardian and i != adult
        sheet.append(
            [
                school.stamp(),
                person.last_name,
                person.first_name,
                person.middle_name,
                datetime.combine(person.birth_date, datetime.min.time()),
                f"{grade}{'АБ'[i % 2] if i >= len(also_mentors) else 'АБ'[i]}",
                person.email or None,
                school.form(form),
                school.few(SENIOR_REQUESTS),
                school.few(INTERESTS),
                school.few(PUPIL_SUBJECTS),
                "Да",
                "Да" if guardian_yes else "Нет",
                school.guardian(person) if guardian_yes else None,
            ]
        )
    person = school.human(
        born_from=school.pupil_born(11)[0], born_to=school.pupil_born(11)[1], email=True
    )
    bad = [
        school.stamp(),
        person.last_name,
        person.first_name,
        person.middle_name,
        datetime.combine(person.birth_date, datetime.min.time()),
        14,
        person.email,
        school.form("работодатель–ученик"),
        "выбор профессии",
        "футбол",
        "физика",
        "Да",
        "Да",
        school.guardian(person),
    ]
    sheet.insert_rows(20)
    for column, value in enumerate(bad, start=1):
        sheet.cell(row=20, column=column, value=value)
    for cell in sheet["A"][1:] + sheet["E"][1:]:
        cell.number_format = "DD.MM.YYYY HH:MM:SS" if cell.column == 1 else "DD.MM.YYYY"
    workbook.save(path)
    return path


def _write_mentors_csv(path: Path, school: _School) -> Path:
    rng = school.rng
    rows: list[list[str]] = []
    for i in range(TEACHER_MENTORS):
        person = school.human(
            born_from=date(school.start.year - 60, 1, 1),
            born_to=date(school.start.year - 28, 1, 1),
            email=True,
        )
        subject, position = rng.choice(TEACHER_SUBJECTS)
        age = school.start.year - person.birth_date.year
        experience = rng.randint(5, min(30, age - 22))
        rows.append(
            [
                _ru(school.stamp()),
                person.last_name,
                person.first_name,
                person.middle_name,
                person.email,
                person.phone,
                school.form("учитель–учитель"),
                position,
                subject,
                str(experience),
                school.few(INTERESTS, 0, 2),
                "Нет" if i == 7 else "Да",
            ]
        )
    for position, subjects in EMPLOYERS:
        person = school.human(
            born_from=date(school.start.year - 50, 1, 1),
            born_to=date(school.start.year - 30, 1, 1),
            email=True,
        )
        rows.append(
            [
                _ru(school.stamp()),
                person.last_name,
                person.first_name,
                person.middle_name,
                person.email,
                person.phone,
                school.form("работодатель–ученик"),
                position,
                subjects,
                str(rng.randint(6, 20)),
                school.few(INTERESTS, 0, 2),
                "Да",
            ]
        )
    for _ in range(UNIVERSITY_MENTORS):
        person = school.human(
            born_from=date(school.start.year - 22, 1, 1),
            born_to=date(school.start.year - 19, 1, 1),
            email=True,
        )
        rows.append(
            [
                _ru(school.stamp()),
                person.last_name,
                person.first_name,
                person.middle_name,
                person.email,
                person.phone,
                school.form("студент–ученик"),
                "студент 3 курса педагогического университета",
                rng.choice(PUPIL_SUBJECTS),
                "",
                school.few(INTERESTS, 1, 2),
                "Да",
            ]
        )
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=",", lineterminator="\r\n")
        writer.writerow(MENTORS_CSV_HEADERS)
        writer.writerows(rows)
    return path


def _write_mentors_xlsx(
    path: Path, school: _School, mentors: list[tuple[_Human, int, str]]
) -> Path:
    rng = school.rng
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Наставники-ученики"
    sheet.append(list(MENTORS_XLSX_HEADERS))
    for i, (person, grade, letter) in enumerate(mentors):
        guardian_yes = i != len(mentors) - 1
        sheet.append(
            [
                person.last_name,
                person.first_name,
                person.middle_name,
                datetime.combine(person.birth_date, datetime.min.time()),
                person.email,
                f"{grade} {letter}",
                school.form("ученик–ученик"),
                school.few(PUPIL_SUBJECTS),
                school.few(INTERESTS),
                "Да",
                datetime.combine(
                    school.start - timedelta(days=rng.randint(1, 10)), datetime.min.time()
                ),
                "Да" if guardian_yes else "Нет",
                school.guardian(person) if guardian_yes else None,
            ]
        )
    for cell in sheet["D"][1:] + sheet["K"][1:]:
        cell.number_format = "DD.MM.YYYY"
    workbook.save(path)
    return path


def write_demo_attendance(directory: Path, *, session: Session, cycle_id: UUID) -> Path:
    """A realistic attendance CSV (Windows-1251, «;») for the selected mentors, with one bad row."""
    specs = training.session_plan(session=session, cycle_id=cycle_id)
    mentors = training.selected_mentors(session=session, cycle_id=cycle_id)
    absentees = min(3, max(2, len(mentors) // 4), max(0, len(mentors) - 1))
    # Spread the absentees over the list and over the mandatory sessions, deterministically.
    step = max(1, len(mentors) // max(1, absentees))
    mandatory = [spec for spec in specs if spec.mandatory] or specs
    missed = {
        mentors[(1 + i * step) % len(mentors)][0].id: mandatory[i % len(mandatory)].code
        for i in range(absentees)
    }
    marks = ("да", "+", "Да", "1")
    rows: list[list[str]] = []
    for spec in specs:
        for i, (participant, person) in enumerate(mentors):
            present = missed.get(participant.id) != spec.code
            rows.append(
                [
                    person.full_name,
                    person.email,
                    spec.title,
                    marks[i % len(marks)] if present else "нет",
                ]
            )
    rows.insert(len(rows) // 2, ["Гостев Аркадий Львович", "", specs[0].title, "да"])
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "attendance_training.csv"
    with path.open("w", encoding="cp1251", errors="replace", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(["ФИО", "Электронная почта", "Занятие", "Присутствовал(а)"])
        writer.writerows(rows)
    return path


def trimmed_questionnaires(directory: Path, *, seed: int = 2026, keep_every: int) -> DemoFiles:
    """The generated school's questionnaires with every `keep_every`-th row kept (a smaller
    organisation with the same mix of forms, people of its own from its seed)."""
    files = write_demo_questionnaires(directory, seed=seed)
    # The mentees' export is cp1251 with «;», the mentors' UTF-8 with «,» (as schools send them).
    for path, encoding, delimiter in (
        (files.mentees_csv, "cp1251", ";"),
        (files.mentors_csv, "utf-8-sig", ","),
    ):
        with path.open(encoding=encoding, newline="") as source:
            rows = list(csv.reader(source, delimiter=delimiter))
        with path.open("w", encoding=encoding, newline="") as target:
            writer = csv.writer(target, delimiter=delimiter, lineterminator="\r\n")
            writer.writerows([rows[0], *rows[1::keep_every]])
    for path in (files.mentees_xlsx, files.mentors_xlsx):
        book = load_workbook(path)
        sheet = book.active
        assert sheet is not None
        last = sheet.max_row
        # Delete from the bottom so the row numbers above stay put.
        for row in range(last, 1, -1):
            if (row - 2) % keep_every:
                sheet.delete_rows(row)
        book.save(path)
    return files
