"""The department's informational-analytic report and its order on the year's results (no Prefect).

«Информационно-аналитический отчёт о реализации целевой модели наставничества» (issue 10 §6, seed
``roadmap_municipality_kedrovy.txt``: «Итоговые отчеты образовательных организаций», the
department's summary of them) is assembled from the reports the member organisations submitted
(``ReportSubmission.payload`` = :class:`nastavnik.org_report.OrganisationReport`): one row per
organisation, totals and means across organisations each with its formula (as
nastavnik.indicators gives them), totals per form of mentoring, the organisations that did not
submit, overdue roadmap items, and conclusions written from the figures. Charts are matplotlib
SVG (vector, text kept as text) drawn with the evaluation memo's helpers.

Aggregates only: the payloads carry no participant, and nothing here adds one. The same
submissions and day always give the same report.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from statistics import fmean
from typing import Any

from sqlmodel import Session, col, select

from models import Cycle, Document, Organization, ReportKind, ReportRequest
from nastavnik import documents, mail, report_requests
from nastavnik.completion_documents import _CHART_RC as CHART_RC
from nastavnik.completion_documents import (
    MENTEES_COLOUR,
    MENTORS_COLOUR,
    Chart,
    ShareBar,
    chart_lock,
    share_bars_svg,
)
from nastavnik.completion_documents import _svg as chart_svg
from nastavnik.org_report import IndicatorFigure, OrganisationFigures, OrganisationReport
from nastavnik.report_requests import STATUS_RU, RequestStatus
from nastavnik.roadmap import OrganisationKind
from nastavnik.settings import Settings

REPORT_TITLE = "Информационно-аналитический отчёт о реализации целевой модели наставничества"
REPORT_TEMPLATE = "analytic_report.html"
ORDER_TITLE = "Приказ об итогах реализации целевой модели наставничества"
ORDER_TEMPLATE = "department_results_order.html"

KIND_RU = {
    OrganisationKind.school: "школа",
    OrganisationKind.college: "колледж",
    OrganisationKind.centre: "центр доп. образования",
    OrganisationKind.department: "отдел образования",
}

COVERAGE_TARGET = 0.8
"""Coverage below 80 % is named in the conclusions and gets a recommendation."""
SATISFACTION_TARGET = 7.0
"""A 1–10 satisfaction mean below 7 is named in the conclusions and gets a recommendation."""

# The report a department reads for the year: the final one when there is one.
_KIND_PREFERENCE = {ReportKind.final: 0, ReportKind.interim: 1, ReportKind.information: 2}

COUNT, SHARE, MEAN = "count", "share", "mean"


def _ru(number: float) -> str:
    return f"{number:.1f}".replace(".", ",")


def percent_ru(value: float | None) -> str:
    """0.667 → «66,7 %»; None → «нет данных»."""
    return "нет данных" if value is None else f"{_ru(value * 100)} %"


def _org_kind_ru(kind: str) -> str:
    return KIND_RU[OrganisationKind(kind)] if kind in set(OrganisationKind) else kind


def score_ru(value: float | None) -> str:
    """8.25 → «8,3»; None → «—» (a 1–10 mean)."""
    return "—" if value is None else _ru(value)


# ---------------------------------------------------------------------------------------------
# What the report is made of
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganisationRow:
    """One organisation's submitted report, as the department's table shows it."""

    report: OrganisationReport
    status: RequestStatus  # of the request the report answers
    submitted_on: date

    @property
    def figures(self) -> OrganisationFigures:
        return self.report.figures

    @property
    def code(self) -> str:
        return self.figures.organization_code

    @property
    def name(self) -> str:
        return self.figures.organization_name

    @property
    def kind_ru(self) -> str:
        return _org_kind_ru(self.figures.organization_kind)

    @property
    def report_kind_ru(self) -> str:
        labels: dict[str, str] = {
            ReportKind.final: "итоговый",
            ReportKind.interim: "промежуточный",
            ReportKind.information: "информационный",
        }
        return labels.get(self.report.report_kind, self.report.report_kind)

    @property
    def status_ru(self) -> str:
        return STATUS_RU[self.status]

    @property
    def pairs(self) -> int:
        return self.figures.pairs.total

    @property
    def coverage(self) -> float | None:
        return self.figures.coverage.share

    @property
    def meetings(self) -> int:
        return self.figures.meetings_held

    def indicator(self, key: str) -> IndicatorFigure | None:
        return self.figures.indicator(key)

    def value(self, key: str) -> float | None:
        found = self.indicator(key)
        return found.value if found is not None else None

    @property
    def overdue_items(self) -> list[str]:
        return list(self.figures.roadmap.overdue_items)


@dataclass(frozen=True)
class Aggregate:
    """One figure across organisations with how it was computed (anyone can recount it)."""

    key: str
    title_ru: str
    formula_ru: str
    kind: str  # count, share or mean
    value: float | None
    counted_ru: str

    @property
    def value_ru(self) -> str:
        if self.value is None:
            return "нет данных"
        if self.kind == SHARE:
            return percent_ru(self.value)
        if self.kind == MEAN:
            return f"{_ru(self.value)} из 10"
        return f"{self.value:g}"


@dataclass(frozen=True)
class FormTotal:
    """One form of mentoring across organisations."""

    form: str
    pairs: int
    organisations: int
    satisfaction_mentors: float | None  # mean of the organisations' means (those with answers)
    satisfaction_mentees: float | None


@dataclass(frozen=True)
class MissingOrganisation:
    """A member organisation with no report for the year (organisations are not people)."""

    code: str
    name: str
    kind_ru: str
    status_ru: str  # «не сдан», «ожидается» or «запрос не направлялся»


@dataclass(frozen=True)
class AnalyticReport:
    """The department's report for a school year on a day."""

    department_code: str
    department_name: str
    school_year: str
    as_of: date
    members: int
    rows: list[OrganisationRow]
    missing: list[MissingOrganisation]
    totals: list[Aggregate]
    forms: list[FormTotal]
    conclusions: list[str]
    recommendations: list[str]

    def total(self, key: str) -> Aggregate:
        return next(a for a in self.totals if a.key == key)


# ---------------------------------------------------------------------------------------------
# Which report of each organisation is read
# ---------------------------------------------------------------------------------------------


def chosen_reports(
    *, session: Session, cycle_id: uuid.UUID, today: date
) -> dict[uuid.UUID, OrganisationRow]:
    """Per member organisation: the latest submission of its latest request that has one,
    a final request first (then interim, then informational)."""
    requests = session.exec(
        select(ReportRequest)
        .where(ReportRequest.cycle_id == cycle_id, col(ReportRequest.requested_on) <= today)
        .order_by(col(ReportRequest.due_on).desc(), col(ReportRequest.unique_key))
    ).all()
    ranked = sorted(requests, key=lambda r: _KIND_PREFERENCE.get(r.kind, 9))  # stable: due desc
    chosen: dict[uuid.UUID, OrganisationRow] = {}
    for request in ranked:
        if request.organization_id in chosen:
            continue
        latest = report_requests.latest_submission(session=session, request_id=request.id)
        if latest is None or latest.submitted_on > today:
            continue
        first = report_requests.first_submission(session=session, request_id=request.id)
        try:
            report = OrganisationReport.model_validate(latest.payload)
        except ValueError as error:
            raise ValueError(
                f"отчёт организации по запросу {request.unique_key} (submission {latest.id}) "
                f"не читается: {error}"
            ) from error
        chosen[request.organization_id] = OrganisationRow(
            report=report,
            status=report_requests.status_of(request, first, today=today),
            submitted_on=latest.submitted_on,
        )
    return chosen


# ---------------------------------------------------------------------------------------------
# Totals and means
# ---------------------------------------------------------------------------------------------

F_SUBMITTED = (
    "Представили отчёт = организации, чей отчёт получен, / все подведомственные организации."
)
F_PAIRS = "Пары = сумма наставнических пар (групп), закреплённых приказами, по отчётам организаций."
F_MEETINGS = "Встречи = сумма встреч, проведённых парами, по отчётам организаций."
F_COVERAGE = (
    "Охват = сумма наставляемых, у которых есть наставник по приказу, / сумма наставляемых "
    "всех организаций (каждый наставляемый учитывается одинаково)."
)
F_COVERAGE_MEAN = (
    "Средний охват по организациям = сумма долей охвата организаций / число организаций, "
    "где есть наставляемые (каждая организация учитывается одинаково)."
)
F_COMPLETED = (
    "Завершили программу = сумма наставляемых, завершивших программу по окончании срока, / "
    "сумма наставляемых завершённых пар всех организаций."
)
F_ON_TIME = "Отчёты в срок = сумма отчётов участников, сданных в срок, / сумма отчётов к сдаче."
F_SATISFACTION = (
    "Удовлетворённость {who} = сумма ответов {who} (1–10) всех организаций / число ответов "
    "(каждый ответ учитывается одинаково)."
)
F_SATISFACTION_MEAN = (
    "Средняя по организациям удовлетворённость {who} = сумма средних организаций / число "
    "организаций, где есть ответы (каждая организация учитывается одинаково)."
)
F_OVERDUE = "Просроченные пункты дорожных карт = сумма просроченных пунктов по отчётам организаций."
F_FORM = (
    "По форме наставничества: пары — сумма по организациям; удовлетворённость — среднее "
    "значений организаций, где по этой форме есть ответы."
)


def _pooled(
    rows: Sequence[OrganisationRow], key: str, title: str, formula: str, kind: str
) -> Aggregate:
    found = [i for i in (r.indicator(key) for r in rows) if i is not None]
    numerator = sum(i.numerator for i in found)
    denominator = sum(i.denominator for i in found)
    counted = f"{numerator:g} из {denominator}" if kind == SHARE else f"по {denominator} ответам"
    return Aggregate(
        key, title, formula, kind, numerator / denominator if denominator else None, counted
    )


def _mean_of(
    values: Sequence[float | None], key: str, title: str, formula: str, kind: str
) -> Aggregate:
    present = [v for v in values if v is not None]
    return Aggregate(
        key,
        title,
        formula,
        kind,
        round(fmean(present), 4) if present else None,
        f"по {len(present)} организациям",
    )


def totals(rows: Sequence[OrganisationRow], *, members: int) -> list[Aggregate]:
    """Totals and means across the organisations' reports, each with its formula."""
    mentees = sum(r.figures.coverage.mentees for r in rows)
    with_mentor = sum(r.figures.coverage.mentees_with_mentor for r in rows)
    result = [
        Aggregate(
            "submitted",
            "Организации, представившие отчёт",
            F_SUBMITTED,
            SHARE,
            len(rows) / members if members else None,
            f"{len(rows)} из {members}",
        ),
        Aggregate(
            "pairs",
            "Наставнические пары (группы)",
            F_PAIRS,
            COUNT,
            sum(r.pairs for r in rows),
            f"по {len(rows)} организациям",
        ),
        Aggregate(
            "meetings",
            "Проведено встреч",
            F_MEETINGS,
            COUNT,
            sum(r.meetings for r in rows),
            f"по {len(rows)} организациям",
        ),
        Aggregate(
            "coverage",
            "Охват наставляемых наставничеством",
            F_COVERAGE,
            SHARE,
            with_mentor / mentees if mentees else None,
            f"{with_mentor} из {mentees}",
        ),
        _mean_of(
            [r.coverage for r in rows],
            "coverage_mean",
            "Средний охват по организациям",
            F_COVERAGE_MEAN,
            SHARE,
        ),
        _pooled(rows, "completed", "Наставляемые, завершившие программу", F_COMPLETED, SHARE),
        _pooled(rows, "reports_on_time", "Отчёты участников сданы в срок", F_ON_TIME, SHARE),
    ]
    for key, who_title, who in (
        ("satisfaction_mentors", "наставников", "наставников"),
        ("satisfaction_mentees", "наставляемых", "наставляемых"),
    ):
        result.append(
            _pooled(
                rows,
                key,
                f"Удовлетворённость {who_title} программой",
                F_SATISFACTION.format(who=who),
                MEAN,
            )
        )
        result.append(
            _mean_of(
                [r.value(key) for r in rows],
                f"{key}_mean",
                f"Средняя по организациям удовлетворённость {who_title}",
                F_SATISFACTION_MEAN.format(who=who),
                MEAN,
            )
        )
    result.append(
        Aggregate(
            "overdue",
            "Просроченные пункты дорожных карт",
            F_OVERDUE,
            COUNT,
            sum(r.figures.roadmap.overdue for r in rows),
            f"по {len(rows)} организациям",
        )
    )
    return result


def form_totals(rows: Sequence[OrganisationRow]) -> list[FormTotal]:
    """Pairs and satisfaction per form of mentoring across the organisations."""
    forms = sorted({f.form for r in rows for f in r.figures.forms})
    result = []
    for form in forms:
        figures = [f for r in rows for f in r.figures.forms if f.form == form]
        mentors = [f.satisfaction_mentors for f in figures if f.satisfaction_mentors is not None]
        mentees = [f.satisfaction_mentees for f in figures if f.satisfaction_mentees is not None]
        result.append(
            FormTotal(
                form=form,
                pairs=sum(f.pairs for f in figures),
                organisations=len(figures),
                satisfaction_mentors=round(fmean(mentors), 4) if mentors else None,
                satisfaction_mentees=round(fmean(mentees), 4) if mentees else None,
            )
        )
    return result


# ---------------------------------------------------------------------------------------------
# Conclusions and recommendations, written from the figures
# ---------------------------------------------------------------------------------------------


def _extremes(
    rows: Sequence[OrganisationRow], value: Callable[[OrganisationRow], float | None]
) -> tuple[OrganisationRow, OrganisationRow] | None:
    """The highest and lowest row by `value` (ties: by code), None without data."""
    present = [r for r in rows if value(r) is not None]
    if not present:
        return None
    best = min(present, key=lambda r: (-(value(r) or 0), r.code))
    worst = min(present, key=lambda r: (value(r) or 0, r.code))
    return best, worst


def conclusions(
    rows: Sequence[OrganisationRow], missing: Sequence[MissingOrganisation], *, members: int
) -> list[str]:
    """The report's conclusions, sentence by sentence, from the figures alone."""
    lines = [f"Отчёты представили {len(rows)} из {members} подведомственных организаций."]
    if missing:
        lines.append("Не представили отчёт: " + ", ".join(m.name for m in missing) + ".")
    late = [r.name for r in rows if r.status == RequestStatus.submitted_late]
    if late:
        lines.append("Представили отчёт с опозданием: " + ", ".join(late) + ".")
    coverage = _extremes(rows, lambda r: r.coverage)
    if coverage is not None:
        best, worst = coverage
        if best is worst:
            lines.append(f"Охват наставничеством: {best.name} — {percent_ru(best.coverage)}.")
        else:
            lines.append(
                f"Наибольший охват наставничеством — {best.name} ({percent_ru(best.coverage)}), "
                f"наименьший — {worst.name} ({percent_ru(worst.coverage)})."
            )
    below = [r for r in rows if r.coverage is not None and r.coverage < COVERAGE_TARGET]
    if below:
        lines.append(
            f"Охват ниже {percent_ru(COVERAGE_TARGET)}: "
            + ", ".join(f"{r.name} ({percent_ru(r.coverage)})" for r in below)
            + "."
        )
    for key, who in (
        ("satisfaction_mentees", "наставляемых"),
        ("satisfaction_mentors", "наставников"),
    ):
        found = _extremes(rows, lambda r, key=key: r.value(key))  # type: ignore[misc]
        if found is None:
            continue
        best, worst = found
        sentence = (
            f"Наиболее высокая удовлетворённость {who} программой — {best.name} "
            f"({score_ru(best.value(key))} из 10)"
        )
        if best is not worst:
            sentence += f", наиболее низкая — {worst.name} ({score_ru(worst.value(key))} из 10)"
        lines.append(sentence + ".")
    overdue = [r for r in rows if r.overdue_items]
    if overdue:
        lines.append(
            "Просроченные пункты дорожной карты есть у организаций: "
            + ", ".join(f"{r.name} ({len(r.overdue_items)})" for r in overdue)
            + "."
        )
    elif rows:
        lines.append("Просроченных пунктов дорожных карт в представленных отчётах нет.")
    return lines


def recommendations(
    rows: Sequence[OrganisationRow], missing: Sequence[MissingOrganisation]
) -> list[str]:
    """What the department's order asks of the organisations, from the figures."""
    lines = []
    for row in rows:
        if row.coverage is not None and row.coverage < COVERAGE_TARGET:
            lines.append(
                f"{row.name}: увеличить охват наставляемых наставничеством "
                f"(в {row.figures.school_year} учебном году — {percent_ru(row.coverage)})."
            )
        if row.overdue_items:
            lines.append(
                f"{row.name}: выполнить просроченные пункты дорожной карты "
                f"({len(row.overdue_items)})."
            )
        low = [
            who
            for key, who in (
                ("satisfaction_mentees", "наставляемых"),
                ("satisfaction_mentors", "наставников"),
            )
            if (v := row.value(key)) is not None and v < SATISFACTION_TARGET
        ]
        if low:
            lines.append(
                f"{row.name}: проанализировать причины низкой удовлетворённости "
                f"{' и '.join(low)} программой наставничества."
            )
    for organisation in missing:
        lines.append(
            f"{organisation.name}: представить отчёт о реализации целевой модели наставничества."
        )
    return lines


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def _department(session: Session, cycle_id: uuid.UUID) -> tuple[Cycle, Organization]:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    if org.kind != OrganisationKind.department:
        raise ValueError(
            f"{org.code}: аналитический отчёт составляет отдел образования, а не {org.kind}"
        )
    return cycle, org


def build_report(*, session: Session, cycle_id: uuid.UUID, today: date) -> AnalyticReport:
    """The department's report from its members' submissions on `today` (reproducible)."""
    cycle, department = _department(session, cycle_id)
    members = report_requests.members(session=session, department_id=department.id)
    chosen = chosen_reports(session=session, cycle_id=cycle_id, today=today)
    asked = {
        r.organization_id: r
        for r in session.exec(
            select(ReportRequest)
            .where(ReportRequest.cycle_id == cycle_id, col(ReportRequest.requested_on) <= today)
            .order_by(col(ReportRequest.due_on))
        )
    }
    rows = [chosen[m.id] for m in members if m.id in chosen]
    missing = []
    for member in members:
        if member.id in chosen:
            continue
        request = asked.get(member.id)
        status = (
            STATUS_RU[report_requests.status_of(request, None, today=today)]
            if request is not None
            else "запрос не направлялся"
        )
        missing.append(
            MissingOrganisation(
                code=member.code,
                name=member.short_name or member.name,
                kind_ru=_org_kind_ru(member.kind),
                status_ru=status,
            )
        )
    return AnalyticReport(
        department_code=department.code,
        department_name=department.short_name or department.name,
        school_year=cycle.school_year,
        as_of=today,
        members=len(members),
        rows=rows,
        missing=missing,
        totals=totals(rows, members=len(members)),
        forms=form_totals(rows),
        conclusions=conclusions(rows, missing, members=len(members)),
        recommendations=recommendations(rows, missing),
    )


# ---------------------------------------------------------------------------------------------
# Charts (the evaluation memo's helpers: one lock, one rc, text kept as text)
# ---------------------------------------------------------------------------------------------


def coverage_chart_svg(rows: Sequence[OrganisationRow]) -> str:
    """Horizontal bars, 0–100 %: each organisation's coverage with what was counted."""
    return share_bars_svg(
        [
            ShareBar(
                row.name,
                row.coverage,
                f"{percent_ru(row.coverage)} ({row.figures.coverage.mentees_with_mentor} из "
                f"{row.figures.coverage.mentees})",
                f"coverage-{row.code}",
            )
            for row in rows
        ],
        base_height=0.7,
        row_height=0.45,
        axes_rect=(0.36, 0.16, 0.62, 0.78),
        target=COVERAGE_TARGET,
    )


def _grouped_bars(
    labels: Sequence[str], mentors: Sequence[float | None], mentees: Sequence[float | None]
) -> str:
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    width = 0.38
    with chart_lock, rc_context(CHART_RC):
        figure = Figure(figsize=(7.0, 3.0))
        axes = figure.add_axes((0.08, 0.2, 0.9, 0.68))
        for offset, values, colour, label, gid in (
            (-width / 2, mentors, MENTORS_COLOUR, "наставники", "bars-mentors"),
            (width / 2, mentees, MENTEES_COLOUR, "наставляемые", "bars-mentees"),
        ):
            positions = [x + offset for x in range(len(labels))]
            axes.bar(
                positions, [v or 0 for v in values], width=width, color=colour, label=label, gid=gid
            )
            for x, value in zip(positions, values, strict=True):
                axes.text(x, (value or 0) + 0.15, score_ru(value), ha="center", fontsize=7)
        axes.set_xticks(range(len(labels)), list(labels))
        axes.set_ylim(0, 11)
        axes.set_yticks(range(0, 11, 2))
        axes.set_ylabel("среднее, 1–10")
        axes.spines[["top", "right"]].set_visible(False)
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, 1.16), ncol=2, frameon=False)
        return chart_svg(figure)


def satisfaction_chart_svg(rows: Sequence[OrganisationRow]) -> str:
    """Grouped bars per organisation: mentors' and mentees' satisfaction, 1–10."""
    return _grouped_bars(
        [r.name for r in rows],
        [r.value("satisfaction_mentors") for r in rows],
        [r.value("satisfaction_mentees") for r in rows],
    )


def forms_chart_svg(forms: Sequence[FormTotal]) -> str:
    """Bars per form of mentoring: the pairs across the organisations."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    with chart_lock, rc_context(CHART_RC):
        figure = Figure(figsize=(7.0, 2.6))
        axes = figure.add_axes((0.08, 0.2, 0.9, 0.72))
        positions = list(range(len(forms)))
        axes.bar(
            positions, [f.pairs for f in forms], width=0.5, color=MENTORS_COLOUR, gid="bars-forms"
        )
        for x, form in zip(positions, forms, strict=True):
            axes.text(x, form.pairs, f"{form.pairs}", ha="center", va="bottom", fontsize=7.5)
        axes.set_xticks(positions, [f"«{f.form}»" for f in forms])
        axes.set_ylim(0, max([f.pairs for f in forms] + [1]) * 1.2)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # pairs are whole
        axes.set_ylabel("пар (групп)")
        axes.spines[["top", "right"]].set_visible(False)
        return chart_svg(figure)


def report_charts(report: AnalyticReport) -> list[Chart]:
    """The report's charts (labels: organisations and forms only, no person)."""
    charts: list[Chart] = []
    if report.rows:
        charts.append(
            Chart(
                "Охват наставляемых наставничеством по организациям",
                coverage_chart_svg(report.rows),
            )
        )
        charts.append(
            Chart(
                "Удовлетворённость программой по организациям", satisfaction_chart_svg(report.rows)
            )
        )
    if report.forms:
        charts.append(
            Chart("Наставнические пары по формам наставничества", forms_chart_svg(report.forms))
        )
    return charts


# ---------------------------------------------------------------------------------------------
# The documents
# ---------------------------------------------------------------------------------------------


def report_key(*, cycle_id: uuid.UUID, on: date) -> str:
    """One analytic report per department cycle and as-of day (a resume makes no second)."""
    return f"analytic-report:{cycle_id}:{on.isoformat()}"


def order_key(*, cycle_id: uuid.UUID, on: date) -> str:
    """One order on the year's results per department cycle and as-of day."""
    return f"department-results-order:{cycle_id}:{on.isoformat()}"


def report_context(report: AnalyticReport) -> dict[str, Any]:
    """What templates/documents/analytic_report.html reads."""
    return {
        "cycle": {"school_year": report.school_year},
        "today": report.as_of,
        "report": report,
        "charts": report_charts(report),
        "coverage_target": percent_ru(COVERAGE_TARGET),
        "form_formula": F_FORM,
        "percent_ru": percent_ru,
        "score_ru": score_ru,
    }


def issue_report(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    on: date,
    flow_run_id: uuid.UUID | None = None,
) -> Document:
    """The analytic report as of `on` under the department (the existing one if made before)."""
    cycle, department = _department(session, cycle_id)
    key = report_key(cycle_id=cycle_id, on=on)
    existing = session.exec(select(Document).where(Document.unique_key == key)).first()
    context = (
        {}
        if existing is not None
        else report_context(build_report(session=session, cycle_id=cycle_id, today=on))
    )
    return documents.issue_document(
        session=session,
        settings=settings,
        unique_key=key,
        organization_id=department.id,
        cycle_id=cycle.id,
        doc_type="report",
        title=REPORT_TITLE,
        template=REPORT_TEMPLATE,
        context=context,
        doc_date=on,
        flow_run_id=flow_run_id,
    )


def issue_order(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    on: date,
    report_document: Document,
    flow_run_id: uuid.UUID | None = None,
) -> Document:
    """«Об итогах реализации целевой модели наставничества в <год> учебном году»: the analytic
    report approved, the organisations with their figures, the department's recommendations."""
    cycle, department = _department(session, cycle_id)
    report = build_report(session=session, cycle_id=cycle_id, today=on)
    return documents.issue_document(
        session=session,
        settings=settings,
        unique_key=order_key(cycle_id=cycle_id, on=on),
        organization_id=department.id,
        cycle_id=cycle.id,
        doc_type="order",
        title=ORDER_TITLE,
        template=ORDER_TEMPLATE,
        context={
            "cycle": {"school_year": report.school_year},
            "order_date": on,
            "report": report,
            "analytic": {"label": report_document.label, "date": report_document.doc_date},
            "leaders": leaders(report),
            "percent_ru": percent_ru,
            "score_ru": score_ru,
        },
        doc_date=on,
        flow_run_id=flow_run_id,
    )


def leaders(report: AnalyticReport) -> list[str]:
    """Organisations the order notes for their results: the highest coverage and satisfaction."""
    names: list[str] = []
    for value in (
        lambda r: r.coverage,
        lambda r: r.value("satisfaction_mentees"),
        lambda r: r.value("satisfaction_mentors"),
    ):
        found = _extremes(report.rows, value)
        if found is not None and found[0].name not in names:
            names.append(found[0].name)
    return names


def summary_markdown(report: AnalyticReport, *, links: Sequence[tuple[str, str]]) -> str:
    """The run's artifact: counts and document links only (no organisation or person named)."""
    lines = [
        f"## {REPORT_TITLE}, {report.school_year} учебный год",
        "",
        f"По состоянию на {report.as_of:%d.%m.%Y}.",
        "",
        "| Показатель | Значение | Расчёт |",
        "|---|---|---|",
        f"| Подведомственных организаций | {report.members} | |",
        f"| Не представили отчёт | {len(report.missing)} | |",
    ]
    lines += [f"| {a.title_ru} | {a.value_ru} | {a.counted_ru} |" for a in report.totals]
    lines += ["", "| Документ | Ссылка |", "|---|---|"]
    lines += [f"| {title} | [{url}]({url}) |" for title, url in links]
    return "\n".join(lines)


def mail_key(*, document_id: uuid.UUID, organization_id: uuid.UUID) -> str:
    """One e-mail of an approved report to one member organisation's director, ever."""
    return f"analytic-report-mail:{document_id}:{organization_id}"


def queue_report_mail(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    document_id: uuid.UUID,
    flow_run_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Queue the approved report (attached) to every member organisation's director, once per
    report and organisation; the outbox ids (those queued before included)."""
    cycle, department = _department(session, cycle_id)
    document = session.get(Document, document_id)
    if document is None:
        raise LookupError(f"документ {document_id} не найден")
    url = f"{settings.web_base_url.rstrip('/')}/documents/{document.id}.pdf"
    queued = []
    for member in report_requests.members(session=session, department_id=department.id):
        if not member.director_email:
            continue
        message = mail.enqueue_templated(
            session=session,
            idempotency_key=mail_key(document_id=document.id, organization_id=member.id),
            to_addr=f"{member.director_name} <{member.director_email}>",
            template="analytic_report",
            context={
                "department": {"name": department.name, "short_name": department.short_name},
                "recipient_name": member.director_name,
                "school_year": cycle.school_year,
                "document": document,
                "report_title": REPORT_TITLE,
                "url": url,
            },
            document_ids=[document.id],
            flow_run_id=flow_run_id,
            recipient_role="director",
        )
        queued.append(message.id)
    return queued
