"""The execution plan and the daily tick's rules (no Prefect): statuses, reminders, escalation,
approvals reminded and reissued, stages started only when due, ready and allowed.

Seed roadmap_school7_mineralnye_vody.txt, item 7: «Формирование базы наставляемых … Август-сентябрь
Ежегодно»; item 5: «Оценка реализации персонализированных программ … По завершению программы»;
DESIGN §5: «overdue ones get reminders and escalate (curator → director → department)».
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import (
    ApprovalRequest,
    AuditEvent,
    Decision,
    Document,
    ItemStatus,
    MentorshipPair,
    OutboxMessage,
    PairStatus,
    Participant,
    Person,
    PlanItem,
    Role,
)
from models.tables import MentoringForm
from nastavnik import approvals, plan, stages, tick
from nastavnik.approval_mail import open_request_with_mail
from nastavnik.roadmap import (
    Completion,
    CompletionKind,
    OrganisationKind,
    Roadmap,
    RoadmapItem,
    Schedule,
    Stage,
    Window,
    WindowKind,
)
from nastavnik.settings import Settings

MOSCOW_NINE = time(6, 0, tzinfo=UTC)  # 09:00 in Moscow


def _item(
    number: str, stage: Stage, completes: Completion, due: str, **extra: object
) -> RoadmapItem:
    return RoadmapItem(
        number=number,
        title=f"Пункт {number}",
        stage=stage,
        completes=completes,
        due=due,
        responsible=extra.pop("responsible", ("Кураторы",)),  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )


BASE = _item(
    "7",
    Stage.base_formation,
    Completion(kind=CompletionKind.stage, stage=Stage.base_formation),
    "Август-сентябрь Ежегодно",
)
PAIRING = _item(
    "9",
    Stage.pairing,
    Completion(kind=CompletionKind.stage, stage=Stage.pairing),
    "Октябрь",
)
SITE = _item(
    "4",
    Stage.preparation,
    Completion(kind=CompletionKind.manual),
    "До 01.10.2022 года постоянно",
    responsible=("Директор", "заместители директора"),
)
MONTHLY = _item(
    "12",
    Stage.training,
    Completion(kind=CompletionKind.recurring),
    "ежемесячно",
)
# An item of a stage the plan does not track yet (the meetings stage has no roadmap flow; the
# department's items are tracked since issue 10).
EVALUATION = _item(
    "5",
    Stage.meetings,
    Completion(kind=CompletionKind.document, document="analytic-report"),
    "По завершению программы. Ежегодно",
)
OLD = _item("2", Stage.preparation, Completion(kind=CompletionKind.manual), "До 13.05.2022 года")

ROADMAP = Roadmap(
    title="Дорожная карта СШ № 7",
    organisation="СШ № 7",
    kind=OrganisationKind.school,
    school_year="2022/2023",
    items=(OLD, SITE, EVALUATION, BASE, PAIRING, MONTHLY),
)

SCHEDULES = [
    (OLD, Schedule(WindowKind.dated, (), applies=False)),
    (SITE, Schedule(WindowKind.dated, (Window(date(2026, 9, 1), date(2026, 10, 1)),))),
    (EVALUATION, Schedule(WindowKind.after_event, event="programme-end", days_after=10)),
    (BASE, Schedule(WindowKind.dated, (Window(date(2026, 8, 1), date(2026, 9, 30)),))),
    (PAIRING, Schedule(WindowKind.dated, (Window(date(2026, 10, 1), date(2026, 10, 31)),))),
    (
        MONTHLY,
        Schedule(
            WindowKind.dated,
            tuple(Window(date(2026, m, 1), date(2026, m, 28)) for m in (9, 10, 11)),
            recurring=True,
        ),
    ),
]


@pytest.fixture
def planned(engine: Engine, cycle_ids: tuple) -> uuid.UUID:
    _, cycle_id = cycle_ids
    with Session(engine) as session:
        plan.create_plan(
            session=session,
            cycle_id=cycle_id,
            roadmap=ROADMAP,
            schedules=SCHEDULES,
            first_cycle="2026/2027",
        )
        session.commit()
    return cycle_id


def _make_plan(
    engine: Engine, cycle_id: uuid.UUID, rows: list[tuple[RoadmapItem, Schedule]]
) -> None:
    """A plan of just these roadmap rows with their schedules (a small roadmap of a test's own)."""
    with Session(engine) as session:
        plan.create_plan(
            session=session,
            cycle_id=cycle_id,
            roadmap=ROADMAP.model_copy(update={"items": tuple(item for item, _ in rows)}),
            schedules=rows,
            first_cycle="2026/2027",
        )
        session.commit()


def _tick(engine: Engine, settings: Settings, cycle_id: uuid.UUID, day: date) -> tick.TickOutcome:
    with Session(engine) as session:
        outcome = tick.run_tick(
            session=session,
            settings=settings,
            cycle_id=cycle_id,
            today=day,
            now=datetime.combine(day, MOSCOW_NINE),
        )
        session.commit()
    return outcome


def _row(engine: Engine, cycle_id: uuid.UUID, number: str, occurrence: int = 0) -> PlanItem:
    with Session(engine) as session:
        return plan.find_item(
            session=session, cycle_id=cycle_id, number=number, occurrence=occurrence
        )


def _keys(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(m.idempotency_key for m in session.exec(select(OutboxMessage)))


def _participant(engine: Engine, cycle_id: uuid.UUID, role: Role, key: str) -> None:
    with Session(engine) as session:
        cycle = session.get(plan.Cycle, cycle_id)
        assert cycle is not None
        person = Person(
            organization_id=cycle.organization_id, person_key=key, last_name=key, first_name="А"
        )
        session.add(person)
        session.flush()
        form = MentoringForm.teacher_teacher
        session.add(Participant(cycle_id=cycle_id, person_id=person.id, role=role, form=form))
        session.commit()


def test_the_plan_has_a_row_per_item_and_per_occurrence(engine: Engine, planned) -> None:
    with Session(engine) as session:
        rows = plan.plan_items(session=session, cycle_id=planned)
        assert [(r.number, r.occurrence) for r in rows] == [
            ("2", 0),
            ("4", 0),
            ("5", 0),
            ("7", 0),
            ("9", 0),
            ("12", 1),
            ("12", 2),
            ("12", 3),
        ]
        old = rows[0]
        assert old.status == ItemStatus.skipped and old.note == plan.OTHER_YEAR_NOTE
        assert rows[3].planned_start == date(2026, 8, 1)
        assert rows[3].due_rule == "Август-сентябрь Ежегодно"  # the source's words, kept
        with pytest.raises(plan.PlanExists):
            plan.create_plan(
                session=session,
                cycle_id=planned,
                roadmap=ROADMAP,
                schedules=SCHEDULES,
                first_cycle="2026/2027",
            )


def test_the_tick_run_twice_on_one_day_sends_nothing_twice(
    engine: Engine, settings: Settings, planned
) -> None:
    first = _tick(engine, settings, planned, date(2026, 9, 28))
    keys = _keys(engine)
    assert first.message_ids and len(keys) == len(first.message_ids)
    second = _tick(engine, settings, planned, date(2026, 9, 28))
    assert second.message_ids == [] and second.changes == []
    assert _keys(engine) == keys


def test_queued_keys_tells_which_keys_went_out_in_any_number(
    engine: Engine, settings: Settings, planned
) -> None:
    _tick(engine, settings, planned, date(2026, 9, 28))
    sent = _keys(engine)
    # More keys than one IN (...) takes: the lookup goes by slices.
    asked = [*sent, *(f"never-queued:{n}" for n in range(1_200))]
    with Session(engine) as session:
        assert tick.queued_keys(session, asked) == set(sent)
        assert tick.queued_keys(session, []) == set()


def test_reminders_before_on_and_after_the_due_day_then_escalation_in_order(
    engine: Engine, settings: Settings, planned
) -> None:
    item = _row(engine, planned, "4")  # due 01.10.2026, the director and deputies answer for it
    prefix = f"roadmap:{item.id}:"

    def sent_for_item() -> list[str]:
        return [k.removeprefix(prefix) for k in _keys(engine) if k.startswith(prefix)]

    _tick(engine, settings, planned, date(2026, 9, 27))
    assert sent_for_item() == []  # four days before: not yet
    _tick(engine, settings, planned, date(2026, 9, 28))
    assert sent_for_item() == ["before:curator", "before:director"]
    _tick(engine, settings, planned, date(2026, 10, 1))
    assert "due:director" in sent_for_item()
    _tick(engine, settings, planned, date(2026, 10, 2))
    assert _row(engine, planned, "4").status == ItemStatus.overdue
    assert {"overdue:curator", "overdue:director"} <= set(sent_for_item())
    # Both the curator and the director are responsible: nobody above them here but the
    # department, which does not exist yet; no escalation mail goes to either twice.
    _tick(engine, settings, planned, date(2026, 10, 20))
    assert not [k for k in sent_for_item() if k.startswith("escalate")]


def test_an_item_of_the_curator_escalates_to_the_curator_then_the_director(
    engine: Engine, settings: Settings, planned
) -> None:
    first = _row(engine, planned, "12", 1)  # monthly, curators, due 28.09.2026
    prefix = f"roadmap:{first.id}:"

    def escalations() -> list[str]:
        return [
            k.removeprefix(prefix)
            for k in _keys(engine)
            if k.startswith(prefix) and "escalate" in k
        ]

    _tick(engine, settings, planned, date(2026, 9, 29))
    assert escalations() == []
    _tick(engine, settings, planned, date(2026, 10, 1))  # 3 days overdue
    assert escalations() == []  # the curator is the responsible: next is the director
    _tick(engine, settings, planned, date(2026, 10, 5))  # 7 days overdue
    assert escalations() == ["escalate-director:director"]
    with Session(engine) as session:
        message = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.idempotency_key == f"{prefix}escalate-director:director"
            )
        ).one()
        assert "просрочен на 7 дн." in message.subject
        assert "Иванова Мария Петровна" in message.to_addr


def test_a_closed_item_is_done_or_done_late_and_audited(
    engine: Engine, settings: Settings, planned
) -> None:
    with Session(engine) as session:
        item = plan.find_item(session=session, cycle_id=planned, number="12", occurrence=1)
        plan.close_item(
            session=session,
            item_id=item.id,
            today=date(2026, 9, 20),
            actor="curator",
            evidence_kind="note",
            evidence="Отчёты наставников за сентябрь получены",
        )
        late = plan.find_item(session=session, cycle_id=planned, number="4")
        plan.close_item(
            session=session,
            item_id=late.id,
            today=date(2026, 10, 3),
            actor="director",
            evidence_kind="link",
            evidence="https://school7.example/nastavnichestvo",
        )
        late_id = late.id
        session.commit()
    assert _row(engine, planned, "12", 1).status == ItemStatus.done
    assert _row(engine, planned, "4").status == ItemStatus.done_late
    with Session(engine) as session:
        with pytest.raises(ValueError, match="file, link или note"):
            plan.close_item(
                session=session,
                item_id=_row(engine, planned, "12", 2).id,
                today=date(2026, 10, 3),
                actor="curator",
                evidence_kind="photo",
                evidence="x",
            )
        actions = [
            e.action for e in session.exec(select(AuditEvent).where(AuditEvent.cycle_id == planned))
        ]
    assert actions.count("plan.done") == 1 and actions.count("plan.done_late") == 1
    # Closed rows get no reminders any more.
    _tick(engine, settings, planned, date(2026, 10, 10))
    assert not [k for k in _keys(engine) if k.startswith(f"roadmap:{late_id}:overdue")]


def test_base_formation_waits_for_questionnaires_then_starts_once(
    engine: Engine, settings: Settings, planned
) -> None:
    before_window = _tick(engine, settings, planned, date(2026, 7, 31))
    assert before_window.starts == []
    opened = _tick(engine, settings, planned, date(2026, 8, 1))
    assert opened.starts == []
    assert opened.waiting == ["7: не загружены анкеты наставляемых и наставников"]
    item = _row(engine, planned, "7")
    assert f"roadmap:{item.id}:inputs:curator" in _keys(engine)

    _participant(engine, planned, Role.mentee, "mentee-1")
    _participant(engine, planned, Role.mentor, "mentor-1")
    ready = _tick(engine, settings, planned, date(2026, 8, 3))
    assert [(s.number, s.stage) for s in ready.starts] == [("7", "base-formation")]
    with Session(engine) as session:
        plan.record_stage_started(
            session=session, item_id=item.id, flow_run_id=uuid.uuid4(), today=date(2026, 8, 3)
        )
        session.commit()
    assert _row(engine, planned, "7").status == ItemStatus.in_progress
    assert _tick(engine, settings, planned, date(2026, 8, 4)).starts == []
    # Its run is one the tick watches for a crash until the item closes.
    with Session(engine) as session:
        run_id = _row(engine, planned, "7").flow_run_id
        assert plan.stage_runs_open(session=session, cycle_id=planned) == [run_id]
        plan.skip_item(
            session=session, item_id=item.id, today=date(2026, 8, 5), actor="curator", reason="тест"
        )
        session.commit()
        assert plan.stage_runs_open(session=session, cycle_id=planned) == []


def test_pairing_never_starts_before_the_training_order_is_approved(
    engine: Engine, settings: Settings, planned
) -> None:
    outcome = _tick(engine, settings, planned, date(2026, 10, 2))
    assert outcome.starts == []
    assert any(
        w.startswith("9: приказ о назначении наставников не утверждён") for w in outcome.waiting
    )
    _decide(
        engine,
        settings,
        planned,
        stages.MENTORS_ORDER_APPROVAL,
        "training",
        Decision.approve,
        on=date(2026, 10, 2),
    )
    outcome = _tick(engine, settings, planned, date(2026, 10, 3))
    assert [s.stage for s in outcome.starts] == ["pairing"]


def _open(
    engine: Engine, settings: Settings, cycle_id: uuid.UUID, key: str, stage: str, on: date
) -> ApprovalRequest:
    with Session(engine) as session:
        request, _ = open_request_with_mail(
            session=session,
            settings=settings,
            cycle_id=cycle_id,
            stage=stage,
            approval_key=key,
            flow_run_id=uuid.uuid4(),
            title=f"Решение по этапу {stage}",
            summary="",
            document_ids=[],
            now=datetime.combine(on, MOSCOW_NINE),
        )
        session.commit()
        session.refresh(request)
        return request


def _decide(
    engine: Engine,
    settings: Settings,
    cycle_id: uuid.UUID,
    key: str,
    stage: str,
    decision: Decision,
    *,
    on: date,
) -> None:
    request = _open(engine, settings, cycle_id, key, stage, on)
    with Session(engine) as session:
        outcome = approvals.record_decision(
            session=session,
            secret=settings.approval_secret(),
            request_id=request.id,
            decision=decision,
            comment="",
            approver_name="Иванова М. П.",
            code=approvals.code_for_request(secret=settings.approval_secret(), request=request),
            pause_key=f"{key}-1",
            channel="test",
            now=datetime.combine(on, MOSCOW_NINE) + timedelta(hours=2),
        )
        assert outcome.accepted
        session.commit()


def test_a_stage_item_is_done_when_its_decision_is_approved_late_if_after_the_window(
    engine: Engine, settings: Settings, planned
) -> None:
    _open(engine, settings, planned, stages.REGISTERS_APPROVAL, "base-formation", date(2026, 9, 25))
    _tick(engine, settings, planned, date(2026, 9, 26))
    row = _row(engine, planned, "7")
    assert row.status == ItemStatus.in_progress and row.actual_start == date(2026, 9, 25)
    _decide(
        engine,
        settings,
        planned,
        stages.REGISTERS_APPROVAL,
        "base-formation",
        Decision.approve,
        on=date(2026, 10, 2),
    )
    _tick(engine, settings, planned, date(2026, 10, 2))
    row = _row(engine, planned, "7")
    assert row.status == ItemStatus.done_late and row.actual_finish == date(2026, 10, 2)
    assert row.approver == "Иванова М. П."


def test_a_waiting_approval_is_reminded_with_the_same_link_then_escalated_then_reissued(
    engine: Engine, settings: Settings, planned
) -> None:
    request = _open(engine, settings, planned, "training-order", "training", date(2026, 11, 2))
    code = approvals.code_for_request(secret=settings.approval_secret(), request=request)
    _tick(engine, settings, planned, date(2026, 11, 4))  # two days: no reminder yet
    reminders = [k for k in _keys(engine) if "reminder" in k]
    assert reminders == []
    _tick(engine, settings, planned, date(2026, 11, 5))  # three days
    with Session(engine) as session:
        reminder = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.idempotency_key == f"approval-request:{request.id}:reminder-1"
            )
        ).one()
        assert reminder.subject.startswith("Напоминание")
        assert code in reminder.body_text  # the same link while the code is valid
    _tick(engine, settings, planned, date(2026, 11, 9))  # seven days: the curator is told
    assert f"approval-escalate:{request.id}:curator" in _keys(engine)
    outcome = _tick(engine, settings, planned, date(2026, 11, 17))  # 15 days: the code expired
    assert outcome.reissued == [request.id]
    with Session(engine) as session:
        fresh = session.get(ApprovalRequest, request.id)
        assert fresh is not None and fresh.code_generation == 1
        new_code = approvals.code_for_request(secret=settings.approval_secret(), request=fresh)
        reissue = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.idempotency_key == f"approval-request:{request.id}:reissue-1"
            )
        ).one()
        assert new_code in reissue.body_text and code not in reissue.body_text
    assert _tick(engine, settings, planned, date(2026, 11, 17)).reissued == []


def test_an_item_waiting_for_the_programmes_end_has_no_date_and_no_mail(
    engine: Engine, settings: Settings, planned
) -> None:
    _tick(engine, settings, planned, date(2026, 9, 1))
    # It waits for the programme's end; no pair has an end yet: no date, no status, no mail.
    row = _row(engine, planned, "5")
    assert row.planned_end is None and row.status == ItemStatus.not_started
    _tick(engine, settings, planned, date(2027, 7, 1))
    assert _row(engine, planned, "5").status == ItemStatus.not_started
    assert not [k for k in _keys(engine) if k.startswith(f"roadmap:{row.id}:")]


def test_items_waiting_for_the_bases_or_the_pairs_are_dated_by_the_directors_approval(
    engine: Engine, settings: Settings, cycle_ids: tuple
) -> None:
    """«в течение двух недель после формирования баз», «после закрепления пар» (roadmaps written
    blind from docs/roadmaps.md): dated once the registers, then the pairs' order, are approved."""
    _, cycle_id = cycle_ids
    after_bases = _item("1", Stage.base_formation, Completion(kind=CompletionKind.manual), "—")
    after_pairs = _item("2", Stage.meetings, Completion(kind=CompletionKind.manual), "—")
    _make_plan(
        engine,
        cycle_id,
        [
            (
                after_bases,
                Schedule(WindowKind.after_event, event="bases-formed", days_after=14),
            ),
            (after_pairs, Schedule(WindowKind.after_event, event="pairs-fixed")),
        ],
    )
    _tick(engine, settings, cycle_id, date(2026, 9, 1))
    assert _row(engine, cycle_id, "1").planned_end is None
    _decide(
        engine,
        settings,
        cycle_id,
        stages.REGISTERS_APPROVAL,
        "base-formation",
        Decision.approve,
        on=date(2026, 9, 20),
    )
    _decide(
        engine,
        settings,
        cycle_id,
        "pairing-order-1",
        "pairing",
        Decision.approve,
        on=date(2026, 11, 5),
    )
    _tick(engine, settings, cycle_id, date(2026, 11, 6))
    bases = _row(engine, cycle_id, "1")
    assert (bases.planned_start, bases.planned_end) == (date(2026, 9, 20), date(2026, 10, 4))
    pairs = _row(engine, cycle_id, "2")
    assert (pairs.planned_start, pairs.planned_end) == (date(2026, 11, 5), date(2026, 11, 5))


def test_a_manual_item_with_two_dates_is_tracked_in_each(engine: Engine, cycle_ids: tuple) -> None:
    """«декабрь 2026 г., май 2027 г.»: two windows, each closed on its own (a stage item keeps
    one row from the first window's start to the last one's end)."""
    _, cycle_id = cycle_ids
    twice = _item("1", Stage.meetings, Completion(kind=CompletionKind.manual), "декабрь, май")
    stage = _item(
        "2", Stage.pairing, Completion(kind=CompletionKind.stage, stage=Stage.pairing), "—"
    )
    windows = (
        Window(date(2026, 12, 1), date(2026, 12, 31)),
        Window(date(2027, 5, 1), date(2027, 5, 31)),
    )
    _make_plan(
        engine,
        cycle_id,
        [
            (twice, Schedule(WindowKind.dated, windows)),
            (stage, Schedule(WindowKind.dated, windows)),
        ],
    )
    with Session(engine) as session:
        rows = plan.plan_items(session=session, cycle_id=cycle_id)
    assert [(r.number, r.occurrence, r.planned_start, r.planned_end) for r in rows] == [
        ("1", 1, date(2026, 12, 1), date(2026, 12, 31)),
        ("1", 2, date(2027, 5, 1), date(2027, 5, 31)),
        ("2", 0, date(2026, 12, 1), date(2027, 5, 31)),
    ]


def test_the_monthly_summary_completes_the_mentors_reports_row(
    engine: Engine, settings: Settings, cycle_ids: tuple
) -> None:
    """The demo school's item 10, «до 20 числа каждого месяца» with `document: monthly-summary`:
    the summary the tick makes on the 1st (for the month before) completes the month's row; the
    row of a month whose previous month had no pair is skipped, with no reminder."""
    _, cycle_id = cycle_ids
    reports = _item(
        "10",
        Stage.meetings,
        Completion(kind=CompletionKind.recurring, document="monthly-summary"),
        "до 20 числа каждого месяца",
    )
    months = (date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1))
    windows = tuple(Window(m, m.replace(day=20)) for m in months)
    _make_plan(engine, cycle_id, [(reports, Schedule(WindowKind.dated, windows, recurring=True))])
    _pair(engine, cycle_id, PairStatus.active, date(2026, 11, 1), date(2027, 5, 31))
    _tick(engine, settings, cycle_id, date(2026, 11, 17))  # November reports on October: none
    with Session(engine) as session:
        cycle = session.get(plan.Cycle, cycle_id)
        assert cycle is not None
        session.add(
            Document(
                unique_key=f"monthly-summary:{cycle_id}:2026-11",
                organization_id=cycle.organization_id,
                cycle_id=cycle_id,
                doc_type="report",
                series="",
                year=2026,
                number=1,
                doc_date=date(2026, 12, 1),
                title="Сводка о ходе наставничества за ноябрь 2026",
                content_hash="0" * 64,
                path="x.pdf",
            )
        )
        session.commit()
    _tick(engine, settings, cycle_id, date(2026, 12, 2))
    november, december = _row(engine, cycle_id, "10", 1), _row(engine, cycle_id, "10", 2)
    assert (november.status, november.note) == (ItemStatus.skipped, plan.NO_PAIRS_NOTE)
    assert not [k for k in _keys(engine) if k.startswith(f"roadmap:{november.id}:")]
    assert (december.status, december.actual_finish) == (ItemStatus.done, date(2026, 12, 1))
    assert _row(engine, cycle_id, "10", 3).status == ItemStatus.not_started


def test_a_stage_row_dated_all_year_starts_its_stage_on_its_first_day(
    engine: Engine, settings: Settings, cycle_ids: tuple
) -> None:
    """«в течение учебного года»: the row shows in progress from 1 September by its window,
    yet its stage has not run — the tick starts it then, not when the row goes overdue in June."""
    _, cycle_id = cycle_ids
    base = _item("7", Stage.base_formation, BASE.completes, "Август-сентябрь Ежегодно")
    training = _item(
        "9",
        Stage.training,
        Completion(kind=CompletionKind.stage, stage=Stage.training),
        "в течение учебного года",
    )
    _make_plan(
        engine,
        cycle_id,
        [
            (base, Schedule(WindowKind.dated, (Window(date(2026, 8, 1), date(2026, 9, 30)),))),
            (
                training,
                Schedule(WindowKind.continuous, (Window(date(2026, 9, 1), date(2027, 5, 31)),)),
            ),
        ],
    )
    _decide(
        engine,
        settings,
        cycle_id,
        stages.REGISTERS_APPROVAL,
        "base-formation",
        Decision.approve,
        on=date(2026, 8, 20),
    )
    outcome = _tick(engine, settings, cycle_id, date(2026, 9, 2))
    assert [(s.number, s.stage) for s in outcome.starts] == [("9", "training")]


def test_pairing_does_not_start_once_the_pairs_term_is_over(
    engine: Engine, cycle_ids: tuple
) -> None:
    """A pairing run started in June crashed («pairs cannot end (31.05.2027) before they
    start»): past the school year's pair term the roadmap's pairing waits for the next year."""
    _, cycle_id = cycle_ids
    with Session(engine) as session:

        def waits(day: date) -> str:
            return tick.stage_waits_for(
                session=session, cycle_id=cycle_id, stage="pairing", today=day
            )

        assert waits(date(2027, 5, 30)) == ""
        assert (
            waits(date(2027, 6, 6)) == "срок работы пар в 2026/2027 учебном году истёк (31.05.2027)"
        )


def test_the_final_event_waits_for_the_last_month_of_the_programmes(
    engine: Engine, settings: Settings, meetings_plan
) -> None:
    """A window opening in August («к 25 мая») must not hold the ceremony in November."""
    _pair(engine, meetings_plan, PairStatus.active, date(2026, 11, 1), date(2027, 5, 31))
    _pair(engine, meetings_plan, PairStatus.terminated, date(2026, 11, 1), date(2027, 1, 20))
    with Session(engine) as session:

        def waits(day: date) -> str:
            return tick.stage_waits_for(
                session=session, cycle_id=meetings_plan, stage="final-event", today=day
            )

        assert "пары работают до 31.05.2027, этап — не раньше 01.05.2027" in waits(
            date(2026, 11, 10)
        )
        assert waits(date(2027, 5, 1)) == ""


# The demo school's meetings items (roadmaps/demo_school3_kedrovy.yaml, section V): the pairs'
# monthly meetings, and the stage itself for a roadmap that names it.
MEETINGS_MONTHLY = _item(
    "9",
    Stage.meetings,
    Completion(kind=CompletionKind.recurring),
    "В течение года (1 раз в месяц)",
    responsible=("Куратор",),
)
MEETINGS_STAGE = _item(
    "10",
    Stage.meetings,
    Completion(kind=CompletionKind.stage, stage=Stage.meetings),
    "с сентября по май",
)
MONTHS = (date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1))


@pytest.fixture
def meetings_plan(engine: Engine, cycle_ids: tuple) -> uuid.UUID:
    _, cycle_id = cycle_ids
    windows = tuple(
        Window(m, (m + timedelta(days=31)).replace(day=1) - timedelta(days=1)) for m in MONTHS
    )
    _make_plan(
        engine,
        cycle_id,
        [
            (MEETINGS_MONTHLY, Schedule(WindowKind.dated, windows, recurring=True)),
            (
                MEETINGS_STAGE,
                Schedule(WindowKind.dated, (Window(date(2026, 9, 1), date(2027, 5, 31)),)),
            ),
        ],
    )
    return cycle_id


def _pair(
    engine: Engine, cycle_id: uuid.UUID, status: PairStatus, starts: date, ends: date
) -> None:
    _participant(engine, cycle_id, Role.mentor, f"m-{uuid.uuid4().hex[:6]}")
    with Session(engine) as session:
        mentor = session.exec(
            select(Participant).where(
                Participant.cycle_id == cycle_id, Participant.role == Role.mentor
            )
        ).all()[-1]
        session.add(
            MentorshipPair(
                cycle_id=cycle_id,
                mentor_id=mentor.id,
                form=MentoringForm.teacher_teacher,
                status=status,
                starts_on=starts,
                ends_on=ends,
            )
        )
        session.commit()


def test_meetings_months_without_pairs_are_skipped_without_reminders(
    engine: Engine, settings: Settings, meetings_plan
) -> None:
    """Pairs fixed from 1 November: September and October had nothing to meet about."""
    for day in (date(2026, 9, 27), date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 30)):
        _tick(engine, settings, meetings_plan, day)
    assert [k for k in _keys(engine) if k.startswith("roadmap:")] == []
    september = _row(engine, meetings_plan, "9", 1)
    assert september.status == ItemStatus.skipped and september.note == plan.NO_PAIRS_NOTE
    assert _row(engine, meetings_plan, "9", 2).status == ItemStatus.not_started
    _pair(engine, meetings_plan, PairStatus.active, date(2026, 11, 1), date(2027, 5, 31))
    _tick(engine, settings, meetings_plan, date(2026, 11, 1))
    assert _row(engine, meetings_plan, "9", 2).status == ItemStatus.skipped
    # November has pairs at work: its occurrence is reminded, then overdue like any other row.
    for day in (date(2026, 11, 27), date(2026, 11, 30), date(2026, 12, 1)):
        _tick(engine, settings, meetings_plan, day)
    november = _row(engine, meetings_plan, "9", 3)
    assert november.status == ItemStatus.overdue
    kinds = {k.split(":")[2] for k in _keys(engine) if k.startswith(f"roadmap:{november.id}:")}
    assert {"before", "due", "overdue"} <= kinds
    with Session(engine) as session:
        audited = session.exec(
            select(AuditEvent).where(AuditEvent.entity == f"planitem:{september.id}")
        ).all()
    assert [e.details["reason"] for e in audited] == [plan.NO_PAIRS_NOTE]


def test_the_meetings_stage_is_done_when_every_pairs_term_is_over(
    engine: Engine, settings: Settings, meetings_plan
) -> None:
    _tick(engine, settings, meetings_plan, date(2026, 10, 15))
    assert _row(engine, meetings_plan, "10").status == ItemStatus.not_started  # no pair yet
    _pair(engine, meetings_plan, PairStatus.active, date(2026, 11, 1), date(2027, 5, 31))
    _pair(engine, meetings_plan, PairStatus.terminated, date(2026, 11, 1), date(2027, 1, 20))
    _tick(engine, settings, meetings_plan, date(2027, 2, 1))
    stage = _row(engine, meetings_plan, "10")
    assert stage.status == ItemStatus.in_progress and stage.actual_start == date(2026, 11, 1)
    with Session(engine) as session:
        for pair in session.exec(select(MentorshipPair)).all():
            pair.status = (
                PairStatus.terminated if pair.status == PairStatus.terminated else PairStatus.ended
            )
            session.add(pair)
        session.commit()
    _tick(engine, settings, meetings_plan, date(2027, 6, 1))
    stage = _row(engine, meetings_plan, "10")
    assert (stage.status, stage.actual_finish) == (ItemStatus.done, date(2027, 5, 31))


@pytest.mark.parametrize(
    ("responsible", "roles"),
    [
        (["Директор заместители директора"], ["director", "curator"]),  # seed school №7
        (["Заместители директора школы", "кураторы"], ["curator"]),
        (["Директор"], ["director"]),
        (["Куратор", "Директор"], ["curator", "director"]),
        ([], ["curator"]),
    ],
)
def test_who_is_written_to_for_an_item(responsible: list[str], roles: list[str]) -> None:
    from models import Organization

    org = Organization(
        code="s",
        name="Школа",
        short_name="Школа",
        director_name="Директор Д. Д.",
        director_email="d@x.example",
        curator_name="Куратор К. К.",
        curator_email="c@x.example",
    )
    assert [r.role for r in tick.recipients_for(org=org, responsible=responsible)] == roles
