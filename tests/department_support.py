"""A department with two member schools and a request to each, for the report envelope's tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import Organization, ReportKind, ReportRequest
from nastavnik import repository
from nastavnik.report_envelope import (
    RequestInfo,
    build_report,
    describe_request,
    sign_envelope,
    signing_token,
)
from nastavnik.settings import Settings
from tests.final_event_school import School, build_school

YEAR = "2026/2027"
REPORT_DAY = date(2026, 11, 15)
NOW = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
KEY_7 = "edu-kedrovy:2026/2027:information:school-7"
KEY_8 = "edu-kedrovy:2026/2027:information:school-8"
DIRECTOR = "Иванова Мария Петровна"


@dataclass(frozen=True)
class Department:
    school: School
    department_id: uuid.UUID
    other_id: uuid.UUID


def _request(session: Session, key: str, dept: Organization, org_id: uuid.UUID, cycle_id: Any):
    session.add(
        ReportRequest(
            unique_key=key,
            department_id=dept.id,
            cycle_id=cycle_id,
            organization_id=org_id,
            kind=ReportKind.information,
            title="Информационный отчёт",
            school_year=YEAR,
            requested_on=date(2026, 11, 1),
            due_on=date(2026, 11, 20),
        )
    )


def build_department(engine: Engine, cycle_ids: tuple) -> Department:
    """school-7 (build_school's pairs and children) and school-8 under edu-kedrovy."""
    school = build_school(engine, cycle_ids)
    with Session(engine) as session:
        dept = repository.upsert_organization(
            session=session,
            code="edu-kedrovy",
            name="Управление образования администрации Кедровского округа",
            short_name="УО Кедровый",
            director_name="Кедрова Елена Павловна",
            director_email="head@edu-kedrovy.example",
            curator_name="Орлов Павел Андреевич",
            curator_email="methodist@edu-kedrovy.example",
        )
        dept.kind = "department"
        other = repository.upsert_organization(
            session=session,
            code="school-8",
            name="МБОУ «Средняя школа № 8»",
            short_name="СШ № 8",
            director_name="Смирнова Ольга Ивановна",
            director_email="director@school8.example",
            curator_name="Зайцев Игорь Петрович",
            curator_email="curator@school8.example",
        )
        school_7 = session.get(Organization, school.org_id)
        assert school_7 is not None
        school_7.department_id = other.department_id = dept.id
        session.add_all([dept, other, school_7])
        dept_cycle = repository.get_or_create_cycle(
            session=session, organization_id=dept.id, school_year=YEAR
        )
        _request(session, KEY_7, dept, school.org_id, dept_cycle.id)
        _request(session, KEY_8, dept, other.id, dept_cycle.id)
        session.commit()
        return Department(school, dept.id, other.id)


def request_info(session: Session, key: str = KEY_7, code: str = "school-7") -> RequestInfo:
    return describe_request(session=session, request_key=key, organization_code=code)


def signed(
    engine: Engine,
    settings: Settings,
    *,
    key: str = KEY_7,
    code: str = "school-7",
    pdf: bytes = b"%PDF-1.7 report",
    token: str | None = None,
) -> dict[str, Any]:
    """school-7's approved report for the request, signed as its installation signs it."""
    with Session(engine) as session:
        report = build_report(
            session=session,
            # school-7's own figures, answering whichever request the test names.
            request=replace(request_info(session), request_key=key),
            today=REPORT_DAY,
            approved_by=DIRECTOR,
        )
        session.commit()
    return sign_envelope(
        report=report,
        organization_code=code,
        pdf=pdf,
        token=token or signing_token(settings=settings, organization_code=code),
        now=NOW,
    )
