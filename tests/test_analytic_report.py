"""The department's informational-analytic report (issue 10 §6) on a small hand case: two member
organisations submitted their reports, one did not. Figures equal to a hand count; the PDF read
back; the charts drawn as vectors with their labels as text; no person named anywhere."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from models import (
    Organization,
    ReportKind,
    ReportRequest,
    ReportSubmission,
    ReportTransport,
)
from nastavnik import analytic_report, documents, repository
from nastavnik.org_report import (
    Coverage,
    FormFigure,
    IndicatorFigure,
    OrganisationFigures,
    OrganisationReport,
    PairFigures,
    RoadmapProgress,
    payload_digest,
)

YEAR = "2026/2027"
DUE = date(2027, 6, 1)
TODAY = date(2027, 6, 20)
DIRECTORS = ["Смирнова Елена Викторовна", "Орлов Пётр Семёнович", "Зайцева Анна Юрьевна"]
HEAD = "Кедрова Галина Павловна"
APPROVER = "Волков Игорь Андреевич"  # the director who approved a report: an adult, not shown


def _indicator(key: str, kind: str, numerator: float, denominator: int) -> IndicatorFigure:
    return IndicatorFigure(
        key=key,
        title_ru=key,
        formula_ru=key,
        kind=kind,
        numerator=numerator,
        denominator=denominator,
        value=numerator / denominator if denominator else None,
    )


def _figures(
    code: str,
    name: str,
    kind: str,
    *,
    mentees: int,
    with_mentor: int,
    pairs: int,
    meetings: int,
    completed: tuple[int, int],
    on_time: tuple[int, int],
    mentors_sat: tuple[int, int],
    mentees_sat: tuple[int, int],
    forms: list[FormFigure],
    overdue: list[str],
) -> OrganisationFigures:
    return OrganisationFigures(
        organization_code=code,
        organization_name=name,
        organization_kind=kind,
        school_year=YEAR,
        as_of=date(2027, 5, 30),
        current_stage="completion",
        current_stage_ru="Завершение",
        roadmap=RoadmapProgress(
            total=10,
            done=8,
            done_late=1,
            in_progress=1 - len(overdue) if len(overdue) < 2 else 0,
            overdue=len(overdue),
            not_started=0,
            skipped=0,
            overdue_items=overdue,
        ),
        pairs=PairFigures(total=pairs, going_on=0, ended=pairs, terminated=0, replaced=0),
        coverage=Coverage(mentors=pairs, mentees=mentees, mentees_with_mentor=with_mentor),
        meetings_held=meetings,
        indicators=[
            _indicator("completed", "share", *completed),
            _indicator("reports_on_time", "share", *on_time),
            _indicator("satisfaction_mentors", "mean", *mentors_sat),
            _indicator("satisfaction_mentees", "mean", *mentees_sat),
        ],
        forms=forms,
    )


SCHOOL = _figures(
    "school-1",
    "СШ № 1",
    "school",
    mentees=10,
    with_mentor=8,
    pairs=8,
    meetings=40,
    completed=(6, 8),
    on_time=(14, 16),
    mentors_sat=(36, 4),  # 9,0
    mentees_sat=(48, 6),  # 8,0
    forms=[
        FormFigure(
            form="ученик–ученик", pairs=5, satisfaction_mentors=9.0, satisfaction_mentees=8.0
        ),
        FormFigure(
            form="учитель–учитель", pairs=3, satisfaction_mentors=9.0, satisfaction_mentees=None
        ),
    ],
    overdue=["4 — Мониторинг реализации программы наставничества"],
)
COLLEGE = _figures(
    "college-2",
    "Колледж № 2",
    "college",
    mentees=20,
    with_mentor=10,
    pairs=10,
    meetings=30,
    completed=(8, 10),
    on_time=(10, 20),
    mentors_sat=(12, 2),  # 6,0
    mentees_sat=(70, 10),  # 7,0
    forms=[
        FormFigure(
            form="ученик–ученик", pairs=10, satisfaction_mentors=6.0, satisfaction_mentees=7.0
        )
    ],
    overdue=[],
)


def _member(session: Session, code: str, name: str, kind: str, director: str, dept) -> Organization:
    org = repository.upsert_organization(
        session=session,
        code=code,
        name=f"Организация «{name}»",
        short_name=name,
        director_name=director,
        director_email=f"director@{code}.example.ru",
        curator_name=director,
        curator_email=f"curator@{code}.example.ru",
    )
    org.kind, org.department_id = kind, dept.id if dept else None
    session.add(org)
    session.flush()
    return org


def _request(session, dept, cycle, org, kind: ReportKind, due: date) -> ReportRequest:
    request = ReportRequest(
        unique_key=f"{kind}:{org.code}:{due}",
        department_id=dept.id,
        cycle_id=cycle.id,
        organization_id=org.id,
        kind=kind,
        title=f"Отчёт {kind}",
        school_year=YEAR,
        requested_on=date(2026, 11, 1),
        due_on=due,
    )
    session.add(request)
    session.flush()
    return request


def _submit(session, request, org, figures: OrganisationFigures, on: date) -> None:
    payload = OrganisationReport(
        request_key=request.unique_key,
        report_kind=request.kind,
        department_code="kedrovy",
        figures=figures,
        memo=["Мероприятия дорожной карты выполнены."],
        approved_by=APPROVER,
        approved_on=on,
    ).model_dump(mode="json")
    session.add(
        ReportSubmission(
            request_id=request.id,
            organization_id=org.id,
            digest=payload_digest(payload),
            signature="s" * 64,
            payload=payload,
            transport=ReportTransport.database,
            submitted_on=on,
        )
    )
    session.flush()


def make_department(session: Session) -> uuid.UUID:
    """The Kedrovy department with three members: a school (an interim report, then its final
    report sent late and resent with a correction), a college (final, on time), a centre (none).
    Returns the department's cycle id."""
    dept = _member(session, "kedrovy", "Отдел образования г. Кедровый", "department", HEAD, None)
    dept.curator_name = "Лосева Ирина Олеговна"
    cycle = repository.get_or_create_cycle(
        session=session, organization_id=dept.id, school_year=YEAR
    )
    school = _member(session, "school-1", "СШ № 1", "school", DIRECTORS[0], dept)
    college = _member(session, "college-2", "Колледж № 2", "college", DIRECTORS[1], dept)
    centre = _member(session, "centre-3", "ЦДО «Радуга»", "centre", DIRECTORS[2], dept)
    interim = _request(session, dept, cycle, school, ReportKind.interim, date(2027, 1, 20))
    _submit(
        session, interim, school, SCHOOL.model_copy(update={"meetings_held": 2}), date(2027, 1, 15)
    )
    final = _request(session, dept, cycle, school, ReportKind.final, DUE)
    _submit(
        session, final, school, SCHOOL.model_copy(update={"meetings_held": 35}), date(2027, 6, 5)
    )
    _submit(session, final, school, SCHOOL, date(2027, 6, 7))  # the correction: read this one
    college_final = _request(session, dept, cycle, college, ReportKind.final, DUE)
    _submit(session, college_final, college, COLLEGE, date(2027, 5, 30))
    _request(session, dept, cycle, centre, ReportKind.final, DUE)
    session.commit()
    return cycle.id


@pytest.fixture
def department_cycle(engine) -> uuid.UUID:
    with Session(engine) as session:
        return make_department(session)


def test_the_figures_equal_a_hand_count(engine, department_cycle) -> None:
    with Session(engine) as session:
        report = analytic_report.build_report(
            session=session, cycle_id=department_cycle, today=TODAY
        )
    assert [r.name for r in report.rows] == ["Колледж № 2", "СШ № 1"]  # by code
    school = report.rows[1]
    assert school.meetings == 40 and school.report.report_kind == "final"  # the latest, final
    assert school.status_ru == "сдан с опозданием"  # the first submission, 5 June, was late
    assert report.rows[0].status_ru == "сдан в срок"
    assert [(m.name, m.status_ru) for m in report.missing] == [("ЦДО «Радуга»", "не сдан")]
    figures = {a.key: (a.value_ru, a.counted_ru) for a in report.totals}
    assert figures["submitted"] == ("66,7 %", "2 из 3")
    assert figures["pairs"] == ("18", "по 2 организациям")
    assert figures["meetings"] == ("70", "по 2 организациям")
    assert figures["coverage"] == ("60,0 %", "18 из 30")  # (8 + 10) / (10 + 20)
    assert figures["coverage_mean"] == ("65,0 %", "по 2 организациям")  # (80 % + 50 %) / 2
    assert figures["completed"] == ("77,8 %", "14 из 18")
    assert figures["reports_on_time"] == ("66,7 %", "24 из 36")
    assert figures["satisfaction_mentors"] == ("8,0 из 10", "по 6 ответам")  # 48 / 6
    assert figures["satisfaction_mentors_mean"][0] == "7,5 из 10"  # (9 + 6) / 2
    assert figures["satisfaction_mentees"] == ("7,4 из 10", "по 16 ответам")  # 118 / 16
    assert report.total("satisfaction_mentees").value == pytest.approx(7.375)
    assert figures["satisfaction_mentees_mean"][0] == "7,5 из 10"  # (8 + 7) / 2
    assert figures["overdue"][0] == "1"
    assert all(a.formula_ru for a in report.totals)
    forms = {
        (f.form, f.pairs, f.organisations, f.satisfaction_mentors, f.satisfaction_mentees)
        for f in report.forms
    }
    assert forms == {("ученик–ученик", 15, 2, 7.5, 7.5), ("учитель–учитель", 3, 1, 9.0, None)}
    assert report.conclusions == [
        "Отчёты представили 2 из 3 подведомственных организаций.",
        "Не представили отчёт: ЦДО «Радуга».",
        "Представили отчёт с опозданием: СШ № 1.",
        "Наибольший охват наставничеством — СШ № 1 (80,0 %), наименьший — Колледж № 2 (50,0 %).",
        "Охват ниже 80,0 %: Колледж № 2 (50,0 %).",
        "Наиболее высокая удовлетворённость наставляемых программой — СШ № 1 (8,0 из 10), "
        "наиболее низкая — Колледж № 2 (7,0 из 10).",
        "Наиболее высокая удовлетворённость наставников программой — СШ № 1 (9,0 из 10), "
        "наиболее низкая — Колледж № 2 (6,0 из 10).",
        "Просроченные пункты дорожной карты есть у организаций: СШ № 1 (1).",
    ]
    assert (
        "Колледж № 2: увеличить охват наставляемых наставничеством "
        "(в 2026/2027 учебном году — 50,0 %)." in report.recommendations
    )
    assert (
        "ЦДО «Радуга»: представить отчёт о реализации целевой модели наставничества."
        in report.recommendations
    )


def _pdf(settings, document) -> tuple[str, PdfReader]:
    reader = PdfReader(documents.document_file(settings=settings, document=document))
    return "\n".join(page.extract_text() for page in reader.pages), reader


def test_the_report_and_the_order_read_back_with_vector_charts_and_no_names(
    engine, settings, department_cycle
) -> None:
    with Session(engine) as session:
        report = analytic_report.build_report(
            session=session, cycle_id=department_cycle, today=TODAY
        )
        charts = analytic_report.report_charts(report)
        document = analytic_report.issue_report(
            session=session, settings=settings, cycle_id=department_cycle, on=TODAY
        )
        again = analytic_report.issue_report(
            session=session, settings=settings, cycle_id=department_cycle, on=TODAY
        )
        order = analytic_report.issue_order(
            session=session,
            settings=settings,
            cycle_id=department_cycle,
            on=TODAY,
            report_document=document,
        )
        session.commit()
        assert again.id == document.id  # one report per cycle and day
        dept = session.get(Organization, document.organization_id)
        assert dept is not None and dept.code == "kedrovy"  # under the department
        text, reader = _pdf(settings, document)
        order_text, _ = _pdf(settings, order)
    assert [c.title for c in charts] == [
        "Охват наставляемых наставничеством по организациям",
        "Удовлетворённость программой по организациям",
        "Наставнические пары по формам наставничества",
    ]
    assert charts[0].svg == analytic_report.coverage_chart_svg(report.rows)  # deterministic
    chart_texts = " ".join(
        t for chart in charts for t in re.findall(r"<text[^>]*>([^<]*)</text>", chart.svg)
    )
    assert "80,0 % (8 из 10)" in chart_texts and "Колледж № 2" in chart_texts
    flat = " ".join(text.split())
    assert analytic_report.REPORT_TITLE in flat
    for name in ("СШ № 1", "Колледж № 2", "ЦДО «Радуга»"):
        assert name in flat
    assert "60,0 %" in flat and "18 из 30" in flat and "7,4 из 10" in flat
    assert "Охват = сумма наставляемых" in flat  # the formula printed
    assert "4 — Мониторинг реализации программы наставничества" in flat
    assert "Наименьший" in flat or "наименьший — Колледж № 2 (50,0 %)" in flat
    assert "50,0 % (10 из 20)" in text  # a label drawn inside the chart, read back as text
    assert "среднее, 1–10" in text and "«ученик–ученик»" in text
    assert not any(page.images for page in reader.pages)  # vectors, not pictures
    forms = [
        obj.get_object()
        for page in reader.pages
        for obj in (page["/Resources"].get("/XObject") or {}).values()
    ]
    assert any(form.get("/Subtype") == "/Form" for form in forms)
    order_flat = " ".join(order_text.split())
    assert (
        "Об итогах реализации целевой модели наставничества в 2026/2027 учебном году" in order_flat
    )
    assert "Утвердить информационно-аналитический отчёт" in order_flat
    assert document.label in order_flat and "Отметить высокие результаты" in order_flat
    assert "Колледж № 2" in order_flat and "отчёт не представлен" in order_flat
    # Nobody is named: not the approving directors, not the member directors (the department
    # head signs under initials, as every order does).
    everything = flat + " " + order_flat + " " + chart_texts
    for person in [*DIRECTORS, APPROVER]:
        for part in person.split():
            assert part not in everything
    assert "Г. П. Кедрова" in order_flat and "Галина" not in everything


def test_an_unreadable_payload_is_refused_naming_the_request(engine, department_cycle) -> None:
    with Session(engine) as session:
        submission = session.exec(
            select(ReportSubmission).where(ReportSubmission.submitted_on == date(2027, 5, 30))
        ).one()
        submission.payload = {**submission.payload, "figures": {"organization_code": "x"}}
        session.add(submission)
        session.commit()
        with pytest.raises(ValueError, match=r"(?s)final:college-2:2027-06-01.*figures"):
            analytic_report.build_report(session=session, cycle_id=department_cycle, today=TODAY)
