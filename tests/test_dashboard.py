"""The department's dashboard against a hand count (issue 10 §4), and an organisation's figures.

The case, on 10.12.2026, department «uo-kedrovy» with three member organisations:

school-7 (school, its 2026/2027 cycle here)
  participants: mentors Лебедев, Орлова; mentees Зайцева, Соколов, Кузнецова, Морозов
  pairs: Лебедев–Зайцева active, Орлова–Соколов ended, Лебедев–Кузнецова terminated,
         Орлова–Морозов draft (never ordered: not counted)
  meetings: Лебедев–Зайцева 05.10 and 10.11 (and 15.12, after today: not counted),
            Орлова–Соколов 20.10                                                    → held 3
  plan: 1 done (preparation), 2 done late (base-formation), 3 in progress (training),
        4 overdue (pairing), 5 not started (meetings)
requests: information (due 30.11) submitted 28.11 → on time;
          interim (due 05.12) not submitted → missing

college-2 (college, its 2026/2027 cycle here)
  participants: mentor Волков; mentees Белова, Новиков
  pairs: Волков–Белова extended (goes on); Новиков has no pair
  meetings: 01.11                                                                   → held 1
  plan: 1 done (preparation), 2 overdue (base-formation), 3 skipped (training)
requests: information (due 30.11) submitted 03.12 → late by 3 days;
          interim (due 20.12) not submitted → awaiting

centre-3 (centre, runs elsewhere: figures from its report of 25.11)
requests: information (due 30.11) submitted 25.11 → on time

And a 2025/2026 year: school-7's cycle with one mentee and no pairs, its information request
(due 30.11.2025) submitted 10.12.2025 → late.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html import unescape

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import (
    ItemStatus,
    MeetingKind,
    MeetingLog,
    MentoringForm,
    MentorshipPair,
    Organization,
    PairMember,
    PairStatus,
    Participant,
    Person,
    PlanItem,
    ReportKind,
    ReportRequest,
    ReportSubmission,
    ReportTransport,
    Role,
)
from nastavnik import dashboard, deliveries, repository
from nastavnik.dashboard import Source
from nastavnik.org_report import (
    Coverage,
    OrganisationFigures,
    OrganisationReport,
    PairFigures,
    RoadmapProgress,
    organisation_figures,
)
from nastavnik.settings import Settings

TODAY = date(2026, 12, 10)
YEAR = "2026/2027"
LAST_YEAR = "2025/2026"
WEB = "http://nastavnik.test"

MENTEES = ("Зайцева", "Соколов", "Кузнецова", "Морозов", "Белова", "Новиков", "Прошлогодний")
MENTORS = ("Лебедев", "Орлова", "Волков")


@dataclass
class Case:
    department_id: uuid.UUID
    school_id: uuid.UUID
    college_id: uuid.UUID
    centre_id: uuid.UUID
    school_cycle: uuid.UUID
    college_cycle: uuid.UUID


def _org(
    session: Session, code: str, short: str, kind: str, parent: uuid.UUID | None
) -> Organization:
    org = repository.upsert_organization(
        session=session,
        code=code,
        name=f"Полное имя {short}",
        short_name=short,
        director_name="Директор Д. Д.",
        director_email=f"director@{code}.example",
        curator_name="Куратор К. К.",
        curator_email=f"curator@{code}.example",
    )
    org.kind = kind
    org.department_id = parent
    session.add(org)
    session.flush()
    return org


def _cycle(session: Session, org: Organization, year: str) -> uuid.UUID:
    return repository.get_or_create_cycle(
        session=session, organization_id=org.id, school_year=year
    ).id


def _people(
    session: Session, org: Organization, cycle_id: uuid.UUID, role: Role, names: tuple[str, ...]
) -> list[uuid.UUID]:
    ids = []
    for name in names:
        person = Person(
            organization_id=org.id,
            person_key=f"{cycle_id}-{name}",
            last_name=name,
            first_name="Имя",
            birth_date=date(2012, 3, 4) if role == Role.mentee else None,
            email=f"{name.lower()}@pupils.example",
        )
        session.add(person)
        session.flush()
        participant = Participant(
            cycle_id=cycle_id, person_id=person.id, role=role, form=MentoringForm.teacher_student
        )
        session.add(participant)
        session.flush()
        ids.append(participant.id)
    return ids


def _pair(
    session: Session, cycle_id: uuid.UUID, mentor: uuid.UUID, mentee: uuid.UUID, status: PairStatus
) -> uuid.UUID:
    pair = MentorshipPair(
        cycle_id=cycle_id,
        mentor_id=mentor,
        form=MentoringForm.teacher_student,
        status=status,
        starts_on=date(2026, 10, 1),
        ends_on=date(2027, 5, 31),
    )
    session.add(pair)
    session.flush()
    session.add(PairMember(pair_id=pair.id, mentee_id=mentee))
    return pair.id


def _meeting(session: Session, pair_id: uuid.UUID, held_on: date) -> None:
    session.add(
        MeetingLog(pair_id=pair_id, held_on=held_on, kind=MeetingKind.intro, duration_minutes=45)
    )


STAGE_TITLES = {
    "preparation": "Подготовка условий",
    "base-formation": "Формирование базы",
    "training": "Обучение наставников",
    "pairing": "Формирование пар",
    "meetings": "Встречи пар",
}


def _plan(session: Session, cycle_id: uuid.UUID, rows: list[tuple[str, ItemStatus]]) -> None:
    for position, (stage, status) in enumerate(rows, start=1):
        done = status in (ItemStatus.done, ItemStatus.done_late)
        session.add(
            PlanItem(
                cycle_id=cycle_id,
                number=str(position),
                position=position,
                title=STAGE_TITLES[stage],
                stage=stage,
                completion_kind="manual",
                due_rule="ноябрь 2026",
                window_kind="fixed",
                planned_start=date(2026, 11, 1),
                planned_end=date(2026, 11, 20),
                status=status,
                actual_start=date(2026, 11, 2)
                if done or status == ItemStatus.in_progress
                else None,
                actual_finish=(
                    date(2026, 11, 25 if status == ItemStatus.done_late else 15) if done else None
                ),
            )
        )


def _request(
    session: Session,
    *,
    department: Organization,
    cycle_id: uuid.UUID,
    org: Organization,
    kind: ReportKind,
    year: str,
    due_on: date,
) -> ReportRequest:
    request = ReportRequest(
        unique_key=f"{department.code}:{year}:{kind}:{org.code}",
        department_id=department.id,
        cycle_id=cycle_id,
        organization_id=org.id,
        kind=kind,
        title=f"Отчёт {kind}",
        school_year=year,
        requested_on=date(due_on.year, 11, 1),
        due_on=due_on,
    )
    session.add(request)
    session.flush()
    return request


def _submit(
    session: Session, request: ReportRequest, on: date, payload: dict | None = None
) -> None:
    session.add(
        ReportSubmission(
            request_id=request.id,
            organization_id=request.organization_id,
            digest=uuid.uuid4().hex,
            signature="test",
            payload=payload or {},
            transport=ReportTransport.database,
            submitted_on=on,
            received_at=datetime(on.year, on.month, on.day, 12, tzinfo=UTC),
        )
    )


# centre-3's report as its own installation made it (its numbers are the hand count for its row)
CENTRE_FIGURES = OrganisationFigures(
    organization_code="centre-3",
    organization_name="ЦДО «Радуга»",
    organization_kind="centre",
    school_year=YEAR,
    as_of=date(2026, 11, 25),
    current_stage="meetings",
    current_stage_ru="Встречи",
    roadmap=RoadmapProgress(
        total=10,
        done=6,
        done_late=1,
        in_progress=2,
        overdue=1,
        not_started=1,
        skipped=0,
        overdue_items=["7 — Мониторинг"],
    ),
    pairs=PairFigures(total=4, going_on=3, ended=1, terminated=0, replaced=0),
    coverage=Coverage(mentors=3, mentees=5, mentees_with_mentor=4),
    meetings_held=12,
    indicators=[],
    forms=[],
)


@pytest.fixture
def case(engine: Engine) -> Case:
    with Session(engine) as session:
        department = _org(session, "uo-kedrovy", "УО Кедровый", "department", None)
        school = _org(session, "school-7", "СШ № 7", "school", department.id)
        college = _org(session, "college-2", "Колледж связи", "college", department.id)
        centre = _org(session, "centre-3", "ЦДО «Радуга»", "centre", department.id)
        department_cycle = _cycle(session, department, YEAR)
        department_last = _cycle(session, department, LAST_YEAR)

        school_cycle = _cycle(session, school, YEAR)
        m1, m2 = _people(session, school, school_cycle, Role.mentor, ("Лебедев", "Орлова"))
        s1, s2, s3, s4 = _people(
            session,
            school,
            school_cycle,
            Role.mentee,
            ("Зайцева", "Соколов", "Кузнецова", "Морозов"),
        )
        p1 = _pair(session, school_cycle, m1, s1, PairStatus.active)
        p2 = _pair(session, school_cycle, m2, s2, PairStatus.ended)
        _pair(session, school_cycle, m1, s3, PairStatus.terminated)
        _pair(session, school_cycle, m2, s4, PairStatus.draft)
        _meeting(session, p1, date(2026, 10, 5))
        _meeting(session, p1, date(2026, 11, 10))
        _meeting(session, p1, date(2026, 12, 15))  # after today
        _meeting(session, p2, date(2026, 10, 20))
        _plan(
            session,
            school_cycle,
            [
                ("preparation", ItemStatus.done),
                ("base-formation", ItemStatus.done_late),
                ("training", ItemStatus.in_progress),
                ("pairing", ItemStatus.overdue),
                ("meetings", ItemStatus.not_started),
            ],
        )

        college_cycle = _cycle(session, college, YEAR)
        (c1,) = _people(session, college, college_cycle, Role.mentor, ("Волков",))
        cs1, _ = _people(session, college, college_cycle, Role.mentee, ("Белова", "Новиков"))
        cp1 = _pair(session, college_cycle, c1, cs1, PairStatus.extended)
        _meeting(session, cp1, date(2026, 11, 1))
        _plan(
            session,
            college_cycle,
            [
                ("preparation", ItemStatus.done),
                ("base-formation", ItemStatus.overdue),
                ("training", ItemStatus.skipped),
            ],
        )

        school_last = _cycle(session, school, LAST_YEAR)
        _people(session, school, school_last, Role.mentee, ("Прошлогодний",))

        def ask(org: Organization, kind: ReportKind, due: date, year: str = YEAR) -> ReportRequest:
            cycle_id = department_cycle if year == YEAR else department_last
            return _request(
                session,
                department=department,
                cycle_id=cycle_id,
                org=org,
                kind=kind,
                year=year,
                due_on=due,
            )

        nov30 = date(2026, 11, 30)
        _submit(session, ask(school, ReportKind.information, nov30), date(2026, 11, 28))
        ask(school, ReportKind.interim, date(2026, 12, 5))  # missing
        _submit(session, ask(college, ReportKind.information, nov30), date(2026, 12, 3))
        ask(college, ReportKind.interim, date(2026, 12, 20))  # awaiting
        centre_report = OrganisationReport(
            request_key="uo-kedrovy:2026/2027:information:centre-3",
            report_kind="information",
            department_code="uo-kedrovy",
            figures=CENTRE_FIGURES,
            approved_by="Директор Д. Д.",
            approved_on=date(2026, 11, 25),
        )
        _submit(
            session,
            ask(centre, ReportKind.information, nov30),
            date(2026, 11, 25),
            centre_report.model_dump(mode="json"),
        )
        _submit(
            session,
            ask(school, ReportKind.information, date(2025, 11, 30), LAST_YEAR),
            date(2025, 12, 10),
        )
        session.commit()
        return Case(department.id, school.id, college.id, centre.id, school_cycle, college_cycle)


# ---------------------------------------------------------------------------------------------
# nastavnik.org_report.organisation_figures
# ---------------------------------------------------------------------------------------------


def test_organisation_figures_equal_the_hand_count(engine: Engine, case: Case) -> None:
    with Session(engine) as session:
        school = organisation_figures(session=session, cycle_id=case.school_cycle, today=TODAY)
        college = organisation_figures(session=session, cycle_id=case.college_cycle, today=TODAY)

    assert (school.organization_code, school.organization_kind) == ("school-7", "school")
    assert school.organization_name == "СШ № 7" and school.school_year == YEAR
    # items 1–3 have begun (done, done late, in progress); 4 is overdue, 5 not started
    assert (school.current_stage, school.current_stage_ru) == ("training", "Обучение наставников")
    # 5 rows: done 1 + done late 1 = 2, in progress 1, overdue 1, not started 1
    assert school.roadmap.model_dump() == {
        "total": 5,
        "done": 2,
        "done_late": 1,
        "in_progress": 1,
        "overdue": 1,
        "not_started": 1,
        "skipped": 0,
        "overdue_items": ["4 — Формирование пар"],
    }
    assert school.roadmap.done_share == pytest.approx(2 / 5)
    # active, ended, terminated (the draft is not counted); going on: the active one
    assert school.pairs.model_dump() == {
        "total": 3,
        "going_on": 1,
        "ended": 1,
        "terminated": 1,
        "replaced": 0,
    }
    # 4 mentees, 3 in an ordered pair (Морозов's pair is a draft)
    assert (school.coverage.mentors, school.coverage.mentees) == (2, 4)
    assert school.coverage.mentees_with_mentor == 3
    assert school.coverage.share == pytest.approx(0.75)
    assert school.meetings_held == 3  # 05.10, 10.11, 20.10; 15.12 is after today

    # only item 1 has begun: the overdue and the skipped ones have not
    assert college.current_stage == "preparation"
    assert (college.roadmap.total, college.roadmap.done, college.roadmap.overdue) == (3, 1, 1)
    assert college.roadmap.skipped == 1
    assert college.pairs.model_dump() == {
        "total": 1,
        "going_on": 1,
        "ended": 0,
        "terminated": 0,
        "replaced": 0,
    }
    assert (college.coverage.mentees, college.coverage.mentees_with_mentor) == (2, 1)
    assert college.meetings_held == 1
    assert {i.key for i in school.indicators} >= {"completed", "meetings"}
    # aggregates only: no participant's name or e-mail anywhere in the figures
    dumped = school.model_dump_json() + college.model_dump_json()
    for name in (*MENTEES, *MENTORS, "pupils.example", "2012-03-04"):
        assert name not in dumped


def test_organisation_figures_refuse_an_unknown_cycle(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(LookupError):
        organisation_figures(session=session, cycle_id=uuid.uuid4(), today=TODAY)


# ---------------------------------------------------------------------------------------------
# The dashboard
# ---------------------------------------------------------------------------------------------


def _board(engine: Engine, case: Case, **kwargs: object) -> dashboard.DepartmentDashboard:
    options = {"school_year": YEAR, **kwargs}
    with Session(engine) as session:
        return dashboard.department_dashboard(
            session=session,
            department_id=case.department_id,
            today=TODAY,
            **options,  # type: ignore[arg-type]
        )


def test_the_dashboard_equals_the_hand_count(engine: Engine, case: Case) -> None:
    board = _board(engine, case)
    assert (board.department_code, board.department_name) == ("uo-kedrovy", "УО Кедровый")
    # members by code: centre-3, college-2, school-7
    centre, college, school = board.rows
    assert [r.code for r in board.rows] == ["centre-3", "college-2", "school-7"]

    assert (school.source, school.cycle_id, school.source_ru) == (
        Source.live,
        case.school_cycle,
        "",
    )
    assert school.kind_ru == "школа" and school.stage_ru == "Обучение наставников"
    assert school.figures is not None
    assert (school.figures.roadmap.done, school.figures.roadmap.total) == (2, 5)
    assert school.figures.roadmap.overdue == 1
    assert (school.figures.pairs.total, school.figures.pairs.going_on) == (3, 1)
    assert (school.figures.pairs.ended, school.figures.pairs.terminated) == (1, 1)
    assert school.coverage_share == pytest.approx(0.75)
    assert school.figures.meetings_held == 3
    # information on time, interim missing
    assert school.reports == dashboard.ReportCounts(submitted=1, late=0, missing=1, awaiting=0)

    assert (college.source, college.cycle_id) == (Source.live, case.college_cycle)
    assert college.kind_ru == "колледж" and college.stage_ru == "Подготовка"
    assert college.figures is not None
    assert (college.figures.roadmap.done, college.figures.roadmap.total) == (1, 3)
    assert college.figures.roadmap.overdue == 1
    assert (college.figures.pairs.total, college.figures.pairs.going_on) == (1, 1)
    assert college.coverage_share == pytest.approx(0.5)
    assert college.figures.meetings_held == 1
    # information late (03.12 after 30.11), interim awaiting (due 20.12)
    assert college.reports == dashboard.ReportCounts(submitted=0, late=1, missing=0, awaiting=1)

    # no cycle here: its report's figures, marked with the report's date
    assert (centre.source, centre.cycle_id) == (Source.report, None)
    assert centre.source_ru == "по отчёту от 25.11.2026"
    assert centre.figures == CENTRE_FIGURES
    assert centre.stage_ru == "Встречи"
    assert centre.reports == dashboard.ReportCounts(submitted=1, late=0, missing=0, awaiting=0)

    totals = board.totals
    assert (totals.organisations, totals.with_figures) == (3, 3)
    # plan: done 2 + 1 + 6 = 9 of 5 + 3 + 10 = 18; overdue 1 + 1 + 1 = 3
    assert (totals.plan_done, totals.plan_total, totals.plan_overdue) == (9, 18, 3)
    assert totals.done_share == pytest.approx(0.5)
    # pairs: 3 + 1 + 4 = 8; going on 1 + 1 + 3 = 5; ended 1 + 0 + 1 = 2; terminated 1 + 0 + 0
    assert (totals.pairs_total, totals.pairs_going_on) == (8, 5)
    assert (totals.pairs_ended, totals.pairs_terminated) == (2, 1)
    # coverage: 3 + 1 + 4 = 8 of 4 + 2 + 5 = 11 mentees
    assert (totals.mentees_with_mentor, totals.mentees) == (8, 11)
    assert totals.meetings_held == 3 + 1 + 12
    # on time: school's and centre's information; late: college's; missing: school's interim;
    # awaiting: college's interim
    assert totals.reports == dashboard.ReportCounts(submitted=2, late=1, missing=1, awaiting=1)


def test_the_kind_filter_keeps_one_kind(engine: Engine, case: Case) -> None:
    board = _board(engine, case, kind="school")
    assert [r.code for r in board.rows] == ["school-7"]
    assert board.kind_ru == "школа"
    assert board.totals.reports == dashboard.ReportCounts(submitted=1, missing=1)
    assert (board.totals.plan_done, board.totals.plan_total) == (2, 5)
    assert [r.code for r in _board(engine, case, kind="college").rows] == ["college-2"]
    with pytest.raises(ValueError, match="вид организации"):
        _board(engine, case, kind="zoo")


def test_the_year_filter_reads_that_year(engine: Engine, case: Case) -> None:
    board = _board(engine, case, school_year=LAST_YEAR)
    centre, college, school = board.rows
    # school-7 had a cycle that year: one mentee, no pairs, no plan
    assert school.source == Source.live and school.figures is not None
    assert (school.figures.coverage.mentees, school.figures.pairs.total) == (1, 0)
    assert school.figures.roadmap.total == 0 and school.stage_ru == "не начат"
    assert school.reports == dashboard.ReportCounts(late=1)  # 10.12.2025 after 30.11.2025
    # the others had neither a cycle nor a report that year
    for row in (centre, college):
        assert (row.source, row.figures, row.source_ru) == (Source.none, None, "нет данных")
        assert row.reports == dashboard.ReportCounts()
    assert board.totals.with_figures == 1
    with pytest.raises(ValueError, match="учебный год"):
        _board(engine, case, school_year="2026")


def test_the_department_cycle_gives_the_dashboard_and_a_school_cycle_none(
    engine: Engine, case: Case
) -> None:
    with Session(engine) as session:
        own = repository.get_or_create_cycle(
            session=session, organization_id=case.department_id, school_year=YEAR
        )
        board = dashboard.dashboard_for_cycle(session=session, cycle_id=own.id, today=TODAY)
        assert board is not None and board.school_year == YEAR and len(board.rows) == 3
        assert (
            dashboard.dashboard_for_cycle(session=session, cycle_id=case.school_cycle, today=TODAY)
            is None
        )
    assert dashboard.artifact_key("uo-kedrovy") == "department-uo-kedrovy-dashboard"
    assert dashboard.artifact_key("УО_7") == "department-7-dashboard"


# ---------------------------------------------------------------------------------------------
# Charts and markdown: organisations' names, no participant's
# ---------------------------------------------------------------------------------------------


def _assert_no_participant(text: str) -> None:
    for name in (*MENTEES, *MENTORS, "pupils.example", "04.03.2012", "2012-03-04"):
        assert name not in text, name


def test_the_charts_are_deterministic_and_name_organisations_only(
    engine: Engine, case: Case
) -> None:
    board = _board(engine, case)
    first = dashboard.dashboard_charts(board)
    again = dashboard.dashboard_charts(_board(engine, case))
    assert first == again
    assert set(first) == {"coverage", "roadmap", "reports"}
    for svg in first.values():
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
        assert "<image" not in svg  # vector, no raster
        for name in ("СШ № 7", "Колледж связи", "ЦДО «Радуга»"):
            assert name in svg.replace("&#171;", "«").replace("&#187;", "»")
        _assert_no_participant(svg)
    # each organisation's coverage written at its bar: 3/4, 1/2, 4/5
    assert all(share in first["coverage"] for share in ("75 %", "50 %", "80 %"))
    assert "выполнено" in first["roadmap"] and "просрочено" in first["roadmap"]
    assert "сдан с опозданием" in first["reports"] and "не сдан" in first["reports"]
    # another year's figures draw another chart
    assert dashboard.dashboard_charts(_board(engine, case, school_year=LAST_YEAR)) != first


def test_the_markdown_has_the_figures_and_links_and_no_participant(
    engine: Engine, case: Case
) -> None:
    board = _board(engine, case)
    text = dashboard.dashboard_markdown(board, web_base_url=WEB + "/")
    _assert_no_participant(text)
    assert f"[СШ № 7]({WEB}/roadmap/{case.school_cycle})" in text
    assert f"[Колледж связи]({WEB}/roadmap/{case.college_cycle})" in text
    assert "ЦДО «Радуга» (по отчёту от 25.11.2026)" in text
    assert "/roadmap/None" not in text
    school_line = next(line for line in text.splitlines() if "СШ № 7" in line)
    assert "| 2/5 (40 %) | 1 | 3/1/1/1 | 3/4 (75 %) | 3 | 1 / 0 / 1 / 0 |" in school_line
    college_line = next(line for line in text.splitlines() if "Колледж связи" in line)
    assert "| 1/3 (33 %) | 1 | 1/1/0/0 | 1/2 (50 %) | 1 | 0 / 1 / 0 / 1 |" in college_line
    totals = next(line for line in text.splitlines() if "Итого" in line)
    assert "**9/18 (50 %)**" in totals and "**8/11 (73 %)**" in totals
    assert "**2 / 1 / 1 / 1**" in totals
    assert "- СШ № 7: 4 — Формирование пар" in text
    assert "token" not in text


# ---------------------------------------------------------------------------------------------
# The web page
# ---------------------------------------------------------------------------------------------


def _numbers(html: str, row_id: str) -> str:
    """The text of one table row with tags removed, whitespace collapsed, entities read."""
    row = html[html.index(f'id="{row_id}"') :]
    row = row[row.index(">") + 1 : row.index("</tr>")]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split())


def test_the_page_needs_the_department_token_and_shows_the_figures(
    engine: Engine, case: Case, settings: Settings
) -> None:
    from nastavnik.web import create_app
    from tests.test_web_approvals import Client, Resumes

    now = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    web = Client(create_app(settings=settings, engine=engine, resume=Resumes(), clock=lambda: now))
    secret = settings.approval_secret()
    token = dashboard.dashboard_token(secret=secret, department_code="uo-kedrovy", now=now)
    # Without a token or a session: the sign-in page.
    assert web.get(f"/department/uo-kedrovy?year={YEAR}").headers["location"].startswith("/login")
    refused = [
        token[:-3],
        dashboard.dashboard_token(
            secret=b"another-installation", department_code="uo-kedrovy", now=now
        ),
        dashboard.dashboard_token(secret=secret, department_code="uo-other", now=now),
        deliveries.operator_token(secret=secret, now=now),  # the operator's opens only its page
        dashboard.dashboard_token(
            secret=secret, department_code="uo-kedrovy", now=datetime(2026, 10, 1, tzinfo=UTC)
        ),  # expired
    ]
    for bad in refused:
        page = web.get(f"/department/uo-kedrovy?token={bad}&year={YEAR}")
        assert page.status_code == 403
        assert "СШ № 7" not in page.text

    page = web.get("/department/uo-kedrovy", params={"token": token, "year": YEAR})
    assert page.status_code == 200
    html = page.text
    _assert_no_participant(html)
    assert f'href="/roadmap/{case.school_cycle}"' in html
    assert f'href="/roadmap/{case.college_cycle}"' in html
    assert "по отчёту от 25.11.2026" in html
    assert html.count("<svg") == 3
    assert 'name="kind"' in html and 'name="year"' in html and f'value="{token}"' in html
    assert _numbers(html, "org-school-7") == (
        "СШ № 7 школа Обучение наставников 2/5 (40 %) 1 4 — Формирование пар "
        "3 / 1 / 1 / 1 3/4 (75 %) 3 1 / 0 / 1 / 0"
    )
    assert _numbers(html, "org-college-2") == (
        "Колледж связи колледж Подготовка 1/3 (33 %) 1 2 — Формирование базы "
        "1 / 1 / 0 / 0 1/2 (50 %) 1 0 / 1 / 0 / 1"
    )
    assert _numbers(html, "org-centre-3") == (
        "ЦДО «Радуга» по отчёту от 25.11.2026 центр доп. образования Встречи 6/10 (60 %) 1 "
        "7 — Мониторинг 4 / 3 / 1 / 0 4/5 (80 %) 12 1 / 0 / 0 / 0"
    )
    assert _numbers(html, "totals") == (
        "Итого: 3 9/18 (50 %) 3 8 / 5 / 2 / 1 8/11 (73 %) 16 2 / 1 / 1 / 1"
    )

    only_schools = web.get(
        "/department/uo-kedrovy", params={"token": token, "year": YEAR, "kind": "school"}
    )
    assert only_schools.status_code == 200
    assert 'id="org-school-7"' in only_schools.text and "Колледж связи" not in only_schools.text
    last_year = web.get("/department/uo-kedrovy", params={"token": token, "year": LAST_YEAR})
    assert last_year.status_code == 200 and "нет данных" in last_year.text
    # no year: the school year of today
    assert "2026/2027 учебный год" in web.get(f"/department/uo-kedrovy?token={token}").text
    bad_kind = web.get("/department/uo-kedrovy", params={"token": token, "kind": "zoo"})
    assert bad_kind.status_code == 422
    # a school's code is no department, even with a token signed for it
    school_token = dashboard.dashboard_token(secret=secret, department_code="school-7", now=now)
    assert web.get(f"/department/school-7?token={school_token}").status_code == 404


@pytest.fixture
def configured(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The settings (read by the CLI and the tasks) pointing at the case's database."""
    from nastavnik.settings import get_settings

    if engine.url.get_backend_name() != "sqlite":
        pytest.skip("the settings point at the case's SQLite file")
    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("NASTAVNIK_SECRET_KEY", "test-secret-key-0123456789abcdef")
    monkeypatch.setenv("NASTAVNIK_WEB_BASE_URL", WEB)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_tick_task_renders_the_dashboard_for_a_department_cycle_only(
    engine: Engine, case: Case, configured: None
) -> None:
    from tasks.cycle import tick_cycles

    with Session(engine) as session:
        own = repository.get_or_create_cycle(
            session=session, organization_id=case.department_id, school_year=YEAR
        ).id
    department_day, school_day = tick_cycles.fn([str(own), str(case.school_cycle)], TODAY)
    board = department_day.dashboard
    assert board is not None and board["key"] == "department-uo-kedrovy-dashboard"
    assert f"[СШ № 7]({WEB}/roadmap/{case.school_cycle})" in board["markdown"]
    _assert_no_participant(board["markdown"])
    assert school_day.dashboard is None and school_day.failure is None


def test_the_cli_prints_a_link_that_opens_the_page(
    engine: Engine, case: Case, settings: Settings, configured: None
) -> None:
    from typer.testing import CliRunner

    from deployments.cli import app

    result = CliRunner().invoke(app, ["department", "dashboard-link", "uo-kedrovy"])
    unknown = CliRunner().invoke(app, ["department", "dashboard-link", "school-7"])
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert url.startswith(f"{WEB}/department/uo-kedrovy?year=")
    token = url.split("token=")[1]
    assert dashboard.check_dashboard_token(
        secret=settings.approval_secret(),
        department_code="uo-kedrovy",
        token=token,
        now=datetime.now(UTC),
    )
    assert unknown.exit_code == 1 and "не найдено" in unknown.output
