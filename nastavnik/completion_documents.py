"""The completion stage's documents: the reports put to the director (§3.1) and the evaluation memo
with charts (no Prefect).

- «Отчёты по завершении наставничества»: every finished pair's reports (§2.13–§2.14) in one PDF
  for the director, who approves them (§3.1). Names are printed: it goes to the director.
- «Справка по результатам оценки и обратной связи» (seed ``roadmap_school7_mineralnye_vody.txt``,
  item 5: «Оценка реализации персонализированных программ наставничества, сбор обратной связи
  от участников … — Справка по результатам оценки и обратной связи»): the indicators with their
  formulas (nastavnik.indicators), the reports' statuses, per-mentor results, and charts drawn
  with matplotlib straight to SVG (vector, text kept as text), as the roadmap's Gantt chart is
  (nastavnik.roadmap_report). The charts carry indicator titles and forms of mentoring only —
  nobody's name — and the memo prints no mentee's name, so it can travel to the department.
"""

from __future__ import annotations

import io
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from models import (
    CompletionReport,
    Cycle,
    Document,
    FinalInterview,
    ItemStatus,
    MentorshipPair,
    Role,
)
from nastavnik import completion, documents, indicators, plan, roadmap_report
from nastavnik.indicators import SHARE, CycleIndicators

# matplotlib's rcParams are process-global: one lock for every chart the process draws.
from nastavnik.roadmap_report import _chart_lock as chart_lock
from nastavnik.roadmap_report import svg_data_uri
from nastavnik.settings import Settings

MEMO_TITLE = "Справка по результатам оценки и обратной связи"
MEMO_TEMPLATE = "evaluation_memo.html"
REPORTS_TITLE = "Отчёты по завершении наставничества"
REPORTS_TEMPLATE = "completion_reports.html"
ORDER_TITLE = "Приказ об итогах реализации программы наставничества"
ORDER_TEMPLATE = "order_completion.html"
SELF_DIAGNOSTICS_TITLE = "Справка по результатам самодиагностики"
SELF_DIAGNOSTICS_TEMPLATE = "self_diagnostics.html"

MENTORS_COLOUR, MENTEES_COLOUR, SHARE_COLOUR = "#1565c0", "#ef6c00", "#2e7d32"

_CHART_RC: Any = {
    "svg.fonttype": "none",  # text stays text: searchable in the PDF, Cyrillic via DejaVu
    "svg.hashsalt": "nastavnik-evaluation",  # element ids from the content, not random
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "text.parse_math": False,
    "axes.linewidth": 0.6,
}


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """One chart of the memo: its caption and its SVG."""

    title: str
    svg: str

    @property
    def data_uri(self) -> str:
        return svg_data_uri(self.svg)


def _svg(figure: Any) -> str:
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    buffer = io.StringIO()
    FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None})
    return buffer.getvalue()


def _ru(number: float) -> str:
    return f"{number:.1f}".replace(".", ",")


@dataclass(frozen=True)
class ShareBar:
    """One bar of a 0–100 % chart: its label, the share (None: nothing counted), the text at
    its end and its SVG id."""

    label: str
    share: float | None
    text: str
    gid: str


def share_bars_svg(
    bars: Sequence[ShareBar],
    *,
    base_height: float = 0.6,
    row_height: float = 0.5,
    axes_rect: tuple[float, float, float, float] = (0.44, 0.2, 0.54, 0.72),
    target: float | None = None,
) -> str:
    """Horizontal bars, 0–100 %, each with its value and what was counted written at its end
    (and a dashed line at the target share when one is given)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with chart_lock, rc_context(_CHART_RC):
        figure = Figure(figsize=(7.0, base_height + row_height * max(len(bars), 1)))
        axes = figure.add_axes(axes_rect)
        for y, bar in enumerate(bars):
            percent = (bar.share or 0) * 100
            axes.barh(y, percent, height=0.55, color=SHARE_COLOUR, gid=bar.gid)
            axes.text(min(percent, 100) + 1.5, y, bar.text, va="center", fontsize=7.5)
        axes.set_yticks(range(len(bars)), [bar.label for bar in bars])
        axes.set_ylim(len(bars) - 0.5, -0.5)
        axes.set_xlim(0, 130)
        axes.set_xticks([0, 25, 50, 75, 100], ["0 %", "25 %", "50 %", "75 %", "100 %"])
        if target is not None:
            axes.axvline(target * 100, color="#9e9e9e", linewidth=0.6, linestyle="--")
        axes.spines[["top", "right"]].set_visible(False)
        axes.grid(axis="x", color="#e0e0e0", linewidth=0.5)
        axes.set_axisbelow(True)
        return _svg(figure)


def shares_chart_svg(result: CycleIndicators) -> str:
    """Horizontal bars, 0–100 %: every share indicator with its value and what was counted."""
    return share_bars_svg(
        [
            ShareBar(i.title_ru, i.value, f"{i.value_ru} ({i.counted_ru})", f"bar-{i.key}")
            for i in result.overall
            if i.kind == SHARE
        ]
    )


def satisfaction_chart_svg(result: CycleIndicators) -> str:
    """Grouped bars per form of mentoring: mentors' and mentees' satisfaction, 1–10."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    forms = result.by_form
    width = 0.38
    with chart_lock, rc_context(_CHART_RC):
        figure = Figure(figsize=(7.0, 3.0))
        axes = figure.add_axes((0.08, 0.2, 0.9, 0.68))
        for offset, side, colour, label in (
            (-width / 2, "mentors", MENTORS_COLOUR, "наставники"),
            (width / 2, "mentees", MENTEES_COLOUR, "наставляемые"),
        ):
            values = [getattr(f, side).value for f in forms]
            positions = [x + offset for x in range(len(forms))]
            axes.bar(
                positions,
                [v or 0 for v in values],
                width=width,
                color=colour,
                label=label,
                gid=f"bars-{side}",
            )
            for x, value in zip(positions, values, strict=True):
                axes.text(
                    x,
                    (value or 0) + 0.15,
                    _ru(value) if value is not None else "нет данных",
                    ha="center",
                    fontsize=7,
                )
        axes.set_xticks(range(len(forms)), [f"«{f.form}»" for f in forms])
        axes.set_ylim(0, 11)
        axes.set_yticks(range(0, 11, 2))
        axes.set_ylabel("среднее, 1–10")
        axes.spines[["top", "right"]].set_visible(False)
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, 1.16), ncol=2, frameon=False)
        return _svg(figure)


def memo_charts(result: CycleIndicators) -> list[Chart]:
    """The memo's charts (labels: indicators and forms only, no names)."""
    charts = [Chart("Показатели программы наставничества", shares_chart_svg(result))]
    if result.by_form:
        charts.append(
            Chart(
                "Удовлетворённость программой по формам наставничества",
                satisfaction_chart_svg(result),
            )
        )
    return charts


# ---------------------------------------------------------------------------------------------
# The memo
# ---------------------------------------------------------------------------------------------


def memo_key(*, cycle_id: uuid.UUID, on: date) -> str:
    """One memo per cycle and as-of day: the flow fixes the day, so a resume makes no second."""
    return f"evaluation-memo:{cycle_id}:{on.isoformat()}"


def memo_context(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    today: date,
    result: CycleIndicators | None = None,
) -> dict[str, Any]:
    """What templates/documents/evaluation_memo.html reads (`result`: the cycle's indicators on
    `today` when the caller has them already)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    if result is None:
        result = indicators.cycle_indicators(session=session, cycle_id=cycle_id, today=today)
    expected = completion.expected_reports(session=session, cycle_id=cycle_id, today=today)
    counts = completion.status_counts(expected, today)
    return {
        "cycle": {"school_year": cycle.school_year},
        "today": today,
        "indicators": result,
        "charts": memo_charts(result),
        "statuses": [(completion.STATUS_RU[s], counts[s]) for s in completion.ReportStatus],
        "expected": len(expected),
        "mentors": sum(1 for e in expected if e.role == Role.mentor),
        "mentees": sum(1 for e in expected if e.role == Role.mentee),
    }


def _cycle(session: Session, cycle_id: uuid.UUID) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    return cycle


def _issue(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    unique_key: str,
    doc_type: str,
    title: str,
    template: str,
    context: dict[str, Any],
    on: date,
    flow_run_id: uuid.UUID | None,
) -> Document:
    """One of the stage's documents of the cycle, dated `on` (the existing one if made before)."""
    return documents.issue_document(
        session=session,
        settings=settings,
        unique_key=unique_key,
        organization_id=_cycle(session, cycle_id).organization_id,
        cycle_id=cycle_id,
        doc_type=doc_type,
        title=title,
        template=template,
        context=context,
        doc_date=on,
        flow_run_id=flow_run_id,
    )


def issue_memo(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    on: date,
    flow_run_id: uuid.UUID | None = None,
    result: CycleIndicators | None = None,
) -> Document:
    """The memo as of `on` (the existing one if it was made before); `result` as memo_context's."""
    return _issue(
        session=session,
        settings=settings,
        cycle_id=cycle_id,
        unique_key=memo_key(cycle_id=cycle_id, on=on),
        doc_type="memo",
        title=MEMO_TITLE,
        template=MEMO_TEMPLATE,
        context=memo_context(session=session, cycle_id=cycle_id, today=on, result=result),
        on=on,
        flow_run_id=flow_run_id,
    )


# ---------------------------------------------------------------------------------------------
# The reports put to the director
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairReports:
    """One finished pair and the reports it owes, as the director reads them."""

    number: int
    pair_id: uuid.UUID
    form: str
    mentor_name: str
    mentee_names: list[str]
    starts_on: date | None
    ended_on: date
    ended_early: bool
    due_on: date
    items: list[tuple[str, str, completion.ExpectedReport]]  # (name, status, report)
    interviews: dict[str, FinalInterview]  # by the mentee's participant id (§3.1)


def pair_reports(*, session: Session, cycle_id: uuid.UUID, today: date) -> list[PairReports]:
    """The finished pairs with their reports (submitted or not), oldest end first."""
    expected = completion.expected_reports(session=session, cycle_id=cycle_id, today=today)
    names = completion.people_names(
        session=session, participant_ids=[e.participant_id for e in expected]
    )
    grouped: dict[uuid.UUID, list[completion.ExpectedReport]] = defaultdict(list)
    for item in expected:
        grouped[item.pair_id].append(item)
    pairs = {
        p.id: p
        for p in session.exec(
            select(MentorshipPair).where(col(MentorshipPair.id).in_(list(grouped)))
        )
    }
    held = completion.interviews(session=session, pair_ids=list(grouped))
    result = []
    for number, (pair_id, items) in enumerate(grouped.items(), start=1):
        pair, first = pairs[pair_id], items[0]
        result.append(
            PairReports(
                number=number,
                pair_id=pair_id,
                form=first.form,
                mentor_name=names.get(pair.mentor_id, ""),
                mentee_names=[
                    names.get(e.participant_id, "") for e in items if e.role == Role.mentee
                ],
                starts_on=pair.starts_on,
                ended_on=first.ended_on,
                ended_early=first.ended_early,
                due_on=first.due_on,
                items=[
                    (names.get(e.participant_id, ""), completion.STATUS_RU[e.status(today)], e)
                    for e in items
                ],
                interviews={
                    str(mentee_id): interview
                    for (interview_pair, mentee_id), interview in held.items()
                    if interview_pair == pair_id
                },
            )
        )
    return result


def reports_key(*, cycle_id: uuid.UUID, on: date) -> str:
    """One compiled reports document per cycle and as-of day."""
    return f"completion-reports:{cycle_id}:{on.isoformat()}"


def issue_reports_document(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    on: date,
    flow_run_id: uuid.UUID | None = None,
) -> Document:
    """Every finished pair's reports as of `on`, for the director's approval (§3.1)."""
    cycle = _cycle(session, cycle_id)
    return _issue(
        session=session,
        settings=settings,
        cycle_id=cycle_id,
        unique_key=reports_key(cycle_id=cycle_id, on=on),
        doc_type="report",
        title=REPORTS_TITLE,
        template=REPORTS_TEMPLATE,
        context={
            "cycle": {"school_year": cycle.school_year},
            "today": on,
            "pairs": pair_reports(session=session, cycle_id=cycle_id, today=on),
            "fulfilment_ru": completion.FULFILMENT_RU,
            "questions": completion.QUESTIONNAIRE_RU,
        },
        on=on,
        flow_run_id=flow_run_id,
    )


def approve_reports(*, session: Session, cycle_id: uuid.UUID, on: date) -> int:
    """The director approved the reports (§3.1): every submitted, unapproved report of the
    cycle's finished pairs gets the day; how many. Running it again approves nothing more."""
    reports = session.exec(
        select(CompletionReport)
        .join(MentorshipPair, col(MentorshipPair.id) == col(CompletionReport.pair_id))
        .where(
            MentorshipPair.cycle_id == cycle_id,
            col(CompletionReport.approved_on).is_(None),
            col(CompletionReport.submitted_on) <= on,
        )
    ).all()
    for report in reports:
        report.approved_on = on
        session.add(report)
    session.flush()
    return len(reports)


# ---------------------------------------------------------------------------------------------
# The order on the year's results
# ---------------------------------------------------------------------------------------------


def order_key(*, cycle_id: uuid.UUID, on: date) -> str:
    """One order on the results per cycle and as-of day."""
    return f"completion-order:{cycle_id}:{on.isoformat()}"


def issue_order(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    on: date,
    reports: Document,
    memo: Document,
    flow_run_id: uuid.UUID | None = None,
) -> Document:
    """«Об итогах реализации программы наставничества»: the finished pairs (they ended on their
    dates or by their orders: the order records it), the reports approved, the memo noted."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    expected = completion.expected_reports(session=session, cycle_id=cycle_id, today=on)
    counts = completion.status_counts(expected, on)
    return documents.issue_document(
        session=session,
        settings=settings,
        unique_key=order_key(cycle_id=cycle_id, on=on),
        organization_id=cycle.organization_id,
        cycle_id=cycle_id,
        doc_type="order",
        title=ORDER_TITLE,
        template=ORDER_TEMPLATE,
        context={
            "cycle": {"school_year": cycle.school_year},
            "order_date": on,
            "pairs": pair_reports(session=session, cycle_id=cycle_id, today=on),
            "reports": {"label": reports.label, "date": reports.doc_date},
            "memo": {"label": memo.label, "date": memo.doc_date},
            "expected": len(expected),
            "submitted": counts[completion.ReportStatus.submitted]
            + counts[completion.ReportStatus.late],
            "overdue": counts[completion.ReportStatus.overdue],
        },
        doc_date=on,
        flow_run_id=flow_run_id,
    )


# ---------------------------------------------------------------------------------------------
# Self-diagnostics (June)
# ---------------------------------------------------------------------------------------------

ATTENTION_SHARE = 0.8
"""A share indicator below 80 % is listed among what needs attention."""
ATTENTION_MEAN = 7.0
"""A 1–10 mean below 7 is listed among what needs attention."""


def needs_attention(result: CycleIndicators) -> list[indicators.Indicator]:
    """The indicators below the thresholds above (without data: not listed)."""
    return [
        i
        for i in result.overall
        if i.value is not None
        and (i.value < ATTENTION_SHARE if i.kind == SHARE else i.value < ATTENTION_MEAN)
    ]


def self_diagnostics_key(*, cycle_id: uuid.UUID, on: date) -> str:
    """One self-diagnostics memo per cycle and as-of day."""
    return f"self-diagnostics:{cycle_id}:{on.isoformat()}"


def self_diagnostics_context(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    today: date,
    result: CycleIndicators | None = None,
) -> dict[str, Any]:
    """What templates/documents/self_diagnostics.html reads: the roadmap's execution (as the
    tick keeps it, nastavnik.roadmap_report) and the programmes' effectiveness (the indicators;
    `result` when the caller has them already)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"цикл {cycle_id} не найден")
    if result is None:
        result = indicators.cycle_indicators(session=session, cycle_id=cycle_id, today=today)
    try:
        report: roadmap_report.StatusReport | None = roadmap_report.status_report(
            session=session, cycle_id=cycle_id, today=today
        )
    except LookupError:
        report = None  # an organisation running without a roadmap in the system
    roadmap: dict[str, Any] | None = None
    if report is not None:
        counts = report.summary.counts
        done = counts[ItemStatus.done] + counts[ItemStatus.done_late]
        counted = report.summary.total - counts[ItemStatus.skipped]
        roadmap = {
            "title": report.roadmap_title,
            "summary": report.summary,
            "statuses": roadmap_report.status_legend(),
            "done": done,
            "counted": counted,
            "share": indicators.share(
                "roadmap",
                "Пункты дорожной карты выполнены",
                "Выполнено = строки плана, выполненные в срок или с опозданием, / все строки "
                "плана, кроме пропущенных.",
                done,
                counted,
            ),
            "late": [
                r for r in report.rows if r.status in (ItemStatus.overdue, ItemStatus.done_late)
            ],
        }
    return {
        "cycle": {"school_year": cycle.school_year},
        "today": today,
        "roadmap": roadmap,
        "indicators": result,
        "attention": needs_attention(result),
        "thresholds": {"share": "80 %", "mean": "7 из 10"},
        "status_ru": plan.STATUS_RU,
    }


def issue_self_diagnostics(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    on: date,
    flow_run_id: uuid.UUID | None = None,
    result: CycleIndicators | None = None,
) -> Document:
    """«Справка по результатам самодиагностики» as of `on` (seed school №7, item 6: «Июнь
    Ежегодно»): the roadmap's execution and the programmes' effectiveness; no names."""
    return _issue(
        session=session,
        settings=settings,
        cycle_id=cycle_id,
        unique_key=self_diagnostics_key(cycle_id=cycle_id, on=on),
        doc_type="memo",
        title=SELF_DIAGNOSTICS_TITLE,
        template=SELF_DIAGNOSTICS_TEMPLATE,
        context=self_diagnostics_context(
            session=session, cycle_id=cycle_id, today=on, result=result
        ),
        on=on,
        flow_run_id=flow_run_id,
    )


def issue_completion_documents(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    on: date,
    flow_run_id: uuid.UUID | None = None,
) -> list[Document]:
    """The reports put to the director, the evaluation memo, the self-diagnostics memo and the
    order on the results, in that order (each the existing one if it was made before). The two
    memos read one computation of the indicators (≈0.5 s for a school)."""
    same: dict[str, Any] = {
        "session": session,
        "settings": settings,
        "cycle_id": cycle_id,
        "on": on,
        "flow_run_id": flow_run_id,
    }
    reports = issue_reports_document(**same)
    result = indicators.cycle_indicators(session=session, cycle_id=cycle_id, today=on)
    memo = issue_memo(**same, result=result)
    diagnostics = issue_self_diagnostics(**same, result=result)
    order = issue_order(**same, reports=reports, memo=memo)
    return [reports, memo, diagnostics, order]
