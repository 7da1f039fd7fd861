"""Typed, keyword-only data access used by tasks, the CLI and the web endpoint."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models import AuditEvent, Cycle, Organization
from models.tables import utcnow
from nastavnik.roadmap import OrganisationKind


def upsert_organization(
    *,
    session: Session,
    code: str,
    name: str,
    short_name: str,
    director_name: str,
    director_email: str,
    curator_name: str,
    curator_email: str,
    city: str = "",
    kind: OrganisationKind | str | None = None,
) -> Organization:
    """Create the organisation with this code, or update its details (its kind — school,
    college, centre or department — only when given; a new one is a school by default)."""
    org = session.exec(select(Organization).where(Organization.code == code)).first()
    if org is None:
        org = Organization(
            code=code,
            name=name,
            short_name=short_name,
            director_name=director_name,
            director_email=director_email,
            curator_name=curator_name,
            curator_email=curator_email,
            city=city,
            kind=str(OrganisationKind(kind or OrganisationKind.school)),
        )
    else:
        if kind is not None:
            org.kind = str(OrganisationKind(kind))
        org.name, org.short_name, org.city = name, short_name, city
        org.director_name, org.director_email = director_name, director_email
        org.curator_name, org.curator_email = curator_name, curator_email
    session.add(org)
    session.flush()
    return org


def get_organization(*, session: Session, code: str) -> Organization:
    """The organisation with this code, or a LookupError naming it."""
    org = session.exec(select(Organization).where(Organization.code == code)).first()
    if org is None:
        raise LookupError(f"organisation {code!r} is not known")
    return org


def school_year_start(school_year: str) -> date:
    """1 September of the school year's first year; '2026/2027' → 2026-09-01."""
    first, _, second = school_year.partition("/")
    if not (first.isdigit() and second.isdigit() and int(second) == int(first) + 1):
        raise ValueError(f"school year {school_year!r} must look like 2026/2027")
    return date(int(first), 9, 1)


def get_or_create_cycle(*, session: Session, organization_id: uuid.UUID, school_year: str) -> Cycle:
    """The organisation's cycle for a school year, created on first use."""
    cycle = session.exec(
        select(Cycle).where(
            Cycle.organization_id == organization_id, Cycle.school_year == school_year
        )
    ).first()
    if cycle is None:
        cycle = Cycle(
            organization_id=organization_id,
            school_year=school_year,
            start_date=school_year_start(school_year),
        )
        session.add(cycle)
        session.flush()
    return cycle


def record_audit(
    *,
    session: Session,
    actor: str,
    action: str,
    cycle_id: uuid.UUID | None = None,
    flow_run_id: uuid.UUID | None = None,
    entity: str = "",
    details: dict[str, Any] | None = None,
    event_key: str | None = None,
    at: datetime | None = None,
) -> AuditEvent | None:
    """Append an audit event; with an ``event_key`` the same event is written only once."""
    if event_key is not None:
        existing = session.exec(select(AuditEvent).where(AuditEvent.event_key == event_key)).first()
        if existing is not None:
            return existing
    event = AuditEvent(
        actor=actor,
        action=action,
        cycle_id=cycle_id,
        flow_run_id=flow_run_id,
        entity=entity,
        details=details or {},
        event_key=event_key,
        at=at or utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:
        return None
    return event


def list_audit(*, session: Session, cycle_id: uuid.UUID | None = None) -> list[AuditEvent]:
    """Audit events, oldest first, optionally for one cycle."""
    query = select(AuditEvent).order_by(AuditEvent.at)  # type: ignore[arg-type]
    if cycle_id is not None:
        query = query.where(AuditEvent.cycle_id == cycle_id)
    return list(session.exec(query))
