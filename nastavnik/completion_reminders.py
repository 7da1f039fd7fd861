"""Reminders of the completion stage: reports due, and the overdue list to the curator (no Prefect).

The same mechanism as the tick's items and the meetings' reminders (nastavnik.tick,
nastavnik.meeting_reminders): the report's due date, the organisation's tick.ReminderPolicy and
tick.reminder_kinds() decide what goes out today — «before» within the reminder window, «due»
on the day, «overdue» after it, «escalate-curator» once the curator's days have passed — and
every message is keyed by the pair, the participant, the due date and the kind, so each kind
goes out once per due date however often the day is run. The participant's mail carries their
personal link to the report's page; the curator gets one mail per due date naming who is late.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from models import Organization, Participant, Person
from nastavnik import completion, links, tick
from nastavnik.progress import chunks, cycle_policy
from nastavnik.settings import Settings


def reminder_key(*, pair_id: uuid.UUID, participant_id: uuid.UUID, due: date, kind: str) -> str:
    """The outbox key of one reminder: once per report, due date and kind."""
    return f"completion-report:{pair_id}:{participant_id}:{due.isoformat()}:{kind}"


def escalation_key(*, cycle_id: uuid.UUID, due: date) -> str:
    """The outbox key of the curator's overdue list for one due date."""
    return f"completion-reports-escalation:{cycle_id}:{due.isoformat()}:curator"


def _report_urls(
    session: Session,
    settings: Settings,
    *,
    wanted: list[tuple[uuid.UUID, uuid.UUID]],
    now: datetime,
) -> dict[tuple[uuid.UUID, uuid.UUID], str]:
    """Each (participant, pair)'s report page, "" when the link is closed (a pair ended by
    order)."""
    return links.personal_urls(
        session=session,
        secret=settings.approval_secret(),
        base_url=settings.web_base_url,
        timezone=ZoneInfo(settings.timezone),
        wanted=wanted,
        now=now,
        path="/completion",
    )


def queue_reminders(
    *, session: Session, settings: Settings, cycle_id: uuid.UUID, today: date, now: datetime
) -> list[uuid.UUID]:
    """Reminders about the §2.13–§2.14 reports due today; the ids of the messages queued now."""
    cycle, rules = cycle_policy(session=session, cycle_id=cycle_id)
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    policy = tick.reminder_policy(rules)
    curator = tick.Recipient("curator", org.curator_name, org.curator_email)
    base: dict[str, object] = {"organization": org, "cycle": cycle}
    missing = [
        e
        for e in completion.expected_reports(session=session, cycle_id=cycle_id, today=today)
        if e.report is None
    ]
    people: dict[uuid.UUID, Person] = {}
    for ids in chunks(list({e.participant_id for e in missing})):
        for participant_id, found in session.exec(
            select(Participant.id, Person)
            .join(Person, col(Person.id) == col(Participant.person_id))
            .where(col(Participant.id).in_(ids))
        ):
            people[participant_id] = found
    by_due: dict[date, list[completion.ExpectedReport]] = defaultdict(list)
    for item in missing:
        by_due[item.due_on].append(item)
    batch = tick.MailBatch()
    for due, items in sorted(by_due.items()):
        kinds = tick.reminder_kinds(due=due, today=today, policy=policy, ladder=["curator"])
        if not kinds:
            continue
        personal = [k for k in kinds if not k.startswith("escalate-")]
        keys = {
            (item.pair_id, item.participant_id, kind): reminder_key(
                pair_id=item.pair_id, participant_id=item.participant_id, due=due, kind=kind
            )
            for item in items
            for kind in personal
        }
        sent = tick.queued_keys(session, list(keys.values()))
        to_remind = [
            (item, person, unsent)
            for item in items
            if (person := people.get(item.participant_id)) is not None
            and person.email
            and (
                unsent := [
                    kind
                    for kind in personal
                    if keys[(item.pair_id, item.participant_id, kind)] not in sent
                ]
            )
        ]
        urls = _report_urls(
            session,
            settings,
            wanted=[(item.participant_id, item.pair_id) for item, _, _ in to_remind],
            now=now,
        )
        for item, person, unsent in to_remind:
            url = urls[(item.participant_id, item.pair_id)]
            for kind in unsent:
                batch.add(
                    key=keys[(item.pair_id, item.participant_id, kind)],
                    to=tick.Recipient(item.role.value, person.full_name, person.email),
                    template="completion_report_reminder",
                    context={
                        **base,
                        "kind": kind,
                        "due": due,
                        "ended_on": item.ended_on,
                        "what": completion.ROLE_REPORT_RU[item.role],
                        "link": url,
                    },
                )
        if "escalate-curator" in kinds:
            batch.add(
                key=escalation_key(cycle_id=cycle_id, due=due),
                to=curator,
                template="completion_reports_escalation",
                context={
                    **base,
                    "due": due,
                    "days_overdue": (today - due).days,
                    "rows": sorted(
                        (
                            people[e.participant_id].full_name,
                            completion.ROLE_REPORT_RU[e.role],
                        )
                        for e in items
                        if e.participant_id in people
                    ),
                },
            )
    session.flush()
    return batch.queue(session)
