"""The daily tick's rules: what is due today for one cycle (no Prefect; DESIGN §7).

One call looks at the plan, the database and the day, brings every row's status up to date, and
says which stage flows to start; it queues reminders, escalations, approval reminders and
reissued codes through the outbox. Every message has an idempotency key built from the row or
request and the kind of message, so running the tick twice on one day sends nothing twice; the
state it changes lives in the database, so a tick that skipped days catches up on the next.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlmodel import Session, col, select

from models import (
    CLOSED_STATUSES,
    ApprovalRequest,
    ApprovalStatus,
    Cycle,
    Organization,
    OutboxMessage,
    Participant,
    PlanItem,
    Role,
)
from nastavnik import approval_mail, approvals, completion, mail, pairs, plan, report_requests
from nastavnik.plan import STAGE_APPROVALS, StatusChange
from nastavnik.policy import OrganisationPolicy, get_policy
from nastavnik.progress import chunks
from nastavnik.roadmap import CompletionKind, Stage, WindowKind
from nastavnik.settings import Settings
from nastavnik.stages import missing_prerequisites, pair_term

# Stages the tick can start as deployed flows; items of other stages are reported as not built.
RUNNABLE_STAGES: tuple[str, ...] = (
    Stage.preparation,
    Stage.base_formation,
    Stage.training,
    Stage.pairing,
    Stage.completion,
    Stage.final_event,
    Stage.department,
)

FINAL_EVENT_AFTER_DAYS = 14
"""The final event started by the tick is held two weeks after its orders are drafted."""

STAGE_RU = {
    Stage.preparation: "Подготовка",
    Stage.base_formation: "Формирование базы",
    Stage.training: "Обучение наставников",
    Stage.pairing: "Формирование пар",
    Stage.meetings: "Встречи",
    Stage.completion: "Завершение",
    Stage.final_event: "Итоговое мероприятие",
    Stage.department: "Уровень муниципалитета",
}

ROLE_RU = {"director": "директор", "curator": "куратор", "department": "отдел образования"}


@dataclass(frozen=True)
class ReminderPolicy:
    """When reminders and escalations go out (the organisation's policy sets these)."""

    remind_days_before: int = 3
    escalate_to_curator_after: int = 3  # days overdue
    escalate_to_director_after: int = 7
    approval_remind_every: int = 3  # days a decision has waited, and again every as many days
    approval_escalate_after: int = 7
    # a department's requests to its members (nastavnik.report_requests)
    report_escalate_to_director_after: int = 1
    report_escalate_to_department_after: int = 7

    def report_reminders(self) -> report_requests.ReportReminders:
        """When a department chases its members' reports."""
        return report_requests.ReportReminders(
            remind_days_before=self.remind_days_before,
            escalate_to_director_after=self.report_escalate_to_director_after,
            escalate_to_department_after=self.report_escalate_to_department_after,
        )


def reminder_policy(policy: OrganisationPolicy) -> ReminderPolicy:
    """The organisation's reminder and escalation settings; a waiting decision is reminded as
    often as an item ahead of its due date, and reaches the curator when an item would reach the
    director."""
    return ReminderPolicy(
        remind_days_before=policy.reminder_days_before_due,
        escalate_to_curator_after=policy.escalate_to_curator_after_days,
        escalate_to_director_after=policy.escalate_to_director_after_days,
        approval_remind_every=policy.reminder_days_before_due,
        approval_escalate_after=policy.escalate_to_director_after_days,
        report_escalate_to_director_after=policy.report_escalate_to_director_after_days,
        report_escalate_to_department_after=policy.report_escalate_to_department_after_days,
    )


@dataclass(frozen=True)
class StageStart:
    """A stage flow the tick should start for a plan row."""

    item_id: uuid.UUID
    number: str
    stage: str


@dataclass
class TickOutcome:
    """What one tick did for one cycle."""

    day: date
    changes: list[StatusChange] = field(default_factory=list)
    starts: list[StageStart] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # why a due stage did not start
    message_ids: list[uuid.UUID] = field(default_factory=list)
    reissued: list[uuid.UUID] = field(default_factory=list)
    ended_pairs: list[uuid.UUID] = field(default_factory=list)
    opened_requests: list[uuid.UUID] = field(default_factory=list)  # a department's, to members


@dataclass(frozen=True)
class Recipient:
    role: str  # director, curator
    name: str
    email: str


_DEPUTY = re.compile(r"заместител\w*\s+директора")


def recipients_for(*, org: Organization, responsible: list[str]) -> list[Recipient]:
    """Who is written to for an item: the director if the director is named (deputies are not
    the director), the curator for everyone else — the curator coordinates deputies, teachers,
    psychologists and mentors. «Директор заместители директора» (seed school №7) is both."""
    roles: list[str] = []
    for who in responsible or ["куратор"]:
        others = _DEPUTY.sub(" ", who.lower())
        if "директор" in others:
            roles.append("director")
            others = others.replace("директор", " ")
        if others.strip(" ,.;") or _DEPUTY.search(who.lower()):
            roles.append("curator")
    return [_recipient(org, role) for role in dict.fromkeys(roles)]


def _recipient(org: Organization, role: str) -> Recipient:
    if role == "director":
        return Recipient("director", org.director_name, org.director_email)
    return Recipient("curator", org.curator_name, org.curator_email)


def escalation_ladder(responsible: list[Recipient]) -> list[str]:
    """Who an overdue item climbs to after its responsible: curator, then director."""
    named = {r.role for r in responsible}
    return [role for role in ("curator", "director") if role not in named]


def stage_inputs_missing(*, session: Session, cycle_id: uuid.UUID, stage: str) -> str | None:
    """Why a stage cannot start without people's inputs yet (None: it can start now)."""
    if stage == Stage.base_formation:
        roles = set(
            session.exec(select(Participant.role).where(Participant.cycle_id == cycle_id)).all()
        )
        missing = [
            label
            for role, label in ((Role.mentee, "наставляемых"), (Role.mentor, "наставников"))
            if role not in roles
        ]
        if missing:
            return "не загружены анкеты " + " и ".join(missing)
    return None


def stage_waits_for(*, session: Session, cycle_id: uuid.UUID, stage: str, today: date) -> str:
    """Why a stage due by its roadmap waits for the cycle's own dates ("" when it need not).

    The completion stage is one run per cycle that follows each pair from its end: it starts
    once every pair's §2.13–§2.14 reports are in or their deadline (counted from that pair's
    end) has passed, so a pair extended past the roadmap's June is in the year's order too.
    Meanwhile the reports come in and are reminded of pair by pair (completion_reminders)."""
    if stage == Stage.final_event:
        return _final_event_waits(session, cycle_id, today)
    if stage == Stage.pairing:
        return _pairing_waits(session, cycle_id, today)
    if stage != Stage.completion:
        return ""
    return completion.report_window(session=session, cycle_id=cycle_id, today=today).reason_ru


def _pairing_waits(session: Session, cycle_id: uuid.UUID, today: date) -> str:
    """Pairs are not fixed once the school year's pair term is over (their programme would end
    before it starts): the roadmap's pairing waits for the next year."""
    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    _, last = pair_term(school_year=cycle.school_year)
    if today < last:
        return ""
    return f"срок работы пар в {cycle.school_year} учебном году истёк ({last:%d.%m.%Y})"


# The final event sums up the pairs' year: not before the last month of their programmes.
FINAL_EVENT_LEAD_DAYS = 30


def _final_event_waits(session: Session, cycle_id: uuid.UUID, today: date) -> str:
    """Why the final event waits: its ranking reads the year's meetings, so a roadmap window
    opening in August («к 25 мая») does not hold it in November, while the pairs still work."""
    ends = [
        term.ends_on
        for term in plan.pair_terms(session=session, cycle_id=cycle_id)
        if term.ends_on is not None and not term.finished
    ]
    if not ends:
        return ""
    opens = min(ends) - timedelta(days=FINAL_EVENT_LEAD_DAYS)
    if today >= opens:
        return ""
    return (
        f"итоги года подводятся в конце программ: пары работают до {min(ends):%d.%m.%Y}, "
        f"этап — не раньше {opens:%d.%m.%Y}"
    )


def stage_started(session: Session, cycle_id: uuid.UUID, stage: str) -> bool:
    """Whether the stage has run in the cycle (it asked a decision, or the tick started it)."""
    asked = session.exec(
        select(ApprovalRequest.id).where(
            ApprovalRequest.cycle_id == cycle_id, ApprovalRequest.stage == stage
        )
    ).first()
    started_by_tick = session.exec(
        select(PlanItem.id).where(
            PlanItem.cycle_id == cycle_id,
            PlanItem.completion_stage == stage,
            col(PlanItem.flow_run_id).is_not(None),
        )
    ).first()
    return asked is not None or started_by_tick is not None


def _context(org: Organization, cycle: Cycle, settings: Settings) -> dict[str, object]:
    return {
        "organization": org,
        "cycle": cycle,
        "status_url": f"{settings.web_base_url.rstrip('/')}/roadmap/{cycle.id}",
    }


def _sent(session: Session, key: str) -> bool:
    """Whether the message was queued before (on an earlier tick, or earlier today)."""
    found = session.exec(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key))
    return found.first() is not None


def queued_keys(session: Session, keys: Sequence[str]) -> set[str]:
    """Which of these outbox keys were queued before, in one query per 500 keys: a day's
    reminders go over hundreds of pairs that were mostly reminded already, and a personal link
    is issued only for a message that goes out."""
    found: set[str] = set()
    for part in chunks(list(dict.fromkeys(keys))):
        found.update(
            session.exec(
                select(OutboxMessage.idempotency_key).where(
                    col(OutboxMessage.idempotency_key).in_(part)
                )
            ).all()
        )
    return found


class MailBatch:
    """Keyed templated messages queued together: which keys were queued before (an earlier
    tick, or earlier today) is asked in one query, and the new ones are inserted a few hundred
    per statement. The tick queues thousands of reminders a school-year; a query and an insert
    each took a third of its time (bench/department.py). Reminders key by the thing, its due
    date and the kind."""

    def __init__(self) -> None:
        self._drafts: dict[str, tuple[Recipient, str, dict[str, object]]] = {}

    def add(self, *, key: str, to: Recipient, template: str, context: dict[str, object]) -> None:
        """Queue the message under `key` with the batch, unless the key is queued already (the
        first message added under a key is the one kept)."""
        self._drafts.setdefault(key, (to, template, context))

    def queue(self, session: Session) -> list[uuid.UUID]:
        """Insert the messages whose keys were never queued; their ids, in the order added."""
        if not self._drafts:
            return []
        sent = queued_keys(session, list(self._drafts))
        new = [
            mail.TemplatedMessage(
                idempotency_key=key,
                to_addr=f"{to.name} <{to.email}>",
                template=template,
                context={**context, "recipient": to},
                recipient_role=to.role,
            )
            for key, (to, template, context) in self._drafts.items()
            if key not in sent
        ]
        self._drafts.clear()
        inserted = mail.insert_templated_many(session=session, messages=new)
        return [inserted[m.idempotency_key] for m in new if m.idempotency_key in inserted]


def reminder_kinds(
    *, due: date, today: date, policy: ReminderPolicy, ladder: Sequence[str]
) -> list[str]:
    """The reminders due today for something due on `due`: «before» within the reminder window,
    «due» on the day, «overdue» after it, and «escalate-<role>» for each role of the ladder
    (curator, director) whose days overdue have passed. Each kind goes out once: callers key
    their messages by the thing, its due date and the kind."""
    if due - timedelta(days=policy.remind_days_before) <= today < due:
        return ["before"]
    if today == due:
        return ["due"]
    if today < due:
        return []
    overdue = (today - due).days
    thresholds = {
        "curator": policy.escalate_to_curator_after,
        "director": policy.escalate_to_director_after,
    }
    return ["overdue", *(f"escalate-{role}" for role in ladder if overdue >= thresholds[role])]


def _item_reminders(
    batch: MailBatch,
    *,
    org: Organization,
    base: dict[str, object],
    item: PlanItem,
    today: date,
    policy: ReminderPolicy,
) -> None:
    if item.status in CLOSED_STATUSES or item.planned_end is None:
        return
    if item.window_kind == WindowKind.on_demand:
        return
    due = item.planned_end
    if today < due - timedelta(days=policy.remind_days_before):
        return  # nothing due yet (most rows on most days)
    responsible = recipients_for(org=org, responsible=item.responsible)
    context = {**base, "item": item, "due": due, "days_overdue": max((today - due).days, 0)}
    kinds: list[tuple[str, list[Recipient]]] = [
        (kind, [_recipient(org, kind.removeprefix("escalate-"))])
        if kind.startswith("escalate-")
        else (kind, responsible)
        for kind in reminder_kinds(
            due=due, today=today, policy=policy, ladder=escalation_ladder(responsible)
        )
    ]
    for kind, people in kinds:
        for person in people:
            batch.add(
                key=f"roadmap:{item.id}:{kind}:{person.role}",
                to=person,
                template="roadmap_reminder",
                context={**context, "kind": kind},
            )


def _report_mail(
    session: Session, batch: MailBatch, *, item: PlanItem, today: date, policy: ReminderPolicy
) -> None:
    if item.status in CLOSED_STATUSES:
        return
    for message in report_requests.mail_due(
        session=session, item=item, today=today, reminders=policy.report_reminders()
    ):
        batch.add(
            key=message.key,
            to=Recipient(message.to.role, message.to.name, message.to.email),
            template=message.template,
            context=message.context,
        )


def _approval_reminders(
    session: Session,
    outcome: TickOutcome,
    batch: MailBatch,
    *,
    settings: Settings,
    org: Organization,
    base: dict[str, object],
    cycle_id: uuid.UUID,
    now: datetime,
    policy: ReminderPolicy,
) -> None:
    pending = session.exec(
        select(ApprovalRequest).where(
            ApprovalRequest.cycle_id == cycle_id,
            ApprovalRequest.status == ApprovalStatus.pending,
        )
    ).all()
    for request in pending:
        if approvals.is_expired(request=request, now=now):
            request, message = approval_mail.reissue_with_mail(
                session=session, settings=settings, request_id=request.id, actor="tick", now=now
            )
            outcome.reissued.append(request.id)
            outcome.message_ids.append(message.id)
            continue
        requested = request.requested_at
        if requested.tzinfo is None:
            requested = requested.replace(tzinfo=now.tzinfo)
        waited = (now - requested).days
        if policy.approval_remind_every > 0 and waited >= policy.approval_remind_every:
            round_no = waited // policy.approval_remind_every
            key = approval_mail.idempotency_key(request=request, reminder_round=round_no)
            if not _sent(session, key):
                message = approval_mail.enqueue_request_mail(
                    session=session,
                    settings=settings,
                    request=request,
                    reminder=(round_no, waited),
                )
                outcome.message_ids.append(message.id)
        if waited >= policy.approval_escalate_after:
            batch.add(
                key=f"approval-escalate:{request.id}:curator",
                to=_recipient(org, "curator"),
                template="approval_escalation",
                context={**base, "request": request, "days_waiting": waited},
            )


def run_tick(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    today: date,
    now: datetime,
    policy: ReminderPolicy | None = None,
) -> TickOutcome:
    """Do what is due today for one cycle; the same day twice changes and sends nothing more.
    Reminders follow the organisation's policy unless a policy is given."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    policy = policy or reminder_policy(get_policy(session=session, organization_id=org.id))
    outcome = TickOutcome(day=today)
    batch = MailBatch()
    # Pairs past their end date end first (by organisation: last year's cycle gets no ticks).
    outcome.ended_pairs = pairs.end_due_pairs(
        session=session, today=today, organization_id=org.id, actor="tick"
    )
    # A department's reports items open their requests first, so the plan sees them today.
    rows = plan.plan_items(session=session, cycle_id=cycle_id)
    for item in rows:
        opened = report_requests.open_requests(session=session, item=item, today=today)
        outcome.opened_requests.extend(request.id for request in opened)
    outcome.changes = plan.refresh(session=session, cycle_id=cycle_id, today=today, rows=rows)
    base = _context(org, cycle, settings)
    planned_starts: set[str] = set()
    terms: list[plan.PairTerm] | None = None  # the pairs' terms, read for the meetings stage
    for item in rows:
        if item.completion_kind == CompletionKind.reports:
            # the members are chased, not the department that asks them
            _report_mail(session, batch, item=item, today=today, policy=policy)
            continue
        stage = item.completion_stage
        if (
            item.completion_kind == CompletionKind.stage
            and stage in RUNNABLE_STAGES
            and stage in STAGE_APPROVALS
            # «в течение учебного года» shows in progress from its window's start: still not run
            and item.status not in CLOSED_STATUSES
            and item.flow_run_id is None
            and item.planned_start is not None
            and item.planned_start <= today
            and stage not in planned_starts
            and not stage_started(session, cycle_id, stage)
        ):
            missing = missing_prerequisites(session=session, cycle_id=cycle_id, stage=stage)
            lacking = stage_inputs_missing(session=session, cycle_id=cycle_id, stage=stage)
            waits = stage_waits_for(session=session, cycle_id=cycle_id, stage=stage, today=today)
            if missing:
                reasons = "; ".join(p.what_ru for p in missing)
                outcome.waiting.append(f"{item.number}: {reasons}")
            elif waits:
                # No mail: the participants' reminders and the curator's overdue list go out
                # pair by pair; the plan shows the item waiting with this reason.
                outcome.waiting.append(f"{item.number}: {waits}")
            elif lacking:
                outcome.waiting.append(f"{item.number}: {lacking}")
                for person in recipients_for(org=org, responsible=item.responsible):
                    batch.add(
                        key=f"roadmap:{item.id}:inputs:{person.role}",
                        to=person,
                        template="roadmap_inputs",
                        context={
                            **base,
                            "item": item,
                            "missing": lacking,
                            "stage_ru": STAGE_RU.get(Stage(stage), stage),
                        },
                    )
            else:
                planned_starts.add(stage)
                outcome.starts.append(StageStart(item.id, item.number, stage))
        if item.stage == Stage.meetings and item.status not in CLOSED_STATUSES:
            terms = plan.pair_terms(session=session, cycle_id=cycle_id) if terms is None else terms
            if plan.waits_for_pairs(item, terms, today):
                continue
        _item_reminders(batch, org=org, base=base, item=item, today=today, policy=policy)
    _approval_reminders(
        session,
        outcome,
        batch,
        settings=settings,
        org=org,
        base=base,
        cycle_id=cycle_id,
        now=now,
        policy=policy,
    )
    outcome.message_ids.extend(batch.queue(session))
    session.flush()
    return outcome


def stage_parameters(
    *, session: Session, cycle_id: uuid.UUID, stage: str, day: date
) -> dict[str, dict[str, str]]:
    """The parameters a stage flow is started with by the tick: one `params` model each."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    params: dict[str, str] = {
        "organization_code": org.code,
        "school_year": cycle.school_year,
        "reference_date": day.isoformat(),
    }
    if stage == Stage.preparation:
        cycle_plan = plan.get_plan(session=session, cycle_id=cycle_id)
        params["roadmap_file"] = cycle_plan.roadmap_file if cycle_plan else ""
    if stage == Stage.final_event:
        # The curator can start it by hand with a date and a place; started by the roadmap, it
        # is held in the organisation's assembly hall two weeks on.
        params["event_date"] = (day + timedelta(days=FINAL_EVENT_AFTER_DAYS)).isoformat()
        params["place"] = f"актовый зал, {org.short_name}"
    return {"params": params}


# The deployed flow that runs one stage for several organisations (flows/batch.py).
BATCH_DEPLOYMENT = "stage-batch/stage-batch"


@dataclass(frozen=True)
class DueStart:
    """A stage the tick starts today for one organisation's plan row, with its parameters."""

    cycle_id: uuid.UUID
    start: StageStart
    params: dict[str, str]


def batches(starts: list[DueStart], *, max_size: int) -> list[list[DueStart]]:
    """The day's starts grouped by stage, in the order first due, each stage's split into runs
    of at most ``max_size`` organisations: a group of several runs as a batch run, a group of one
    as the stage's own run."""
    grouped: dict[str, list[DueStart]] = {}
    for due in starts:
        grouped.setdefault(due.start.stage, []).append(due)
    return [chunk for group in grouped.values() for chunk in split_evenly(group, max_size)]


T = TypeVar("T")


def split_evenly(items: list[T], max_size: int) -> list[list[T]]:
    """The items in order, in the fewest runs of at most ``max_size``, their sizes within one of
    each other (21 by 10: 7, 7, 7), so the workers running them finish together."""
    if not items:
        return []
    runs = -(-len(items) // max_size)
    size, larger = divmod(len(items), runs)
    chunks, start = [], 0
    for number in range(runs):
        end = start + size + (1 if number < larger else 0)
        chunks.append(items[start:end])
        start = end
    return chunks


def batch_idempotency_key(group: list[DueStart]) -> str:
    """The same key for the same rows (a tick run twice gets the same run back)."""
    items = ",".join(sorted(str(due.start.item_id) for due in group))
    digest = hashlib.sha256(items.encode()).hexdigest()[:32]
    return f"tick-batch:{group[0].start.stage}:{digest}"


def batch_label(stage: str, members: list[dict[str, object]]) -> tuple[str, list[str]]:
    """A batch run's name and tags: «3 орг. · 2026/2027 · pairing», and every member's code
    among the tags, so filtering the Prefect UI by a school finds its batch runs too."""
    orgs = sorted({str(m["organization_code"]) for m in members})
    years = sorted({str(m["school_year"]) for m in members})
    return f"{len(orgs)} орг. · {', '.join(years)} · {stage}", [*orgs, *years, stage, "batch"]


def report_batch_key(request_keys: list[str]) -> str:
    """The idempotency key of a batch of organisation reports (the same requests, the same)."""
    digest = hashlib.sha256(",".join(sorted(request_keys)).encode()).hexdigest()[:32]
    return f"organisation-report-batch:{digest}"
