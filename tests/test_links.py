"""Participants' personal links (DESIGN §11) through the web app, with a fixed clock (no Prefect).

DESIGN §11: each mentor and mentee «gets a personal signed link … it opens their own page only
…, expires 30 days after the pair ends (a policy setting …), can be revoked and re-issued, and
every use is audited. Forged, expired, revoked or someone else's links are refused.»
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from models import (
    AuditEvent,
    MentoringForm,
    MentorshipPair,
    PairMember,
    PairStatus,
    Participant,
    Person,
    Role,
)
from nastavnik import links, policy
from nastavnik.web import create_app
from tests.test_web_approvals import Client, Clock, Resumes

MOSCOW = ZoneInfo("Europe/Moscow")
STARTS_ON, ENDS_ON = date(2026, 10, 1), date(2027, 5, 31)
DURING_TERM = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class School:
    """Two active pairs (mentor + mentee each) and one draft pair, by participant id."""

    org_id: uuid.UUID
    cycle_id: uuid.UUID
    pair_a: uuid.UUID
    pair_b: uuid.UUID
    mentor_a: uuid.UUID
    mentee_a: uuid.UUID
    mentor_b: uuid.UUID
    mentee_b: uuid.UUID


def _participant(
    session: Session, org_id: uuid.UUID, cycle_id: uuid.UUID, name: str, role: Role
) -> uuid.UUID:
    last, first, middle = name.split()
    person = Person(
        organization_id=org_id,
        person_key=name,
        last_name=last,
        first_name=first,
        middle_name=middle,
    )
    session.add(person)
    session.flush()
    participant = Participant(
        cycle_id=cycle_id, person_id=person.id, role=role, form=MentoringForm.student_student
    )
    session.add(participant)
    session.flush()
    return participant.id


def _pair(
    session: Session,
    cycle_id: uuid.UUID,
    mentor: uuid.UUID,
    mentee: uuid.UUID,
    status: PairStatus = PairStatus.active,
) -> uuid.UUID:
    pair = MentorshipPair(
        cycle_id=cycle_id,
        mentor_id=mentor,
        form=MentoringForm.student_student,
        status=status,
        starts_on=STARTS_ON,
        ends_on=ENDS_ON,
    )
    session.add(pair)
    session.flush()
    session.add(PairMember(pair_id=pair.id, mentee_id=mentee))
    session.flush()
    return pair.id


@pytest.fixture
def school(engine, cycle_ids) -> School:
    """Pairs A and B active for 2026/2027; a draft pair C that has no page yet."""
    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        people = {
            name: _participant(session, org_id, cycle_id, name, role)
            for name, role in [
                ("Смирнова Анна Сергеевна", Role.mentor),
                ("Кузнецов Илья Андреевич", Role.mentee),
                ("Орлов Павел Викторович", Role.mentor),
                ("Лебедева Вера Олеговна", Role.mentee),
                ("Зайцев Глеб Ильич", Role.mentor),
                ("Морозова Ника Павловна", Role.mentee),
            ]
        }
        ids = list(people.values())
        pair_a = _pair(session, cycle_id, ids[0], ids[1])
        pair_b = _pair(session, cycle_id, ids[2], ids[3])
        _pair(session, cycle_id, ids[4], ids[5], status=PairStatus.draft)
        session.commit()
    return School(org_id, cycle_id, pair_a, pair_b, ids[0], ids[1], ids[2], ids[3])


@pytest.fixture
def web(engine, settings):
    """A test client of the app and its settable clock (during the pairs' term)."""
    clock = Clock(DURING_TERM)
    app = create_app(settings=settings, engine=engine, resume=Resumes(), clock=clock)
    return Client(app), clock


def _issue(engine, settings, participant_id, pair_id, now=DURING_TERM) -> str:
    with Session(engine) as session:
        link = links.issue_link(
            session=session,
            secret=settings.approval_secret(),
            participant_id=participant_id,
            pair_id=pair_id,
            now=now,
            timezone=MOSCOW,
            actor="curator",
        )
        session.commit()
        return link.token


def _link_events(engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def _refused(engine) -> list[str]:
    # Sorted: the audit table has no order of its own to rely on.
    return sorted(e.details["problem"] for e in _link_events(engine, "link.refused"))


def test_every_member_of_every_active_pair_gets_a_link(engine, settings, school):
    with Session(engine) as session:
        issued = links.issue_for_cycle(
            session=session,
            secret=settings.approval_secret(),
            cycle_id=school.cycle_id,
            now=DURING_TERM,
            timezone=MOSCOW,
            actor="curator",
        )
        session.commit()
    assert {(i.participant_id, i.pair_id) for i in issued} == {
        (school.mentor_a, school.pair_a),
        (school.mentee_a, school.pair_a),
        (school.mentor_b, school.pair_b),
        (school.mentee_b, school.pair_b),
    }
    assert len({i.token for i in issued}) == 4
    # Expires at the end of the 30th day after the pair's last day, school time (DESIGN §11).
    assert {i.expires_at for i in issued} == {datetime(2027, 7, 1, tzinfo=MOSCOW)}
    # Issuing again gives the same links and audits nothing new.
    with Session(engine) as session:
        again = links.issue_for_cycle(
            session=session,
            secret=settings.approval_secret(),
            cycle_id=school.cycle_id,
            now=DURING_TERM + timedelta(days=1),
            timezone=MOSCOW,
            actor="curator",
        )
        session.commit()
    assert [i.token for i in again] == [i.token for i in issued]
    assert len(_link_events(engine, "link.issued")) == 4


def test_a_valid_link_opens_the_participants_own_pair_page(engine, settings, school, web):
    client, _ = web
    page = client.get(f"/p/{_issue(engine, settings, school.mentor_a, school.pair_a)}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Смирнова Анна Сергеевна" in page.text
    # The other side is named by first name only, and nobody from another pair appears.
    assert "Илья" in page.text and "Кузнецов" not in page.text
    assert "Орлов" not in page.text and "Лебедева" not in page.text
    assert "с 1 октября 2026 г. по 31 мая 2027 г." in page.text
    assert "<script" not in page.text
    assert 'name="viewport"' in page.text
    opened = _link_events(engine, "link.opened")
    assert [(e.entity, e.details["pair"]) for e in opened] == [
        (f"participant:{school.mentor_a}", str(school.pair_a))
    ]

    mentee_page = client.get(f"/p/{_issue(engine, settings, school.mentee_a, school.pair_a)}")
    assert mentee_page.status_code == 200
    assert "Наставник: Смирнова Анна Сергеевна" in mentee_page.text


def _with_byte_flipped(token: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_forged_and_malformed_links_are_refused_and_audited(engine, settings, school, web):
    client, _ = web
    token = _issue(engine, settings, school.mentee_a, school.pair_a)
    forged_signature = _with_byte_flipped(token, -1)
    later_expiry = _with_byte_flipped(token, 32 + 6)  # the expiry field, signature kept
    wrong_secret = links.make_token(
        secret=b"not-our-secret",
        participant_id=school.mentee_a,
        pair_id=school.pair_a,
        expires_at=datetime(2027, 7, 1, tzinfo=MOSCOW),
        generation=0,
    )
    for bad in (forged_signature, later_expiry, wrong_secret):
        refused = client.get(f"/p/{bad}")
        assert refused.status_code == 403
        assert "Ссылка не действует" in refused.text
        assert "Ссылка не выдавалась этой программой наставничества." in refused.text
        assert "Илья" not in refused.text
    malformed = client.get("/p/not-a-link")
    assert malformed.status_code == 403
    assert "Ссылка повреждена" in malformed.text
    assert _refused(engine) == ["forged", "forged", "forged", "malformed"]
    # A forgery is not put down to the person it names.
    assert {e.actor for e in _link_events(engine, "link.refused")} == {"unknown"}
    assert _link_events(engine, "link.opened") == []


def test_someone_elses_link_is_refused_and_audited(engine, settings, school, web):
    client, _ = web
    mine = _issue(engine, settings, school.mentee_a, school.pair_a)
    _issue(engine, settings, school.mentee_b, school.pair_b)
    # A's link with B's id put in: the signature no longer matches.
    raw = bytearray(base64.urlsafe_b64decode(mine + "=" * (-len(mine) % 4)))
    raw[0:16] = school.mentee_b.bytes
    swapped = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert client.get(f"/p/{swapped}").status_code == 403
    # Signed with our secret, but for a pair the participant is not in (another pair's page).
    other_pair = links.make_token(
        secret=settings.approval_secret(),
        participant_id=school.mentee_a,
        pair_id=school.pair_b,
        expires_at=datetime(2027, 7, 1, tzinfo=MOSCOW),
        generation=0,
    )
    refused = client.get(f"/p/{other_pair}")
    assert refused.status_code == 403
    assert "Ссылка выдана не участнику этой пары." in refused.text
    assert "Лебедева" not in refused.text and "Вера" not in refused.text
    assert _refused(engine) == ["foreign", "forged"]
    (foreign,) = [
        e for e in _link_events(engine, "link.refused") if e.details["problem"] == "foreign"
    ]
    assert foreign.entity == f"participant:{school.mentee_a}"
    assert foreign.details["pair"] == str(school.pair_b)
    with pytest.raises(ValueError, match="не входит в пару"):
        _issue(engine, settings, school.mentee_a, school.pair_b)


def test_a_link_expires_30_days_after_the_pair_ends(engine, settings, school, web):
    client, clock = web
    token = _issue(engine, settings, school.mentor_a, school.pair_a)
    # 30 June 2027, 23:59 in Moscow: the 30th day after 31 May, still valid (completion reports).
    clock.now = datetime(2027, 6, 30, 23, 59, tzinfo=MOSCOW)
    assert client.get(f"/p/{token}").status_code == 200
    clock.now = datetime(2027, 7, 1, 0, 0, tzinfo=MOSCOW)
    expired = client.get(f"/p/{token}")
    assert expired.status_code == 410
    assert "Срок действия ссылки истёк." in expired.text
    assert _refused(engine) == ["expired"]


def test_the_policys_number_of_days_is_honoured(engine, settings, school, web):
    client, clock = web
    with Session(engine) as session:
        rules = policy.updated(
            policy.get_policy(session=session, organization_id=school.org_id),
            {"participant_link_valid_days": 7},
        )
        policy.save_policy(
            session=session, organization_id=school.org_id, policy=rules, actor="curator"
        )
        session.commit()
    token = _issue(engine, settings, school.mentee_b, school.pair_b)
    clock.now = datetime(2027, 6, 7, 12, 0, tzinfo=MOSCOW)
    assert client.get(f"/p/{token}").status_code == 200
    clock.now = datetime(2027, 6, 8, 12, 0, tzinfo=MOSCOW)
    assert client.get(f"/p/{token}").status_code == 410
    # A shorter policy also shortens links already sent (the earlier expiry wins).
    with Session(engine) as session:
        rules = policy.updated(rules, {"participant_link_valid_days": 3})
        policy.save_policy(
            session=session, organization_id=school.org_id, policy=rules, actor="curator"
        )
        session.commit()
    clock.now = datetime(2027, 6, 5, 12, 0, tzinfo=MOSCOW)
    assert client.get(f"/p/{token}").status_code == 410
    assert _refused(engine) == ["expired", "expired"]


def test_a_revoked_link_is_refused_until_reissued(engine, settings, school, web):
    client, clock = web
    token = _issue(engine, settings, school.mentor_b, school.pair_b)
    with Session(engine) as session:
        revoked = links.revoke_links(
            session=session, participant_id=school.mentor_b, now=DURING_TERM, actor="curator"
        )
        session.commit()
    assert revoked == 1
    refused = client.get(f"/p/{token}")
    assert refused.status_code == 410
    assert "Ссылка отозвана куратором." in refused.text
    # The cycle's issue leaves a revoked link out instead of handing it back.
    with Session(engine) as session:
        issued = links.issue_for_cycle(
            session=session,
            secret=settings.approval_secret(),
            cycle_id=school.cycle_id,
            now=DURING_TERM,
            timezone=MOSCOW,
            actor="curator",
        )
    assert school.mentor_b not in {i.participant_id for i in issued}
    assert len(_link_events(engine, "link.revoked")) == 1
    assert _refused(engine) == ["revoked"]


def test_a_reissue_refuses_every_earlier_link(engine, settings, school, web):
    client, _ = web
    first = _issue(engine, settings, school.mentee_a, school.pair_a)
    tokens = [first]
    for _ in range(2):
        with Session(engine) as session:
            (link,) = links.reissue_links(
                session=session,
                secret=settings.approval_secret(),
                participant_id=school.mentee_a,
                now=DURING_TERM,
                timezone=MOSCOW,
                actor="curator",
            )
            session.commit()
        tokens.append(link.token)
    assert link.generation == 2
    assert len(set(tokens)) == 3
    for old in tokens[:2]:
        refused = client.get(f"/p/{old}")
        assert refused.status_code == 410
        assert "Ссылка заменена новой" in refused.text
    assert client.get(f"/p/{tokens[2]}").status_code == 200
    assert _refused(engine) == ["superseded", "superseded"]
    # A reissue also lifts a revocation.
    with Session(engine) as session:
        links.revoke_links(
            session=session, participant_id=school.mentee_a, now=DURING_TERM, actor="curator"
        )
        (link,) = links.reissue_links(
            session=session,
            secret=settings.approval_secret(),
            participant_id=school.mentee_a,
            now=DURING_TERM,
            timezone=MOSCOW,
            actor="curator",
        )
        session.commit()
    assert client.get(f"/p/{link.token}").status_code == 200
    assert client.get(f"/p/{tokens[2]}").status_code == 410


def test_a_draft_pair_has_no_links(engine, settings, school):
    with Session(engine) as session:
        draft = session.exec(
            select(MentorshipPair).where(MentorshipPair.status == PairStatus.draft)
        ).one()
        with pytest.raises(ValueError, match="не действует"):
            links.issue_link(
                session=session,
                secret=settings.approval_secret(),
                participant_id=draft.mentor_id,
                pair_id=draft.id,
                now=DURING_TERM,
                timezone=MOSCOW,
                actor="curator",
            )


def test_cli_issues_revokes_and_reissues(monkeypatch, tmp_path, engine, settings, school):
    """The curator's terminal: `nastavnik links issue|revoke|reissue`."""
    import re

    from typer.testing import CliRunner

    from deployments import cli as cli_module
    from nastavnik.settings import get_settings

    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI test runs on the SQLite file the command line opens")
    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NASTAVNIK_SECRET_KEY", settings.approval_secret().decode())
    get_settings.cache_clear()
    monkeypatch.setattr(cli_module.console, "width", 300)
    runner = CliRunner()
    where = ["--org", "school-7", "--year", "2026/2027"]

    def tokens(output: str) -> dict[str, str]:
        return dict(re.findall(r"│ ([А-ЯЁа-яё ]+?) +│.*?/p/([A-Za-z0-9_-]+)", output))

    try:
        issued = runner.invoke(cli_module.app, ["links", "issue", *where])
        assert issued.exit_code == 0, issued.output
        first = tokens(issued.output)
        assert set(first) == {
            "Смирнова Анна Сергеевна",
            "Кузнецов Илья Андреевич",
            "Орлов Павел Викторович",
            "Лебедева Вера Олеговна",
        }
        revoked = runner.invoke(cli_module.app, ["links", "revoke", "Смирнова", *where])
        assert revoked.exit_code == 0, revoked.output
        assert "отозваны: 1" in revoked.output
        again = runner.invoke(cli_module.app, ["links", "issue", *where])
        assert "Смирнова Анна Сергеевна" not in tokens(again.output)
        reissued = runner.invoke(cli_module.app, ["links", "reissue", "Смирнова", *where])
        assert reissued.exit_code == 0, reissued.output
        fresh = tokens(reissued.output)["Смирнова Анна Сергеевна"]
        assert fresh != first["Смирнова Анна Сергеевна"]
        unknown = runner.invoke(cli_module.app, ["links", "revoke", "Нетакой", *where])
        assert unknown.exit_code != 0
    finally:
        get_settings.cache_clear()
    with Session(engine) as session:
        opened = links.check_link(
            session=session,
            secret=settings.approval_secret(),
            token=fresh,
            now=DURING_TERM,
            timezone=MOSCOW,
            channel="test",
        )
        old = links.check_link(
            session=session,
            secret=settings.approval_secret(),
            token=first["Смирнова Анна Сергеевна"],
            now=DURING_TERM,
            timezone=MOSCOW,
            channel="test",
        )
    assert (opened.problem, opened.participant_id) == (None, school.mentor_a)
    assert old.problem == links.LinkProblem.superseded


def test_the_programme_goes_through_the_link_only(engine, settings, school, web):
    client, _ = web
    token = _issue(engine, settings, school.mentee_b, school.pair_b)
    page = client.get(f"/p/{token}")
    # No programme yet: no link to it on the page, and the PDF address says so.
    assert "programme.pdf" not in page.text
    missing = client.get(f"/p/{token}/programme.pdf")
    assert missing.status_code == 404
    assert "Программы пока нет" in missing.text
    forged = client.get(f"/p/{_with_byte_flipped(token, -1)}/programme.pdf")
    assert forged.status_code == 403
    assert _refused(engine) == ["forged"]


def test_the_pairs_programme_opens_from_its_members_links(engine, settings, school, web):
    import io

    from pypdf import PdfReader, PdfWriter

    from models import Document, PersonalProgramme, ProgrammeStatus

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": "Индивидуальная программа"})
    pdf = io.BytesIO()
    writer.write(pdf)
    path = settings.documents_dir / "programme-b.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf.getvalue())
    with Session(engine) as session:
        document = Document(
            unique_key="programme-b",
            organization_id=school.org_id,
            cycle_id=school.cycle_id,
            doc_type="programme",
            series="ИП",
            year=2026,
            number=2,
            doc_date=STARTS_ON,
            title="Индивидуальная программа наставничества",
            content_hash="0" * 64,
            path="programme-b.pdf",
        )
        session.add(document)
        session.flush()
        session.add(
            PersonalProgramme(
                pair_id=school.pair_b, document_id=document.id, status=ProgrammeStatus.approved
            )
        )
        session.commit()
    client, _ = web
    token_b = _issue(engine, settings, school.mentor_b, school.pair_b)
    page = client.get(f"/p/{token_b}")
    assert f'href="/p/{token_b}/programme.pdf"' in page.text
    served = client.get(f"/p/{token_b}/programme.pdf")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(served.content))
    assert reader.metadata.title == "Индивидуальная программа"
    # Pair A's member sees no programme: B's programme is not theirs.
    token_a = _issue(engine, settings, school.mentor_a, school.pair_a)
    assert "programme.pdf" not in client.get(f"/p/{token_a}").text
    assert client.get(f"/p/{token_a}/programme.pdf").status_code == 404


def _urls(engine, settings, wanted, now=DURING_TERM) -> dict:
    with Session(engine) as session:
        urls = links.personal_urls(
            session=session,
            secret=settings.approval_secret(),
            base_url=settings.web_base_url,
            timezone=MOSCOW,
            wanted=wanted,
            now=now,
            path="/completion",
        )
        session.commit()
    return urls


def test_many_links_at_once_are_the_ones_issued_one_by_one(engine, settings, school, web):
    client, _ = web
    with Session(engine) as session:
        draft = session.exec(
            select(MentorshipPair).where(MentorshipPair.status == PairStatus.draft)
        ).one()
    with Session(engine) as session:
        links.revoke_links(
            session=session, participant_id=school.mentor_b, now=DURING_TERM, actor="curator"
        )
        session.commit()
    wanted = [
        (school.mentor_a, school.pair_a),
        (school.mentee_a, school.pair_a),
        (school.mentee_b, school.pair_b),
        (school.mentor_b, school.pair_b),  # revoked
        (school.mentee_a, school.pair_b),  # not in the pair
        (draft.mentor_id, draft.id),  # a pair with no page
    ]
    urls = _urls(engine, settings, wanted)
    closed = {(school.mentor_b, school.pair_b), (school.mentee_a, school.pair_b)}
    closed.add((draft.mentor_id, draft.id))
    assert {key for key, url in urls.items() if not url} == closed
    for participant_id, pair_id in wanted[:3]:
        token = _issue(engine, settings, participant_id, pair_id)
        assert (
            urls[(participant_id, pair_id)]
            == links.link_url(base_url=settings.web_base_url, token=token) + "/completion"
        )
        assert client.get(f"/p/{token}").status_code == 200
    # Audited once per link, however often it is asked for, one by one or together.
    assert _urls(engine, settings, wanted[:3], now=DURING_TERM + timedelta(days=3)) == {
        key: urls[key] for key in wanted[:3]
    }
    assert len(_link_events(engine, "link.issued")) == 3
    with pytest.raises(LookupError, match="не найдена"):
        _urls(engine, settings, [(school.mentor_a, uuid.uuid4())])
