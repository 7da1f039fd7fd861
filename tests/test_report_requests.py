"""A department's report requests to its member organisations (no Prefect): opened once by the
department's tick with the item's due date, reminders once per due date on a real SMTP server,
the escalation ladder (the member's director, then the department's head), the item's state, and
`nastavnik department …`.

Seed ``roadmap_municipality_kedrovy.txt``: «Мониторинг вовлеченности … Информационный отчет …
Ноябрь»; «Организация сбора отчетов от образовательных организаций по итогам реализации
наставничества — Итоговые отчеты образовательных организаций»; issue 10: «The department's tick
sends each member organisation a request with a deadline … Who has not submitted, reminders,
escalation.»
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models import (
    ItemStatus,
    Organization,
    OutboxMessage,
    Person,
    PlanItem,
    ReportRequest,
    ReportSubmission,
    ReportTransport,
)
from nastavnik import mail, plan, policy, repository, tick
from nastavnik import report_requests as rr
from nastavnik.roadmap import (
    Completion,
    CompletionKind,
    OrganisationKind,
    Roadmap,
    RoadmapItem,
    Stage,
    roadmap_schedule,
)
from nastavnik.settings import Settings
from nastavnik.smtp_sink import MailSink

ROOT = Path(__file__).parent.parent
DEMO_ROADMAP = ROOT / "roadmaps" / "demo_department_kedrovy.yaml"
MOSCOW_NINE = time(6, 0, tzinfo=UTC)
MENTEE = ("Соколова", "Алиса")  # a child in a member's data: no department mail names her


@dataclass(frozen=True)
class Department:
    id: uuid.UUID
    cycle_id: uuid.UUID
    members: dict[str, uuid.UUID]  # code -> id


def _org(session: Session, code: str, kind: OrganisationKind, n: int) -> Organization:
    return repository.upsert_organization(
        session=session,
        code=code,
        name=f"Организация {code}",
        short_name=code.upper(),
        director_name=f"Директор {n}",
        director_email=f"director@{code}.example",
        curator_name=f"Куратор {n}",
        curator_email=f"curator@{code}.example",
        kind=kind,
    )


@pytest.fixture
def department(engine: Engine) -> Department:
    """The Kedrovy department running the demo roadmap for 2026/2027, with three members."""
    with Session(engine) as session:
        dept = _org(session, "uo-kedrovy", OrganisationKind.department, 0)
        kinds = {
            "school-3": OrganisationKind.school,
            "college-1": OrganisationKind.college,
            "centre-2": OrganisationKind.centre,
        }
        members = {}
        for n, (code, kind) in enumerate(kinds.items(), start=1):
            org = _org(session, code, kind, n)
            rr.add_member(session=session, department_id=dept.id, organization_id=org.id)
            members[code] = org.id
        school = members["school-3"]
        session.add(
            Person(
                organization_id=school, person_key="m1", last_name=MENTEE[0], first_name=MENTEE[1]
            )
        )
        cycle = plan.start_cycle(
            session=session,
            organization_id=dept.id,
            school_year="2026/2027",
            roadmap_path=DEMO_ROADMAP,
        )
        session.commit()
        return Department(dept.id, cycle.id, members)


def _tick(
    engine: Engine,
    settings: Settings,
    cycle_id: uuid.UUID,
    day: date,
    reminders: tick.ReminderPolicy | None = None,
) -> tick.TickOutcome:
    with Session(engine) as session:
        outcome = tick.run_tick(
            session=session,
            settings=settings,
            cycle_id=cycle_id,
            today=day,
            now=datetime.combine(day, MOSCOW_NINE),
            policy=reminders,
        )
        session.commit()
    return outcome


def _requests(engine: Engine, number: str, cycle_id: uuid.UUID) -> list[ReportRequest]:
    with Session(engine) as session:
        item = plan.find_item(session=session, cycle_id=cycle_id, number=number)
        return list(
            session.exec(
                select(ReportRequest)
                .where(ReportRequest.plan_item_id == item.id)
                .order_by(col(ReportRequest.unique_key))
            )
        )


def _submit(engine: Engine, request: ReportRequest, on: date) -> None:
    with Session(engine) as session:
        session.add(
            ReportSubmission(
                request_id=request.id,
                organization_id=request.organization_id,
                digest=uuid.uuid4().hex,
                signature="test",
                payload={"request_key": request.unique_key},
                transport=ReportTransport.database,
                submitted_on=on,
            )
        )
        session.commit()


def _item(engine: Engine, cycle_id: uuid.UUID, number: str) -> PlanItem:
    with Session(engine) as session:
        return plan.find_item(session=session, cycle_id=cycle_id, number=number)


def _outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage)))


def _keys(engine: Engine) -> set[str]:
    return {m.idempotency_key for m in _outbox(engine)}


def _kind(key: str) -> str:
    """request, before, due, overdue (report:item:code:due:kind:role) or escalate-department."""
    parts = key.split(":")
    return parts[-2] if len(parts) == 6 else parts[-1]


# ---------------------------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------------------------


def test_only_a_department_has_members_and_a_department_is_nobodys_member(
    engine: Engine, department: Department
) -> None:
    with Session(engine) as session:
        school = department.members["school-3"]
        other = _org(session, "uo-other", OrganisationKind.department, 9)
        with pytest.raises(rr.MembershipError, match="не отдел образования"):
            rr.add_member(session=session, department_id=school, organization_id=other.id)
        with pytest.raises(rr.MembershipError, match="сам отдел образования"):
            rr.add_member(session=session, department_id=department.id, organization_id=other.id)
        # adding again changes nothing
        rr.add_member(session=session, department_id=department.id, organization_id=school)
        codes = [o.code for o in rr.members(session=session, department_id=department.id)]
        assert codes == ["centre-2", "college-1", "school-3"]


# ---------------------------------------------------------------------------------------------
# Opening requests
# ---------------------------------------------------------------------------------------------


def test_requests_open_once_when_the_window_opens_due_on_the_items_end(
    engine: Engine, settings: Settings, department: Department
) -> None:
    # «Ноябрь, ежегодно»: nothing asked in October
    assert _tick(engine, settings, department.cycle_id, date(2026, 10, 31)).opened_requests == []
    first = _tick(engine, settings, department.cycle_id, date(2026, 11, 1))
    assert len(first.opened_requests) == 3
    requests = _requests(engine, "1.", department.cycle_id)
    item = _item(engine, department.cycle_id, "1.")
    assert [r.unique_key for r in requests] == [
        f"report:{item.id}:{code}" for code in ("centre-2", "college-1", "school-3")
    ]
    assert {(r.due_on, r.requested_on, r.kind, r.school_year) for r in requests} == {
        (date(2026, 11, 30), date(2026, 11, 1), "information", "2026/2027")
    }
    assert requests[0].title.startswith("Мониторинг вовлеченности")
    assert item.status == ItemStatus.in_progress and item.actual_start == date(2026, 11, 1)
    # The request goes to each member's director and curator, once.
    keys = sorted(m.idempotency_key for m in _outbox(engine))
    assert len(keys) == 6 and all(k.startswith(f"report:{item.id}:") for k in keys)
    again = _tick(engine, settings, department.cycle_id, date(2026, 11, 1))
    assert again.opened_requests == [] and again.message_ids == [] and again.changes == []
    assert len(_outbox(engine)) == 6
    # «Февраль, ежегодно»: the interim monitoring, due on the month's last day
    _tick(engine, settings, department.cycle_id, date(2027, 2, 1))
    assert {r.due_on for r in _requests(engine, "2.", department.cycle_id)} == {date(2027, 2, 28)}
    # «с 15 июня по 30 июня»: the final reports, once the pairs' own reports are behind
    _tick(engine, settings, department.cycle_id, date(2027, 6, 14))
    assert _requests(engine, "3.", department.cycle_id) == []
    _tick(engine, settings, department.cycle_id, date(2027, 6, 15))
    finals = _requests(engine, "3.", department.cycle_id)
    assert {(r.kind, r.due_on) for r in finals} == {("final", date(2027, 6, 30))}


@pytest.mark.parametrize(
    ("due", "year", "expected"),
    [
        ("Декабрь", "2026/2027", date(2026, 12, 31)),  # the calendar year's end
        ("Февраль", "2027/2028", date(2028, 2, 29)),  # a leap February
        ("до 20 ноября", "2026/2027", date(2026, 11, 20)),
    ],
)
def test_the_due_date_is_the_windows_last_day(
    engine: Engine, due: str, year: str, expected: date
) -> None:
    item = RoadmapItem(
        number="1",
        title="Отчёт",
        stage=Stage.department,
        completes=Completion(kind=CompletionKind.reports, report="interim"),
        due=due,
    )
    roadmap = Roadmap(
        title="Карта",
        organisation="Отдел",
        kind=OrganisationKind.department,
        school_year=year,
        items=(item,),
    )
    with Session(engine) as session:
        dept = _org(session, "uo", OrganisationKind.department, 0)
        school = _org(session, "school", OrganisationKind.school, 1)
        rr.add_member(session=session, department_id=dept.id, organization_id=school.id)
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=dept.id, school_year=year
        )
        (row,) = plan.create_plan(
            session=session,
            cycle_id=cycle.id,
            roadmap=roadmap,
            schedules=roadmap_schedule(roadmap, cycle=year),
            first_cycle=year,
        )
        assert row.completion_report == "interim"
        assert row.planned_end == expected
        assert rr.open_requests(session=session, item=row, today=expected) != []
        assert rr.open_requests(session=session, item=row, today=expected) == []
        (request,) = session.exec(select(ReportRequest)).all()
        assert request.due_on == expected


def test_a_school_cycle_opens_no_requests(engine: Engine, cycle_ids: tuple) -> None:
    _, cycle_id = cycle_ids
    item = PlanItem(
        cycle_id=cycle_id,
        number="1",
        title="Отчёт",
        stage="department",
        completion_kind="reports",
        completion_report="final",
        due_rule="Ноябрь",
        window_kind="dated",
        planned_start=date(2026, 11, 1),
        planned_end=date(2026, 11, 30),
    )
    with Session(engine) as session:
        session.add(item)
        session.flush()
        assert rr.open_requests(session=session, item=item, today=date(2026, 11, 5)) == []


# ---------------------------------------------------------------------------------------------
# Reminders and escalation, delivered to a real SMTP server
# ---------------------------------------------------------------------------------------------


def test_reminders_once_per_due_date_then_the_director_then_the_department_head(
    engine: Engine, settings: Settings, department: Department, tmp_path: Path
) -> None:
    submissions = {date(2026, 11, 20): "centre-2", date(2026, 12, 3): "college-1"}
    sent_per_day: dict[date, list[str]] = {}
    with MailSink(directory=tmp_path / "sink") as sink:
        live = settings.model_copy(update={"smtp_url": sink.url})
        day = date(2026, 11, 1)
        while day <= date(2026, 12, 12):
            if day in submissions:
                code = submissions[day]
                (request,) = [
                    r
                    for r in _requests(engine, "1.", department.cycle_id)
                    if r.organization_id == department.members[code]
                ]
                _submit(engine, request, day)
            before = _keys(engine)
            for attempt in range(2):  # the same day twice sends nothing more
                outcome = _tick(engine, live, department.cycle_id, day)
                if attempt == 1:
                    assert outcome.message_ids == []
                asyncio.run(
                    mail.deliver_messages(
                        engine=engine, settings=live, message_ids=outcome.message_ids
                    )
                )
            new = sorted(
                key.split(":", 2)[2] for key in _keys(engine) - before if key.startswith("report:")
            )
            if new:
                sent_per_day[day] = new
            day += timedelta(days=1)
        received = Counter(m.rcpt_tos[0] for m in sink.messages)

    due = "2026-11-30"
    assert sent_per_day == {
        date(2026, 11, 1): sorted(
            f"{code}:{due}:request:{role}"
            for code in ("centre-2", "college-1", "school-3")
            for role in ("director", "curator")
        ),
        # three days before: the curators of those who have not submitted
        date(2026, 11, 27): [f"college-1:{due}:before:curator", f"school-3:{due}:before:curator"],
        date(2026, 11, 30): [f"college-1:{due}:due:curator", f"school-3:{due}:due:curator"],
        # the day after: the member's director
        date(2026, 12, 1): [
            f"college-1:{due}:overdue:director",
            f"school-3:{due}:overdue:director",
        ],
        # a week after: the department's head, about the one still missing
        date(2026, 12, 7): [f"{due}:escalate-department"],
    }
    assert received == {
        "director@centre-2.example": 1,
        "curator@centre-2.example": 1,
        "director@college-1.example": 2,
        "curator@college-1.example": 3,
        "director@school-3.example": 2,
        "curator@school-3.example": 3,
        "director@uo-kedrovy.example": 1,
    }
    messages = _outbox(engine)
    (head,) = [m for m in messages if m.recipient_role == "department"]
    assert "Организация school-3" in head.body_text and "college-1" not in head.body_text
    for message in messages:  # the e-mails name organisations, never a child
        assert MENTEE[0] not in message.body_text and MENTEE[0] not in message.subject
    # Where each stands: on time, late by three days, missing for twelve.
    with Session(engine) as session:
        states = rr.request_states(
            session=session, today=date(2026, 12, 12), cycle_id=department.cycle_id
        )
    by_org = {s.request.organization_id: s for s in states}
    on_time = by_org[department.members["centre-2"]]
    late = by_org[department.members["college-1"]]
    missing = by_org[department.members["school-3"]]
    assert (on_time.status, on_time.days_late) == (rr.RequestStatus.submitted, 0)
    assert (late.status, late.submitted_on, late.days_late) == (
        rr.RequestStatus.submitted_late,
        date(2026, 12, 3),
        3,
    )
    assert (missing.status, missing.days_late) == (rr.RequestStatus.missing, 12)
    assert _item(engine, department.cycle_id, "1.").status == ItemStatus.overdue


def test_the_item_is_done_late_when_the_last_member_submits_after_the_due_date(
    engine: Engine, settings: Settings, department: Department
) -> None:
    _tick(engine, settings, department.cycle_id, date(2026, 11, 1))
    requests = _requests(engine, "1.", department.cycle_id)
    for request in requests[:2]:
        _submit(engine, request, date(2026, 11, 25))
    _tick(engine, settings, department.cycle_id, date(2026, 11, 26))
    assert _item(engine, department.cycle_id, "1.").status == ItemStatus.in_progress
    _submit(engine, requests[2], date(2026, 12, 4))
    outcome = _tick(engine, settings, department.cycle_id, date(2026, 12, 5))
    item = _item(engine, department.cycle_id, "1.")
    assert (item.status, item.actual_finish) == (ItemStatus.done_late, date(2026, 12, 4))
    assert [c.new for c in outcome.changes if c.number == "1."] == [ItemStatus.done_late]
    # nothing more chases a closed item
    before = len(_outbox(engine))
    _tick(engine, settings, department.cycle_id, date(2026, 12, 10))
    assert len(_outbox(engine)) == before


def test_all_on_time_is_done(engine: Engine, settings: Settings, department: Department) -> None:
    _tick(engine, settings, department.cycle_id, date(2027, 2, 1))
    for n, request in enumerate(_requests(engine, "2.", department.cycle_id)):
        _submit(engine, request, date(2027, 2, 10 + n))
    _tick(engine, settings, department.cycle_id, date(2027, 2, 13))
    item = _item(engine, department.cycle_id, "2.")
    assert (item.status, item.actual_finish) == (ItemStatus.done, date(2027, 2, 12))


def test_the_ladders_days_come_from_the_departments_policy(
    engine: Engine, settings: Settings, department: Department
) -> None:
    with Session(engine) as session:
        policy.save_policy(
            session=session,
            organization_id=department.id,
            policy=policy.updated(
                policy.OrganisationPolicy(),
                {
                    "reminder_days_before_due": 5,
                    "report_escalate_to_director_after_days": 2,
                    "report_escalate_to_department_after_days": 4,
                },
            ),
        )
        session.commit()

    def kinds_on(day: date, reminders: tick.ReminderPolicy | None = None) -> list[str]:
        before = _keys(engine)
        _tick(engine, settings, department.cycle_id, day, reminders)
        return sorted({_kind(key) for key in _keys(engine) - before})

    assert kinds_on(date(2026, 11, 1)) == ["request"]
    assert kinds_on(date(2026, 11, 25)) == ["before"]  # five days before
    assert kinds_on(date(2026, 12, 1)) == []  # one day overdue: not yet the director
    assert kinds_on(date(2026, 12, 2)) == ["overdue"]
    assert kinds_on(date(2026, 12, 3)) == []
    assert kinds_on(date(2026, 12, 4)) == ["escalate-department"]
    # The tick's ReminderPolicy, when given, overrides the saved policy.
    _tick(engine, settings, department.cycle_id, date(2027, 2, 1))
    quick = tick.ReminderPolicy(report_escalate_to_director_after=3)
    assert kinds_on(date(2027, 2, 28), quick) == ["due"]
    assert kinds_on(date(2027, 3, 2), quick) == []  # two days overdue
    assert kinds_on(date(2027, 3, 3), quick) == ["overdue"]


def test_a_bad_ladder_is_refused() -> None:
    with pytest.raises(policy.PolicyError, match="report_escalate_to_department_after_days"):
        policy.validate_policy(
            {
                "report_escalate_to_director_after_days": 7,
                "report_escalate_to_department_after_days": 7,
            }
        )


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------


def test_department_commands(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sqlite_engine: Engine,
    settings: Settings,
) -> None:
    from deployments import cli as cli_module
    from nastavnik.settings import get_settings

    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NASTAVNIK_SECRET_KEY", settings.approval_secret().decode())
    get_settings.cache_clear()
    monkeypatch.setattr(cli_module.console, "width", 250)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli_module.app, list(args), catch_exceptions=False)
        return result.exit_code, result.output

    people = ["--director-name", "Д", "--director-email", "d@x.example"]
    people += ["--curator-name", "К", "--curator-email", "k@x.example"]
    try:
        code, output = run("add-organization", "uo", "Отдел", "УО", *people, "--kind", "department")
        assert code == 0 and "(department)" in output, output
        for org in ("school-1", "school-2"):
            assert run("add-organization", org, f"Школа {org}", org.upper(), *people)[0] == 0
        code, output = run("department", "add-member", "school-1", "school-2")
        assert code == 1 and "не отдел образования" in output
        code, output = run("department", "add-member", "uo", "uo")
        assert code == 1 and "сам отдел образования" in output
        assert run("department", "add-member", "uo", "nobody")[0] == 1
        for org in ("school-1", "school-2"):
            assert run("department", "add-member", "uo", org)[0] == 0
        code, output = run("department", "members", "uo")
        assert code == 0 and "SCHOOL-1" in output and "Участников: 2" in output, output
        code, output = run(
            "cycle", "start", "--org", "uo", "--year", "2026/2027", "--roadmap", str(DEMO_ROADMAP)
        )
        assert code == 0, output
        with Session(sqlite_engine) as session:
            dept = repository.get_organization(session=session, code="uo")
            cycle_id = plan.cycles_to_tick(
                session=session, today=date(2026, 11, 2), organization_id=dept.id
            )[0]
        _tick(sqlite_engine, settings, cycle_id, date(2026, 11, 2))
        (first, _second) = _requests(sqlite_engine, "1.", cycle_id)
        _submit(sqlite_engine, first, date(2026, 12, 2))
        code, output = run(
            "department", "requests", "uo", "--year", "2026/2027", "--on", "2026-12-05"
        )
        assert code == 0, output
        assert "информационный отчёт" in output and "30.11.2026" in output
        assert "сдан с опозданием" in output and "не сдан" in output
        assert "сдан с опозданием: 1; ожидается: 0; не сдан: 1" in output.replace(
            "сдан в срок: 0; ", ""
        )
        code, output = run("department", "requests", "uo", "--year", "2030/2031")
        assert code == 1 and "нет цикла 2030/2031" in output
    finally:
        get_settings.cache_clear()


def test_a_simulated_year_ticks_on_the_days_the_requests_are_chased(
    engine: Engine, department: Department
) -> None:
    from deployments.year import interesting_days

    item = _item(engine, department.cycle_id, "1.")
    days = interesting_days(rows=[item], pending=[], policy=tick.ReminderPolicy())
    due = date(2026, 11, 30)
    assert {date(2026, 11, 1), due - timedelta(days=3), due} <= days
    assert {due + timedelta(days=1), due + timedelta(days=7)} <= days
