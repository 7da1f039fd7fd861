"""A pair's life cycle: active until its end date, ended by the clock, history kept; §2.5.

Regulation (seed regulation_and_roadmap_school2_ustyuzhna.txt) §2.5: «Максимальное число лиц,
в отношении которых наставник одновременно осуществляет наставничество, не может превышать
трех» — a mentor's pairs still going on in another cycle of the organisation count; ended pairs
count nothing, so last year's pairs stop using up a mentor's capacity once they end.

Matching runs here with ``require_consents=False``: written consents are tested in
tests/test_pairing.py and tests/test_consents.py; this file is about the pairs' load.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel, col, select

from models import (
    AuditEvent,
    Cycle,
    Document,
    MentorAdmission,
    MentoringForm,
    MentorshipPair,
    PairMember,
    PairStatus,
    Participant,
    Person,
    Role,
)
from nastavnik import matching, pairing, pairs, repository
from nastavnik.db import MIGRATIONS_DIR

FORM = MentoringForm.student_student
NO_CONSENTS_NEEDED = matching.Policy(require_consents=False)
LIMIT = matching.Policy().max_mentees_per_mentor


def _organisation(session: Session, code: str) -> uuid.UUID:
    org = repository.upsert_organization(
        session=session,
        code=code,
        name="МБОУ «Средняя школа № 2»",
        short_name="СШ № 2",
        director_name="Иванова Мария Петровна",
        director_email="director@school2.example",
        curator_name="Петров Олег Ильич",
        curator_email="curator@school2.example",
    )
    return org.id


def _cycle(session: Session, org_id: uuid.UUID, school_year: str) -> uuid.UUID:
    return repository.get_or_create_cycle(
        session=session, organization_id=org_id, school_year=school_year
    ).id


def _person(session: Session, org_id: uuid.UUID, key: str) -> Person:
    person = Person(organization_id=org_id, person_key=key, last_name=key, first_name="Тест")
    session.add(person)
    session.flush()
    return person


def _participant(
    session: Session, cycle_id: uuid.UUID, person: Person, role: Role, grade: int
) -> Participant:
    participant = Participant(
        cycle_id=cycle_id, person_id=person.id, role=role, form=FORM, grade=grade
    )
    session.add(participant)
    session.flush()
    if role == Role.mentor:
        session.add(
            MentorAdmission(cycle_id=cycle_id, participant_id=participant.id, admitted=True)
        )
        session.flush()
    return participant


def _pair(
    session: Session,
    cycle_id: uuid.UUID,
    mentor: Participant,
    mentee: Participant,
    *,
    status: PairStatus = PairStatus.active,
    ends_on: date = date(2027, 5, 31),
) -> MentorshipPair:
    pair = MentorshipPair(
        cycle_id=cycle_id,
        mentor_id=mentor.id,
        form=FORM,
        status=status,
        starts_on=date(2026, 10, 1),
        ends_on=ends_on,
    )
    session.add(pair)
    session.flush()
    session.add(PairMember(pair_id=pair.id, mentee_id=mentee.id))
    session.flush()
    return pair


def _order(session: Session, org_id: uuid.UUID, cycle_id: uuid.UUID) -> Document:
    document = Document(
        unique_key=f"pairing-order:{cycle_id}",
        organization_id=org_id,
        cycle_id=cycle_id,
        doc_type="order",
        series="",
        year=2026,
        number=7,
        doc_date=date(2026, 9, 30),
        title="Приказ о закреплении наставнических пар/групп",
        content_hash="0" * 64,
        path="orders/7.pdf",
    )
    session.add(document)
    session.flush()
    return document


def _mentor_candidate(session: Session, cycle_id: uuid.UUID, on: date) -> matching.MentorCandidate:
    data = pairing.build_input(session=session, cycle_id=cycle_id, on=on)
    (mentor,) = data.mentors
    return mentor


def test_a_pair_ends_the_day_after_its_end_date_once_with_audit_and_history(engine, cycle_ids):
    """Active through ends_on; the next day's clock ends it; the same or a later day again
    ends nothing more. The history keeps the pairing order's version and the ending's."""
    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        mentor = _participant(
            session, cycle_id, _person(session, org_id, "Лебедев"), Role.mentor, 10
        )
        mentee = _participant(
            session, cycle_id, _person(session, org_id, "Кузнецова"), Role.mentee, 6
        )
        pair = _pair(session, cycle_id, mentor, mentee, status=PairStatus.draft)
        order = _order(session, org_id, cycle_id)
        pairing.propose(session=session, pair_ids=[pair.id], order_document_id=order.id)
        for _ in range(2):  # a resumed flow settles the same order again: one version only
            pairing.settle(
                session=session,
                cycle_id=cycle_id,
                order_document_id=order.id,
                approved=True,
                starts_on=date(2026, 10, 1),
                ends_on=date(2027, 5, 31),
            )
        session.commit()
        pair_id, order_id = pair.id, order.id

    with Session(engine) as session:
        assert pairs.end_due_pairs(session=session, today=date(2027, 5, 31)) == []
        assert session.get(MentorshipPair, pair_id).status == PairStatus.active
        assert pairs.end_due_pairs(session=session, today=date(2027, 6, 1)) == [pair_id]
        session.commit()
    with Session(engine) as session:
        assert pairs.end_due_pairs(session=session, today=date(2027, 6, 1)) == []
        assert pairs.end_due_pairs(session=session, today=date(2027, 9, 1)) == []
        # The pairing order settled again long after (a resumed run) does not revive the pair.
        pairing.settle(
            session=session,
            cycle_id=cycle_id,
            order_document_id=order_id,
            approved=True,
            starts_on=date(2026, 10, 1),
            ends_on=date(2027, 5, 31),
        )
        session.commit()

    with Session(engine) as session:
        pair = session.get(MentorshipPair, pair_id)
        assert (pair.status, pair.ends_on) == (PairStatus.ended, date(2027, 5, 31))
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "pair.ended")).all()
        assert len(events) == 1
        (event,) = events
        assert (event.actor, event.entity, event.cycle_id) == ("clock", f"pair:{pair_id}", cycle_id)
        assert event.details == {"ends_on": "2027-05-31"}
        versions = pairs.history(session=session, pair_id=pair_id)
        assert [
            (v.version, v.status, v.changed_on, v.order_document_id, v.reason) for v in versions
        ] == [
            (1, PairStatus.active, date(2026, 10, 1), order_id, pairing.PAIRING_ORDER_REASON),
            (2, PairStatus.ended, date(2027, 6, 1), None, pairs.ENDED_BY_DATE),
        ]
        assert {(v.starts_on, v.ends_on) for v in versions} == {
            (date(2026, 10, 1), date(2027, 5, 31))
        }


def test_the_clock_ends_only_its_organisations_pairs_when_asked(engine, cycle_ids):
    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        other_org = _organisation(session, "school-9")
        other_cycle = _cycle(session, other_org, "2026/2027")
        ours = _pair(
            session,
            cycle_id,
            _participant(session, cycle_id, _person(session, org_id, "А"), Role.mentor, 10),
            _participant(session, cycle_id, _person(session, org_id, "Б"), Role.mentee, 6),
        )
        theirs = _pair(
            session,
            other_cycle,
            _participant(session, other_cycle, _person(session, other_org, "В"), Role.mentor, 10),
            _participant(session, other_cycle, _person(session, other_org, "Г"), Role.mentee, 6),
        )
        today = date(2027, 6, 1)
        assert pairs.end_due_pairs(session=session, today=today, organization_id=org_id) == [
            ours.id
        ]
        assert theirs.status == PairStatus.active
        assert pairs.end_due_pairs(session=session, today=today) == [theirs.id]


def test_last_years_active_pairs_use_up_capacity_until_they_end(engine, cycle_ids):
    """§2.5: «Максимальное число лиц, в отношении которых наставник одновременно
    осуществляет наставничество, не может превышать трех». A mentor with two mentees in a
    2026/2027 pair still going on has room for one in the 2027/2028 matching; three once it ends."""
    org_id, first_cycle = cycle_ids
    with Session(engine) as session:
        mentor_person = _person(session, org_id, "Лебедев")
        old_mentor = _participant(session, first_cycle, mentor_person, Role.mentor, 10)
        old_pairs = [
            _pair(
                session,
                first_cycle,
                old_mentor,
                _participant(session, first_cycle, _person(session, org_id, key), Role.mentee, 5),
                ends_on=date(2027, 12, 31),  # the term runs into the next school year
            )
            for key in ("Орлова", "Зайцев")
        ]
        second_cycle = _cycle(session, org_id, "2027/2028")
        _participant(session, second_cycle, mentor_person, Role.mentor, 11)
        for number in range(4):
            person = _person(session, org_id, f"Новый{number}")
            _participant(session, second_cycle, person, Role.mentee, 6)
        session.commit()

        autumn = date(2027, 10, 1)
        assert pairs.active_mentee_load(
            session=session, organization_id=org_id, today=autumn, exclude_cycle_ids=[second_cycle]
        ) == {mentor_person.id: 2}
        candidate = _mentor_candidate(session, second_cycle, autumn)
        assert candidate.active_mentees == 2
        assert matching.remaining_capacity(candidate, policy=NO_CONSENTS_NEEDED) == 1
        summary = pairing.run_matching(
            session=session,
            cycle_id=second_cycle,
            on=autumn,
            matching_key="autumn",
            policy=NO_CONSENTS_NEEDED,
        )
        assert (summary.matched, summary.unmatched) == (1, 3)

        # Past its end date a pair counts nothing, even before the clock has marked it ended.
        new_year = date(2028, 1, 1)
        assert (
            pairs.active_mentee_load(session=session, organization_id=org_id, today=new_year) == {}
        )
        assert pairs.end_due_pairs(session=session, today=new_year, organization_id=org_id) == [
            p.id for p in sorted(old_pairs, key=lambda p: p.id)
        ]
        session.commit()

        winter = date(2028, 1, 10)
        candidate = _mentor_candidate(session, second_cycle, winter)
        assert candidate.active_mentees == 0
        assert matching.remaining_capacity(candidate, policy=NO_CONSENTS_NEEDED) == LIMIT == 3
        summary = pairing.run_matching(
            session=session,
            cycle_id=second_cycle,
            on=winter,
            matching_key="winter",
            policy=NO_CONSENTS_NEEDED,
        )
        assert (summary.matched, summary.unmatched) == (3, 1)


def _alembic(engine, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_0008b_upgrades_a_database_with_pairs_and_stores_the_new_statuses(engine, cycle_ids):
    """Existing pairs (with members referencing them) survive the upgrade; every status,
    «terminated» the longest, round-trips; the migrations still match the models."""
    org_id, cycle_id = cycle_ids
    _alembic(engine, "downgrade", "0007_roadmap_plan")
    try:
        with Session(engine) as session:  # the tables used here are the same at 0007
            mentor = _participant(session, cycle_id, _person(session, org_id, "А"), Role.mentor, 10)
            mentee = _participant(session, cycle_id, _person(session, org_id, "Б"), Role.mentee, 6)
            pair_id = _pair(session, cycle_id, mentor, mentee).id
            session.commit()
    finally:
        _alembic(engine, "upgrade", "head")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    with Session(engine) as session:
        pair = session.get(MentorshipPair, pair_id)
        assert pair.status == PairStatus.active
        for status in PairStatus:
            pair.status = status
            session.add(pair)
            pairs.record_version(session=session, pair=pair, changed_on=date(2027, 1, 1), reason="")
            session.commit()
            session.expire_all()
            assert session.get(MentorshipPair, pair_id).status == status
        assert [v.status for v in pairs.history(session=session, pair_id=pair_id)] == list(
            PairStatus
        )


# (status, past its end date on the matching day) of one earlier pair with one mentee.
EARLIER_PAIR = st.tuples(
    st.sampled_from(
        [PairStatus.active, PairStatus.extended, PairStatus.ended, PairStatus.terminated]
    ),
    st.booleans(),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    earlier=st.lists(st.lists(EARLIER_PAIR, max_size=3), min_size=1, max_size=3),
    this_year_mentors=st.lists(st.booleans(), min_size=1, max_size=3),
    new_mentees=st.integers(min_value=0, max_value=8),
    ticked=st.booleans(),
)
def test_matching_never_gives_a_mentor_more_than_three_active_mentees_across_cycles(
    engine,
    earlier: list[list[tuple[PairStatus, bool]]],
    this_year_mentors: list[bool],
    new_mentees: int,
    ticked: bool,
) -> None:
    """§2.5 across cycles, whatever last year left: once this year's matching is fixed by order,
    no mentor (a person) has more than three mentees in pairs going on, and a mentor gets every
    place the going-on pairs leave (the matching is maximal while mentees wait)."""
    on = date(2027, 10, 1)
    with Session(engine) as session:
        org_id = _organisation(session, f"school-{uuid.uuid4().hex[:12]}")
        first, second = _cycle(session, org_id, "2026/2027"), _cycle(session, org_id, "2027/2028")
        people = [_person(session, org_id, f"Наставник{i}") for i in range(len(earlier))]
        still_going: dict[uuid.UUID, int] = {}
        for number, (person, old_pairs) in enumerate(zip(people, earlier, strict=True)):
            old_mentor = _participant(session, first, person, Role.mentor, 10)
            for index, (status, past_due) in enumerate(old_pairs):
                mentee_person = _person(session, org_id, f"Прежний{number}-{index}")
                ends_on = on - timedelta(days=1) if past_due else date(2027, 12, 31)
                _pair(
                    session,
                    first,
                    old_mentor,
                    _participant(session, first, mentee_person, Role.mentee, 5),
                    status=status,
                    ends_on=ends_on,
                )
                if status in pairs.ONGOING and not past_due:
                    still_going[person.id] = still_going.get(person.id, 0) + 1
        for person, takes_part in zip(people, this_year_mentors, strict=False):
            if takes_part:
                _participant(session, second, person, Role.mentor, 11)
        for number in range(new_mentees):
            _participant(
                session, second, _person(session, org_id, f"Новый{number}"), Role.mentee, 6
            )
        if ticked:
            pairs.end_due_pairs(session=session, today=on, organization_id=org_id)
        session.flush()

        summary = pairing.run_matching(
            session=session, cycle_id=second, on=on, matching_key="r1", policy=NO_CONSENTS_NEEDED
        )
        drafts = session.exec(
            select(MentorshipPair).where(
                MentorshipPair.cycle_id == second, MentorshipPair.status == PairStatus.draft
            )
        ).all()
        for draft in drafts:  # the director's order fixes the drafts
            draft.status, draft.starts_on, draft.ends_on = PairStatus.active, on, date(2028, 5, 31)
            session.add(draft)
        session.flush()

        load = pairs.active_mentee_load(session=session, organization_id=org_id, today=on)
        assert all(count <= LIMIT for count in load.values()), load
        mentors_here = session.exec(
            select(Participant.person_id).where(
                Participant.cycle_id == second, Participant.role == Role.mentor
            )
        ).all()
        room = sum(LIMIT - still_going.get(person_id, 0) for person_id in mentors_here)
        assert summary.matched == min(new_mentees, room)
        for person_id in mentors_here:
            new_here = load.get(person_id, 0) - still_going.get(person_id, 0)
            assert 0 <= new_here <= LIMIT - still_going.get(person_id, 0)
        members = session.exec(
            select(col(PairMember.id))
            .join(MentorshipPair, col(MentorshipPair.id) == col(PairMember.pair_id))
            .join(Cycle, col(Cycle.id) == col(MentorshipPair.cycle_id))
            .where(Cycle.organization_id == org_id, MentorshipPair.cycle_id == second)
        ).all()
        assert len(members) == summary.matched
        session.rollback()
