"""Personal mentoring programmes (§2.11–§2.12 of the regulation): content built from the form.

Pure and deterministic: the same pair, requests and term always give the same programme. The
content per form paraphrases the regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``
§2.2–§2.4, §2.11, §2.15) and, for the forms it does not describe (студент–ученик,
преподаватель–студент), the target model Р-145. The meeting plan follows the target model's
sequence (DESIGN.md §3 point 4): intro, trial, planning, joint work with feedback, final.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from babel.dates import format_date

from models import MeetingKind, MentoringForm

JOINT_MEETINGS_PER_MONTH = 2
"""Joint-work meetings planned in each full month between the opening and the closing month."""

MONTHLY_REPORT_TASK = "Доклад наставника куратору о результатах наставничества за месяц"


@dataclass(frozen=True)
class Meeting:
    """One planned meeting of the pair: kind, Russian title, month label, feedback duty."""

    kind: MeetingKind
    title: str
    month: str
    feedback_required: bool


@dataclass(frozen=True)
class ProgrammeContent:
    """A pair's personal programme: goals, tasks by month, meeting plan, expected results."""

    title: str
    form: MentoringForm
    goals: list[str]
    tasks_by_month: list[tuple[str, list[str]]]
    meetings: list[Meeting]
    expected_results: list[str]
    mentee_requests: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict (PersonalProgramme.content, template context)."""
        return {
            "title": self.title,
            "form": self.form.value,
            "goals": list(self.goals),
            "tasks_by_month": [
                {"month": month, "tasks": list(tasks)} for month, tasks in self.tasks_by_month
            ],
            "meetings": [
                {
                    "kind": meeting.kind.value,
                    "title": meeting.title,
                    "month": meeting.month,
                    "feedback_required": meeting.feedback_required,
                }
                for meeting in self.meetings
            ],
            "expected_results": list(self.expected_results),
            "mentee_requests": list(self.mentee_requests),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgrammeContent:
        """The inverse of as_dict()."""
        return cls(
            title=data["title"],
            form=MentoringForm(data["form"]),
            goals=list(data["goals"]),
            tasks_by_month=[
                (item["month"], list(item["tasks"])) for item in data["tasks_by_month"]
            ],
            meetings=[
                Meeting(
                    kind=MeetingKind(item["kind"]),
                    title=item["title"],
                    month=item["month"],
                    feedback_required=bool(item["feedback_required"]),
                )
                for item in data["meetings"]
            ],
            expected_results=list(data["expected_results"]),
            mentee_requests=list(data.get("mentee_requests", [])),
        )


# ---------------------------------------------------------------------------------------------
# Content per form
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormTemplate:
    """What the regulation says about one form: goals, onboarding, tasks, formats, results."""

    goals: tuple[str, ...]
    onboarding: tuple[str, ...]
    tasks: tuple[str, ...]
    formats: tuple[str, ...]
    results: tuple[str, ...]
    subject_task: str


FORM_TEMPLATES: dict[MentoringForm, FormTemplate] = {
    # §2.2 «ученик – ученик»
    MentoringForm.student_student: FormTemplate(
        goals=(
            "Разносторонняя поддержка обучающегося с особыми образовательными или социальными "
            "потребностями либо временная помощь в адаптации к новым условиям обучения",
            "Улучшение образовательных, творческих или спортивных результатов наставляемого",
            "Развитие гибких навыков и метакомпетенций, помощь в реализации лидерского потенциала",
        ),
        onboarding=(
            "Знакомство с традициями и правилами школы, кружками, секциями и объединениями",
        ),
        tasks=(
            "Совместное посещение кружка, секции или творческого объединения",
            "Развитие навыков самоорганизации: планирование учебной недели",
            "Участие в волонтёрской акции или общешкольном мероприятии",
            "Совместная подготовка к конкурсу или олимпиаде",
            "Деловая игра или мозговой штурм по теме, интересной наставляемому",
            "Совместный поход на спортивное или культурное мероприятие",
        ),
        formats=(
            "консультация",
            "личная беседа",
            "творческая лаборатория",
            "подготовка к конкурсам, олимпиадам",
            "деловая игра",
            "мозговой штурм",
            "внеурочная деятельность",
            "совместное мероприятие",
        ),
        results=(
            "Повышение успеваемости и улучшение психоэмоционального фона внутри класса",
            "Включение наставляемого в работу творческих кружков, объединений, спортивных секций",
            "Реализованный образовательный или творческий проект",
            "Снижение числа конфликтов и жалоб, связанных с положением наставляемого в коллективе",
        ),
        subject_task="Помощь по предмету «{subject}»: разбор трудных тем, консультации",
    ),
    # §2.3 «учитель – учитель»
    MentoringForm.teacher_teacher: FormTemplate(
        goals=(
            "Успешное закрепление молодого специалиста на месте работы или в должности педагога",
            "Повышение профессионального потенциала и уровня педагога",
            "Создание комфортной профессиональной среды, позволяющей реализовывать актуальные "
            "педагогические задачи на высоком уровне",
        ),
        onboarding=(
            "Ознакомление с рабочим местом, коллективом, традициями и локальными актами школы",
            "Ознакомление с должностными обязанностями и квалификационными требованиями",
        ),
        tasks=(
            "Взаимопосещение уроков и их совместный анализ",
            "Анализ результатов собственной профессиональной деятельности",
            "Изучение методики построения и организации результативного учебного процесса",
            "Использование передового педагогического опыта: открытые уроки коллег",
            "Участие в работе школы молодого учителя, семинаре или творческой мастерской",
            "Подготовка методической разработки или статьи по опыту работы",
        ),
        formats=(
            "консультация",
            "посещение и анализ урока",
            "методический семинар",
            "творческая мастерская",
            "разбор педагогической ситуации",
            "совместная разработка урока",
        ),
        results=(
            "Высокий уровень включённости молодого специалиста в педагогическую работу и жизнь "
            "школы",
            "Уверенность в собственных силах, развитие творческого и педагогического потенциала",
            "Удовлетворённость собственной работой, улучшение психоэмоционального состояния",
            "Желание продолжать работу в коллективе школы",
            "Собственные профессиональные работы: статьи, методические разработки, практики",
        ),
        subject_task=(
            "Методическая поддержка по предмету «{subject}»: рабочая программа, "
            "тематическое планирование, подбор пособий"
        ),
    ),
    # §2.4 «работодатель – ученик»
    MentoringForm.employer_student: FormTemplate(
        goals=(
            "Формирование у ученика осознанного подхода к реализации личностного потенциала",
            "Повышение осознанности в вопросах выбора профессии, самоопределения и личностного "
            "развития",
            "Помощь в приобретении опыта и знакомство с повседневными задачами внутри профессии",
        ),
        onboarding=("Знакомство с предприятием (организацией) наставника и его профессией",),
        tasks=(
            "Профориентационное тестирование и разбор его результатов",
            "Экскурсия на предприятие наставника",
            "Знакомство с повседневными задачами профессии: практическое задание",
            "Совместная работа над проектом (творческим, предпринимательским или социальным)",
            "Развитие лидерских, организационных и коммуникативных навыков: деловая игра",
            "Построение образовательной и карьерной траектории",
        ),
        formats=(
            "консультация",
            "экскурсия на предприятие",
            "работа над проектом",
            "деловая игра",
            "дискуссия",
            "профориентационная беседа",
        ),
        results=(
            "Повышение мотивированности и осознанности в вопросах образования, саморазвития и "
            "профессионального ориентирования",
            "Успешное прохождение профориентационной программы",
            "Реализованный и представленный проект, выполненный совместно с представителем "
            "предприятия",
            "Осознанный выбор образовательной и карьерной траектории",
        ),
        subject_task="Прикладное значение предмета «{subject}» в профессии наставника",
    ),
    # Target model Р-145, form «студент – ученик»
    MentoringForm.university_student_pupil: FormTemplate(
        goals=(
            "Формирование у ученика представлений о следующей ступени образования",
            "Улучшение образовательных результатов и мотивации ученика",
            "Расширение метакомпетенций и появление ресурсов для осознанного выбора "
            "образовательной и профессиональной траектории",
        ),
        onboarding=(
            "Знакомство с образовательной организацией и направлением подготовки наставника",
        ),
        tasks=(
            "Рассказ наставника об учёбе в колледже (вузе), посещение дня открытых дверей",
            "Совместная работа над учебным или исследовательским проектом",
            "Развитие навыков самостоятельной работы с информацией",
            "Подготовка к конкурсу, олимпиаде или научно-практической конференции",
            "Обсуждение образовательной траектории и требований к поступлению",
        ),
        formats=(
            "консультация",
            "работа над проектом",
            "личная беседа",
            "мастер-класс",
            "онлайн-встреча",
        ),
        results=(
            "Повышение успеваемости и мотивации к учёбе",
            "Сформированное представление о следующей ступени образования",
            "Реализованный учебный или исследовательский проект",
            "Осознанный выбор образовательной траектории",
        ),
        subject_task="Помощь по предмету «{subject}»: разбор трудных тем, консультации",
    ),
    # Target model Р-145 and the lyceum's roadmap, form «преподаватель – студент»
    MentoringForm.teacher_student: FormTemplate(
        goals=(
            "Успешная адаптация студента к условиям обучения в профессиональной образовательной "
            "организации",
            "Развитие профессиональных компетенций и поддержка в освоении образовательной "
            "программы",
            "Профессиональное самоопределение и мотивация к работе по выбранной профессии",
        ),
        onboarding=("Знакомство с образовательной программой и требованиями к освоению профессии",),
        tasks=(
            "Разбор трудных тем профессиональных модулей",
            "Подготовка к учебной и производственной практике",
            "Участие в конкурсе профессионального мастерства",
            "Работа над курсовым или индивидуальным проектом",
            "Встреча с работодателями, экскурсия на предприятие",
        ),
        formats=(
            "консультация",
            "практическое занятие",
            "работа над проектом",
            "личная беседа",
            "мастер-класс",
        ),
        results=(
            "Освоение образовательной программы без академических задолженностей",
            "Сформированные практические навыки по профессии",
            "Участие в конкурсе профессионального мастерства или проекте",
            "Положительная мотивация к профессиональной и учебной деятельности",
        ),
        subject_task="Поддержка по дисциплине «{subject}»: консультации, разбор заданий",
    ),
    # The lyceum's roadmap (a college), form «студент – студент»
    MentoringForm.student_student_college: FormTemplate(
        goals=(
            "Адаптация студента первого курса к обучению в профессиональной образовательной "
            "организации",
            "Поддержка в освоении дисциплин и профессиональных модулей студентом старшего курса",
            "Вовлечение наставляемого в студенческое сообщество, кружки, секции и конкурсы",
        ),
        onboarding=("Знакомство с лицеем, его традициями, студенческим советом и объединениями",),
        tasks=(
            "Разбор трудных тем дисциплин и подготовка к промежуточной аттестации",
            "Совместная подготовка к конкурсу профессионального мастерства",
            "Участие в студенческом мероприятии или волонтёрской акции",
            "Развитие навыков самоорганизации: планирование учебной недели",
            "Рассказ о производственной практике старшего курса",
        ),
        formats=(
            "консультация",
            "личная беседа",
            "совместное мероприятие",
            "подготовка к конкурсу",
            "работа над проектом",
        ),
        results=(
            "Успешная адаптация первокурсника, отсутствие академических задолженностей",
            "Включение наставляемого в студенческие объединения и мероприятия",
            "Участие в конкурсе или проекте",
        ),
        subject_task="Помощь по дисциплине «{subject}»: разбор трудных тем, консультации",
    ),
    # The lyceum's roadmap, form «работодатель – студент» (mentor's years as §2.4.4)
    MentoringForm.employer_student_college: FormTemplate(
        goals=(
            "Подготовка студента к трудоустройству по профессии на предприятии региона",
            "Знакомство с реальными производственными задачами и требованиями работодателя",
            "Развитие профессиональных и общих компетенций, нужных будущему сотруднику",
        ),
        onboarding=("Знакомство с предприятием наставника, его производством и коллективом",),
        tasks=(
            "Экскурсия на предприятие наставника",
            "Выполнение практического задания на рабочем месте под руководством наставника",
            "Подготовка к производственной практике и её разбор",
            "Работа над проектом по заказу предприятия",
            "Составление плана профессионального развития и трудоустройства",
        ),
        formats=(
            "консультация",
            "экскурсия на предприятие",
            "практическое задание",
            "работа над проектом",
            "профессиональная проба",
        ),
        results=(
            "Сформированные практические навыки по профессии",
            "Успешно пройденная производственная практика",
            "Готовность к трудоустройству на предприятии региона",
        ),
        subject_task="Применение дисциплины «{subject}» на производстве наставника",
    ),
    # The lyceum's roadmap, form «преподаватель – преподаватель» (§2.3 read for lecturers)
    MentoringForm.lecturer_lecturer: FormTemplate(
        goals=(
            "Успешное закрепление молодого или нового преподавателя в профессиональной "
            "образовательной организации",
            "Освоение преподавателем современных методик, цифровых и дистанционных технологий",
            "Профилактика профессионального выгорания, комфортная профессиональная среда",
        ),
        onboarding=(
            "Ознакомление с локальными актами лицея, учебными планами и программами подготовки",
        ),
        tasks=(
            "Взаимопосещение занятий и их совместный анализ",
            "Разработка рабочей программы дисциплины или профессионального модуля",
            "Освоение новой методики или образовательной технологии",
            "Подготовка и проведение открытого занятия",
            "Участие в педагогическом совете или методическом объединении с докладом",
        ),
        formats=(
            "консультация",
            "посещение и анализ занятия",
            "методический семинар",
            "мастер-класс",
            "разбор педагогической ситуации",
        ),
        results=(
            "Уверенное ведение занятий и оформление учебной документации",
            "Применение новой методики или технологии в своих занятиях",
            "Удовлетворённость работой и желание продолжать её в лицее",
        ),
        subject_task=(
            "Методическая поддержка по дисциплине «{subject}»: рабочая программа, "
            "контрольно-оценочные средства"
        ),
    ),
    # The lyceum's roadmap, form «мастер производственного обучения – обучающийся»
    MentoringForm.master_student: FormTemplate(
        goals=(
            "Освоение обучающимся рабочей профессии и приёмов работы под руководством мастера",
            "Формирование навыков безопасного труда и культуры производства",
            "Подготовка к квалификационному экзамену и демонстрационному экзамену",
        ),
        onboarding=("Инструктаж по охране труда, знакомство с мастерской и оборудованием",),
        tasks=(
            "Отработка трудовых приёмов в учебной мастерской",
            "Выполнение учебно-производственного задания",
            "Подготовка к демонстрационному экзамену",
            "Участие в конкурсе профессионального мастерства",
            "Разбор ошибок и качества выполненных работ",
        ),
        formats=(
            "практическое занятие",
            "показ трудовых приёмов",
            "консультация",
            "учебно-производственное задание",
        ),
        results=(
            "Освоенные трудовые приёмы и операции по профессии",
            "Сданный квалификационный (демонстрационный) экзамен",
            "Участие в конкурсе профессионального мастерства",
        ),
        subject_task="Практическая отработка по теме «{subject}» в мастерской",
    ),
    # The lyceum's roadmap, form «директор образовательной организации – педагог»
    MentoringForm.director_teacher: FormTemplate(
        goals=(
            "Развитие управленческих и лидерских компетенций педагога",
            "Включение педагога в развитие образовательной организации и её проекты",
            "Подготовка кадрового резерва: руководителей направлений и методистов",
        ),
        onboarding=("Знакомство с программой развития организации и её ключевыми проектами",),
        tasks=(
            "Участие в разработке проекта или локального акта организации",
            "Руководство рабочей группой или методическим объединением",
            "Подготовка выступления на педагогическом совете",
            "Анализ результатов работы направления и план его развития",
        ),
        formats=(
            "консультация",
            "управленческий практикум",
            "работа над проектом",
            "личная беседа",
        ),
        results=(
            "Реализованный проект организации под руководством педагога",
            "Развитые управленческие компетенции, включение в кадровый резерв",
            "Представленный на педагогическом совете опыт",
        ),
        subject_task="Развитие направления «{subject}» в организации",
    ),
}

OPENING_TASKS = (
    "Знакомство наставника и наставляемого, выявление запросов, интересов и затруднений",
    "Пробная совместная работа, выбор формата и графика встреч",
    "Составление персонализированной программы, ознакомление наставляемого с программой",
)

CLOSING_TASKS = (
    "Подведение итогов, представление результатов на итоговом мероприятии",
    "Отчёт наставника о выполнении программы (в течение 10 дней по её завершении)",
    "Отчёт наставляемого о прохождении программы с оценкой работы наставника "
    "(в течение 10 дней по её завершении)",
)


# ---------------------------------------------------------------------------------------------
# Personalisation from the mentee's requests and subjects
# ---------------------------------------------------------------------------------------------

# (stem found in free text, dative after «по»): «по математике», «по русскому языку».
SUBJECTS: tuple[tuple[str, str], ...] = (
    ("математ", "математике"),
    ("алгебр", "алгебре"),
    ("геометр", "геометрии"),
    ("русск", "русскому языку"),
    ("литератур", "литературе"),
    ("английск", "английскому языку"),
    ("немецк", "немецкому языку"),
    ("французск", "французскому языку"),
    ("физик", "физике"),
    ("хими", "химии"),
    ("биолог", "биологии"),
    ("истори", "истории"),
    ("обществ", "обществознанию"),
    ("географ", "географии"),
    ("информат", "информатике"),
)

EXAMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("огэ", "ОГЭ", ("разбор заданий", "пробный экзамен и разбор ошибок")),
    ("егэ", "ЕГЭ", ("разбор заданий", "пробный экзамен и разбор ошибок")),
    ("впр", "ВПР", ("разбор типовых заданий", "тренировочная работа и разбор ошибок")),
)

# (stems any of which selects the rule, tasks in the order they are planned, expected result)
THEMES: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    (
        ("олимпиад",),
        ("Решение олимпиадных задач прошлых лет", "Участие в олимпиаде и разбор результатов"),
        "Участие в предметной олимпиаде",
    ),
    (
        ("адаптац", "новый класс", "новой школ", "новом коллектив"),
        ("Помощь в адаптации: знакомство с традициями, включение в коллектив",),
        "Успешная адаптация к новым условиям",
    ),
    (
        ("проект", "исследоват"),
        ("Проект: выбор темы и план работы", "Проект: подготовка к защите и защита"),
        "Выполненный и защищённый проект",
    ),
    (
        ("профори", "професси", "карьер"),
        ("Профориентация: знакомство с профессиями, экскурсия, профессиональные пробы",),
        "Осознанный выбор будущей профессии",
    ),
    (
        ("дисциплин", "поведени", "общий язык", "управлени класс"),
        ("Дисциплина на уроке: приёмы управления классом, посещение уроков наставника",),
        "Уверенное управление классом",
    ),
    (
        ("рабоч", "методич", "тематическ", "планирован"),
        ("Составление рабочей программы и тематического планирования",),
        "Составленная рабочая программа и тематическое планирование",
    ),
    (
        ("родител",),
        ("Взаимодействие с родителями: подготовка и проведение родительского собрания",),
        "Конструктивное взаимодействие с родителями",
    ),
    (
        ("выгоран", "стресс", "тревож", "устал"),
        ("Психоэмоциональная поддержка: беседы, приёмы снятия напряжения",),
        "Улучшение психоэмоционального состояния",
    ),
    (
        ("аттестац", "категори"),
        ("Подготовка к аттестации: портфолио и открытый урок",),
        "Готовность к аттестации",
    ),
    (
        ("цифров", "электрон", "дистанц", "компьютер"),
        ("Освоение цифровых инструментов и электронных образовательных ресурсов",),
        "Применение цифровых инструментов в работе и учёбе",
    ),
    (
        ("общени", "коммуник", "друз", "коллектив", "застенчив"),
        ("Развитие коммуникативных навыков: совместные мероприятия и беседы",),
        "Активное участие в жизни класса и школы",
    ),
    (
        ("успеваем", "оценк", "отста", "пробел", "двойк"),
        ("Ликвидация пробелов в знаниях: план повторения, контроль",),
        "Повышение успеваемости",
    ),
)


@dataclass
class _Personal:
    """Tasks (in two waves: early, later) and results derived from the requests and subjects."""

    early: list[str] = field(default_factory=list)
    later: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)

    def add(self, tasks: tuple[str, ...], result: str = "") -> None:
        first, *rest = tasks
        if first not in self.early:
            self.early.append(first)
            self.later.extend(task for task in rest if task not in self.later)
        if result and result not in self.results:
            self.results.append(result)


def _dative(subject: str) -> str | None:
    """«математика» → «математике» for the subjects we know, else None."""
    lowered = subject.lower()
    for stem, dative in SUBJECTS:
        if stem in lowered:
            return dative
    return None


def _subjects_in(text: str) -> list[str]:
    lowered = text.lower()
    return [dative for stem, dative in SUBJECTS if stem in lowered]


def _personalise(*, template: FormTemplate, requests: list[str], subjects: list[str]) -> _Personal:
    personal = _Personal()
    covered: set[str] = set()  # subjects (dative) already given an exam task
    known_subjects = [d for d in (_dative(s) for s in subjects) if d]
    for request in requests:
        lowered = request.lower()
        matched = False
        for stem, exam, stages in EXAMS:
            if stem not in lowered:
                continue
            matched = True
            for dative in _subjects_in(request) or known_subjects or [""]:
                where = f" по {dative}" if dative else ""
                tasks = tuple(f"Подготовка к {exam}{where}: {stage}" for stage in stages)
                personal.add(tasks, f"Готовность к {exam}{where}, рост результатов пробных работ")
                covered.add(dative)
        for stems, tasks, result in THEMES:
            if any(s in lowered for s in stems):
                matched = True
                personal.add(tasks, result)
        if not matched and request.strip():
            personal.add((f"Работа по запросу наставляемого: «{request.strip()}»",))
    for subject in subjects:
        subject_dative = _dative(subject)
        if subject.strip() and (subject_dative is None or subject_dative not in covered):
            task = template.subject_task.format(subject=subject.strip())
            personal.add((task,))
    return personal


# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------


def month_label(day: date) -> str:
    """«Октябрь 2026» (nominative, capitalised)."""
    label = format_date(day, format="LLLL y", locale="ru")
    return label[:1].upper() + label[1:]


def term_months(*, starts_on: date, ends_on: date) -> list[str]:
    """Month labels from starts_on's month to ends_on's month, inclusive."""
    if ends_on < starts_on:
        raise ValueError(f"the term ends ({ends_on}) before it starts ({starts_on})")
    labels = []
    year, month = starts_on.year, starts_on.month
    while (year, month) <= (ends_on.year, ends_on.month):
        labels.append(month_label(date(year, month, 1)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return labels


def _meetings(months: list[str], formats: tuple[str, ...]) -> list[Meeting]:
    first, last = months[0], months[-1]
    plan = [
        Meeting(MeetingKind.intro, "Встреча-знакомство", first, False),
        Meeting(MeetingKind.trial, "Пробная рабочая встреча", first, False),
        Meeting(
            MeetingKind.planning,
            "Встреча-планирование: согласование персонализированной программы",
            first,
            False,
        ),
    ]
    # The opening month belongs to the first three meetings and the closing month to the final
    # one, so the closing month gets a single joint meeting and the opening month none, unless
    # the term is too short to have months in between.
    if len(months) == 1:
        joint_months = [first]
    else:
        middle = [m for m in months[1:-1] for _ in range(JOINT_MEETINGS_PER_MONTH)]
        joint_months = [first, *middle, last] if len(months) == 2 else [*middle, last]
    for index, month in enumerate(joint_months):
        activity = formats[index % len(formats)]
        title = f"Совместная работа № {index + 1}: {activity}"
        plan.append(Meeting(MeetingKind.joint_work, title, month, True))
    # The final meeting collects both sides' evaluation (mentee's report with the mentor's
    # assessment), so feedback is mandatory there too.
    plan.append(
        Meeting(
            MeetingKind.final, "Итоговая встреча: подведение итогов и оценка программы", last, True
        )
    )
    return plan


def _spread(tasks: list[str], slots: int) -> list[list[str]]:
    """Tasks split into `slots` consecutive, order-preserving, near-equal chunks."""
    chunks: list[list[str]] = [[] for _ in range(slots)]
    for index, task in enumerate(tasks):
        chunks[index * slots // len(tasks)].append(task)
    return chunks


def _tasks_by_month(
    months: list[str], template: FormTemplate, personal: _Personal
) -> list[tuple[str, list[str]]]:
    count = len(months)
    work = list(range(1, count - 1)) if count >= 3 else list(range(count))
    plan: list[list[str]] = [[] for _ in months]
    plan[0].extend([*OPENING_TASKS, *template.onboarding])
    for slot, chunk in zip(
        work, _spread([*personal.early, *personal.later], len(work)), strict=True
    ):
        plan[slot].extend(chunk)
    for index, slot in enumerate(work):
        plan[slot].append(template.tasks[index % len(template.tasks)])
    plan[-1].extend(CLOSING_TASKS)
    for tasks in plan:
        tasks.append(MONTHLY_REPORT_TASK)
    return list(zip(months, plan, strict=True))


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def build_programme(
    *,
    form: MentoringForm,
    mentor_name: str,
    mentee_names: list[str],
    mentee_requests: list[str],
    subjects: list[str],
    starts_on: date,
    ends_on: date,
) -> ProgrammeContent:
    """The personal programme of one pair or group, from its form, requests, subjects and term."""
    if not mentor_name.strip():
        raise ValueError("a programme needs a mentor")
    if not mentee_names:
        raise ValueError("a programme needs at least one mentee")
    template = FORM_TEMPLATES[form]
    months = term_months(starts_on=starts_on, ends_on=ends_on)
    requests = [r.strip() for r in mentee_requests if r.strip()]
    personal = _personalise(template=template, requests=requests, subjects=subjects)
    goals = list(template.goals)
    if requests:
        goals.append("Решение запросов наставляемого: " + "; ".join(requests))
    return ProgrammeContent(
        title=f"Персонализированная программа наставничества в форме «{form.value}»",
        form=form,
        goals=goals,
        tasks_by_month=_tasks_by_month(months, template, personal),
        meetings=_meetings(months, template.formats),
        expected_results=[*personal.results, *template.results],
        mentee_requests=requests,
    )
