"""Changes to a pair by order: replacement of the mentor, extension, early termination.

Regulation (seed regulation_and_roadmap_school2_ustyuzhna.txt):
§2.8 «Замена наставника производится в следующих случаях: прекращение трудового договора с
наставником; перевод …; просьба наставника или лица, в отношении которого осуществляется
наставничество; неисполнение наставником функций наставничества …; возникновение иных
обстоятельств, препятствующих осуществлению наставничества»;
§2.9 «Срок наставничества … может быть продлен в случае временной нетрудоспособности,
командировки или иного продолжительного отсутствия по уважительным причинам …»;
§2.10 «Наставничество прекращается до истечения срока … в случае неисполнения лицом, в
отношении которого осуществляется наставничество, обязанностей …»;
§2.5 «Максимальное число лиц, в отношении которых наставник одновременно осуществляет
наставничество, не может превышать трех» — a new mentor too, counting every pair going on.

Written consents (§2.6) of the questionnaires are tested elsewhere: matching runs here with
``require_consents=False``; the new mentor's written consent to the replacement is tested here.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from sqlmodel import Session, select

from models import (
    Consent,
    ConsentKind,
    Cycle,
    Document,
    DocumentStatus,
    MentorAdmission,
    MentoringForm,
    MentorshipPair,
    Organization,
    PairChangeKind,
    PairChangeReason,
    PairChangeStatus,
    PairMember,
    PairStatus,
    Participant,
    ParticipantLink,
    Person,
    PersonalProgramme,
    ProgrammeStatus,
    Role,
    SearchListEntry,
)
from nastavnik import matching, pair_changes, pairing, pairs, programmes, repository
from nastavnik.documents import document_file, issue_document
from nastavnik.pair_changes import PairChangeError
from nastavnik.settings import Settings

FORM = MentoringForm.student_student
RULES = matching.Policy(require_consents=False)
LIMIT = RULES.max_mentees_per_mentor
STARTS_ON, ENDS_ON = date(2026, 10, 1), date(2027, 5, 31)
ON = date(2027, 2, 10)
LINKS = pair_changes.LinkContext(
    secret=b"test-secret-key-0123456789abcdef",
    base_url="http://nastavnik.test",
    timezone=ZoneInfo("Europe/Moscow"),
    now=datetime(2027, 2, 10, 9, tzinfo=UTC),
)


def _organisation(session: Session) -> uuid.UUID:
    return repository.upsert_organization(
        session=session,
        code=f"school-{uuid.uuid4().hex[:12]}",
        name="МОУ «Средняя школа № 2»",
        short_name="СШ № 2",
        director_name="Иванова Мария Петровна",
        director_email="director@school2.example",
        curator_name="Петров Олег Ильич",
        curator_email="curator@school2.example",
    ).id


def _cycle(session: Session, org_id: uuid.UUID, school_year: str = "2026/2027") -> uuid.UUID:
    return repository.get_or_create_cycle(
        session=session, organization_id=org_id, school_year=school_year
    ).id


def _participant(
    session: Session,
    cycle_id: uuid.UUID,
    name: str,
    role: Role,
    grade: int,
    *,
    admitted: bool = True,
    person: Person | None = None,
) -> Participant:
    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    if person is None:
        person = Person(
            organization_id=cycle.organization_id,
            person_key=f"{name}-{uuid.uuid4().hex[:6]}",
            last_name=name,
            first_name="Тест",
            email=f"{uuid.uuid4().hex[:8]}@school2.example",
        )
        session.add(person)
        session.flush()
    participant = Participant(
        cycle_id=cycle_id, person_id=person.id, role=role, form=FORM, grade=grade
    )
    session.add(participant)
    session.flush()
    if role == Role.mentor:
        session.add(
            MentorAdmission(cycle_id=cycle_id, participant_id=participant.id, admitted=admitted)
        )
        session.flush()
    return participant


def _pair(
    session: Session,
    cycle_id: uuid.UUID,
    mentor: Participant,
    *mentees: Participant,
    status: PairStatus = PairStatus.active,
) -> MentorshipPair:
    pair = MentorshipPair(
        cycle_id=cycle_id,
        mentor_id=mentor.id,
        form=FORM,
        is_group=len(mentees) > 1,
        status=status,
        starts_on=STARTS_ON,
        ends_on=ENDS_ON,
    )
    session.add(pair)
    session.flush()
    for mentee in mentees:
        session.add(PairMember(pair_id=pair.id, mentee_id=mentee.id))
    pairs.record_version(
        session=session, pair=pair, changed_on=STARTS_ON, reason=pairing.PAIRING_ORDER_REASON
    )
    session.flush()
    return pair


def _order(session: Session, cycle_id: uuid.UUID, number: int) -> Document:
    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    document = Document(
        unique_key=f"order:{cycle_id}:{number}",
        organization_id=cycle.organization_id,
        cycle_id=cycle_id,
        doc_type="order",
        series="",
        year=2027,
        number=number,
        doc_date=ON,
        title="Приказ",
        content_hash="0" * 64,
        path=f"orders/{number}.pdf",
    )
    session.add(document)
    session.flush()
    return document


def _replace(
    session: Session,
    pair: MentorshipPair,
    new_mentor: Participant,
    *,
    key: str = "r1",
    reason: PairChangeReason = PairChangeReason.mentor_request,
    consent_on: date = ON,
    consent_how: str = "письменное заявление",
):
    return pair_changes.request_replacement(
        session=session,
        request_key=key,
        pair_id=pair.id,
        reason=reason,
        new_mentor_id=new_mentor.id,
        consent_on=consent_on,
        consent_how=consent_how,
        requested_on=ON,
        requested_by="curator",
        policy=RULES,
    )


def _approve(session: Session, change, number: int = 5):
    order = _order(session, change.cycle_id, number)
    pair_changes.mark_ordered(session=session, change_id=change.id, order_document_id=order.id)
    return (
        pair_changes.settle(
            session=session, change_id=change.id, approved=True, on=ON, policy=RULES
        ),
        order,
    )


@pytest.fixture
def school(engine):
    """A cycle with a pair (mentor grade 10, mentee grade 6) and three other mentors: one who
    fits, one from a lower grade (§2.2), one not admitted after training."""
    with Session(engine) as session:
        org_id = _organisation(session)
        cycle_id = _cycle(session, org_id)
        mentor = _participant(session, cycle_id, "Лебедев", Role.mentor, 10)
        mentee = _participant(session, cycle_id, "Кузнецова", Role.mentee, 6)
        pair = _pair(session, cycle_id, mentor, mentee)
        fits = _participant(session, cycle_id, "Орлова", Role.mentor, 11)
        younger = _participant(session, cycle_id, "Соколов", Role.mentor, 5)
        untrained = _participant(session, cycle_id, "Морозова", Role.mentor, 11, admitted=False)
        session.commit()
        yield (
            session,
            {
                "cycle": cycle_id,
                "pair": pair,
                "mentor": mentor,
                "mentee": mentee,
                "fits": fits,
                "younger": younger,
                "untrained": untrained,
            },
        )


# --- reasons ----------------------------------------------------------------------------------


def test_each_change_takes_only_its_clauses_reasons():
    """§2.8 lists five cases of replacement (the mentor's and the mentee's requests apart, §4.1
    and §5.1), §2.9 three of extension, §2.10 one of early termination."""
    assert [r.name for r in pair_changes.REASONS[PairChangeKind.replacement]] == [
        "dismissal",
        "transfer",
        "mentor_request",
        "mentee_request",
        "non_performance",
        "other",
    ]
    assert set(pair_changes.REASONS[PairChangeKind.extension]) == {
        PairChangeReason.illness,
        PairChangeReason.business_trip,
        PairChangeReason.long_absence,
    }
    assert pair_changes.REASONS[PairChangeKind.termination] == (
        PairChangeReason.mentee_non_performance,
    )
    every = [r for reasons in pair_changes.REASONS.values() for r in reasons]
    assert sorted(every) == sorted(PairChangeReason)


def test_a_reason_of_another_clause_is_refused(school):
    session, s = school
    with pytest.raises(PairChangeError, match=r"не предусмотрена п\. 2\.8"):
        _replace(session, s["pair"], s["fits"], reason=PairChangeReason.illness)
    with pytest.raises(PairChangeError, match=r"не предусмотрена п\. 2\.10"):
        pair_changes.request_termination(
            session=session,
            request_key="t1",
            pair_id=s["pair"].id,
            reason=PairChangeReason.mentor_request,
            mentee_wants_new_mentor=True,
            requested_on=ON,
            requested_by="curator",
        )


# --- replacement ------------------------------------------------------------------------------


def test_candidates_are_the_mentors_the_hard_rules_allow(school):
    """Not the current mentor, not a mentor from a lower grade (§2.2), not an untrained one,
    not one who already has three mentees going on (§2.5, other pairs counted)."""
    session, s = school
    full = _participant(session, s["cycle"], "Белова", Role.mentor, 11)
    for number in range(LIMIT):
        other = _participant(session, s["cycle"], f"Другой{number}", Role.mentee, 7)
        _pair(session, s["cycle"], full, other)
    candidates = pair_changes.replacement_candidates(
        session=session, pair_id=s["pair"].id, on=ON, policy=RULES
    )
    assert [c.mentor_id for c in candidates] == [s["fits"].id]
    assert candidates[0].free_places == LIMIT
    with pytest.raises(PairChangeError, match=r"больше 3 одновременно нельзя \(п\. 2\.5\)"):
        _replace(session, s["pair"], full)
    with pytest.raises(PairChangeError, match=r"п\. 2\.2"):
        _replace(session, s["pair"], s["younger"])
    with pytest.raises(PairChangeError, match="не допущен"):
        _replace(session, s["pair"], s["untrained"])
    with pytest.raises(PairChangeError, match="нынешний наставник"):
        _replace(session, s["pair"], s["mentor"])


def test_the_new_mentors_written_consent_comes_before_the_order(school):
    session, s = school
    with pytest.raises(PairChangeError, match=r"письменное согласие нового наставника"):
        _replace(session, s["pair"], s["fits"], consent_how=" ")
    with pytest.raises(PairChangeError, match=r"согласие даётся до приказа"):
        _replace(session, s["pair"], s["fits"], consent_on=date(2027, 2, 11))
    change = _replace(session, s["pair"], s["fits"], consent_on=date(2027, 2, 8))
    assert (change.mentor_consent_on, change.mentor_consent_how) == (
        date(2027, 2, 8),
        "письменное заявление",
    )
    consent = session.exec(
        select(Consent).where(
            Consent.person_id == s["fits"].person_id, Consent.kind == ConsentKind.participation
        )
    ).one()
    assert consent.given_on == date(2027, 2, 8)
    # The same request again (a resumed flow) is the same change; another one waits its turn.
    assert _replace(session, s["pair"], s["fits"]).id == change.id
    with pytest.raises(PairChangeError, match="уже ждёт решения"):
        _replace(session, s["pair"], s["fits"], key="r2")


def test_an_approved_replacement_keeps_the_history_and_moves_the_links(school):
    session, s = school
    old_pair, mentee = s["pair"], s["mentee"]
    session.add(
        PersonalProgramme(
            pair_id=old_pair.id,
            version=1,
            status=ProgrammeStatus.approved,
            content=_programme(STARTS_ON, ENDS_ON).as_dict(),
        )
    )
    change = _replace(session, old_pair, s["fits"])
    settled, order = _approve(session, change)
    session.commit()

    assert settled.status == PairChangeStatus.approved and settled.decided_on == ON
    assert old_pair.status == PairStatus.replaced
    new_pair = session.get(MentorshipPair, settled.resulting_pair_id)
    assert (new_pair.mentor_id, new_pair.status) == (s["fits"].id, PairStatus.active)
    assert (new_pair.starts_on, new_pair.ends_on) == (ON, ENDS_ON)
    assert pair_changes.mentee_ids(session=session, pair_id=new_pair.id) == [mentee.id]
    # The new mentor carries the mentee now; the old one is free of them (§2.5).
    cycle = session.get(Cycle, s["cycle"])
    load = pairs.active_mentee_load(
        session=session, organization_id=cycle.organization_id, today=ON
    )
    mentor_person, new_person = s["mentor"].person_id, s["fits"].person_id
    assert (load.get(mentor_person, 0), load[new_person]) == (0, 1)
    # The programme goes on with the new mentor; its PDF is printed again.
    (copied,) = session.exec(
        select(PersonalProgramme).where(PersonalProgramme.pair_id == new_pair.id)
    ).all()
    assert (copied.version, copied.status, copied.document_id) == (
        1,
        ProgrammeStatus.approved,
        None,
    )

    history = pair_changes.history(session=session, pair_id=new_pair.id)
    assert history == pair_changes.history(session=session, pair_id=old_pair.id)
    assert [
        (row.pair_id, row.version, row.status, row.changed_on, row.order_id) for row in history
    ] == [
        (old_pair.id, 1, PairStatus.active, STARTS_ON, None),
        (old_pair.id, 2, PairStatus.replaced, ON, order.id),
        (new_pair.id, 1, PairStatus.active, ON, order.id),
    ]
    assert history[1].mentor_name.startswith("Лебедев")
    assert history[2].mentor_name.startswith("Орлова")
    assert history[1].reason.startswith("замена наставника (п. 2.8): просьба наставника")
    assert history[2].order_label == "№ 5 от 10.02.2027"

    # The old pair's links are revoked; the notices carry the new pair's links.
    revoked = session.exec(
        select(ParticipantLink).where(ParticipantLink.pair_id == old_pair.id)
    ).all()
    assert {link.participant_id for link in revoked} == {s["mentor"].id, mentee.id}
    assert all(link.revoked_at is not None for link in revoked)
    notices = pair_changes.notices(session=session, change_id=change.id, link_context=LINKS)
    assert [n["role"] for n in notices] == ["old_mentor", "new_mentor", "mentee", "curator"]
    assert [bool(n["link"]) for n in notices] == [False, True, True, False]
    assert len({n["key"] for n in notices}) == 4

    # Settled again (a resumed flow): nothing more happens, the notices are the same.
    again = pair_changes.settle(
        session=session, change_id=change.id, approved=True, on=date(2027, 2, 12), policy=RULES
    )
    assert again.resulting_pair_id == new_pair.id
    assert len(pair_changes.history(session=session, pair_id=new_pair.id)) == 3
    assert pair_changes.notices(session=session, change_id=change.id, link_context=LINKS) == notices


def test_a_rejected_change_changes_nothing(school):
    session, s = school
    change = _replace(session, s["pair"], s["fits"])
    order = _order(session, s["cycle"], 5)
    pair_changes.mark_ordered(session=session, change_id=change.id, order_document_id=order.id)
    settled = pair_changes.settle(
        session=session, change_id=change.id, approved=False, on=ON, policy=RULES
    )
    assert settled.status == PairChangeStatus.rejected
    assert (s["pair"].status, s["pair"].mentor_id) == (PairStatus.active, s["mentor"].id)
    assert len(pairs.history(session=session, pair_id=s["pair"].id)) == 1
    assert pair_changes.notices(session=session, change_id=change.id, link_context=LINKS) == []
    # A later approval of the same change (a stray resume) does not revive it.
    pair_changes.settle(session=session, change_id=change.id, approved=True, on=ON, policy=RULES)
    assert s["pair"].status == PairStatus.active


def test_a_replacement_is_checked_again_on_the_day_of_the_decision(school):
    """The new mentor took three other mentees while the order waited: §2.5 refuses it."""
    session, s = school
    change = _replace(session, s["pair"], s["fits"])
    for number in range(LIMIT):
        other = _participant(session, s["cycle"], f"Другой{number}", Role.mentee, 7)
        _pair(session, s["cycle"], s["fits"], other)
    with pytest.raises(PairChangeError, match=r"п\. 2\.5"):
        _approve(session, change)


# property: §2.5 holds whatever replacements are asked for and approved

ATTEMPT = st.tuples(st.integers(min_value=0, max_value=20), st.integers(min_value=0, max_value=5))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    loads=st.lists(st.integers(min_value=0, max_value=3), min_size=2, max_size=5),
    elsewhere=st.lists(st.integers(min_value=0, max_value=2), min_size=2, max_size=5),
    attempts=st.lists(ATTEMPT, min_size=1, max_size=8),
    decide_together=st.booleans(),
)
def test_replacement_never_gives_a_mentor_more_than_three_active_mentees(
    engine, loads, elsewhere, attempts, decide_together
):
    """Mentors with 0–3 mentees in this cycle and pairs still going on in last year's cycle;
    any replacements asked for, decided one by one or all at the end: no mentor ever has more
    than three mentees in pairs going on, and every refusal names the rule."""
    with Session(engine) as session:
        org_id = _organisation(session)
        last_year, cycle_id = _cycle(session, org_id, "2025/2026"), _cycle(session, org_id)
        mentors = []
        for index, load in enumerate(loads):
            mentor = _participant(session, cycle_id, f"Наставник{index}", Role.mentor, 11)
            mentors.append(mentor)
            for number in range(load):
                mentee = _participant(session, cycle_id, f"Н{index}-{number}", Role.mentee, 6)
                _pair(session, cycle_id, mentor, mentee)
            earlier = elsewhere[index % len(elsewhere)]
            if earlier:  # the same person mentoring in last year's cycle, pairs going on
                person = session.get(Person, mentor.person_id)
                before = _participant(session, last_year, "", Role.mentor, 10, person=person)
                for number in range(min(earlier, LIMIT - load)):
                    old = _participant(session, last_year, f"П{index}-{number}", Role.mentee, 5)
                    _pair(session, last_year, before, old)
        waiting = []
        for number, (pair_pick, mentor_pick) in enumerate(attempts):
            going_on = session.exec(
                select(MentorshipPair)
                .where(
                    MentorshipPair.cycle_id == cycle_id,
                    MentorshipPair.status.in_(pairs.ONGOING),  # type: ignore[attr-defined]
                )
                .order_by(MentorshipPair.created_at, MentorshipPair.id)
            ).all()
            if not going_on:
                break
            pair = going_on[pair_pick % len(going_on)]
            new_mentor = mentors[mentor_pick % len(mentors)]
            try:
                change = _replace(session, pair, new_mentor, key=f"p{number}")
            except PairChangeError as error:
                assert re.search(r"п\. 2\.5|нынешний наставник|уже ждёт решения", str(error))
                continue
            if decide_together:
                waiting.append(change)
                continue
            _approve(session, change, number + 1)
            event("approved at once")
        for number, change in enumerate(waiting):
            try:
                _approve(session, change, 100 + number)
                event("approved later")
            except PairChangeError as error:
                assert "п. 2.5" in str(error)
                event("refused on the day of the decision")
        load = pairs.active_mentee_load(session=session, organization_id=org_id, today=ON)
        assert all(count <= LIMIT for count in load.values()), load
        session.rollback()


# --- extension --------------------------------------------------------------------------------


def _programme(starts_on: date, ends_on: date) -> programmes.ProgrammeContent:
    return programmes.build_programme(
        form=FORM,
        mentor_name="Лебедев Тест",
        mentee_names=["Кузнецова Тест"],
        mentee_requests=["подготовка к олимпиаде по математике"],
        subjects=["математика"],
        starts_on=starts_on,
        ends_on=ends_on,
    )


def test_an_extension_shifts_the_remaining_months_after_a_break():
    """Extended on 10 February by two months (to 31 July): October–January as planned,
    February and March a break (the absence), the rest of the plan from April to July."""
    content = _programme(STARTS_ON, ENDS_ON)
    shifted = pair_changes.shift_programme(
        content,
        starts_on=STARTS_ON,
        old_ends_on=ENDS_ON,
        new_ends_on=date(2027, 7, 31),
        on=ON,
        reason="временная нетрудоспособность",
    )
    months = [month for month, _ in shifted.tasks_by_month]
    assert months == programmes.term_months(starts_on=STARTS_ON, ends_on=date(2027, 7, 31))
    old = dict(content.tasks_by_month)
    new = dict(shifted.tasks_by_month)
    for month in ("Октябрь 2026", "Ноябрь 2026", "Декабрь 2026", "Январь 2027"):
        assert new[month] == old[month]
    assert new["Февраль 2027"] == [
        "Перерыв в работе пары: временная нетрудоспособность (срок продлён, п. 2.9)"
    ]
    assert new["Март 2027"] == new["Февраль 2027"]
    assert new["Апрель 2027"] == old["Февраль 2027"]
    assert new["Июль 2027"] == old["Май 2027"]
    assert [m.kind for m in shifted.meetings] == [m.kind for m in content.meetings]
    assert shifted.meetings[-1].month == "Июль 2027"
    assert shifted.meetings[0].month == "Октябрь 2026"
    # The content round-trips: it is what PersonalProgramme keeps.
    assert programmes.ProgrammeContent.from_dict(shifted.as_dict()) == shifted


@settings(max_examples=60, deadline=None)
@given(
    extra_days=st.integers(min_value=1, max_value=200),
    day_of_term=st.integers(min_value=0, max_value=(ENDS_ON - STARTS_ON).days),
)
def test_a_shifted_programme_covers_the_new_term_and_loses_no_task(extra_days, day_of_term):
    """Whatever the day and the length of the extension: one entry per month of the new term,
    in order, every planned task and meeting kept, only breaks added."""
    from datetime import timedelta

    content = _programme(STARTS_ON, ENDS_ON)
    new_ends_on = ENDS_ON + timedelta(days=extra_days)
    shifted = pair_changes.shift_programme(
        content,
        starts_on=STARTS_ON,
        old_ends_on=ENDS_ON,
        new_ends_on=new_ends_on,
        on=STARTS_ON + timedelta(days=day_of_term),
        reason="командировка",
    )
    months = [month for month, _ in shifted.tasks_by_month]
    assert months == programmes.term_months(starts_on=STARTS_ON, ends_on=new_ends_on)
    planned = [task for _, tasks in shifted.tasks_by_month for task in tasks]
    assert [t for t in planned if not t.startswith("Перерыв")] == [
        task for _, tasks in content.tasks_by_month for task in tasks
    ]
    assert [m.kind for m in shifted.meetings] == [m.kind for m in content.meetings]
    assert {m.month for m in shifted.meetings} <= set(months)


def test_an_approved_extension_moves_the_end_and_replans_the_programme(school, settings):
    session, s = school
    pair = s["pair"]
    session.add(
        PersonalProgramme(
            pair_id=pair.id,
            version=1,
            status=ProgrammeStatus.approved,
            content=_programme(STARTS_ON, ENDS_ON).as_dict(),
        )
    )
    with pytest.raises(PairChangeError, match="продлевать нечего"):
        pair_changes.request_extension(
            session=session,
            request_key="e0",
            pair_id=pair.id,
            reason=PairChangeReason.illness,
            new_ends_on=ENDS_ON,
            requested_on=ON,
            requested_by="curator",
        )
    change = pair_changes.request_extension(
        session=session,
        request_key="e1",
        pair_id=pair.id,
        reason=PairChangeReason.business_trip,
        new_ends_on=date(2027, 6, 30),
        requested_on=ON,
        requested_by="curator",
    )
    _, order = _approve(session, change)
    assert (pair.status, pair.ends_on) == (PairStatus.extended, date(2027, 6, 30))
    assert pair.status in pairs.ONGOING  # it still counts against §2.5 and ends by the clock
    latest = session.exec(
        select(PersonalProgramme)
        .where(PersonalProgramme.pair_id == pair.id)
        .order_by(PersonalProgramme.version.desc())  # type: ignore[attr-defined]
    ).first()
    assert latest.version == 2 and latest.content["meetings"][-1]["month"] == "Июнь 2027"
    versions = pairs.history(session=session, pair_id=pair.id)
    assert [(v.status, v.ends_on, v.order_document_id) for v in versions] == [
        (PairStatus.active, ENDS_ON, None),
        (PairStatus.extended, date(2027, 6, 30), order.id),
    ]
    notices = pair_changes.notices(session=session, change_id=change.id, link_context=LINKS)
    assert [(n["role"], bool(n["link"])) for n in notices] == [
        ("mentor", True),
        ("mentee", True),
        ("curator", False),
    ]
    # The re-planned programme is printed once, approved as the one it replaces was.
    document = pair_changes.issue_programme_document(
        session=session, settings=settings, change_id=change.id, on=ON
    )
    assert latest.document_id == document.id and document.status == DocumentStatus.approved
    assert (
        pair_changes.issue_programme_document(
            session=session, settings=settings, change_id=change.id, on=ON
        )
        is None
    )
    text = pdf_text(document_file(settings=settings, document=document))
    assert "Перерыв в работе пары: командировка" in text and "Июнь 2027" in text


# --- early termination ------------------------------------------------------------------------


@pytest.mark.parametrize("wants_new_mentor", [True, False])
def test_an_early_termination_ends_the_pair_and_puts_the_mentee_back_on_the_search_list(
    school, wants_new_mentor
):
    session, s = school
    pair, mentee = s["pair"], s["mentee"]
    change = pair_changes.request_termination(
        session=session,
        request_key="t1",
        pair_id=pair.id,
        reason=PairChangeReason.mentee_non_performance,
        mentee_wants_new_mentor=wants_new_mentor,
        requested_on=ON,
        requested_by="curator",
    )
    _, order = _approve(session, change)
    assert (pair.status, pair.ends_on) == (PairStatus.terminated, ON)
    assert [
        (v.status, v.order_document_id) for v in pairs.history(session=session, pair_id=pair.id)
    ][-1] == (PairStatus.terminated, order.id)
    entries = session.exec(
        select(SearchListEntry).where(SearchListEntry.mentee_id == mentee.id)
    ).all()
    listed = pairing.search_list(session=session, cycle_id=s["cycle"])
    if wants_new_mentor:
        assert [(e.resolved, e.reason) for e in entries] == [
            (False, pair_changes.SEARCH_LIST_REASON)
        ]
        assert [row["reason"] for row in listed] == [pair_changes.SEARCH_LIST_REASON]
    else:
        assert entries == [] and listed == []
    # Either way the mentee may be matched anew: the next matching sees them.
    data = pairing.build_input(session=session, cycle_id=s["cycle"], on=ON)
    assert str(mentee.id) in {m.id for m in data.mentees}
    # The pair counts nothing against §2.5 and its links stop.
    cycle = session.get(Cycle, s["cycle"])
    load = pairs.active_mentee_load(
        session=session, organization_id=cycle.organization_id, today=ON
    )
    assert load.get(s["mentor"].person_id, 0) == 0
    notices = pair_changes.notices(session=session, change_id=change.id, link_context=LINKS)
    assert [(n["role"], n["link"], n["search_list"]) for n in notices] == [
        ("mentor", "", wants_new_mentor),
        ("mentee", "", wants_new_mentor),
        ("curator", "", wants_new_mentor),
    ]


def test_an_ended_pair_cannot_be_changed(school):
    session, s = school
    s["pair"].status = PairStatus.ended
    with pytest.raises(PairChangeError, match="не действует"):
        _replace(session, s["pair"], s["fits"])


# --- the orders, read back from the PDF -------------------------------------------------------


def pdf_text(path) -> str:
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    return re.sub(r"(\w)[-\u2010] (\w)", r"\1\2", text)


@pytest.mark.parametrize("kind", list(PairChangeKind))
def test_each_order_cites_its_clause_and_names_the_change(
    sqlite_engine, settings: Settings, kind: PairChangeKind
):
    with Session(sqlite_engine) as session:
        org_id = _organisation(session)
        cycle_id = _cycle(session, org_id)
        mentor = _participant(session, cycle_id, "Лебедев", Role.mentor, 10)
        mentee = _participant(session, cycle_id, "Кузнецова", Role.mentee, 6)
        new_mentor = _participant(session, cycle_id, "Орлова", Role.mentor, 11)
        pair = _pair(session, cycle_id, mentor, mentee)
        if kind == PairChangeKind.replacement:
            change = _replace(session, pair, new_mentor, consent_on=date(2027, 2, 8))
        elif kind == PairChangeKind.extension:
            change = pair_changes.request_extension(
                session=session,
                request_key="e",
                pair_id=pair.id,
                reason=PairChangeReason.illness,
                new_ends_on=date(2027, 6, 30),
                requested_on=ON,
                requested_by="curator",
            )
        else:
            change = pair_changes.request_termination(
                session=session,
                request_key="t",
                pair_id=pair.id,
                reason=PairChangeReason.mentee_non_performance,
                mentee_wants_new_mentor=True,
                requested_on=ON,
                requested_by="curator",
            )
        document = issue_document(
            session=session,
            settings=settings,
            unique_key=f"order:{change.id}",
            organization_id=org_id,
            cycle_id=cycle_id,
            doc_type="order",
            title=pair_changes.ORDER_TITLE[kind],
            template=pair_changes.ORDER_TEMPLATE[kind],
            context={
                "cycle": {"school_year": "2026/2027"},
                **pair_changes.order_context(session=session, change_id=change.id),
            },
            doc_date=ON,
        )
        text = pdf_text(document_file(settings=settings, document=document))
    assert "№ 1" in text
    assert f"п. {pair_changes.CLAUSE[kind]} Положения" in text
    assert "Лебедев Тест" in text and "Кузнецова Тест" in text
    if kind == PairChangeKind.replacement:
        assert "О замене наставника" in text
        assert "Назначить наставником Кузнецова Тест Орлова Тест" in text
        assert "от 8 февраля 2027 г. (письменное заявление)" in text
    elif kind == PairChangeKind.extension:
        assert "О продлении срока наставничества" in text
        assert "временная нетрудоспособность" in text and "до 30 июня 2027 г." in text
    else:
        assert "О досрочном прекращении наставничества" in text
        assert "лист поиска наставника" in text


# --- the command line -------------------------------------------------------------------------


def test_cli_lists_candidates_starts_the_changes_and_prints_the_history(
    monkeypatch, tmp_path, sqlite_engine, settings
):
    """`nastavnik pairs replace|extend|terminate|history`: the rules are checked before a flow
    is started; the deployment gets the pair and the reason; the history reads the versions."""
    from typer.testing import CliRunner

    from deployments import cli as cli_module
    from nastavnik.settings import get_settings

    with Session(sqlite_engine) as session:
        org = repository.upsert_organization(
            session=session,
            code="school-cli",
            name="МОУ «Средняя школа № 2»",
            short_name="СШ № 2",
            director_name="Иванова Мария Петровна",
            director_email="director@school2.example",
            curator_name="Петров Олег Ильич",
            curator_email="curator@school2.example",
        )
        cycle_id = _cycle(session, org.id)
        mentor = _participant(session, cycle_id, "Лебедев", Role.mentor, 10)
        mentee = _participant(session, cycle_id, "Кузнецова", Role.mentee, 6)
        pair = _pair(session, cycle_id, mentor, mentee)
        fits = _participant(session, cycle_id, "Орлова", Role.mentor, 11)
        younger = _participant(session, cycle_id, "Соколов", Role.mentor, 5)
        for participant in (mentor, mentee, fits, younger):  # personal data and guardian (§2.6)
            for kind in (ConsentKind.personal_data, ConsentKind.guardian):
                session.add(
                    Consent(
                        person_id=participant.person_id,
                        cycle_id=cycle_id,
                        kind=kind,
                        given_on=date(2026, 9, 1),
                    )
                )
        session.commit()
        pair_id, fits_id = pair.id, fits.id

    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NASTAVNIK_SECRET_KEY", settings.approval_secret().decode())
    get_settings.cache_clear()
    monkeypatch.setattr(cli_module.console, "width", 300)
    started: list[tuple[str, dict]] = []
    # Starting a deployment needs the Prefect server: the flow test runs that part.
    monkeypatch.setattr(
        cli_module, "_start", lambda name, params, new=False: started.append((name, params))
    )
    runner = CliRunner()
    where = ["--org", "school-cli", "--year", "2026/2027", "--date", "2027-02-10"]
    try:
        listed = runner.invoke(cli_module.app, ["pairs", "replace", "Кузнецова", *where])
        assert listed.exit_code == 0, listed.output
        assert "Орлова Тест" in listed.output and "Соколов" not in listed.output
        refused = runner.invoke(
            cli_module.app, ["pairs", "replace", "Кузнецова", *where, "--mentor", "Соколов"]
        )
        assert refused.exit_code == 1 and "п. 2.2" in refused.output
        wrong = runner.invoke(
            cli_module.app, ["pairs", "replace", "Кузнецова", *where, "--reason", "illness"]
        )
        assert wrong.exit_code != 0 and "mentor_request" in wrong.output
        replaced = runner.invoke(
            cli_module.app,
            [
                "pairs", "replace", "Кузнецова", *where, "--reason", "mentee_request",
                "--mentor", "Орлова", "--consent-on", "2027-02-08", "--consent-how", "заявление",
            ],
        )  # fmt: skip
        assert replaced.exit_code == 0, replaced.output
        extended = runner.invoke(
            cli_module.app,
            [
                "pairs",
                "extend",
                "Кузнецова",
                *where,
                "--until",
                "2027-06-30",
                "--reason",
                "illness",
            ],
        )
        assert extended.exit_code == 0, extended.output
        ended = runner.invoke(
            cli_module.app, ["pairs", "terminate", "Кузнецова", *where, "--new-mentor"]
        )
        assert ended.exit_code == 0, ended.output
        assert [name for name, _ in started] == [
            "pair-replacement/pair-replacement",
            "pair-extension/pair-extension",
            "pair-termination/pair-termination",
        ]
        params = [p for _, p in started]
        assert {p["pair_id"] for p in params} == {str(pair_id)}
        assert params[0]["new_mentor_id"] == str(fits_id)
        assert params[0]["reason"] == PairChangeReason.mentee_request.value
        assert (params[1]["new_ends_on"], params[1]["reason"]) == (
            "2027-06-30",
            PairChangeReason.illness.value,
        )
        assert params[2]["mentee_wants_new_mentor"] is True

        with Session(sqlite_engine) as session:  # what the replacement flow does on approval
            new_mentor = session.get(Participant, fits_id)
            change = _replace(session, session.get(MentorshipPair, pair_id), new_mentor)
            _approve(session, change)
            session.commit()
        history = runner.invoke(
            cli_module.app,
            ["pairs", "history", "Кузнецова", "--org", "school-cli", "--year", "2026/2027"],
        )
        assert history.exit_code == 0, history.output
        assert history.output.count("Лебедев Тест") == 2 and "replaced" in history.output
        assert "Орлова Тест" in history.output and "№ 5 от 10.02.2027" in history.output
        drafts = runner.invoke(
            cli_module.app, ["pairs", "--org", "school-cli", "--year", "2026/2027"]
        )
        assert drafts.exit_code == 0 and "Проект пар" in drafts.output
    finally:
        get_settings.cache_clear()


def test_a_refusal_by_the_rules_is_not_retried_a_transient_failure_is():
    from prefect.states import Failed

    from tasks.pair_changes import not_a_rule

    assert not_a_rule(None, None, Failed(data=PairChangeError("п. 2.5"))) is False
    assert not_a_rule(None, None, Failed(data=LookupError("пара не найдена"))) is False
    assert not_a_rule(None, None, Failed(data=OSError("database is locked"))) is True


@pytest.mark.parametrize("kind", list(PairChangeKind))
def test_every_notice_of_every_change_renders(school, kind: PairChangeKind):
    """The e-mail each concerned person gets says what changed for them (strict templates)."""
    from nastavnik import mail

    session, s = school
    pair = s["pair"]
    if kind == PairChangeKind.replacement:
        change = _replace(session, pair, s["fits"])
    elif kind == PairChangeKind.extension:
        change = pair_changes.request_extension(
            session=session,
            request_key="e",
            pair_id=pair.id,
            reason=PairChangeReason.long_absence,
            new_ends_on=date(2027, 6, 30),
            requested_on=ON,
            requested_by="curator",
        )
    else:
        change = pair_changes.request_termination(
            session=session,
            request_key="t",
            pair_id=pair.id,
            reason=PairChangeReason.mentee_non_performance,
            mentee_wants_new_mentor=True,
            requested_on=ON,
            requested_by="curator",
        )
    _approve(session, change)
    cycle = session.get(Cycle, s["cycle"])
    org = session.get(Organization, cycle.organization_id)
    documents = [{"title": "Приказ", "label": "№ 5", "url": ""}]
    bodies = {}
    for notice in pair_changes.notices(session=session, change_id=change.id, link_context=LINKS):
        subject, text, _ = mail.render_mail(
            template="pair_change",
            context={"organization": org, "cycle": cycle, "documents": documents, **notice},
        )
        assert subject == f"{pair_changes.ORDER_TITLE[kind]} — СШ № 2, 2026/2027"
        assert "Основание:" in text and "№ 5" in text
        assert ("/p/" in text) == bool(notice["link"])
        assert "г.." not in text and "\n\n\n" not in text
        bodies[notice["role"]] = text
    if kind == PairChangeKind.replacement:
        assert "вы освобождены от обязанностей наставника" in bodies["old_mentor"]
        assert "С 10 февраля 2027 г. наставник — Орлова Тест" in bodies["mentee"]
    elif kind == PairChangeKind.extension:
        assert "Новый срок — по 30 июня 2027 г.:" in bodies["mentor"]
    else:
        assert "прекращено досрочно\nс 10 февраля 2027 г." in bodies["mentee"]
        assert "включён в лист поиска нового наставника" in bodies["curator"]
