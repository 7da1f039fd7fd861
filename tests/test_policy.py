"""The organisation's policy: the regulation's defaults, stored per organisation, validated.

Regulation (seed regulation_and_roadmap_school2_ustyuzhna.txt): §2.5 «Максимальное число лиц,
в отношении которых наставник одновременно осуществляет наставничество, не может превышать
трех»; §2.3 «молодого специалиста (при опыте работы от 0 до 3 лет)»; §2.4.4 «с большим (от 5 лет)
опытом работы»; §2.13–§2.14 «В течение 10 дней по завершении наставничества … отчет»; §4.2 «не
реже 1 раза в месяц докладывать куратору».
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import ApprovalRequest, AuditEvent, MentoringForm
from nastavnik import approval_mail, matching, policy
from nastavnik.policy import OrganisationPolicy, PolicyError
from nastavnik.settings import Settings


def test_defaults_are_the_regulation() -> None:
    rules = OrganisationPolicy()
    assert rules.max_mentees_per_mentor == 3  # §2.5
    assert rules.young_specialist_max_years == 3  # §2.3
    assert rules.employer_min_years == 5  # §2.4.4
    assert rules.report_deadline_days == 10  # §2.13, §2.14
    assert rules.monthly_mentor_report is True  # §4.2
    assert rules.participant_link_valid_days == 30  # DESIGN §11
    assert rules.forms == (  # §2.1
        MentoringForm.student_student,
        MentoringForm.teacher_teacher,
        MentoringForm.employer_student,
    )
    assert [role for role, _ in rules.escalation_ladder()] == ["curator", "director", "department"]


def test_the_matching_policy_is_derived_from_the_organisation_policy() -> None:
    assert OrganisationPolicy().matching_policy() == matching.Policy()
    rules = policy.updated(
        OrganisationPolicy(),
        {"max_mentees_per_mentor": 2, "group_max": 2, "young_specialist_max_years": 5},
    )
    derived = rules.matching_policy()
    assert (derived.max_mentees_per_mentor, derived.group_max) == (2, 2)
    assert derived.young_specialist_max_years == 5
    assert derived.require_consents  # §2.6 is not the organisation's to switch off

    young = matching.MenteeCandidate(
        id="m",
        form=MentoringForm.teacher_teacher,
        grade=None,
        experience_years=4,
        is_new_staff=False,
        subjects=frozenset(),
        interests=frozenset(),
        requests=frozenset(),
        availability=frozenset(),
        has_consents=True,
    )
    assert matching.mentee_violation(young, policy=matching.Policy()) is not None
    assert matching.mentee_violation(young, policy=derived) is None


def _org(engine: Engine, code: str = "school-2") -> uuid.UUID:
    from nastavnik import repository

    with Session(engine) as session:
        org = repository.upsert_organization(
            session=session,
            code=code,
            name="МОУ «Средняя школа № 2»",
            short_name="МОУ «СШ № 2»",
            director_name="Исакова Наталья Романовна",
            director_email="director@school2.example",
            curator_name="Белова Анна Сергеевна",
            curator_email="curator@school2.example",
        )
        session.commit()
        return org.id


def test_an_organisation_without_a_saved_policy_gets_the_defaults(engine: Engine) -> None:
    org_id = _org(engine)
    with Session(engine) as session:
        assert policy.get_policy(session=session, organization_id=org_id) == OrganisationPolicy()
        assert not policy.is_saved(session=session, organization_id=org_id)


def test_a_session_reads_the_policy_once_and_sees_its_own_save_until_rolled_back(
    engine: Engine,
) -> None:
    org_id = _org(engine)
    stricter = OrganisationPolicy(max_mentees_per_mentor=2, group_max=2)
    with Session(engine) as session:
        assert policy.get_policy(session=session, organization_id=org_id) == OrganisationPolicy()
        policy.save_policy(session=session, organization_id=org_id, policy=stricter)
        assert policy.get_policy(session=session, organization_id=org_id) == stricter
        session.rollback()
        # The save was undone: the session reads the stored (default) policy again.
        assert policy.get_policy(session=session, organization_id=org_id) == OrganisationPolicy()
        policy.save_policy(session=session, organization_id=org_id, policy=stricter)
        session.commit()
        assert policy.get_policy(session=session, organization_id=org_id) == stricter
    with Session(engine) as session:
        assert policy.get_policy(session=session, organization_id=org_id) == stricter


def test_a_saved_policy_is_read_back_per_organisation_and_audited(engine: Engine) -> None:
    org_id, other_id = _org(engine), _org(engine, "school-7")
    changes = policy.parse_assignments(
        ["max_mentees_per_mentor=2", "group_max=2", "forms=Учитель - учитель, ученик–ученик"]
    )
    with Session(engine) as session:
        current = policy.get_policy(session=session, organization_id=org_id)
        policy.save_policy(
            session=session,
            organization_id=org_id,
            policy=policy.updated(current, changes),
            actor="Белова",
        )
        session.commit()
    with Session(engine) as session:
        saved = policy.get_policy(session=session, organization_id=org_id)
        assert saved.max_mentees_per_mentor == 2
        assert saved.forms == (MentoringForm.teacher_teacher, MentoringForm.student_student)
        assert policy.get_policy(session=session, organization_id=other_id) == OrganisationPolicy()
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "policy.saved")).one()
        assert event.actor == "Белова"
        assert event.details["changes"]["max_mentees_per_mentor"] == {"было": "3", "стало": "2"}
        assert set(event.details["changes"]) == {"max_mentees_per_mentor", "group_max", "forms"}


@pytest.mark.parametrize(
    ("assignments", "expected"),
    [
        (["max_mentees_per_mentor=0"], "max_mentees_per_mentor: должно быть не меньше 1"),
        (["max_mentees_per_mentor=три"], "max_mentees_per_mentor: ожидается целое число"),
        (["mentor_report_day=31"], "mentor_report_day: должно быть не больше 28"),
        (["monthly_mentor_report=иногда"], "monthly_mentor_report: ожидается да или нет"),
        (["forms=ученик–родитель"], "forms: неизвестная форма «ученик–родитель»"),
        (["max_mentees_per_mentor=2"], "group_max (3) больше max_mentees_per_mentor (2)"),
        (
            ["escalate_to_director_after_days=2"],
            "escalate_to_director_after_days (2) должно быть больше escalate_to_curator_after_days",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_key(assignments: list[str], expected: str) -> None:
    with pytest.raises(PolicyError) as error:
        policy.updated(OrganisationPolicy(), policy.parse_assignments(assignments))
    assert expected in str(error.value)


def test_bad_assignments_are_refused_each_named() -> None:
    with pytest.raises(PolicyError) as error:
        policy.parse_assignments(["mentees=3", "report_deadline_days", "forms=a", "forms=b"])
    assert error.value.errors == [
        "mentees: неизвестный параметр (известны: " + ", ".join(policy.KEYS) + ")",
        "«report_deadline_days»: ожидается ключ=значение",
        "forms: задан дважды",
    ]


def test_a_record_saved_before_a_key_existed_takes_its_default() -> None:
    assert policy.validate_policy({"max_mentees_per_mentor": 2, "group_max": 2}).forms == (
        OrganisationPolicy().forms
    )


def test_approval_codes_follow_the_policy_else_the_setting(
    engine: Engine, settings: Settings
) -> None:
    from nastavnik import repository

    org_id = _org(engine)
    now = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)

    def open_request(key: str) -> ApprovalRequest:
        with Session(engine, expire_on_commit=False) as session:
            cycle = repository.get_or_create_cycle(
                session=session, organization_id=org_id, school_year="2026/2027"
            )
            request, _ = approval_mail.open_request_with_mail(
                session=session,
                settings=settings,
                cycle_id=cycle.id,
                stage="preparation",
                approval_key=key,
                flow_run_id=uuid.uuid4(),
                title="Приказы",
                summary="",
                document_ids=[],
                now=now,
            )
            session.commit()
            return request

    first = open_request("a")
    assert first.expires_at.replace(tzinfo=UTC) - now == timedelta(days=settings.approval_ttl_days)
    with Session(engine) as session:
        policy.save_policy(
            session=session,
            organization_id=org_id,
            policy=policy.updated(OrganisationPolicy(), {"approval_code_valid_days": 5}),
        )
        session.commit()
    second = open_request("b")
    assert second.expires_at.replace(tzinfo=UTC) - now == timedelta(days=5)
    with Session(engine) as session:
        reissued, _ = approval_mail.reissue_with_mail(
            session=session, settings=settings, request_id=first.id, actor="curator", now=now
        )
        assert reissued.expires_at.replace(tzinfo=UTC) - now == timedelta(days=5)


def test_cli_shows_sets_and_refuses_naming_each_bad_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_engine: Engine
) -> None:
    from typer.testing import CliRunner

    from deployments import cli as cli_module
    from nastavnik.settings import get_settings

    org_id = _org(sqlite_engine)
    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    monkeypatch.setattr(cli_module.console, "width", 200)
    runner = CliRunner()
    try:
        shown = runner.invoke(cli_module.app, ["policy", "show", "--org", "school-2"])
        assert shown.exit_code == 0, shown.output
        assert "max_mentees_per_mentor" in shown.output and "значения Положения" in shown.output

        refused = runner.invoke(
            cli_module.app,
            ["policy", "set", "--org", "school-2", "mentees=2", "mentor_report_day=31"],
        )
        assert refused.exit_code == 1
        assert "Политика school-2 не изменена" in refused.output
        assert "mentees: неизвестный параметр" in refused.output
        assert "mentor_report_day: должно быть не больше 28" in refused.output
        with Session(sqlite_engine) as session:
            assert not policy.is_saved(session=session, organization_id=org_id)

        changed = runner.invoke(
            cli_module.app,
            ["policy", "set", "--org", "school-2", "report_deadline_days=14", "--actor", "Белова"],
        )
        assert changed.exit_code == 0, changed.output
        with Session(sqlite_engine) as session:
            saved = policy.get_policy(session=session, organization_id=org_id)
        assert saved.report_deadline_days == 14

        unknown = runner.invoke(cli_module.app, ["policy", "show", "--org", "school-9"])
        assert unknown.exit_code == 1 and "school-9" in unknown.output
    finally:
        get_settings.cache_clear()
