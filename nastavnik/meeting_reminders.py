"""Reminders of the meetings stage: mentors without logs in the month, mentees with feedback
due, and the escalation to the curator (no Prefect).

The same mechanism as the tick's plan items (nastavnik.tick): the due date, the organisation's
tick.ReminderPolicy and tick.reminder_kinds() decide what goes out today, and every message is
keyed by what it is about, its due date and its kind, so a day run twice sends nothing twice.
Mails to mentors and mentees carry their personal link (DESIGN §11).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from models import (
    MeetingFeedback,
    MeetingLog,
    MentorshipPair,
    Organization,
    PairMember,
    Participant,
    Person,
)
from nastavnik import links, pairs, tick
from nastavnik.meetings import FEEDBACK_REQUIRED, KIND_LABEL_RU
from nastavnik.programmes import month_label
from nastavnik.progress import (
    chunks,
    cycle_policy,
    month_end,
    month_start,
    pairs_of_month,
    previous_month,
)
from nastavnik.settings import Settings

# ---------------------------------------------------------------------------------------------
# Reminders: mentors without logs in the month, mentees with feedback due
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    name: str
    email: str


def _people(session: Session, participant_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, _Person]:
    found = {}
    for ids in chunks(list(set(participant_ids))):
        for participant_id, person in session.exec(
            select(Participant.id, Person)
            .join(Person, col(Person.id) == col(Participant.person_id))
            .where(col(Participant.id).in_(ids))
        ):
            found[participant_id] = _Person(person.full_name, person.email)
    return found


def _pair_mentees(
    session: Session, pair_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Each pair's mentees (a group pair has several)."""
    mentees: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for ids in chunks(list(set(pair_ids))):
        for pair_id, mentee_id in session.exec(
            select(PairMember.pair_id, PairMember.mentee_id).where(col(PairMember.pair_id).in_(ids))
        ):
            mentees[pair_id].append(mentee_id)
    return mentees


def _mentee_names(session: Session, pair_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Each pair's mentees' names, sorted: how a mentor tells their pairs apart."""
    mentees = _pair_mentees(session, pair_ids)
    people = _people(session, (m for ids in mentees.values() for m in ids))
    return {
        pair_id: sorted(people[m].name for m in ids if m in people)
        for pair_id, ids in mentees.items()
    }


def _mentees_and_feedback(
    session: Session, meetings: Sequence[tuple[MeetingLog, MentorshipPair]], *, as_of: date
) -> tuple[dict[uuid.UUID, list[uuid.UUID]], set[tuple[uuid.UUID, uuid.UUID]]]:
    """The pairs' mentees, and the (meeting, mentee) feedback given on these meetings by as_of."""
    mentees = _pair_mentees(session, (pair.id for _, pair in meetings))
    given: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for ids in chunks([log.id for log, _ in meetings]):
        given.update(
            session.exec(
                select(MeetingFeedback.meeting_id, MeetingFeedback.mentee_id).where(
                    col(MeetingFeedback.meeting_id).in_(ids), MeetingFeedback.given_on <= as_of
                )
            ).all()
        )
    return mentees, given


def _personal_urls(
    session: Session,
    settings: Settings,
    *,
    wanted: list[tuple[uuid.UUID, uuid.UUID]],
    now: datetime,
    path: str = "",
) -> dict[tuple[uuid.UUID, uuid.UUID], str]:
    """Each (participant, pair)'s personal link (DESIGN §11), "" when the pair has no page."""
    return links.personal_urls(
        session=session,
        secret=settings.approval_secret(),
        base_url=settings.web_base_url,
        timezone=ZoneInfo(settings.timezone),
        wanted=wanted,
        now=now,
        path=path,
    )


def queue_reminders(
    *, session: Session, settings: Settings, cycle_id: uuid.UUID, today: date, now: datetime
) -> list[uuid.UUID]:
    """Reminders due today, the ids of the messages queued now (none twice: keyed by the pair or
    meeting, its due date and the kind, as the tick's item reminders).

    Logs of a month are due on its last day (the report is assembled from them): a mentor with
    no meeting recorded in the month is reminded before, on and after that day; feedback on a
    joint-work or final meeting is due `meeting_feedback_days` after it. Both escalate to the
    curator after `escalate_to_curator_after_days`, in one mail per due date listing who is
    missing. The days come from the organisation's policy, read as tick.ReminderPolicy."""
    cycle, rules = cycle_policy(session=session, cycle_id=cycle_id)
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    policy = tick.reminder_policy(rules)
    curator = tick.Recipient("curator", org.curator_name, org.curator_email)
    base: dict[str, object] = {"organization": org, "cycle": cycle}
    batch = tick.MailBatch()

    # Mentors: the current month (reminders before its end) and the previous one (on and after).
    current = month_start(today)
    for month in (previous_month(current), current):
        due = month_end(month)
        kinds = tick.reminder_kinds(due=due, today=today, policy=policy, ladder=["curator"])
        if not kinds:
            continue
        going_on = [
            p
            for p in pairs_of_month(session=session, cycle_id=cycle_id, month=month)
            if p.status in pairs.ONGOING
        ]
        with_logs: set[uuid.UUID] = set()
        for ids in chunks([p.id for p in going_on]):
            with_logs.update(
                session.exec(
                    select(MeetingLog.pair_id).where(
                        col(MeetingLog.pair_id).in_(ids),
                        MeetingLog.held_on >= month,
                        MeetingLog.held_on <= due,
                    )
                ).all()
            )
        silent = [p for p in going_on if p.id not in with_logs]
        people = _people(session, (p.mentor_id for p in silent))
        context = {**base, "month_label": month_label(month), "due": due}
        personal = [k for k in kinds if not k.startswith("escalate-")]
        # One reminder per mentor and due date, listing each silent pair with its page: a
        # mentor of three mentees got three alike before (≈3 000 mails a school-year).
        by_mentor: dict[uuid.UUID, list[MentorshipPair]] = defaultdict(list)
        for pair in silent:
            by_mentor[pair.mentor_id].append(pair)
        log_keys = {
            (mentor_id, kind): f"meetings-logs:{mentor_id}:{due.isoformat()}:{kind}:mentor"
            for mentor_id in by_mentor
            for kind in personal
        }
        sent = tick.queued_keys(session, list(log_keys.values()))
        to_remind: list[tuple[uuid.UUID, _Person, list[str]]] = []
        for mentor_id in by_mentor:
            mentor = people.get(mentor_id)
            unsent = [kind for kind in personal if log_keys[(mentor_id, kind)] not in sent]
            if mentor is not None and mentor.email and unsent:
                to_remind.append((mentor_id, mentor, unsent))
        reminded_pairs = [p for mentor_id, _, _ in to_remind for p in by_mentor[mentor_id]]
        urls = _personal_urls(
            session, settings, wanted=[(p.mentor_id, p.id) for p in reminded_pairs], now=now
        )
        mentee_names = _mentee_names(session, [p.id for p in reminded_pairs])
        for mentor_id, mentor, unsent in to_remind:
            listed = [
                {
                    "mentees": ", ".join(mentee_names.get(pair.id, [])),
                    "link": urls[(mentor_id, pair.id)],
                }
                for pair in by_mentor[mentor_id]
            ]
            listed.sort(key=lambda row: row["mentees"])
            for kind in unsent:
                batch.add(
                    key=log_keys[(mentor_id, kind)],
                    to=tick.Recipient("mentor", mentor.name, mentor.email),
                    template="meeting_logs_reminder",
                    context={**context, "kind": kind, "pairs": listed},
                )
        if "escalate-curator" in kinds and silent:
            batch.add(
                key=f"meetings-logs-escalation:{cycle_id}:{due.isoformat()}:curator",
                to=curator,
                template="meetings_escalation",
                context={
                    **context,
                    "what": "logs",
                    "days_overdue": (today - due).days,
                    "names": sorted(
                        people[p.mentor_id].name for p in silent if p.mentor_id in people
                    ),
                },
            )

    # Mentees: feedback due on meetings recent enough to still be reminded or escalated.
    feedback_days = rules.meeting_feedback_days
    oldest = today - timedelta(days=feedback_days + policy.escalate_to_curator_after)
    recent = session.exec(
        select(MeetingLog, MentorshipPair)
        .join(MentorshipPair, col(MentorshipPair.id) == col(MeetingLog.pair_id))
        .where(
            MentorshipPair.cycle_id == cycle_id,
            col(MentorshipPair.status).in_(links.PAIRS_WITH_PAGES + pairs.ONGOING),
            col(MeetingLog.kind).in_(FEEDBACK_REQUIRED),
            MeetingLog.held_on >= oldest,
            MeetingLog.held_on <= today,
        )
        .order_by(col(MeetingLog.held_on), col(MeetingLog.id))
    ).all()
    # The recent meetings' mentees and feedback only: the pairs' whole logs and programmes
    # (progress.load_pairs) are not needed to know who still owes an answer.
    mentees, given = _mentees_and_feedback(session, recent, as_of=today)
    owed: dict[date, list[tuple[MeetingLog, MentorshipPair, uuid.UUID]]] = defaultdict(list)
    for log, pair in recent:
        for owing in mentees.get(pair.id, []):
            if (log.id, owing) not in given:
                owed[log.held_on + timedelta(days=feedback_days)].append((log, pair, owing))
    people = _people(session, (m for items in owed.values() for _, _, m in items))
    for due, items in sorted(owed.items()):
        kinds = tick.reminder_kinds(due=due, today=today, policy=policy, ladder=["curator"])
        personal = [k for k in kinds if not k.startswith("escalate-")]
        feedback_keys = {
            (log.id, mentee_id, kind): (
                f"meeting-feedback:{log.id}:{mentee_id}:{due.isoformat()}:{kind}:mentee"
            )
            for log, _, mentee_id in items
            for kind in personal
        }
        sent = tick.queued_keys(session, list(feedback_keys.values()))
        reminding: list[tuple[MeetingLog, MentorshipPair, uuid.UUID, _Person, list[str]]] = []
        for log, pair, mentee_id in items:
            mentee = people.get(mentee_id)
            missed = [k for k in personal if feedback_keys[(log.id, mentee_id, k)] not in sent]
            if mentee is not None and mentee.email and missed:
                reminding.append((log, pair, mentee_id, mentee, missed))
        urls = _personal_urls(
            session, settings, wanted=[(m, pair.id) for _, pair, m, _, _ in reminding], now=now
        )
        for log, pair, mentee_id, mentee, missed in reminding:
            url = urls[(mentee_id, pair.id)]
            for kind in missed:
                batch.add(
                    key=feedback_keys[(log.id, mentee_id, kind)],
                    to=tick.Recipient("mentee", mentee.name, mentee.email),
                    template="meeting_feedback_reminder",
                    context={
                        **base,
                        "kind": kind,
                        "due": due,
                        "held_on": log.held_on,
                        "kind_ru": KIND_LABEL_RU[log.kind],
                        "link": url,
                    },
                )
        if "escalate-curator" in kinds:
            batch.add(
                key=f"meeting-feedback-escalation:{cycle_id}:{due.isoformat()}:curator",
                to=curator,
                template="meetings_escalation",
                context={
                    **base,
                    "what": "feedback",
                    "due": due,
                    "days_overdue": (today - due).days,
                    "names": sorted({people[m].name for _, _, m in items if m in people}),
                },
            )
    session.flush()
    return batch.queue(session)
