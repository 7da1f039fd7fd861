"""Repository basics on every configured database."""

from datetime import date

from sqlmodel import Session, select

from models import Cycle
from nastavnik import repository


def test_cycle_is_created_once_and_starts_on_first_of_september(engine, cycle_ids):
    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        again = repository.get_or_create_cycle(
            session=session, organization_id=org_id, school_year="2026/2027"
        )
        assert again.id == cycle_id
        assert again.start_date == date(2026, 9, 1)
        assert len(session.exec(select(Cycle)).all()) == 1


def test_audit_event_with_key_is_written_once(engine, cycle_ids):
    _, cycle_id = cycle_ids
    with Session(engine) as session:
        for _ in range(3):
            repository.record_audit(
                session=session,
                actor="curator",
                action="import",
                cycle_id=cycle_id,
                event_key="import:1",
            )
        session.commit()
        assert len(repository.list_audit(session=session, cycle_id=cycle_id)) == 1
