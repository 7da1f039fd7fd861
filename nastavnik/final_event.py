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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from sqlmodel import Session, col, select

from models import MentorNomination, Participant, RewardKind
from nastavnik import completion, indicators, repository
from nastavnik.indicators import MentorScorecard

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
COUNTED_STATUSES = indicators.COUNTED


class NominationRefused(ValueError):
    """The curator's nomination cannot be recorded (the message is Russian, for the curator)."""


@dataclass(frozen=True)
class RankedMentor:
    """A mentor's place in the ranking, the score, the reasons in Russian and the advice."""

    rank: int
    record: MentorScorecard
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


def _criteria(record: MentorScorecard) -> list[tuple[str, int, float | None, str]]:
    """(name, weight, value 0…1 or None, the figure in Russian) per criterion."""
    meetings = (
        min(1.0, record.meetings_held / record.meetings_planned)
        if record.meetings_planned
        else None
    )
    rating = (record.meeting_rating - 1) / 4 if record.meeting_rating is not None else None
    satisfaction = (
        (record.mentee_satisfaction - 1) / 9 if record.mentee_satisfaction is not None else None
    )
    reports = record.monthly_on_time_share
    completed = record.pairs_completed / record.pairs if record.pairs else None
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
            f"средняя {_decimal(record.meeting_rating, 2)} из 5 ({record.ratings_count} отз.)"
            if record.meeting_rating is not None
            else "отзывов нет",
        ),
        (
            "доклады в срок",
            WEIGHT_REPORTS,
            reports,
            f"{record.monthly_reports_on_time} из {record.monthly_reports_due}"
            if record.monthly_reports_due
            else "докладов к сроку не было",
        ),
        (
            "удовлетворённость",
            WEIGHT_SATISFACTION,
            satisfaction,
            f"{_decimal(record.mentee_satisfaction, 2)} из 10 (анкеты наставляемых: "
            f"{record.mentee_reports_received} из {record.mentee_reports_expected})"
            if record.mentee_satisfaction is not None
            else f"анкет нет (ожидается {record.mentee_reports_expected})",
        ),
        (
            "пары завершены",
            WEIGHT_COMPLETED,
            completed,
            f"{record.pairs_completed} из {record.pairs}" if record.pairs else "пар нет",
        ),
    ]


def score_mentor(record: MentorScorecard) -> tuple[float, list[str]]:
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


def recommend(record: MentorScorecard, score: float) -> tuple[RewardKind | None, str]:
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


def _order_key(item: tuple[MentorScorecard, float]) -> tuple[object, ...]:
    record, score = item
    return (
        -score,
        -record.pairs_completed,
        -record.feedback_comments,
        -record.meetings_held,
        _name_key(record.full_name),
        str(record.mentor_id),
    )


def _tie_break_ru(upper: MentorScorecard, lower: MentorScorecard) -> str:
    for label, high, low in (
        ("завершённых пар", upper.pairs_completed, lower.pairs_completed),
        ("письменных отзывов", upper.feedback_comments, lower.feedback_comments),
        ("проведённых встреч", upper.meetings_held, lower.meetings_held),
    ):
        if high != low:
            return f"так как у того больше {label} ({high} против {low})"
    return "по алфавиту"


def rank_mentors(records: Sequence[MentorScorecard]) -> list[RankedMentor]:
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
# The cycle's ranking and the evidence it had
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingEvidence:
    """What the ranking had on its day: the completion questionnaires (§2.14) received so far
    against those expected, and pairs still going on (their reports come after their end)."""

    as_of: date
    pairs: int
    pairs_finished: int
    reports_received: int
    reports_expected: int

    @property
    def complete(self) -> bool:
        """Whether every mentee's completion questionnaire was in by the day."""
        return self.reports_received >= self.reports_expected

    @property
    def statement_ru(self) -> str:
        """The evidence in one Russian sentence, for the curator and the ranking's memo."""
        head = (
            f"На {self.as_of:%d.%m.%Y} рейтинг учитывает журналы встреч, отзывы наставляемых, "
            f"ежемесячные отчёты и анкеты по завершении наставничества (п. 2.14): получено "
            f"{self.reports_received} из {self.reports_expected} ожидаемых"
        )
        going_on = self.pairs - self.pairs_finished
        if not self.reports_expected:
            return (
                f"На {self.as_of:%d.%m.%Y} рейтинг учитывает журналы встреч, отзывы наставляемых "
                "и ежемесячные отчёты; анкет по завершении наставничества не ожидается."
            )
        if self.complete:
            return head + " — все анкеты получены."
        tail = f"; пар ещё не завершено: {going_on}" if going_on else ""
        return (
            head
            + tail
            + ". Удовлетворённость учтена только по полученным анкетам; у наставников без анкет "
            "этот критерий не учитывается."
        )


def ranking_evidence(
    *, session: Session, cycle_id: uuid.UUID, ranking: Sequence[RankedMentor], as_of: date
) -> RankingEvidence:
    """The evidence behind this ranking of the cycle on `as_of`: the questionnaires counted in
    its own scorecards, the pairs from the completion stage's window."""
    window = completion.report_window(session=session, cycle_id=cycle_id, today=as_of)
    return RankingEvidence(
        as_of=as_of,
        pairs=window.pairs,
        pairs_finished=window.pairs - len(window.going_on),
        reports_received=sum(entry.record.mentee_reports_received for entry in ranking),
        reports_expected=sum(entry.record.mentee_reports_expected for entry in ranking),
    )


def cycle_ranking(
    *, session: Session, cycle_id: uuid.UUID, as_of: date, timezone: tzinfo | None = None
) -> list[RankedMentor]:
    """The cycle's ranking from the mentors' scorecards (indicators.mentor_scorecards: the
    figures the evaluation memo prints, computed once)."""
    return rank_mentors(
        indicators.mentor_scorecards(
            session=session, cycle_id=cycle_id, today=as_of, timezone=timezone
        )
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
