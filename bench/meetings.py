"""Meetings benchmark: a school year of meeting logs imported month by month, then the month's end.

Run: uv run python bench/meetings.py [--pairs 2000] [--seed 7] [--tracemalloc] [--keep DIR]

Setup (not timed): a temporary SQLite database migrated with nastavnik.db.migrate, one
organisation and its 2026/2027 cycle, N pairs going on from 1 September 2026 to 31 May 2027
(mentors with at most three mentees each, §2.5; a few groups of two), each with an approved
personal programme from nastavnik.programmes.build_programme, inserted in bulk; and nine
monthly exports of the online form (CSV, the columns of docs/meetings_import.md) in a temp dir.
Seeded: most pairs hold their programme's meetings and their mentees answer; some pairs lag
(one joint-work meeting a month fewer than planned), some months a pair is silent (and catches
up the month after), some mentees leave their feedback out.

Timed, per month, as the product does it: the month's file imported in one transaction
(meetings_import.import_meetings_transaction, as `nastavnik meetings import`), then, on the
first day of the next month, monthly.run_day in one session (what the tick's day runs for each
cycle, nastavnik/tick_day.py): the reports assembled, the curator's summary PDF made, the
reminders queued.
The parts are timed by wrapping the functions run_day calls (behaviour unchanged):

  import      the file read, checked and written, committed
  assemble    monthly.assemble_monthly_reports (every pair's progress and report)
  summary     monthly.monthly_summary, and issue_summary_document outside WeasyPrint
              (numbering, the Jinja template, storing the file)
  PDF         WeasyPrint: documents.render_html (layout and write_pdf)
  reminders   meeting_reminders.queue_reminders (links and templated mail to the outbox)
  commit      the rest: run_day's own queries and the session's commit

Memory: the process's peak RSS in each month (VmHWM, reset through /proc/self/clear_refs before
the month; falls back to the process's ru_maxrss so far), and ru_maxrss at the end. With
--tracemalloc, also the peak of Python allocations per month (tracing slows the run down: the
times of such a run are not the figures to compare with the target). WeasyPrint is imported
in the setup, as the long-lived flow process has it (about 1 s once per process).
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import random
import resource
import shutil
import tempfile
import time
import tracemalloc
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from models import (
    Document,
    MeetingFeedback,
    MeetingKind,
    MeetingLog,
    MentoringForm,
    MentorshipPair,
    OutboxMessage,
    PairMember,
    PairStatus,
    Participant,
    Person,
    PersonalProgramme,
    Role,
)
from models.tables import ProgrammeStatus
from nastavnik import documents, meeting_reminders, monthly, repository
from nastavnik.db import make_engine, migrate, session_scope
from nastavnik.meetings import KIND_LABEL_RU, SEQUENCE
from nastavnik.meetings_import import (
    COMMENT,
    DONE,
    DURATION,
    FORMAT,
    GIVEN_ON,
    HELD_ON,
    KIND,
    MENTEE,
    MENTOR,
    NEXT_STEP,
    RATING,
    TOPIC,
    import_meetings_transaction,
)
from nastavnik.programmes import build_programme, month_label
from nastavnik.progress import STATUS_ORDER, STATUS_RU, month_end, next_month
from nastavnik.settings import Settings

STARTS_ON, ENDS_ON = date(2026, 9, 1), date(2027, 5, 31)
MONTHS = [date(2026, 9, 1)]
while MONTHS[-1] < date(2027, 5, 1):
    MONTHS.append(next_month(MONTHS[-1]))
TARGET_SECONDS, TARGET_MB = 60.0, 1024.0

SURNAMES = [
    ("Смирнов", "Смирнова"),
    ("Иванов", "Иванова"),
    ("Кузнецов", "Кузнецова"),
    ("Попов", "Попова"),
    ("Соколов", "Соколова"),
    ("Лебедев", "Лебедева"),
    ("Козлов", "Козлова"),
    ("Новиков", "Новикова"),
    ("Морозов", "Морозова"),
    ("Петров", "Петрова"),
    ("Волков", "Волкова"),
    ("Соловьёв", "Соловьёва"),
    ("Васильев", "Васильева"),
    ("Зайцев", "Зайцева"),
    ("Павлов", "Павлова"),
    ("Семёнов", "Семёнова"),
    ("Голубев", "Голубева"),
    ("Виноградов", "Виноградова"),
    ("Богданов", "Богданова"),
    ("Воробьёв", "Воробьёва"),
    ("Фёдоров", "Фёдорова"),
    ("Михайлов", "Михайлова"),
    ("Беляев", "Беляева"),
    ("Тарасов", "Тарасова"),
    ("Белов", "Белова"),
    ("Комаров", "Комарова"),
    ("Орлов", "Орлова"),
    ("Киселёв", "Киселёва"),
    ("Макаров", "Макарова"),
    ("Андреев", "Андреева"),
]
MALE = ["Артём", "Иван", "Никита", "Глеб", "Павел", "Марк", "Илья", "Олег", "Денис", "Тимур"]
FEMALE = ["Анна", "Вера", "Полина", "Ника", "Ольга", "Мария", "Софья", "Алиса", "Ева", "Дарья"]
FATHERS = [
    ("Сергеевич", "Сергеевна"),
    ("Андреевич", "Андреевна"),
    ("Игоревич", "Игоревна"),
    ("Павлович", "Павловна"),
    ("Олегович", "Олеговна"),
    ("Ильич", "Ильинична"),
    ("Денисович", "Денисовна"),
    ("Викторович", "Викторовна"),
]
FORMS = [
    (MentoringForm.student_student, 0.6),
    (MentoringForm.teacher_teacher, 0.3),
    (MentoringForm.employer_student, 0.1),
]
REQUESTS = ["подготовка к ОГЭ", "адаптация в коллективе", "олимпиада", "проект", "методика"]
SUBJECTS = ["математика", "русский язык", "физика", "история", "информатика", "биология"]
TOPICS = ["Разбор задач", "План проекта", "Открытый урок", "Подготовка к олимпиаде", "Портфолио"]
FORMATS = ["очно", "очно", "очно", "дистанционно", "смешанный"]
COLUMNS = [
    MENTOR,
    MENTEE,
    HELD_ON,
    KIND,
    "Длительность, мин",
    FORMAT,
    TOPIC,
    DONE,
    NEXT_STEP,
    RATING,
    COMMENT,
    GIVEN_ON,
]
assert DURATION == "Длительность, мин"


# ---------------------------------------------------------------------------------------------
# Setup (not timed)
# ---------------------------------------------------------------------------------------------


@dataclass
class BenchPair:
    """A generated pair: names for the export, and how it behaves over the year."""

    mentor_name: str
    mentee_names: list[str]
    lagging: bool  # one joint-work meeting a month fewer than planned
    forgetful: bool  # its mentees often leave their feedback out
    planned: dict[date, list[MeetingKind]] = field(default_factory=dict)


class _Names:
    """Unique «Фамилия Имя Отчество» (the import finds people by full name)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def take(self) -> tuple[str, str, str]:
        while True:
            female = self.rng.random() < 0.5
            surname = self.rng.choice(SURNAMES)[female]
            given = self.rng.choice(FEMALE if female else MALE)
            middle = self.rng.choice(FATHERS)[female]
            full = f"{surname} {given} {middle}"
            if full not in self.used:
                self.used.add(full)
                return surname, given, middle


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _address(index: int) -> str:
    return f"p{index:05d}@school7.example"


def make_school(engine: Engine, *, n_pairs: int, seed: int) -> tuple[uuid.UUID, list[BenchPair]]:
    """The organisation, its cycle and n_pairs pairs with programmes, inserted in bulk."""
    rng = random.Random(seed)
    names = _Names(rng)
    with Session(engine) as session:
        org = repository.upsert_organization(
            session=session,
            code="school-7",
            name="МБОУ «Средняя школа № 7»",
            short_name="СШ № 7",
            director_name="Иванова Мария Петровна",
            director_email="director@school7.example",
            curator_name="Петров Олег Ильич",
            curator_email="curator@school7.example",
            city="Минеральные Воды",
        )
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year="2026/2027"
        )
        org_id, cycle_id = org.id, cycle.id
        session.commit()

    rows: dict[type, list[dict[str, Any]]] = defaultdict(list)
    created = datetime(2026, 8, 25, 9, 0, tzinfo=UTC)
    generated: list[BenchPair] = []

    def person(role: Role, form: MentoringForm) -> tuple[uuid.UUID, str]:
        surname, given, middle = names.take()
        person_id, participant_id = _uuid(rng), _uuid(rng)
        index = len(rows[Person])
        rows[Person].append(
            {
                "id": person_id,
                "organization_id": org_id,
                "person_key": f"bench-{index:05d}",
                "last_name": surname,
                "first_name": given,
                "middle_name": middle,
                "email": _address(index),
                "created_at": created,
                "updated_at": created,
            }
        )
        rows[Participant].append(
            {
                "id": participant_id,
                "cycle_id": cycle_id,
                "person_id": person_id,
                "role": role,
                "form": form,
                "updated_at": created,
            }
        )
        return participant_id, f"{surname} {given} {middle}"

    while len(generated) < n_pairs:
        form = rng.choices([f for f, _ in FORMS], [w for _, w in FORMS])[0]
        mentor_id, mentor_name = person(Role.mentor, form)
        room = rng.choice([1, 2, 3, 3, 3])  # §2.5: at most three mentees per mentor
        while room and len(generated) < n_pairs:
            size = 2 if room >= 2 and rng.random() < 0.06 else 1
            room -= size
            mentees = [person(Role.mentee, form) for _ in range(size)]
            pair_id = _uuid(rng)
            rows[MentorshipPair].append(
                {
                    "id": pair_id,
                    "cycle_id": cycle_id,
                    "mentor_id": mentor_id,
                    "form": form,
                    "is_group": size > 1,
                    "status": PairStatus.active,
                    "score": 0.0,
                    "reasons": [],
                    "locked": False,
                    "matching_key": "",
                    "starts_on": STARTS_ON,
                    "ends_on": ENDS_ON,
                    "created_at": created + timedelta(seconds=len(generated)),
                }
            )
            for mentee_id, _ in mentees:
                rows[PairMember].append(
                    {"id": _uuid(rng), "pair_id": pair_id, "mentee_id": mentee_id}
                )
            content = build_programme(
                form=form,
                mentor_name=mentor_name,
                mentee_names=[name for _, name in mentees],
                mentee_requests=rng.sample(REQUESTS, 2),
                subjects=rng.sample(SUBJECTS, 1),
                starts_on=STARTS_ON,
                ends_on=ENDS_ON,
            )
            rows[PersonalProgramme].append(
                {
                    "id": _uuid(rng),
                    "pair_id": pair_id,
                    "version": 1,
                    "status": ProgrammeStatus.approved,
                    "acknowledged_on": date(2026, 9, 10),
                    "director_comment": "",
                    "content": content.as_dict(),
                }
            )
            planned: dict[date, list[MeetingKind]] = defaultdict(list)
            labels = {month_label(m): m for m in MONTHS}
            for meeting in content.meetings:
                planned[labels[meeting.month]].append(meeting.kind)
            draw = rng.random()
            generated.append(
                BenchPair(
                    mentor_name=mentor_name,
                    mentee_names=[name for _, name in mentees],
                    lagging=draw < 0.06,
                    forgetful=0.06 <= draw < 0.14,
                    planned=dict(planned),
                )
            )
    with Session(engine) as session:
        for model in (Person, Participant, MentorshipPair, PairMember, PersonalProgramme):
            session.execute(insert(model), rows[model])
        session.commit()
    return cycle_id, generated


def _days(rng: random.Random, month: date, count: int) -> list[date]:
    """`count` distinct weekdays of the month, in order."""
    last = month_end(month).day
    weekdays = [d for d in range(1, last + 1) if month.replace(day=d).weekday() < 5]
    return [month.replace(day=d) for d in sorted(rng.sample(weekdays, min(count, len(weekdays))))]


def write_exports(directory: Path, generated: list[BenchPair], *, seed: int) -> list[Path]:
    """One CSV per month as the online form exports it: a row per meeting with its mentee's
    rating when given in time, a feedback-only row for a group's second mentee, and
    feedback-only rows for last month's meetings whose mentees answered after the reminder."""
    rng = random.Random(seed + 1)
    paths = []
    owed: dict[int, list[MeetingKind]] = defaultdict(list)  # meetings a silent month left over
    late: list[list[str]] = []  # feedback that comes in the next month's export
    for month in MONTHS:
        path = directory / f"meetings_{month:%Y_%m}.csv"
        rows: list[list[str]] = []
        for row in late:
            row[-1] = f"{month.replace(day=rng.randint(1, 10)):%d.%m.%Y}"
            rows.append(row)
        late = []
        for index, pair in enumerate(generated):
            kinds = [*owed.pop(index, []), *pair.planned.get(month, [])]
            if pair.lagging and MeetingKind.joint_work in kinds:
                kinds.remove(MeetingKind.joint_work)
            if month < MONTHS[-1] and rng.random() < 0.03:
                owed[index] = kinds  # a silent month: caught up the month after
                continue
            kinds.sort(key=SEQUENCE.index)
            for held_on, kind in zip(_days(rng, month, len(kinds)), kinds, strict=False):
                topic = rng.choice(TOPICS)
                meeting = [
                    pair.mentor_name,
                    pair.mentee_names[0],
                    f"{held_on:%d.%m.%Y}",
                    KIND_LABEL_RU[kind],
                    str(rng.choice([30, 40, 45, 60, 90])),
                    rng.choice(FORMATS),
                    topic,
                    f"{topic}: обсудили результаты, наметили шаги",
                    "Подготовить материалы к следующей встрече",
                    "",
                    "",
                    "",
                ]
                rows.append(meeting)
                if kind not in (MeetingKind.joint_work, MeetingKind.final):
                    continue
                for number, mentee in enumerate(pair.mentee_names):
                    rating = [str(rng.choice([3, 4, 5, 5, 5])), "Было полезно"]
                    given_on = min(held_on + timedelta(days=rng.randint(0, 2)), month_end(month))
                    answer = [*rating, f"{given_on:%d.%m.%Y}"]
                    feedback_only = [
                        pair.mentor_name,
                        mentee,
                        f"{held_on:%d.%m.%Y}",
                        KIND_LABEL_RU[kind],
                        *[""] * 5,
                        *answer,
                    ]
                    if rng.random() < (0.6 if pair.forgetful else 0.93):
                        if number == 0:
                            meeting[-3:] = answer  # the meeting's row carries the rating
                        else:
                            rows.append(feedback_only)
                    elif month < MONTHS[-1] and rng.random() < (0.5 if pair.forgetful else 0.8):
                        late.append(feedback_only)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(rows)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------
# Timing the parts run_day calls
# ---------------------------------------------------------------------------------------------


class Parts:
    """Wall and CPU seconds spent in wrapped functions, by part (inner calls are subtracted
    from outer). CPU time (time.process_time) shows the work apart from waiting for a core
    on a shared machine."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self._stack: list[tuple[float, float]] = []  # nested wrapped calls' (wall, cpu) per level

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append((0.0, 0.0))
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent, spent_cpu = time.perf_counter() - start, time.process_time() - start_cpu
                inner, inner_cpu = self._stack.pop()
                self.seconds[part] += spent - inner
                self.cpu[part] += spent_cpu - inner_cpu
                if self._stack:
                    outer, outer_cpu = self._stack[-1]
                    self._stack[-1] = (outer + spent, outer_cpu + spent_cpu)

        return timed


@contextmanager
def instrumented(parts: Parts) -> Iterator[None]:
    """run_day's callees wrapped by part while the block runs (the module attributes it reads)."""
    targets = [
        (monthly, "assemble_monthly_reports", "assemble"),
        (monthly, "monthly_summary", "summary"),
        (monthly, "issue_summary_document", "summary"),
        (documents, "render_html", "PDF"),
        (meeting_reminders, "queue_reminders", "reminders"),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in targets]
    for module, name, part in targets:
        setattr(module, name, parts.wrap(part, getattr(module, name)))
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb(reset_worked: bool) -> float:
    if reset_worked:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _statuses(table_rows: list[dict[str, str | int]]) -> str:
    """The summary's total row as «on track/lagging/no contact/missing feedback» counts."""
    total = table_rows[-1]
    return "/".join(str(total[STATUS_RU[status].capitalize()]) for status in STATUS_ORDER)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument(
        "--database-url",
        help="an empty database to use instead of a temporary SQLite file (e.g. PostgreSQL:"
        " postgresql+psycopg://postgres@127.0.0.1:5432/bench_meetings)",
    )
    args = parser.parse_args()

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-meetings-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run(
            workdir,
            n_pairs=args.pairs,
            seed=args.seed,
            trace=args.tracemalloc,
            database_url=args.database_url,
        )
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(
    workdir: Path, *, n_pairs: int, seed: int, trace: bool, database_url: str | None = None
) -> None:
    import weasyprint  # noqa: F401  (imported once per process: see the docstring)

    began = time.perf_counter()
    settings = Settings(
        data_dir=workdir / "data",
        database_url=database_url or f"sqlite:///{workdir / 'bench.db'}",
        secret_key=SecretStr("bench-secret-key-0123456789abcdef"),
        smtp_url="smtp://127.0.0.1:1",
    )
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    cycle_id, generated = make_school(engine, n_pairs=n_pairs, seed=seed)
    exports = write_exports(workdir, generated, seed=seed)
    mentors = len({p.mentor_name for p in generated})
    mentees = sum(len(p.mentee_names) for p in generated)
    print(
        f"setup (not timed) {time.perf_counter() - began:.1f} s: {len(generated)} pairs, "
        f"{mentors} mentors, {mentees} mentees, lagging {sum(p.lagging for p in generated)}, "
        f"forgetful {sum(p.forgetful for p in generated)}; 9 exports "
        f"{sum(p.stat().st_size for p in exports) / 2**20:.1f} MB"
    )
    reset_worked = _reset_peak_rss()
    memory = (
        "peak RSS per month: VmHWM reset before each month"
        if reset_worked
        else "peak RSS: ru_maxrss of the process so far (VmHWM reset unavailable)"
    )
    print(memory + (", py peak: tracemalloc (slows the run)" if trace else ""))
    header = (
        f"{'month':<8} {'rows':>5} {'meet':>5} {'fdbk':>5} {'wall s':>7} {'cpu s':>6} "
        f"{'import':>7} {'assemb':>7} {'summary':>7} {'PDF':>6} {'pages':>5} {'remind':>7} "
        f"{'commit':>7} "
        f"{'mails':>5} {'RSS MB':>7}  {'on plan/lag/silent/no fb':>24}"
        + (f" {'py MB':>6}" if trace else "")
    )
    print(header)
    total: dict[str, float] = defaultdict(float)
    total_cpu: dict[str, float] = defaultdict(float)
    total_wall, total_cpu_s, peak_rss, peak_py, total_pages = 0.0, 0.0, 0.0, 0.0, 0
    walls: list[float] = []
    for month, path in zip(MONTHS, exports, strict=True):
        first_of_next = next_month(month)
        parts = Parts()
        _reset_peak_rss()
        if trace:
            tracemalloc.start()
        start, start_cpu = time.perf_counter(), time.process_time()
        report = import_meetings_transaction(
            engine=engine,
            cycle_id=cycle_id,
            path=path,
            max_bytes=settings.max_import_bytes,
            today=first_of_next,
        )
        imported, imported_cpu = time.perf_counter(), time.process_time()
        if report.rejected:
            raise SystemExit(f"{path.name}: rejected {report.rejected[:3]}")
        with instrumented(parts), session_scope(engine) as session:
            outcome = monthly.run_day(
                session=session,
                settings=settings,
                cycle_id=cycle_id,
                today=first_of_next,
                now=datetime(first_of_next.year, first_of_next.month, 1, 6, 0, tzinfo=UTC),
            )
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if trace:
            peak_py = max(peak_py, tracemalloc.get_traced_memory()[1] / 2**20)
            month_py = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        rss = _peak_rss_mb(reset_worked)
        peak_rss = max(peak_rss, rss)
        assert outcome.month == month and outcome.document_id is not None
        with Session(engine) as session:
            document = session.get(Document, outcome.document_id)
            pages = document.pages if document else 0
        parts.seconds["import"] = imported - start
        parts.seconds["commit"] = wall - sum(parts.seconds.values())
        parts.cpu["import"] = imported_cpu - start_cpu
        parts.cpu["commit"] = cpu - sum(parts.cpu.values())
        for part, seconds in parts.seconds.items():
            total[part] += seconds
            total_cpu[part] += parts.cpu[part]
        total_wall += wall
        total_pages += pages
        total_cpu_s += cpu
        walls.append(wall)
        s = parts.seconds
        print(
            f"{month:%Y-%m} {report.accepted + report.unchanged:>6} "
            f"{report.meetings_recorded:>5} {report.feedback_recorded:>5} {wall:>7.2f} {cpu:>6.2f} "
            f"{s['import']:>7.2f} {s['assemble']:>7.2f} {s['summary']:>7.2f} {s['PDF']:>6.2f} "
            f"{pages:>5} {s['reminders']:>7.2f} {s['commit']:>7.2f} "
            f"{len(outcome.message_ids):>5} {rss:>7.0f}  {_statuses(outcome.table_rows):>24}"
            + (f" {month_py:>6.0f}" if trace else "")
        )
    with Session(engine) as session:
        logs = session.exec(select(func.count()).select_from(MeetingLog)).one()
        feedback = session.exec(select(func.count()).select_from(MeetingFeedback)).one()
        outbox = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    end_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    order = ("import", "assemble", "summary", "PDF", "reminders", "commit")
    print(f"stored: {logs} meetings, {feedback} feedback, {outbox} messages in the outbox")
    print("by part over the year, wall: " + ", ".join(f"{p} {total[p]:.1f} s" for p in order))
    print(
        "by part over the year, CPU:  "
        + ", ".join(f"{p} {total_cpu[p]:.1f} s" for p in order)
        + f"; CPU {total_cpu_s:.1f} s of wall {total_wall:.1f} s (the rest: waiting for a core"
        f" or the disk; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"PDF: {total_pages} pages in 9 summaries, {total_cpu['PDF'] / total_pages * 1000:.0f} ms "
        f"CPU per page (the summary lists every pair not on track, so it grows over the year)"
    )
    print(
        f"last month / first month wall {walls[-1] / walls[0]:.2f} (logs accumulate: "
        f"the reports read every log from September on)"
    )
    print(f"process ru_maxrss at the end: {end_rss:.0f} MB (setup included)")
    verdict_time = "met" if total_wall <= TARGET_SECONDS else "MISSED"
    verdict_memory = "met" if peak_rss <= TARGET_MB else "MISSED"
    print(
        f"wall {total_wall:.1f} s for 9 months (target ≤ {TARGET_SECONDS:.0f} s: {verdict_time}), "
        f"peak RSS {peak_rss:.0f} MB (target ≤ {TARGET_MB:.0f} MB: {verdict_memory}), "
        f"PDF share {total['PDF'] / total_wall:.0%} of wall, "
        f"{total_cpu['PDF'] / total_cpu_s:.0%} of CPU"
        + (f", py peak {peak_py:.0f} MB" if trace else "")
    )


if __name__ == "__main__":
    main()
