"""An organisation's policy: the regulation's configurable hard rules, read by every stage.

Defaults are the regulation's (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``, «Положение
о наставничестве») and of DESIGN §5 and §11 where the regulation says nothing. An organisation
changes what its own regulation says (``nastavnik policy set``); the preparation stage prints
the regulation from these values, so the printed document and the enforced rules agree.

No Prefect here. Values are stored per organisation in the ``organisationpolicy`` table.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from models import MentoringForm
from models.tables import OrganisationPolicyRecord, utcnow
from nastavnik import repository
from nastavnik.questionnaires import parse_form

if TYPE_CHECKING:  # the matching engine loads OR-Tools and NumPy (~0.5 s): only when matching
    from nastavnik import matching

REGULATION_FORMS: tuple[MentoringForm, ...] = (
    MentoringForm.student_student,
    MentoringForm.teacher_teacher,
    MentoringForm.employer_student,
)
"""§2.1: «Реализуемые формы программ наставничества: «ученик – ученик»; «учитель – учитель»;
«работодатель -ученик»»."""


class PolicyError(ValueError):
    """Policy values that cannot be used; each line names the key and what is wrong."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


class OrganisationPolicy(BaseModel):
    """The hard rules of one organisation; the defaults are the regulation's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_mentees_per_mentor: int = Field(
        default=3, ge=1, le=10, title="Наставляемых у одного наставника одновременно, не более"
    )
    """§2.5: «Максимальное число лиц, в отношении которых наставник одновременно осуществляет
    наставничество, не может превышать трех.»"""
    young_specialist_max_years: int = Field(
        default=3, ge=0, le=10, title="Молодой специалист: стаж от 0 до N лет"
    )
    """§2.3: «молодого специалиста (при опыте работы от 0 до 3 лет) или нового сотрудника
    (при смене места работы)»."""
    employer_min_years: int = Field(
        default=5, ge=0, le=40, title="Наставник-работодатель: опыт работы от N лет"
    )
    """§2.4.4: «Неравнодушный профессионал с большим (от 5 лет) опытом работы»."""
    pupil_mentor_min_grade_gap: int = Field(
        default=1, ge=1, le=10, title="Ученик-наставник старше наставляемого на N классов"
    )
    """§2.2: «один из обучающихся находится на более высокой ступени образования»."""
    pupil_mentor_higher_stage: bool = Field(
        default=False, title="Ученик-наставник на более высокой ступени (1–4, 5–9, 10–11)"
    )
    """§2.2 read strictly: a higher *stage* of education, not just a higher grade."""
    employer_mentee_min_grade: int | None = Field(
        default=None, ge=1, le=11, title="«Работодатель – ученик»: наставляемый с N-го класса"
    )
    """§2.4: «обучающегося старших классов средней школы»; unset: any grade."""
    group_min: int = Field(default=2, ge=2, le=10, title="Группа: не менее N наставляемых")
    group_max: int = Field(default=3, ge=2, le=10, title="Группа: не более N наставляемых")
    forms: tuple[MentoringForm, ...] = Field(
        default=REGULATION_FORMS, min_length=1, title="Реализуемые формы наставничества"
    )
    """§2.1: the forms the organisation runs (printed in its regulation)."""
    report_deadline_days: int = Field(
        default=10, ge=1, le=90, title="Отчёты по завершении наставничества: в течение N дней"
    )
    """§2.13: «В течение 10 дней по завершении наставничества наставник составляет отчет о
    выполнении индивидуального плана»; §2.14: the mentee's report, the same 10 days."""
    monthly_mentor_report: bool = Field(default=True, title="Ежемесячный доклад наставника")
    """§4.2: «не реже 1 раза в месяц докладывать куратору и руководителю о результатах
    достигнутых в процессе осуществления наставничества»."""
    mentor_report_day: int = Field(
        default=20, ge=1, le=28, title="Ежемесячный доклад: до N-го числа месяца"
    )
    """Day of the month the §4.2 report is due («до 20 числа каждого месяца»); at most 28 so
    that every month has it."""
    lagging_meetings_behind: int = Field(
        default=2, ge=1, le=20, title="Пара отстаёт: проведено на N встреч меньше плана"
    )
    """A pair lags when, from its programme's first month to the end of the month looked at, it
    has held N or more meetings fewer than its personal programme plans (§2.11–§2.12). Two by
    default: one missed meeting is often just moved to the next month, two mean a month of joint
    work lost (the programme plans two joint-work meetings a month)."""
    meeting_feedback_days: int = Field(
        default=3, ge=1, le=30, title="Отзыв наставляемого о встрече: в течение N дней"
    )
    """The mentee's feedback on a joint-work or the final meeting is due N days after the meeting;
    reminders and the escalation to the curator count from that day."""
    participant_link_valid_days: int = Field(
        default=30, ge=1, le=365, title="Ссылки участников действуют N дней после окончания пары"
    )
    """DESIGN §11: a participant's link «expires 30 days after the pair ends»."""
    approval_code_valid_days: int | None = Field(
        default=None,
        ge=1,
        le=90,
        title="Код подтверждения директора действует N дней (пусто: NASTAVNIK_APPROVAL_TTL_DAYS)",
    )
    """DESIGN §5: codes expire and are reissued; unset: the installation's setting (14 days)."""
    reminder_days_before_due: int = Field(
        default=3, ge=0, le=30, title="Напоминание ответственному за N дней до срока"
    )
    escalate_to_curator_after_days: int = Field(
        default=3, ge=1, le=60, title="Просрочено N дней: сообщить куратору"
    )
    escalate_to_director_after_days: int = Field(
        default=7, ge=1, le=90, title="Просрочено N дней: сообщить директору"
    )
    escalate_to_department_after_days: int = Field(
        default=14, ge=1, le=120, title="Просрочено N дней: сообщить в отдел образования"
    )
    """DESIGN §5: overdue items escalate «curator → director → department»."""
    report_escalate_to_director_after_days: int = Field(
        default=1,
        ge=1,
        le=60,
        title="Отдел: отчёт организации не сдан N дней — сообщить её директору",
    )
    report_escalate_to_department_after_days: int = Field(
        default=7,
        ge=1,
        le=90,
        title="Отдел: отчёт организации не сдан N дней — сообщить начальнику отдела",
    )
    """A department's policy: a member's report overdue goes to the member's director the day
    after the due date, and to the department's head a week on (issue 10)."""

    @field_validator("forms", mode="before")
    @classmethod
    def _forms(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            parsed = []
            for item in value:
                form = item if isinstance(item, MentoringForm) else parse_form(str(item))
                if form is None:
                    known = ", ".join(f"«{f.value}»" for f in MentoringForm)
                    raise ValueError(f"неизвестная форма «{str(item).strip()}» (известны: {known})")
                if form not in parsed:
                    parsed.append(form)
            return tuple(parsed)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OrganisationPolicy:
        problems = []
        if self.group_min > self.group_max:
            problems.append(f"group_min ({self.group_min}) больше group_max ({self.group_max})")
        if self.group_max > self.max_mentees_per_mentor:
            problems.append(
                f"group_max ({self.group_max}) больше max_mentees_per_mentor "
                f"({self.max_mentees_per_mentor}): группа считается по людям (п. 2.5)"
            )
        ladder = (
            ("escalate_to_curator_after_days", self.escalate_to_curator_after_days),
            ("escalate_to_director_after_days", self.escalate_to_director_after_days),
            ("escalate_to_department_after_days", self.escalate_to_department_after_days),
        )
        reports = (
            ("report_escalate_to_director_after_days", self.report_escalate_to_director_after_days),
            (
                "report_escalate_to_department_after_days",
                self.report_escalate_to_department_after_days,
            ),
        )
        for steps in (ladder, reports):
            for (low_key, low), (high_key, high) in zip(steps, steps[1:], strict=False):
                if high <= low:
                    problems.append(f"{high_key} ({high}) должно быть больше {low_key} ({low})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def matching_policy(self) -> matching.Policy:
        """The matching engine's rules from this policy (consents stay mandatory, §2.6)."""
        from nastavnik import matching

        return matching.Policy(
            max_mentees_per_mentor=self.max_mentees_per_mentor,
            young_specialist_max_years=self.young_specialist_max_years,
            employer_min_years=self.employer_min_years,
            pupil_mentor_min_grade_gap=self.pupil_mentor_min_grade_gap,
            pupil_mentor_higher_stage=self.pupil_mentor_higher_stage,
            employer_mentee_min_grade=self.employer_mentee_min_grade,
            require_consents=True,
            group_min=self.group_min,
            group_max=self.group_max,
        )

    def approval_ttl(self, *, default_days: int) -> timedelta:
        """How long an approval code is valid: the policy's days, else the installation's."""
        return timedelta(days=self.approval_code_valid_days or default_days)

    def escalation_ladder(self) -> tuple[tuple[str, int], ...]:
        """(role, days overdue) in the order an overdue item escalates."""
        return (
            ("curator", self.escalate_to_curator_after_days),
            ("director", self.escalate_to_director_after_days),
            ("department", self.escalate_to_department_after_days),
        )


DEFAULT_POLICY = OrganisationPolicy()
KEYS: tuple[str, ...] = tuple(OrganisationPolicy.model_fields)


def title_of(key: str) -> str:
    """The Russian title of a policy key, as `nastavnik policy show` prints it."""
    return OrganisationPolicy.model_fields[key].title or key


def display_value(value: Any) -> str:
    """A value as the curator types it back into `nastavnik policy set`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, tuple | list):
        return ", ".join(display_value(v) for v in value)
    if isinstance(value, MentoringForm):
        return value.value
    return str(value)


def _messages(error: ValidationError) -> list[str]:
    """Pydantic's errors in the curator's words: «key: what is wrong»."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"] if not isinstance(part, int))
        kind, ctx = item["type"], item.get("ctx", {})
        if kind == "extra_forbidden":
            message = f"неизвестный параметр (известны: {', '.join(KEYS)})"
        elif kind in ("greater_than_equal", "greater_than"):
            message = f"должно быть не меньше {ctx.get('ge', ctx.get('gt'))}"
        elif kind in ("less_than_equal", "less_than"):
            message = f"должно быть не больше {ctx.get('le', ctx.get('lt'))}"
        elif kind.startswith("int_"):
            message = "ожидается целое число"
        elif kind.startswith("bool_"):
            message = "ожидается да или нет"
        elif kind == "too_short":
            message = "нужна хотя бы одна форма"
        else:
            message = str(ctx.get("error", item["msg"])).removeprefix("Value error, ")
        lines.append(f"{key}: {message}" if key else message)
    return lines


def validate_policy(values: dict[str, Any]) -> OrganisationPolicy:
    """A policy from raw values, or PolicyError listing every bad key in Russian."""
    try:
        return OrganisationPolicy.model_validate(values)
    except ValidationError as error:
        raise PolicyError(_messages(error)) from None


_EMPTY = {"", "-", "нет значения", "none", "null"}


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` as typed on the command line; PolicyError names each bad item."""
    changes, errors = _parse(assignments)
    if errors:
        raise PolicyError(errors)
    return changes


def apply_assignments(current: OrganisationPolicy, assignments: list[str]) -> OrganisationPolicy:
    """The current policy with ``key=value`` changes; PolicyError lists every problem at once."""
    changes, errors = _parse(assignments)
    try:
        result = updated(current, changes)
    except PolicyError as error:
        errors.extend(error.errors)
    if errors:
        raise PolicyError(errors)
    return result


def _parse(assignments: list[str]) -> tuple[dict[str, Any], list[str]]:
    changes: dict[str, Any] = {}
    errors = []
    for item in assignments:
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            errors.append(f"«{item}»: ожидается ключ=значение")
            continue
        if key not in OrganisationPolicy.model_fields:
            errors.append(f"{key}: неизвестный параметр (известны: {', '.join(KEYS)})")
            continue
        if key in changes:
            errors.append(f"{key}: задан дважды")
            continue
        value: Any = raw
        if raw.casefold() in _EMPTY and OrganisationPolicy.model_fields[key].default is None:
            value = None
        elif raw.casefold() in {"да", "yes", "true", "1"} and _is_bool(key):
            value = True
        elif raw.casefold() in {"нет", "no", "false", "0"} and _is_bool(key):
            value = False
        changes[key] = value
    return changes, errors


def _is_bool(key: str) -> bool:
    return isinstance(OrganisationPolicy.model_fields[key].default, bool)


def updated(current: OrganisationPolicy, changes: dict[str, Any]) -> OrganisationPolicy:
    """The current policy with these changes, validated as a whole."""
    return validate_policy({**current.model_dump(), **changes})


_READ_KEY = "nastavnik.policies"  # Session.info: the policies the session has read


@event.listens_for(OrmSession, "after_rollback")
def _forget_read_policies(session: OrmSession) -> None:
    # A policy saved in a transaction rolled back must not outlive it in the session's memo.
    session.info.pop(_READ_KEY, None)


def _record(session: Session, organization_id: uuid.UUID) -> OrganisationPolicyRecord | None:
    return session.exec(
        select(OrganisationPolicyRecord).where(
            OrganisationPolicyRecord.organization_id == organization_id
        )
    ).first()


def get_policy(*, session: Session, organization_id: uuid.UUID) -> OrganisationPolicy:
    """The organisation's saved policy; the regulation's defaults when none was saved.

    Keys saved before a key existed take its default, so older records keep working. Read
    once per session (a tick issues hundreds of links, each dated by the policy), as the
    session's rows are; after save_policy or a rollback the session reads it again.
    """
    read: dict[uuid.UUID, OrganisationPolicy] = session.info.setdefault(_READ_KEY, {})
    if organization_id not in read:
        record = _record(session, organization_id)
        read[organization_id] = DEFAULT_POLICY if record is None else validate_policy(record.values)
    return read[organization_id]


def is_saved(*, session: Session, organization_id: uuid.UUID) -> bool:
    """Whether the organisation has saved a policy of its own."""
    return _record(session, organization_id) is not None


def save_policy(
    *,
    session: Session,
    organization_id: uuid.UUID,
    policy: OrganisationPolicy,
    actor: str = "curator",
) -> OrganisationPolicy:
    """Store the organisation's policy (whole) and audit what changed; returns it."""
    previous = get_policy(session=session, organization_id=organization_id)
    record = _record(session, organization_id)
    if record is None:
        record = OrganisationPolicyRecord(organization_id=organization_id)
    record.values = policy.model_dump(mode="json")
    record.updated_at, record.updated_by = utcnow(), actor
    session.add(record)
    session.flush()
    session.info.setdefault(_READ_KEY, {}).pop(organization_id, None)
    changes = {
        key: {
            "было": display_value(getattr(previous, key)),
            "стало": display_value(getattr(policy, key)),
        }
        for key in KEYS
        if getattr(previous, key) != getattr(policy, key)
    }
    repository.record_audit(
        session=session,
        actor=actor,
        action="policy.saved",
        entity=f"organization:{organization_id}",
        details={"changes": changes},
    )
    return policy
