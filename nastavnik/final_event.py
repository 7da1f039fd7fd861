"""The final event's ranking of mentors and the curator's nominations for a reward (no Prefect).

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §2.16: «В целях поощрения
наставника … работодатель вправе предусмотреть: объявление благодарности, награждение почетной
грамотой организации, вручение ценного подарка; материальное поощрение»; §3.1 the director
«вносит предложения о поощрении наставника». The ranking only advises: the curator nominates,
and a choice other than the recommendation needs a comment.

How a mentor's score is made (0–100, shown to the curator with every figure behind it):

=============================  ======  ==========================================================
criterion                      weight  value (0…1)
=============================  ======  ==========================================================
meetings held vs planned         30    held ÷ planned by the personal programmes, at most 1
mentees' mean meeting rating     25    (rating − 1) ÷ 4 on the feedback's 1–5 scale
monthly reports on time (§4.2)   20    reports confirmed by the policy's day of the next month
                                       ÷ reports already due
mean satisfaction                15    (satisfaction − 1) ÷ 9 on the completion questionnaire's
                                       1–10 scale (mentees' satisfaction with the pair)
pairs completed                  10    pairs ended on their end date ÷ the mentor's pairs
=============================  ======  ==========================================================

Why these weights: the regulation asks above all that the programme is carried out (meetings)
and that the mentee benefits (the mentees' own ratings); reporting discipline comes next; the
satisfaction questionnaire is newer and coarser; «pairs completed» is mostly outside the
mentor's control (a mentee moves away), so it weighs least. A criterion with no data (no
programme yet, no report due, no questionnaire) is left out and the others are rescaled, and
the reasons say so: missing data is neither a zero nor a bonus.

Order: the score rounded to 0.1 (so float noise never decides), then more pairs completed,
more written feedback comments, more meetings held, the name (ё = е, case folded), the id. A
tie on the score says which of these decided it.

Recommendation: score ≥ 90 → почётная грамота, ≥ 75 → благодарность, when the mentor completed
at least one pair and had a planned meeting. A valuable gift and a bonus are never recommended:
they spend the school's money, which is the director's decision on the curator's proposal.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from models import (
    CompletionReport,
    MeetingFeedback,
    MentorNomination,
    MentorshipPair,
    MonthlyReport,
    MonthlyReportStatus,
    PairStatus,
    Participant,
    Person,
    RewardKind,
    Role,
)
from nastavnik import repository
from nastavnik.progress import chunks, cycle_policy, load_pairs, next_month

REWARD_LABEL_RU: dict[RewardKind, str] = {
    RewardKind.gratitude: "благодарность",
    RewardKind.honour_certificate: "почётная грамота",
    RewardKind.gift: "ценный подарок",
    RewardKind.bonus: "премия",
}
"""§2.16 in the order's words (the order «О поощрении наставников» prints these)."""

WEIGHT_MEETINGS = 30
WEIGHT_RATING = 25
WEIGHT_REPORTS = 20
WEIGHT_SATISFACTION = 15
WEIGHT_COMPLETED = 10
WEIGHTS_RU = (
    ("встречи по программе", WEIGHT_MEETINGS),
    ("оценка наставляемых", WEIGHT_RATING),
    ("доклады в срок", WEIGHT_REPORTS),
    ("удовлетворённость", WEIGHT_SATISFACTION),
    ("завершённые пары", WEIGHT_COMPLETED),
)

HONOUR_CERTIFICATE_FROM = 90.0
GRATITUDE_FROM = 75.0

# Pairs a mentor had in the cycle: everything fixed by an order, not drafts or dropped proposals.
COUNTED_STATUSES = (
    PairStatus.active,
    PairStatus.extended,
    PairStatus.ended,
    PairStatus.replaced,
    PairStatus.terminated,
)


class NominationRefused(ValueError):
    """The curator's nomination cannot be recorded (the message is Russian, for the curator)."""


@dataclass(frozen=True)
class MentorRecord:
    """A mentor's figures for the year: the ranking's only input.

    Built here from the meetings tables (mentor_records); the completion stage's per-mentor
    scorecard can fill it instead. None means «no data», never zero."""

    mentor_id: uuid.UUID  # the mentor's Participant id in the cycle
    full_name: str
    pairs_total: int
    pairs_completed: int
    meetings_held: int
    meetings_planned: int
    reports_due: int
    reports_on_time: int
    mean_mentee_rating: float | None
    mean_satisfaction: float | None
    feedback_comments: int
    ratings_count: int = 0

    @property
    def reports_on_time_share(self) -> float | None:
        return self.reports_on_time / self.reports_due if self.reports_due else None


@dataclass(frozen=True)
class RankedMentor:
    """A mentor's place in the ranking, the score, the reasons in Russian and the advice."""

    rank: int
    record: MentorRecord
    score: float
    reasons_ru: list[str] = field(default_factory=list)
    recommended: RewardKind | None = None

    @property
    def mentor_id(self) -> uuid.UUID:
        return self.record.mentor_id


def _decimal(value: float, digits: int) -> str:
    """3.5 → «3,5»: the Russian decimal comma."""
    return f"{value:.{digits}f}".replace(".", ",")


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def _points(weight: int, value: float) -> str:
    return f"{_decimal(weight * value, 1)} из {weight}"


def _criteria(record: MentorRecord) -> list[tuple[str, int, float | None, str]]:
    """(name, weight, value 0…1 or None, the figure in Russian) per criterion."""
    meetings = (
        min(1.0, record.meetings_held / record.meetings_planned)
        if record.meetings_planned
        else None
    )
    rating = (record.mean_mentee_rating - 1) / 4 if record.mean_mentee_rating is not None else None
    satisfaction = (
        (record.mean_satisfaction - 1) / 9 if record.mean_satisfaction is not None else None
    )
    reports = record.reports_on_time_share
    completed = record.pairs_completed / record.pairs_total if record.pairs_total else None
    return [
        (
            "встречи",
            WEIGHT_MEETINGS,
            meetings,
            f"проведено {record.meetings_held} из {record.meetings_planned} по программам "
            f"({_percent(record.meetings_held / record.meetings_planned)})"
            if record.meetings_planned
            else "плана встреч нет",
        ),
        (
            "оценка наставляемых",
            WEIGHT_RATING,
            rating,
            f"средняя {_decimal(record.mean_mentee_rating, 2)} из 5 ({record.ratings_count} отз.)"
            if record.mean_mentee_rating is not None
            else "отзывов нет",
        ),
        (
            "доклады в срок",
            WEIGHT_REPORTS,
            reports,
            f"{record.reports_on_time} из {record.reports_due}"
            if record.reports_due
            else "докладов к сроку не было",
        ),
        (
            "удовлетворённость",
            WEIGHT_SATISFACTION,
            satisfaction,
            f"{_decimal(record.mean_satisfaction, 2)} из 10 (анкеты наставляемых)"
            if record.mean_satisfaction is not None
            else "анкет нет",
        ),
        (
            "пары завершены",
            WEIGHT_COMPLETED,
            completed,
            f"{record.pairs_completed} из {record.pairs_total}"
            if record.pairs_total
            else "пар нет",
        ),
    ]


def score_mentor(record: MentorRecord) -> tuple[float, list[str]]:
    """The score (0–100, rounded to 0.1) and one Russian line per criterion."""
    total_weight = 0
    earned = 0.0
    reasons: list[str] = []
    missing: list[str] = []
    for name, weight, value, figure in _criteria(record):
        if value is None:
            missing.append(name)
            reasons.append(f"{name}: {figure} — не учитывается")
            continue
        total_weight += weight
        earned += weight * value
        reasons.append(f"{name}: {figure} → {_points(weight, value)} баллов")
    if not total_weight:
        return 0.0, [*reasons, "данных для оценки нет"]
    score = round(100 * earned / total_weight, 1)
    if missing:
        reasons.append(
            f"итог пересчитан на {total_weight} баллов из 100 (нет данных: {', '.join(missing)})"
        )
    return score, reasons


def recommend(record: MentorRecord, score: float) -> tuple[RewardKind | None, str]:
    """The advised reward and why, in Russian (see the module's docstring)."""
    if record.pairs_completed == 0:
        return None, "поощрение не предлагается: нет завершённых пар"
    if record.meetings_planned == 0:
        return None, "поощрение не предлагается: нет плана встреч"
    if score >= HONOUR_CERTIFICATE_FROM:
        return RewardKind.honour_certificate, (
            f"предлагается почётная грамота (балл не ниже {HONOUR_CERTIFICATE_FROM:.0f})"
        )
    if score >= GRATITUDE_FROM:
        return (
            RewardKind.gratitude,
            f"предлагается благодарность (балл не ниже {GRATITUDE_FROM:.0f})",
        )
    return None, f"поощрение не предлагается: балл ниже {GRATITUDE_FROM:.0f}"


def _name_key(name: str) -> str:
    return name.replace("ё", "е").replace("Ё", "Е").casefold()


def _order_key(item: tuple[MentorRecord, float]) -> tuple[object, ...]:
    record, score = item
    return (
        -score,
        -record.pairs_completed,
        -record.feedback_comments,
        -record.meetings_held,
        _name_key(record.full_name),
        str(record.mentor_id),
    )


def _tie_break_ru(upper: MentorRecord, lower: MentorRecord) -> str:
    for label, high, low in (
        ("завершённых пар", upper.pairs_completed, lower.pairs_completed),
        ("письменных отзывов", upper.feedback_comments, lower.feedback_comments),
        ("проведённых встреч", upper.meetings_held, lower.meetings_held),
    ):
        if high != low:
            return f"так как у того больше {label} ({high} против {low})"
    return "по алфавиту"


def rank_mentors(records: Sequence[MentorRecord]) -> list[RankedMentor]:
    """The mentors best first, each with the score, the reasons and the advised reward."""
    scored = sorted(((r, score_mentor(r)[0]) for r in records), key=_order_key)
    ranked: list[RankedMentor] = []
    for position, (record, score) in enumerate(scored, start=1):
        _, reasons = score_mentor(record)
        if position > 1 and scored[position - 2][1] == score:
            above = scored[position - 2][0]
            reasons.append(
                f"равный балл с «{above.full_name}»: ниже, {_tie_break_ru(above, record)}"
            )
        reward, why = recommend(record, score)
        ranked.append(
            RankedMentor(
                rank=position,
                record=record,
                score=score,
                reasons_ru=[*reasons, why],
                recommended=reward,
            )
        )
    return ranked


# ---------------------------------------------------------------------------------------------
# The figures from the meetings tables
# ---------------------------------------------------------------------------------------------


def _local_day(moment: datetime, timezone: tzinfo) -> date:
    # SQLite gives naive datetimes back: they were written in UTC.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(timezone).date()


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def mentor_records(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    as_of: date,
    timezone: tzinfo | None = None,
) -> list[MentorRecord]:
    """Every mentor of the cycle with a pair fixed by order, with the figures up to `as_of`.

    Planned meetings come from each pair's latest personal programme, held ones from the logs,
    ratings and comments from the mentees' feedback, reports from the §4.2 monthly reports (the
    report on a month is due on the policy's `mentor_report_day` of the next month and counts
    once that day has passed), satisfaction from the mentees' completion questionnaires
    (§2.14, «удовлетворённость парой», 1–10) handed in by `as_of` — none yet when the final event
    comes before the completion reports, and then the criterion is left out."""
    timezone = timezone or ZoneInfo("Europe/Moscow")
    _, rules = cycle_policy(session=session, cycle_id=cycle_id)
    pairs = session.exec(
        select(MentorshipPair).where(
            MentorshipPair.cycle_id == cycle_id,
            col(MentorshipPair.status).in_(COUNTED_STATUSES),
        )
    ).all()
    by_mentor: dict[uuid.UUID, list[MentorshipPair]] = defaultdict(list)
    for pair in pairs:
        by_mentor[pair.mentor_id].append(pair)
    pair_ids = [pair.id for pair in pairs]
    data = load_pairs(session=session, pair_ids=pair_ids, as_of=as_of)
    satisfaction: dict[uuid.UUID, list[int]] = defaultdict(list)
    for ids in chunks(pair_ids):
        for pair_id, score in session.exec(
            select(CompletionReport.pair_id, CompletionReport.satisfaction_pair).where(
                col(CompletionReport.pair_id).in_(ids),
                CompletionReport.role == Role.mentee,
                CompletionReport.submitted_on <= as_of,
            )
        ):
            satisfaction[pair_id].append(score)
    feedback: dict[uuid.UUID, list[MeetingFeedback]] = defaultdict(list)
    meeting_pair = {log.id: pair_id for pair_id, logs in data.logs.items() for log in logs}
    for ids in chunks(list(meeting_pair)):
        for item in session.exec(
            select(MeetingFeedback).where(
                col(MeetingFeedback.meeting_id).in_(ids), MeetingFeedback.given_on <= as_of
            )
        ):
            feedback[meeting_pair[item.meeting_id]].append(item)
    reports: dict[uuid.UUID, list[MonthlyReport]] = defaultdict(list)
    for ids in chunks(pair_ids):
        for report in session.exec(
            select(MonthlyReport).where(col(MonthlyReport.pair_id).in_(ids))
        ):
            reports[report.pair_id].append(report)
    names = {
        participant.id: person.full_name
        for participant, person in session.exec(
            select(Participant, Person).where(
                Participant.person_id == Person.id,
                Participant.cycle_id == cycle_id,
                Participant.role == Role.mentor,
            )
        )
    }
    records: list[MentorRecord] = []
    for mentor_id, mentor_pairs in by_mentor.items():
        planned = held = due = on_time = comments = 0
        ratings: list[int] = []
        for pair in mentor_pairs:
            programme = data.programmes.get(pair.id)
            planned += len(programme.meetings) if programme is not None else 0
            held += len(data.logs.get(pair.id, []))
            for item in feedback.get(pair.id, []):
                ratings.append(item.rating)
                comments += bool(item.comment.strip())
            for report in reports.get(pair.id, []):
                following = next_month(report.month)
                due_on = following.replace(day=rules.mentor_report_day)
                if due_on > as_of:
                    continue
                due += 1
                confirmed = report.status == MonthlyReportStatus.confirmed and (
                    report.confirmed_at is not None
                    and _local_day(report.confirmed_at, timezone) <= due_on
                )
                on_time += confirmed
        records.append(
            MentorRecord(
                mentor_id=mentor_id,
                full_name=names.get(mentor_id, ""),
                pairs_total=len(mentor_pairs),
                pairs_completed=sum(p.status == PairStatus.ended for p in mentor_pairs),
                meetings_held=held,
                meetings_planned=planned,
                reports_due=due,
                reports_on_time=on_time,
                mean_mentee_rating=round(sum(ratings) / len(ratings), 2) if ratings else None,
                mean_satisfaction=_mean(
                    [score for pair in mentor_pairs for score in satisfaction.get(pair.id, [])]
                ),
                feedback_comments=comments,
                ratings_count=len(ratings),
            )
        )
    return records


def cycle_ranking(
    *, session: Session, cycle_id: uuid.UUID, as_of: date, timezone: tzinfo | None = None
) -> list[RankedMentor]:
    """The cycle's ranking from the meetings tables (mentor_records → rank_mentors)."""
    return rank_mentors(
        mentor_records(session=session, cycle_id=cycle_id, as_of=as_of, timezone=timezone)
    )


# ---------------------------------------------------------------------------------------------
# Nominations
# ---------------------------------------------------------------------------------------------


def nominations(*, session: Session, cycle_id: uuid.UUID) -> list[MentorNomination]:
    """The cycle's nominations in force (not withdrawn), in ranking order."""
    rows = session.exec(
        select(MentorNomination).where(
            MentorNomination.cycle_id == cycle_id, col(MentorNomination.withdrawn).is_(False)
        )
    ).all()
    return sorted(rows, key=lambda n: (n.rank, str(n.mentor_id)))


def nominate(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    ranking: Sequence[RankedMentor],
    mentor_id: uuid.UUID,
    reward: RewardKind | None,
    nominated_by: str,
    today: date,
    comment: str = "",
) -> MentorNomination | None:
    """Record the curator's choice for a mentor: a reward, or None to nominate nobody.

    Following the ranking's advice needs no comment; any other choice (another reward, a
    mentor the ranking did not put forward, or leaving out one it did) needs one (§2.16: the
    decision is the school's, the ranking only advises). A bonus is a payment to an employee:
    refused for a pupil mentor. Choosing again replaces the choice; every choice is audited."""
    entry = next((r for r in ranking if r.mentor_id == mentor_id), None)
    if entry is None:
        raise NominationRefused("Этого наставника нет в рейтинге цикла: выдвинуть его нельзя.")
    overridden = reward != entry.recommended
    comment = comment.strip()
    if overridden and not comment:
        advised = REWARD_LABEL_RU[entry.recommended] if entry.recommended else "без поощрения"
        chosen = REWARD_LABEL_RU[reward] if reward else "без поощрения"
        raise NominationRefused(
            f"Выбор «{chosen}» расходится с рекомендацией рейтинга («{advised}»): "
            "укажите комментарий с обоснованием."
        )
    if reward == RewardKind.bonus:
        mentor = session.get(Participant, mentor_id)
        if mentor is not None and mentor.grade is not None:
            raise NominationRefused(
                "Премия — выплата стимулирующего характера работнику (п. 2.16 Положения): "
                "наставнику-обучающемуся её назначить нельзя, выберите другое поощрение."
            )
    existing = session.exec(
        select(MentorNomination).where(
            MentorNomination.cycle_id == cycle_id, MentorNomination.mentor_id == mentor_id
        )
    ).first()
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    if reward is None:
        if existing is not None and not existing.withdrawn:
            existing.withdrawn = True
            existing.comment = comment
            existing.overridden = overridden
            existing.nominated_by = nominated_by
            existing.nominated_on = today
            existing.updated_at = now
            session.add(existing)
        _audit(session, cycle_id, mentor_id, None, overridden, nominated_by, now)
        session.flush()
        return None
    nomination = existing or MentorNomination(
        cycle_id=cycle_id,
        mentor_id=mentor_id,
        reward=reward,
        rank=entry.rank,
        score=entry.score,
        nominated_by=nominated_by,
        nominated_on=today,
    )
    nomination.reward = reward
    nomination.recommended = entry.recommended
    nomination.rank = entry.rank
    nomination.score = entry.score
    nomination.overridden = overridden
    nomination.comment = comment
    nomination.nominated_by = nominated_by
    nomination.nominated_on = today
    nomination.withdrawn = False
    nomination.updated_at = now
    session.add(nomination)
    _audit(session, cycle_id, mentor_id, reward, overridden, nominated_by, now)
    session.flush()
    return nomination


def _audit(
    session: Session,
    cycle_id: uuid.UUID,
    mentor_id: uuid.UUID,
    reward: RewardKind | None,
    overridden: bool,
    actor: str,
    at: datetime,
) -> None:
    repository.record_audit(
        session=session,
        actor=actor,
        action="final_event.nominated" if reward else "final_event.withdrawn",
        cycle_id=cycle_id,
        entity=f"mentor:{mentor_id}",
        details={"reward": reward.value if reward else None, "overridden": overridden},
        at=at,
    )


def accept_recommendations(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    ranking: Sequence[RankedMentor],
    nominated_by: str,
    today: date,
) -> list[MentorNomination]:
    """Nominate every mentor the ranking recommends and the curator has not decided on yet
    (a curator's choice, withdrawals included, is never overwritten); returns those in force."""
    decided = set(
        session.exec(
            select(MentorNomination.mentor_id).where(MentorNomination.cycle_id == cycle_id)
        ).all()
    )
    for entry in ranking:
        if entry.recommended is not None and entry.mentor_id not in decided:
            nominate(
                session=session,
                cycle_id=cycle_id,
                ranking=ranking,
                mentor_id=entry.mentor_id,
                reward=entry.recommended,
                nominated_by=nominated_by,
                today=today,
            )
    return nominations(session=session, cycle_id=cycle_id)
