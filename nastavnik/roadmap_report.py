"""The roadmap's status report: rows for display, counts, a Gantt chart, markdown and the PDF.

One reading of the plan serves every view — the terminal table, the web page, the Prefect
artifact and the printed «Отчёт о выполнении дорожной карты». The plan holds roadmap items,
dates, staff roles and decisions, never children's names, and the report adds none.

The chart is drawn with matplotlib straight to SVG (vector, text kept as text so the PDF can be
searched and read back). It is deterministic: the same plan and day give the same bytes.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from models import Cycle, ItemStatus, Organization, PlanItem
from nastavnik import documents, plan
from nastavnik.roadmap import WindowKind
from nastavnik.settings import Settings
from nastavnik.tick import STAGE_RU

REPORT_TITLE = "Отчёт о выполнении дорожной карты"
REPORT_TEMPLATE = "roadmap_report.html"

# The order statuses are counted and explained in.
STATUS_ORDER: tuple[ItemStatus, ...] = (
    ItemStatus.done,
    ItemStatus.done_late,
    ItemStatus.in_progress,
    ItemStatus.overdue,
    ItemStatus.not_started,
    ItemStatus.skipped,
)

# One palette for the chart, the web page and the PDF.
STATUS_COLOURS: dict[ItemStatus, str] = {
    ItemStatus.done: "#2e7d32",
    ItemStatus.done_late: "#ef6c00",
    ItemStatus.in_progress: "#1565c0",
    ItemStatus.overdue: "#c62828",
    ItemStatus.not_started: "#9e9e9e",
    ItemStatus.skipped: "#757575",
}
PLANNED_COLOUR = "#cfd8dc"
TODAY_COLOUR = "#1a237e"

MONTHS_RU = ("янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек")

EVIDENCE_KIND_RU = {"file": "файл", "link": "ссылка", "note": "заметка"}
DECISION_RU = {
    "approve": "утверждено",
    "reject": "отклонено",
    "request_changes": "на доработку",
}
UNDATED_RU: dict[str, str] = {
    WindowKind.on_demand: "по мере необходимости",
    WindowKind.after_event: "после события, дата ещё не известна",
}
STAGES_RU: dict[str, str] = {str(stage): name for stage, name in STAGE_RU.items()}

# Lines of the chart per printed landscape page (the chart of a long plan spans pages).
LINES_PER_PAGE = 20


# ---------------------------------------------------------------------------------------------
# Rows and counts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What the responsible attached to close an item."""

    kind: str  # file, link, note
    value: str
    on: str = ""

    @property
    def kind_ru(self) -> str:
        return EVIDENCE_KIND_RU.get(self.kind, self.kind)


@dataclass(frozen=True)
class StatusRow:
    """One plan row (an item, or one occurrence of a recurring item) as the report shows it."""

    item_id: uuid.UUID
    position: int
    number: str
    occurrence: int
    title: str
    stage: str
    responsible: tuple[str, ...]
    due_rule: str
    window_kind: str
    planned_start: date | None
    planned_end: date | None
    actual_start: date | None
    actual_finish: date | None
    status: ItemStatus
    days_late: int | None  # overdue: days past the due date today; done late: days it was late
    evidence: tuple[Evidence, ...] = ()
    document_ids: tuple[str, ...] = ()
    approver: str = ""
    decision: str = ""
    note: str = ""
    run_id: str | None = None

    @property
    def label(self) -> str:
        """«7», or «12 (2)» for the second occurrence of item 12."""
        return f"{self.number} ({self.occurrence})" if self.occurrence else self.number

    @property
    def stage_ru(self) -> str:
        return STAGES_RU.get(self.stage, self.stage)

    @property
    def status_ru(self) -> str:
        return plan.STATUS_RU[self.status]

    @property
    def colour(self) -> str:
        return STATUS_COLOURS[self.status]

    @property
    def dated(self) -> bool:
        return self.planned_start is not None and self.planned_end is not None

    @property
    def planned_ru(self) -> str:
        """«01.09.2026–30.09.2026», or why there is no date."""
        if self.planned_start and self.planned_end:
            return _span(self.planned_start, self.planned_end)
        return UNDATED_RU.get(self.window_kind, "без срока")

    @property
    def actual_ru(self) -> str:
        """«05.09.2026–28.09.2026», «с 05.09.2026» while it runs, «—» before."""
        if self.actual_start and self.actual_finish:
            return _span(self.actual_start, self.actual_finish)
        if self.actual_start:
            return f"с {self.actual_start:%d.%m.%Y}"
        return "—"

    @property
    def lateness_ru(self) -> str:
        """«на 5 дн.» for an overdue or late item, else nothing."""
        return "" if self.days_late is None else f"на {self.days_late} дн."

    @property
    def status_full_ru(self) -> str:
        """«просрочен на 5 дн.», «выполнен с опозданием на 2 дн.», «выполнен»."""
        return f"{self.status_ru} {self.lateness_ru}" if self.lateness_ru else self.status_ru

    @property
    def decision_ru(self) -> str:
        return DECISION_RU.get(self.decision, self.decision)

    @property
    def confirmation_ru(self) -> str:
        """Evidence, documents and the decision in one line (for the terminal and markdown)."""
        parts = [f"{e.kind_ru}: {e.value}" for e in self.evidence]
        if self.document_ids:
            parts.append(f"документов: {len(self.document_ids)}")
        if self.approver or self.decision:
            parts.append(" — ".join(p for p in (self.decision_ru, self.approver) if p))
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


@dataclass(frozen=True)
class StageCounts:
    stage: str
    stage_ru: str
    counts: dict[ItemStatus, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class StatusSummary:
    """How many plan rows are in each status, overall and per stage (in roadmap order)."""

    counts: dict[ItemStatus, int]
    stages: tuple[StageCounts, ...]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class StatusReport:
    """Everything a view of the report needs."""

    cycle_id: uuid.UUID
    organization: dict[str, str]
    school_year: str
    roadmap_title: str
    today: date
    rows: tuple[StatusRow, ...]
    summary: StatusSummary = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "summary", summarise(self.rows))


def _span(start: date, end: date) -> str:
    return f"{start:%d.%m.%Y}" if start == end else f"{start:%d.%m.%Y}–{end:%d.%m.%Y}"


def _days_late(item: PlanItem, today: date) -> int | None:
    if item.planned_end is None:
        return None
    if item.status == ItemStatus.overdue:
        return (today - item.planned_end).days
    if item.status == ItemStatus.done_late and item.actual_finish:
        return (item.actual_finish - item.planned_end).days
    return None


def status_row(item: PlanItem, today: date) -> StatusRow:
    """A plan row as the report shows it on `today`."""
    return StatusRow(
        item_id=item.id,
        position=item.position,
        number=item.number,
        occurrence=item.occurrence,
        title=item.title,
        stage=item.stage,
        responsible=tuple(item.responsible),
        due_rule=item.due_rule,
        window_kind=item.window_kind,
        planned_start=item.planned_start,
        planned_end=item.planned_end,
        actual_start=item.actual_start,
        actual_finish=item.actual_finish,
        status=ItemStatus(item.status),
        days_late=_days_late(item, today),
        evidence=tuple(
            Evidence(str(e.get("kind", "")), str(e.get("value", "")), str(e.get("on", "")))
            for e in item.evidence
        ),
        document_ids=tuple(item.document_ids),
        approver=item.approver,
        decision=item.decision,
        note=item.note,
        run_id=str(item.flow_run_id) if item.flow_run_id else None,
    )


def status_rows(*, session: Session, cycle_id: uuid.UUID, today: date) -> list[StatusRow]:
    """The cycle's plan rows in roadmap order, as stored (the tick keeps statuses current)."""
    return [status_row(item, today) for item in plan.plan_items(session=session, cycle_id=cycle_id)]


def summarise(rows: Iterable[StatusRow]) -> StatusSummary:
    """Counts per status and per stage (stages in the order the roadmap first names them)."""
    counts = dict.fromkeys(STATUS_ORDER, 0)
    per_stage: dict[str, dict[ItemStatus, int]] = {}
    for row in rows:
        counts[row.status] += 1
        per_stage.setdefault(row.stage, dict.fromkeys(STATUS_ORDER, 0))[row.status] += 1
    stages = tuple(
        StageCounts(stage, STAGES_RU.get(stage, stage), stage_counts)
        for stage, stage_counts in per_stage.items()
    )
    return StatusSummary(counts=counts, stages=stages)


def status_report(*, session: Session, cycle_id: uuid.UUID, today: date) -> StatusReport:
    """The report of the cycle's plan on `today`; LookupError if the cycle has no plan."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    cycle_plan = plan.get_plan(session=session, cycle_id=cycle_id)
    if cycle_plan is None:
        raise LookupError(
            f"у цикла {cycle.school_year} нет плана: "
            "сначала nastavnik cycle start с дорожной картой"
        )
    org = session.get(Organization, cycle.organization_id)
    assert org is not None
    return StatusReport(
        cycle_id=cycle_id,
        organization={
            "code": org.code,
            "name": org.name,
            "short_name": org.short_name,
            "city": org.city,
            "director_name": org.director_name,
            "curator_name": org.curator_name,
        },
        school_year=cycle.school_year,
        roadmap_title=cycle_plan.roadmap_title,
        today=today,
        rows=tuple(status_rows(session=session, cycle_id=cycle_id, today=today)),
    )


# ---------------------------------------------------------------------------------------------
# Markdown (the tick's Prefect artifact)
# ---------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def status_markdown(report: StatusReport, *, web_base_url: str) -> str:
    """The report as markdown: counts, per-stage counts, the items and links to the web page.

    Evidence is shown by kind only: a note is free text and might name someone."""
    base = web_base_url.rstrip("/")
    page = f"{base}/roadmap/{report.cycle_id}"
    summary = report.summary
    lines = [
        f"## {REPORT_TITLE}",
        "",
        f"{report.organization['short_name']}, {report.school_year} учебный год — "
        f"«{_cell(report.roadmap_title)}», на {report.today:%d.%m.%Y} "
        "(новая версия — когда статус пункта меняется).",
        "",
        f"[Страница плана с диаграммой]({page}) · [PDF]({page}/report.pdf)",
        "",
        "| Статус | Строк плана |",
        "|---|---:|",
        *(f"| {plan.STATUS_RU[s]} | {summary.counts[s]} |" for s in STATUS_ORDER),
        f"| **всего** | **{summary.total}** |",
        "",
        "| Этап | " + " | ".join(plan.STATUS_RU[s] for s in STATUS_ORDER) + " | всего |",
        "|---|" + "---:|" * (len(STATUS_ORDER) + 1),
        *(
            f"| {stage.stage_ru} | "
            + " | ".join(str(stage.counts[s]) for s in STATUS_ORDER)
            + f" | {stage.total} |"
            for stage in summary.stages
        ),
        "",
        "| № | Пункт | Этап | Срок | План | Факт | Статус | Подтверждение |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        # An overdue row's days late grow every day: the artifact says «просрочен» beside the
        # planned date, so that its content changes only with the plan (same_status).
        status = row.status_ru if row.status == ItemStatus.overdue else row.status_full_ru
        confirmation = [f"{e.kind_ru}" for e in row.evidence]
        if row.document_ids:
            confirmation.append(f"документов: {len(row.document_ids)}")
        if row.decision:
            confirmation.append(row.decision_ru)
        if row.status == ItemStatus.skipped and row.note:
            confirmation.append(_cell(row.note))
        lines.append(
            f"| {row.label} | {_cell(row.title)} | {row.stage_ru} | {_cell(row.due_rule)} | "
            f"{row.planned_ru} | {row.actual_ru} | {status} | {', '.join(confirmation)} |"
        )
    return "\n".join(lines) + "\n"


_AS_OF = re.compile(r", на \d\d\.\d\d\.\d{4} ")


def same_status(previous: str | None, markdown: str) -> bool:
    """Whether two status markdowns differ only in their day: the tick publishes a new version
    of the artifact only when a row's status, date or evidence changed (a school's plan changes
    a few dozen times a year; a version a day made ≈ 18 000 a year for 50 schools)."""
    return previous is not None and _AS_OF.sub(" ", previous, 1) == _AS_OF.sub(" ", markdown, 1)


# ---------------------------------------------------------------------------------------------
# The Gantt chart
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartLine:
    """One line of the chart: an item with all its occurrences."""

    number: str
    title: str
    rows: tuple[StatusRow, ...]

    @property
    def label(self) -> str:
        text = f"{self.number}. {self.title}"
        return text if len(text) <= 52 else text[:51].rstrip() + "…"


def chart_lines(rows: Sequence[StatusRow]) -> list[ChartLine]:
    """Rows grouped into lines: a recurring item's occurrences share its line."""
    grouped: dict[tuple[int, str], list[StatusRow]] = {}
    for row in rows:
        grouped.setdefault((row.position, row.number), []).append(row)
    return [ChartLine(key[1], group[0].title, tuple(group)) for key, group in grouped.items()]


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def chart_range(rows: Sequence[StatusRow], today: date) -> tuple[date, date]:
    """Whole months covering every date of the plan and today."""
    days = [today]
    for row in rows:
        days += [
            d
            for d in (row.planned_start, row.planned_end, row.actual_start, row.actual_finish)
            if d is not None
        ]
    return _month_start(min(days)), _next_month(max(days))


def _month_label(day: date, first: bool) -> str:
    name = MONTHS_RU[day.month - 1]
    return f"{name}\n{day.year}" if first or day.month == 1 else name


# matplotlib's rcParams are process-global: one chart is drawn at a time (the web serves
# requests from a thread pool).
_chart_lock = threading.Lock()

_CHART_RC: Any = {
    "svg.fonttype": "none",  # text stays text: searchable in the PDF, Cyrillic via DejaVu
    "svg.hashsalt": "nastavnik-gantt",  # element ids from the content, not random
    "font.family": "DejaVu Sans",
    "font.size": 7.5,
    "text.parse_math": False,  # a title with two dollar signs must not become a formula
    "axes.linewidth": 0.6,
    "xtick.major.size": 0,
    "ytick.major.size": 0,
}


def gantt_svg(
    rows: Sequence[StatusRow],
    today: date,
    *,
    span: tuple[date, date] | None = None,
    legend: bool = True,
) -> str:
    """The Gantt chart as SVG text: per item line, the planned window as a light bar and the
    actual bar over it (to today while it runs), overdue in red, done late in orange, today's
    line; items with no dates listed and marked. Same rows and day → same bytes."""
    from matplotlib import dates as mdates
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedLocator

    lines = chart_lines(rows)
    start, end = span or chart_range(rows, today)
    height = 1.15 + 0.24 * max(len(lines), 1) + (0.35 if legend else 0)
    width = 11.0

    def x(day: date) -> float:
        return float(mdates.date2num(day))

    with _chart_lock, rc_context(_CHART_RC):
        figure = Figure(figsize=(width, height))
        axes = figure.add_axes(
            (
                3.75 / width,
                (0.45 + (0.35 if legend else 0)) / height,
                1 - 3.95 / width,
                1 - (0.45 + 0.45 + (0.35 if legend else 0)) / height,
            )
        )
        for y, line in enumerate(lines):
            for row in line.rows:
                _draw_row(axes, y, row, today, x, x(start))
        axes.set_ylim(len(lines) - 0.5, -0.5)
        axes.set_yticks(range(len(lines)), [line.label for line in lines])
        axes.set_xlim(x(start), x(end))
        months = []
        month = start
        while month <= end:
            months.append(month)
            month = _next_month(month)
        axes.xaxis.set_major_locator(FixedLocator([x(m) for m in months]))
        axes.set_xticklabels([_month_label(m, i == 0) for i, m in enumerate(months)])
        axes.tick_params(axis="x", labeltop=True, labelbottom=True, labelsize=7)
        axes.grid(axis="x", color="#e0e0e0", linewidth=0.5)
        axes.set_axisbelow(True)
        today_line = axes.axvline(x(today), color=TODAY_COLOUR, linestyle="--", linewidth=1.1)
        today_line.set_gid("today")
        if legend:
            handles = [
                Patch(facecolor=PLANNED_COLOUR, label="план"),
                *(
                    Patch(facecolor=STATUS_COLOURS[s], label=plan.STATUS_RU[s])
                    for s in (
                        ItemStatus.done,
                        ItemStatus.done_late,
                        ItemStatus.in_progress,
                        ItemStatus.overdue,
                    )
                ),
                Patch(facecolor="white", edgecolor="#757575", hatch="////", label="пропущен"),
                axes.plot([], [], color=TODAY_COLOUR, linestyle="--", linewidth=1.1)[0],
            ]
            handles[-1].set_label(f"сегодня, {today:%d.%m.%Y}")
            figure.legend(
                handles=handles,
                loc="lower center",
                ncol=len(handles),
                frameon=False,
                fontsize=7,
                handlelength=1.6,
            )
        buffer = io.StringIO()
        FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None})
    return buffer.getvalue()


def _draw_row(axes: Any, y: int, row: StatusRow, today: date, x: Any, left_edge: float) -> None:
    colour = STATUS_COLOURS[row.status]
    gid = f"item-{row.label}"
    if row.status == ItemStatus.skipped:
        if row.dated:
            assert row.planned_start and row.planned_end
            axes.barh(
                y,
                (row.planned_end - row.planned_start).days + 1,
                left=x(row.planned_start),
                height=0.6,
                color="white",
                edgecolor="#9e9e9e",
                hatch="////",
                linewidth=0.4,
                gid=f"{gid}-skipped",
            )
            return  # the hatching says it; the reason is in the table
        reason = f": {row.note}" if row.note else ""
        axes.text(
            left_edge,
            y,
            f"  пропущен{reason}",
            va="center",
            color="#616161",
            fontsize=6.5,
            style="italic",
        )
        return
    if not row.dated:
        marker = UNDATED_RU.get(row.window_kind, "без срока")
        axes.text(
            left_edge,
            y,
            f"  ◇ {marker}: «{row.due_rule}»",
            va="center",
            color="#616161",
            fontsize=6.5,
            style="italic",
            gid=f"{gid}-undated",
        )
    else:
        assert row.planned_start and row.planned_end
        axes.barh(
            y,
            (row.planned_end - row.planned_start).days + 1,
            left=x(row.planned_start),
            height=0.62,
            color=PLANNED_COLOUR,
            edgecolor="#90a4ae",
            linewidth=0.4,
            gid=f"{gid}-planned",
        )
    bar: tuple[date, date] | None = None
    if row.actual_start:
        bar = (row.actual_start, row.actual_finish or today)
    elif row.status == ItemStatus.overdue and row.planned_end:
        bar = (row.planned_end + timedelta(days=1), today)  # the days it is late
    if bar and bar[1] >= bar[0]:
        axes.barh(
            y,
            (bar[1] - bar[0]).days + 1,
            left=x(bar[0]),
            height=0.3,
            color=colour,
            linewidth=0,
            gid=f"{gid}-actual",
        )
        if (bar[1] - bar[0]).days < 3:  # a day's bar is a hairline on a year's axis
            axes.plot([x(bar[1]) + 0.5], [y], marker="D", markersize=3.5, color=colour, linewidth=0)


def gantt_pages(
    rows: Sequence[StatusRow], today: date, *, per_page: int = LINES_PER_PAGE
) -> list[str]:
    """The chart cut into printed pages of `per_page` lines, all on the same time axis."""
    lines = chart_lines(rows)
    span = chart_range(rows, today)
    pages = [lines[i : i + per_page] for i in range(0, len(lines), per_page)] or [[]]
    return [
        gantt_svg([row for line in page for row in line.rows], today, span=span) for page in pages
    ]


def svg_data_uri(svg: str) -> str:
    """An SVG as a data: URI for <img>: WeasyPrint then draws it as vectors, text as text."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def inline_svg(svg: str) -> str:
    """The <svg> element alone (no XML declaration or doctype), to put inside an HTML page."""
    return svg[svg.index("<svg") :]


# ---------------------------------------------------------------------------------------------
# The PDF
# ---------------------------------------------------------------------------------------------


def status_legend() -> list[tuple[ItemStatus, str, str]]:
    """(status, Russian name, colour) in report order, for the templates' legends."""
    return [(s, plan.STATUS_RU[s], STATUS_COLOURS[s]) for s in STATUS_ORDER]


def report_context(report: StatusReport) -> dict[str, Any]:
    """What templates/documents/roadmap_report.html reads."""
    return {
        "organization": report.organization,
        "document": {"title": REPORT_TITLE, "label": "", "date": report.today},
        "report": report,
        "statuses": status_legend(),
        "charts": [svg_data_uri(svg) for svg in gantt_pages(report.rows, report.today)],
    }


def render_report_pdf(report: StatusReport) -> bytes:
    """«Отчёт о выполнении дорожной карты» as PDF bytes (landscape A4).

    A dated snapshot, not a numbered document: it is made again whenever someone looks, so it
    takes no number of the organisation's series and no row among the issued documents."""
    return documents.render_pdf(REPORT_TEMPLATE, report_context(report))


def report_file_name(report: StatusReport) -> str:
    year = report.school_year.replace("/", "-")
    return f"roadmap-{report.organization['code']}-{year}-{report.today.isoformat()}.pdf"


def save_report_pdf(*, settings: Settings, report: StatusReport) -> Path:
    """Render the report and write it under data_dir/reports/ (one file per day, replaced)."""
    pdf = render_report_pdf(report)
    target = settings.data_dir / "reports" / report_file_name(report)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".pdf.tmp")
    temporary.write_bytes(pdf)
    temporary.replace(target)
    return target
