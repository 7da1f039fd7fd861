"""The department's dashboard: its member organisations side by side, with charts (no Prefect).

Issue 10 §4. Per organisation: the stage its cycle is in, the roadmap's progress and overdue
items, pairs, coverage (the share of mentees with a mentor), meetings held, and where the
department's report requests stand (submitted, late, missing, awaiting). An organisation whose
cycle of the year runs in this installation is read live (nastavnik.org_report); one that runs
elsewhere is shown by the figures of its latest stored report, marked «по отчёту от …».

Aggregates only (issue 10 §5): the figures carry counts, shares and plan item titles, never a
mentee's name, birth date or contact; the charts and the markdown name organisations only.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from sqlmodel import Session, col, select

from models import Cycle, Organization, ReportSubmission
from nastavnik import deliveries, report_requests
from nastavnik.org_report import OrganisationFigures, organisation_figures
from nastavnik.report_requests import RequestStatus
from nastavnik.roadmap import OrganisationKind
from nastavnik.roadmap_report import _CHART_RC, _chart_lock

KIND_RU: dict[str, str] = {
    OrganisationKind.school: "школа",
    OrganisationKind.college: "колледж",
    OrganisationKind.centre: "центр доп. образования",
    OrganisationKind.department: "управление образования",
}

# Kinds a department's members can be (a department reports to no department).
MEMBER_KINDS: tuple[str, ...] = tuple(
    k.value for k in OrganisationKind if k is not OrganisationKind.department
)

REPORT_STATUS_ORDER: tuple[RequestStatus, ...] = (
    RequestStatus.submitted,
    RequestStatus.submitted_late,
    RequestStatus.missing,
    RequestStatus.awaiting,
)
REPORT_COLOURS: dict[RequestStatus, str] = {
    RequestStatus.submitted: "#2e7d32",
    RequestStatus.submitted_late: "#ef6c00",
    RequestStatus.missing: "#c62828",
    RequestStatus.awaiting: "#9e9e9e",
}
ROADMAP_COLOURS = {"done": "#2e7d32", "overdue": "#c62828", "rest": "#cfd8dc"}
COVERAGE_COLOUR = "#1565c0"

NO_DATA_RU = "нет данных"

_SCHOOL_YEAR = re.compile(r"\d{4}/\d{4}")


class Source(StrEnum):
    """Where an organisation's figures come from."""

    live = "live"  # its cycle of the year runs in this installation
    report = "report"  # its latest stored report for the department
    none = "none"  # neither: nothing to show yet


@dataclass(frozen=True)
class ReportCounts:
    """The department's requests to an organisation (or to all) by where they stand."""

    submitted: int = 0  # on time
    late: int = 0
    missing: int = 0
    awaiting: int = 0

    @property
    def total(self) -> int:
        return self.submitted + self.late + self.missing + self.awaiting

    def by_status(self) -> dict[RequestStatus, int]:
        return {
            RequestStatus.submitted: self.submitted,
            RequestStatus.submitted_late: self.late,
            RequestStatus.missing: self.missing,
            RequestStatus.awaiting: self.awaiting,
        }

    def __add__(self, other: ReportCounts) -> ReportCounts:
        return ReportCounts(
            self.submitted + other.submitted,
            self.late + other.late,
            self.missing + other.missing,
            self.awaiting + other.awaiting,
        )


@dataclass(frozen=True)
class DashboardRow:
    """One member organisation on the dashboard."""

    organization_id: uuid.UUID
    code: str
    name: str
    kind: str
    cycle_id: uuid.UUID | None  # its cycle of the year when it runs here (a roadmap page link)
    source: Source
    reported_on: date | None  # the report's date when the figures come from a report
    figures: OrganisationFigures | None
    reports: ReportCounts

    @property
    def kind_ru(self) -> str:
        return KIND_RU.get(self.kind, self.kind)

    @property
    def source_ru(self) -> str:
        """«по отчёту от 20.11.2026» for figures taken from a report, «нет данных», or nothing."""
        if self.source == Source.report and self.reported_on is not None:
            return f"по отчёту от {self.reported_on:%d.%m.%Y}"
        return NO_DATA_RU if self.source == Source.none else ""

    @property
    def stage_ru(self) -> str:
        return self.figures.current_stage_ru if self.figures else "—"

    @property
    def coverage_share(self) -> float | None:
        return self.figures.coverage.share if self.figures else None


@dataclass(frozen=True)
class Totals:
    """Sums across the organisations shown (coverage and progress as shares of the sums)."""

    organisations: int
    with_figures: int
    plan_done: int
    plan_total: int
    plan_overdue: int
    pairs_total: int
    pairs_going_on: int
    pairs_ended: int
    pairs_terminated: int
    mentees: int
    mentees_with_mentor: int
    meetings_held: int
    reports: ReportCounts

    @property
    def done_share(self) -> float | None:
        return self.plan_done / self.plan_total if self.plan_total else None

    @property
    def coverage_share(self) -> float | None:
        return self.mentees_with_mentor / self.mentees if self.mentees else None


@dataclass(frozen=True)
class DepartmentDashboard:
    """The dashboard of one department for one school year (and optionally one kind)."""

    department_id: uuid.UUID
    department_code: str
    department_name: str
    school_year: str
    kind: str | None
    today: date
    rows: tuple[DashboardRow, ...]
    totals: Totals

    @property
    def kind_ru(self) -> str:
        return KIND_RU.get(self.kind, self.kind) if self.kind else "все"


def percent(share: float | None) -> str:
    """«67 %», or «—» when there is nothing to divide."""
    return "—" if share is None else f"{round(share * 100)} %"


def _report_counts(states: Sequence[report_requests.RequestState]) -> ReportCounts:
    counts = dict.fromkeys(RequestStatus, 0)
    for state in states:
        counts[state.status] += 1
    return ReportCounts(
        submitted=counts[RequestStatus.submitted],
        late=counts[RequestStatus.submitted_late],
        missing=counts[RequestStatus.missing],
        awaiting=counts[RequestStatus.awaiting],
    )


def _reported_figures(
    *, session: Session, states: Sequence[report_requests.RequestState]
) -> tuple[OrganisationFigures, date] | None:
    """The figures of the newest report stored for any of the requests, with its date."""
    latest: ReportSubmission | None = None
    for state in states:
        submission = report_requests.latest_submission(session=session, request_id=state.request.id)
        if submission is not None and (
            latest is None
            or (submission.submitted_on, submission.received_at)
            > (latest.submitted_on, latest.received_at)
        ):
            latest = submission
    if latest is None:
        return None
    # The envelope verified the whole OrganisationReport on receipt; this reads its figures.
    return OrganisationFigures.model_validate(latest.payload["figures"]), latest.submitted_on


def _row(
    *,
    session: Session,
    department_id: uuid.UUID,
    organization: Organization,
    school_year: str,
    today: date,
) -> DashboardRow:
    states = [
        state
        for state in report_requests.request_states(
            session=session, today=today, organization_id=organization.id
        )
        if state.request.department_id == department_id and state.request.school_year == school_year
    ]
    cycle = session.exec(
        select(Cycle).where(
            Cycle.organization_id == organization.id, Cycle.school_year == school_year
        )
    ).first()
    figures: OrganisationFigures | None = None
    reported_on: date | None = None
    if cycle is not None:
        source = Source.live
        figures = organisation_figures(session=session, cycle_id=cycle.id, today=today)
    elif (reported := _reported_figures(session=session, states=states)) is not None:
        source = Source.report
        figures, reported_on = reported
    else:
        source = Source.none
    return DashboardRow(
        organization_id=organization.id,
        code=organization.code,
        name=organization.short_name or organization.name,
        kind=organization.kind,
        cycle_id=cycle.id if cycle is not None else None,
        source=source,
        reported_on=reported_on,
        figures=figures,
        reports=_report_counts(states),
    )


def _totals(rows: Sequence[DashboardRow]) -> Totals:
    shown = [row.figures for row in rows if row.figures is not None]
    reports = ReportCounts()
    for row in rows:
        reports = reports + row.reports
    return Totals(
        organisations=len(rows),
        with_figures=len(shown),
        plan_done=sum(f.roadmap.done for f in shown),
        plan_total=sum(f.roadmap.total for f in shown),
        plan_overdue=sum(f.roadmap.overdue for f in shown),
        pairs_total=sum(f.pairs.total for f in shown),
        pairs_going_on=sum(f.pairs.going_on for f in shown),
        pairs_ended=sum(f.pairs.ended for f in shown),
        pairs_terminated=sum(f.pairs.terminated for f in shown),
        mentees=sum(f.coverage.mentees for f in shown),
        mentees_with_mentor=sum(f.coverage.mentees_with_mentor for f in shown),
        meetings_held=sum(f.meetings_held for f in shown),
        reports=reports,
    )


def department_dashboard(
    *,
    session: Session,
    department_id: uuid.UUID,
    school_year: str,
    today: date,
    kind: str | None = None,
) -> DepartmentDashboard:
    """The dashboard on `today`: one row per member organisation (of `kind`, when given)."""
    department = session.get(Organization, department_id)
    if department is None:
        raise LookupError(f"управление {department_id} не найдено")
    if not _SCHOOL_YEAR.fullmatch(school_year):
        raise ValueError(f"учебный год «{school_year}» не похож на 2026/2027")
    if kind is not None and kind not in MEMBER_KINDS:
        raise ValueError(
            f"вид организации «{kind}» неизвестен: допустимы {', '.join(MEMBER_KINDS)}"
        )
    rows = tuple(
        _row(
            session=session,
            department_id=department_id,
            organization=organization,
            school_year=school_year,
            today=today,
        )
        for organization in report_requests.members(session=session, department_id=department_id)
        if kind is None or organization.kind == kind
    )
    return DepartmentDashboard(
        department_id=department.id,
        department_code=department.code,
        department_name=department.short_name or department.name,
        school_year=school_year,
        kind=kind,
        today=today,
        rows=rows,
        totals=_totals(rows),
    )


def dashboard_for_cycle(
    *, session: Session, cycle_id: uuid.UUID, today: date
) -> DepartmentDashboard | None:
    """The dashboard of the year when the cycle is a department's own, else None (a school's)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    organization = session.get(Organization, cycle.organization_id)
    if organization is None or organization.kind != OrganisationKind.department:
        return None
    return department_dashboard(
        session=session, department_id=organization.id, school_year=cycle.school_year, today=today
    )


def department_cycles(*, session: Session, cycle_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Those of the cycles that are a department's own (whose tick makes the dashboard)."""
    if not cycle_ids:
        return []
    return list(
        session.exec(
            select(Cycle.id)
            .join(Organization, col(Organization.id) == col(Cycle.organization_id))
            .where(
                col(Cycle.id).in_(list(cycle_ids)),
                Organization.kind == OrganisationKind.department,
            )
        )
    )


def find_department(*, session: Session, code: str) -> Organization:
    """The department with this code; LookupError when there is none."""
    found = session.exec(select(Organization).where(Organization.code == code)).first()
    if found is None or found.kind != OrganisationKind.department:
        raise LookupError(f"управление образования «{code}» не найдено")
    return found


# ---------------------------------------------------------------------------------------------
# The page's signed token (until sign-in, issue 11)
# ---------------------------------------------------------------------------------------------


def _page_word(department_code: str) -> str:
    # Signed under its own word: one department's link opens neither another's nor the operator's.
    return f"department-dashboard:{department_code}"


def dashboard_token(*, secret: bytes, department_code: str, now: datetime, days: int = 30) -> str:
    """A token that opens /department/<code> until `days` from now."""
    return deliveries.page_token(
        secret=secret, page=_page_word(department_code), now=now, days=days
    )


def check_dashboard_token(
    *, secret: bytes, department_code: str, token: str, now: datetime
) -> bool:
    """Whether the token was signed for this department's dashboard and is unexpired."""
    return deliveries.check_page_token(
        secret=secret, page=_page_word(department_code), token=token, now=now
    )


def dashboard_url(*, web_base_url: str, department_code: str, token: str, school_year: str) -> str:
    """The page's address with the token and the year."""
    query = urlencode({"year": school_year, "token": token})
    return f"{web_base_url.rstrip('/')}/department/{department_code}?{query}"


# ---------------------------------------------------------------------------------------------
# Markdown (the department tick's artifact)
# ---------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _share_of(done: int, total: int) -> str:
    return f"{done}/{total} ({percent(done / total if total else None)})"


def dashboard_markdown(dashboard: DepartmentDashboard, *, web_base_url: str) -> str:
    """The dashboard as a markdown table with the same figures, linking each local organisation
    to its roadmap page (no token in it: every Prefect user sees artifacts)."""
    base = web_base_url.rstrip("/")
    totals = dashboard.totals
    lines = [
        f"## Мониторинг организаций — {_cell(dashboard.department_name)}",
        "",
        f"{dashboard.school_year} учебный год, вид организаций: {dashboard.kind_ru}, "
        f"на {dashboard.today:%d.%m.%Y}. Только сводные цифры.",
        "",
        "| Организация | Вид | Этап | Дорожная карта | Просрочено | Пары (всего/идут/завершены/"
        "прекращены) | Охват | Встречи | Отчёты: в срок / с опозданием / не сданы / ожидаются |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in dashboard.rows:
        name = _cell(row.name)
        if row.cycle_id is not None:
            name = f"[{name}]({base}/roadmap/{row.cycle_id})"
        if row.source_ru:
            name += f" ({row.source_ru})"
        reports = (
            f"{row.reports.submitted} / {row.reports.late} / "
            f"{row.reports.missing} / {row.reports.awaiting}"
        )
        f = row.figures
        if f is None:
            lines.append(f"| {name} | {row.kind_ru} | — | — | — | — | — | — | {reports} |")
            continue
        lines.append(
            f"| {name} | {row.kind_ru} | {f.current_stage_ru} | "
            f"{_share_of(f.roadmap.done, f.roadmap.total)} | {f.roadmap.overdue} | "
            f"{f.pairs.total}/{f.pairs.going_on}/{f.pairs.ended}/{f.pairs.terminated} | "
            f"{f.coverage.mentees_with_mentor}/{f.coverage.mentees} "
            f"({percent(f.coverage.share)}) | {f.meetings_held} | {reports} |"
        )
    r = totals.reports
    lines += [
        f"| **Итого: {totals.organisations}** |  |  | "
        f"**{_share_of(totals.plan_done, totals.plan_total)}** | **{totals.plan_overdue}** | "
        f"**{totals.pairs_total}/{totals.pairs_going_on}/{totals.pairs_ended}/"
        f"{totals.pairs_terminated}** | **{totals.mentees_with_mentor}/{totals.mentees} "
        f"({percent(totals.coverage_share)})** | **{totals.meetings_held}** | "
        f"**{r.submitted} / {r.late} / {r.missing} / {r.awaiting}** |",
    ]
    overdue = [
        (row.name, item)
        for row in dashboard.rows
        if row.figures is not None
        for item in row.figures.roadmap.overdue_items
    ]
    if overdue:
        lines += ["", "**Просроченные пункты дорожных карт**", ""]
        lines += [f"- {_cell(name)}: {_cell(item)}" for name, item in overdue]
    return "\n".join(lines) + "\n"


def artifact_key(department_code: str) -> str:
    """The tick's artifact key: Prefect keys take lowercase letters, digits and dashes."""
    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in department_code.lower())
    return f"department-{slug.strip('-')}-dashboard"


# ---------------------------------------------------------------------------------------------
# Charts (matplotlib, SVG, the same bytes for the same figures)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One colour of a stacked bar chart: a value per organisation."""

    label: str
    colour: str
    values: tuple[float, ...]
    notes: tuple[str, ...] = ()  # written at each bar's end, when given


def _short(label: str, limit: int = 38) -> str:
    # The labels' margin is fixed: a long official name is cut rather than drawn over the bars.
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _bars_svg(
    *, name: str, title: str, labels: Sequence[str], series: Sequence[Series], axis: str
) -> str:
    """Horizontal stacked bars, one line per organisation, a legend when there are several
    series. Drawn under the roadmap chart's settings (text kept as text, ids from content)."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, MaxNLocator

    lines = max(len(labels), 1)
    width, height = 8.0, 1.3 + 0.32 * lines + (0.3 if len(series) > 1 else 0)
    rc: Any = {**_CHART_RC, "svg.hashsalt": f"nastavnik-{name}"}
    with _chart_lock, rc_context(rc):
        figure = Figure(figsize=(width, height))
        legend_room = 0.3 if len(series) > 1 else 0
        axes = figure.add_axes(
            (
                2.6 / width,
                (0.45 + legend_room) / height,
                1 - 2.9 / width,
                1 - (0.45 + 0.4 + legend_room) / height,
            )
        )
        left = [0.0] * len(labels)
        for one in series:
            bars = axes.barh(
                range(len(labels)),
                one.values,
                left=left,
                height=0.6,
                color=one.colour,
                linewidth=0,
                label=one.label,
                gid=f"{name}-{one.label}",
            )
            left = [a + b for a, b in zip(left, one.values, strict=True)]
            if one.notes:  # a share written at the bar's end
                axes.bar_label(bars, labels=list(one.notes), padding=3)
        axes.set_yticks(range(len(labels)), [_short(label) for label in labels])
        axes.set_ylim(lines - 0.5, -0.5)
        if axis == "%":
            axes.set_xlim(0, 110)
            axes.xaxis.set_major_locator(FixedLocator([0, 20, 40, 60, 80, 100]))
        else:
            axes.set_xlim(0, max([*left, 1.0]) * 1.05)
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel(axis)
        axes.set_title(title, fontsize=9, loc="left")
        axes.grid(axis="x", color="#e0e0e0", linewidth=0.5)
        axes.set_axisbelow(True)
        if len(series) > 1:
            figure.legend(
                loc="lower center", ncol=len(series), frameon=False, fontsize=7, handlelength=1.4
            )
        buffer = io.StringIO()
        FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None})
    return buffer.getvalue()


def coverage_svg(dashboard: DepartmentDashboard) -> str:
    """Coverage per organisation: the share of its mentees with a mentor, in per cent."""
    rows = [row for row in dashboard.rows if row.figures is not None]
    return _bars_svg(
        name="coverage",
        title="Охват: доля наставляемых, у которых есть наставник",
        labels=[row.name for row in rows],
        series=[
            Series(
                "охват",
                COVERAGE_COLOUR,
                tuple(round((row.coverage_share or 0.0) * 100, 1) for row in rows),
                tuple(percent(row.coverage_share) for row in rows),  # «—»: no mentees yet
            )
        ],
        axis="%",
    )


def roadmap_svg(dashboard: DepartmentDashboard) -> str:
    """Roadmap progress per organisation: plan rows done, overdue and the rest."""
    rows = [row for row in dashboard.rows if row.figures is not None]
    progress = [row.figures.roadmap for row in rows if row.figures is not None]
    return _bars_svg(
        name="roadmap",
        title="Дорожные карты: пункты плана",
        labels=[row.name for row in rows],
        series=[
            Series("выполнено", ROADMAP_COLOURS["done"], tuple(p.done for p in progress)),
            Series("просрочено", ROADMAP_COLOURS["overdue"], tuple(p.overdue for p in progress)),
            Series(
                "остальные",
                ROADMAP_COLOURS["rest"],
                tuple(p.total - p.done - p.overdue for p in progress),
            ),
        ],
        axis="пунктов плана",
    )


def reports_svg(dashboard: DepartmentDashboard) -> str:
    """The department's requests per organisation by status."""
    return _bars_svg(
        name="reports",
        title="Отчёты организаций по запросам управления",
        labels=[row.name for row in dashboard.rows],
        series=[
            Series(
                report_requests.STATUS_RU[status],
                REPORT_COLOURS[status],
                tuple(row.reports.by_status()[status] for row in dashboard.rows),
            )
            for status in REPORT_STATUS_ORDER
        ],
        axis="запросов",
    )


def dashboard_charts(dashboard: DepartmentDashboard) -> dict[str, str]:
    """The three charts as SVG text, by name."""
    return {
        "coverage": coverage_svg(dashboard),
        "roadmap": roadmap_svg(dashboard),
        "reports": reports_svg(dashboard),
    }
