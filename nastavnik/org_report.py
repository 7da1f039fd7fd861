"""An organisation's figures for its department, and the report payload built from them.

What a municipal department sees of a school (seed ``roadmap_municipality_kedrovy.txt``: «Мониторинг
вовлеченности…», «Информационный отчет», «Итоговые отчеты образовательных организаций»): the stage
the cycle is in, the roadmap's progress and overdue items, pairs, coverage (the share of mentees
with a mentor), meetings, and the completion indicators (nastavnik.indicators) with their formulas.
Aggregates only: nothing here carries a mentee's name, birth date or contact (issue 10 §5); the
payload is what travels to the department, in one installation or signed between two.

The dashboard reads :func:`organisation_figures` live for the organisations of its installation;
the report a director approves freezes the same figures in :class:`OrganisationReport`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from models import (
    Cycle,
    ItemStatus,
    MeetingLog,
    MentorshipPair,
    Organization,
    PairMember,
    PairStatus,
    Participant,
    Role,
)
from nastavnik import indicators, plan
from nastavnik.roadmap import Stage
from nastavnik.roadmap_report import status_rows, summarise
from nastavnik.tick import STAGE_RU

SCHEMA_VERSION = 1

STAGE_ORDER: tuple[str, ...] = tuple(s.value for s in Stage if s is not Stage.department)

NOT_STARTED_RU = "не начат"

# A pair that has been fixed by the director's order, whatever became of it since.
_ORDERED = (
    PairStatus.active,
    PairStatus.ended,
    PairStatus.replaced,
    PairStatus.extended,
    PairStatus.terminated,
)
_GOING_ON = (PairStatus.active, PairStatus.extended)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoadmapProgress(_Frozen):
    """The organisation's roadmap on the day: plan rows per status, and the overdue ones."""

    total: int
    done: int  # done and done late
    done_late: int
    in_progress: int
    overdue: int
    not_started: int
    skipped: int
    overdue_items: list[str] = Field(
        default_factory=list, description="«номер — название» of each overdue row"
    )

    @property
    def done_share(self) -> float | None:
        return self.done / self.total if self.total else None


class PairFigures(_Frozen):
    """Pairs fixed by order, by what became of them."""

    total: int
    going_on: int
    ended: int
    terminated: int
    replaced: int


class Coverage(_Frozen):
    """Mentees of the cycle and how many of them have (or had) a mentor by order."""

    mentors: int
    mentees: int
    mentees_with_mentor: int

    @property
    def share(self) -> float | None:
        return self.mentees_with_mentor / self.mentees if self.mentees else None


class IndicatorFigure(_Frozen):
    """One completion indicator as nastavnik.indicators computed it, formula included."""

    key: str
    title_ru: str
    formula_ru: str
    kind: str  # share or mean
    numerator: float
    denominator: int
    value: float | None


class FormFigure(_Frozen):
    """Satisfaction with the programme in one form of mentoring (means 1–10, None: no answers)."""

    form: str
    pairs: int
    satisfaction_mentors: float | None
    satisfaction_mentees: float | None


class OrganisationFigures(_Frozen):
    """Everything the department sees of one organisation on a day: aggregates only."""

    organization_code: str
    organization_name: str
    organization_kind: str
    school_year: str
    as_of: date
    current_stage: str | None  # the furthest stage begun, None before the first one
    current_stage_ru: str
    roadmap: RoadmapProgress
    pairs: PairFigures
    coverage: Coverage
    meetings_held: int
    indicators: list[IndicatorFigure]
    forms: list[FormFigure]

    def indicator(self, key: str) -> IndicatorFigure | None:
        return next((i for i in self.indicators if i.key == key), None)


class OrganisationReport(_Frozen):
    """The report an organisation submits for a department's request (the signed payload).

    Its JSON Schema is ``docs/organisation-report.schema.json`` (kept equal by a test)."""

    schema_version: int = SCHEMA_VERSION
    request_key: str = Field(description="the department's request (ReportRequest.unique_key)")
    report_kind: str = Field(description="information, interim or final (models.ReportKind)")
    department_code: str
    figures: OrganisationFigures
    memo: list[str] = Field(
        default_factory=list, description="the memo's lines: what was done, what is late, why"
    )
    approved_by: str = Field(description="the director who approved the report (an adult)")
    approved_on: date


def current_stage(*, session: Session, cycle_id: uuid.UUID) -> str | None:
    """The furthest stage of the year (in DESIGN §3 order) whose plan rows have begun."""
    begun = {
        item.stage
        for item in plan.plan_items(session=session, cycle_id=cycle_id)
        if item.status not in (ItemStatus.not_started, ItemStatus.overdue, ItemStatus.skipped)
        or item.flow_run_id is not None
    }
    started = [stage for stage in STAGE_ORDER if stage in begun]
    return started[-1] if started else None


def roadmap_progress(*, session: Session, cycle_id: uuid.UUID, today: date) -> RoadmapProgress:
    """The roadmap's rows per status on `today` (the status report's own summary)."""
    rows = status_rows(session=session, cycle_id=cycle_id, today=today)
    counts = summarise(rows).counts
    overdue = [f"{row.number} — {row.title}" for row in rows if row.status == ItemStatus.overdue]
    return RoadmapProgress(
        total=sum(counts.values()),
        done=counts.get(ItemStatus.done, 0) + counts.get(ItemStatus.done_late, 0),
        done_late=counts.get(ItemStatus.done_late, 0),
        in_progress=counts.get(ItemStatus.in_progress, 0),
        overdue=counts.get(ItemStatus.overdue, 0),
        not_started=counts.get(ItemStatus.not_started, 0),
        skipped=counts.get(ItemStatus.skipped, 0),
        overdue_items=overdue,
    )


def pair_figures(*, session: Session, cycle_id: uuid.UUID) -> PairFigures:
    """Pairs of the cycle fixed by order, counted by status."""
    counts: dict[str, int] = dict(
        session.exec(  # type: ignore[arg-type]
            select(MentorshipPair.status, func.count())
            .where(MentorshipPair.cycle_id == cycle_id)
            .group_by(MentorshipPair.status)
        ).all()
    )
    return PairFigures(
        total=sum(counts.get(s, 0) for s in _ORDERED),
        going_on=sum(counts.get(s, 0) for s in _GOING_ON),
        ended=counts.get(PairStatus.ended, 0),
        terminated=counts.get(PairStatus.terminated, 0),
        replaced=counts.get(PairStatus.replaced, 0),
    )


def coverage(*, session: Session, cycle_id: uuid.UUID) -> Coverage:
    """Mentors and mentees of the cycle, and the mentees in a pair fixed by order."""
    by_role: dict[str, int] = dict(
        session.exec(  # type: ignore[arg-type]
            select(Participant.role, func.count())
            .where(Participant.cycle_id == cycle_id)
            .group_by(Participant.role)
        ).all()
    )
    with_mentor = session.exec(
        select(func.count(func.distinct(PairMember.mentee_id)))
        .join(MentorshipPair, col(MentorshipPair.id) == PairMember.pair_id)
        .where(MentorshipPair.cycle_id == cycle_id, col(MentorshipPair.status).in_(_ORDERED))
    ).one()
    return Coverage(
        mentors=by_role.get(Role.mentor, 0),
        mentees=by_role.get(Role.mentee, 0),
        mentees_with_mentor=int(with_mentor),
    )


def meetings_held(*, session: Session, cycle_id: uuid.UUID, today: date) -> int:
    """Meetings logged for the cycle's pairs up to `today`."""
    return int(
        session.exec(
            select(func.count())
            .select_from(MeetingLog)
            .join(MentorshipPair, col(MentorshipPair.id) == MeetingLog.pair_id)
            .where(MentorshipPair.cycle_id == cycle_id, col(MeetingLog.held_on) <= today)
        ).one()
    )


def organisation_figures(
    *, session: Session, cycle_id: uuid.UUID, today: date
) -> OrganisationFigures:
    """The figures of one organisation's cycle on `today` (reproducible: same data, same day)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    stage = current_stage(session=session, cycle_id=cycle_id)
    computed = indicators.cycle_indicators(
        session=session, cycle_id=cycle_id, today=today, with_scorecards=False
    )
    pairs_by_form: dict[str, int] = dict(
        session.exec(  # type: ignore[arg-type]
            select(MentorshipPair.form, func.count())
            .where(MentorshipPair.cycle_id == cycle_id, col(MentorshipPair.status).in_(_ORDERED))
            .group_by(MentorshipPair.form)
        ).all()
    )
    satisfaction = {f.form: f for f in computed.by_form}
    forms = sorted({str(f) for f in pairs_by_form} | set(satisfaction))
    return OrganisationFigures(
        organization_code=org.code,
        organization_name=org.short_name or org.name,
        organization_kind=org.kind,
        school_year=cycle.school_year,
        as_of=today,
        current_stage=stage,
        current_stage_ru=STAGE_RU.get(stage, stage) if stage else NOT_STARTED_RU,  # type: ignore[call-overload]
        roadmap=roadmap_progress(session=session, cycle_id=cycle_id, today=today),
        pairs=pair_figures(session=session, cycle_id=cycle_id),
        coverage=coverage(session=session, cycle_id=cycle_id),
        meetings_held=meetings_held(session=session, cycle_id=cycle_id, today=today),
        indicators=[
            IndicatorFigure(
                key=i.key,
                title_ru=i.title_ru,
                formula_ru=i.formula_ru,
                kind=i.kind,
                numerator=i.numerator,
                denominator=i.denominator,
                value=i.value,
            )
            for i in computed.overall
        ],
        forms=[
            FormFigure(
                form=form,
                pairs=sum(n for f, n in pairs_by_form.items() if str(f) == form),
                satisfaction_mentors=(
                    satisfaction[form].mentors.value if form in satisfaction else None
                ),
                satisfaction_mentees=(
                    satisfaction[form].mentees.value if form in satisfaction else None
                ),
            )
            for form in forms
        ],
    )


def canonical_json(payload: dict[str, Any]) -> bytes:
    """The payload's bytes for signing and digests: sorted keys, no spaces, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def payload_digest(payload: dict[str, Any]) -> str:
    """sha256 of the canonical payload (a resent report has the same digest)."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def report_schema() -> dict[str, Any]:
    """The JSON Schema of the signed payload (``docs/organisation-report.schema.json``)."""
    schema = OrganisationReport.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://nastavnik.example/schemas/organisation-report.schema.json"
    return schema
