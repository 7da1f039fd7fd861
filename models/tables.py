"""Tables: organisations, cycles, people, consents, approvals, documents, outbox, audit."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    mentor = "mentor"
    mentee = "mentee"


class MentoringForm(StrEnum):
    """Forms of mentoring of the target model (Р-145).

    The database stores the member *names* (the PostgreSQL enum type ``mentoringform``): a new
    member needs a migration; names stay ≤ 24 characters, the width SQLite's column has had
    since 0001.
    """

    student_student = "ученик–ученик"
    teacher_teacher = "учитель–учитель"
    employer_student = "работодатель–ученик"
    university_student_pupil = "студент–ученик"
    teacher_student = "преподаватель–студент"
    # A college's forms (seed roadmap_lyceum_blagoveshchensk.txt, «Формы наставничества»).
    student_student_college = "студент–студент"
    employer_student_college = "работодатель–студент"
    lecturer_lecturer = "преподаватель–преподаватель"
    master_student = "мастер производственного обучения–обучающийся"
    director_teacher = "директор–педагог"


class MenteeCategory(StrEnum):
    """Why a teacher (lecturer) is a mentee, §2.3 of the regulation as written.

    §2.3 names young specialists (0–3 years) and newcomers; §2.3.4 adds «Педагог, находящийся в
    состоянии эмоционального выгорания, хронической усталости» and §2.3.5 the experienced
    teacher mastering «современными программами, цифровыми навыками и технологиями»; the move to
    distance teaching is asked for by issue 7 §3 (the seed's text does not name it).
    """

    young_specialist = "молодой специалист"
    newcomer = "новый сотрудник"
    new_methods = "освоение новых методик"
    distance_teaching = "переход на дистанционное обучение"
    burnout = "профессиональное выгорание"


class ConsentKind(StrEnum):
    personal_data = "personal_data"
    guardian = "guardian"
    participation = "participation"
    # An adult's consent to publish name, position and photo (honour board, school website).
    publication = "publication"


class ApprovalStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    changes_requested = "changes_requested"


class Decision(StrEnum):
    approve = "approve"
    reject = "reject"
    request_changes = "request_changes"


class DocumentStatus(StrEnum):
    draft = "draft"
    approved = "approved"
    rejected = "rejected"


class OutboxStatus(StrEnum):
    pending = "pending"
    retrying = "retrying"
    sent = "sent"
    failed = "failed"
    cancelled = "cancelled"  # stopped by the operator: never attempted again


class Organization(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str
    short_name: str
    city: str = ""
    director_name: str
    director_email: str
    curator_name: str
    curator_email: str
    # school, college, centre or department (nastavnik.roadmap.OrganisationKind); a school's
    # department_id names the municipal department it reports to (issue 10).
    kind: str = Field(
        default="school", max_length=16, sa_column_kwargs={"server_default": "school"}
    )
    department_id: uuid.UUID | None = Field(default=None, foreign_key="organization.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Cycle(SQLModel, table=True):
    """One organisation's programme for one school year, e.g. 2026/2027."""

    __table_args__ = (UniqueConstraint("organization_id", "school_year"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    school_year: str = Field(max_length=9)
    start_date: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Person(SQLModel, table=True):
    """A human being, identified within an organisation by a stable key."""

    __table_args__ = (UniqueConstraint("organization_id", "person_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    person_key: str = Field(max_length=255)
    last_name: str
    first_name: str
    middle_name: str = ""
    birth_date: date | None = None
    email: str = ""
    phone: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)


class Participant(SQLModel, table=True):
    """A person's role (mentor or mentee) in one cycle, with the questionnaire's answers."""

    __table_args__ = (UniqueConstraint("cycle_id", "person_id", "role"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    person_id: uuid.UUID = Field(foreign_key="person.id", index=True)
    role: Role
    form: MentoringForm
    requests: str = Field(default="", sa_type=Text)
    interests: str = Field(default="", sa_type=Text)
    subjects: str = ""
    grade: int | None = None
    class_letter: str = ""
    experience_years: int | None = None
    position: str = ""
    wants_group: bool = False  # a mentee who asked for group mentoring (2–3 mentees)
    # A teacher mentee's §2.3 category from the questionnaire (None: not answered).
    mentee_category: MenteeCategory | None = None
    source_file: str = ""
    source_row: int | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Consent(SQLModel, table=True):
    """A consent given (and maybe revoked) by a person or by a minor's guardian."""

    __table_args__ = (UniqueConstraint("person_id", "cycle_id", "kind"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="person.id", index=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    kind: ConsentKind
    given_on: date
    revoked_on: date | None = None
    guardian_name: str = ""
    source: str = ""


class ApprovalRequest(SQLModel, table=True):
    """A question put to the director by a suspended stage run."""

    __table_args__ = (UniqueConstraint("flow_run_id", "approval_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    stage: str
    approval_key: str
    role: str = "director"
    # The stage run of the organisation: the Prefect run, or in a batch run (flows/batch.py)
    # the organisation's member run id; the code is signed for it.
    flow_run_id: uuid.UUID = Field(index=True)
    # The Prefect run serving several organisations, when the request waits in one.
    batch_run_id: uuid.UUID | None = Field(default=None, index=True)
    title: str
    summary: str = Field(default="", sa_type=Text)
    approver_name: str = ""
    approver_email: str = ""
    document_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # The decision may return single documents (e.g. personal programmes) while approving the rest.
    accepts_exceptions: bool = False
    status: ApprovalStatus = ApprovalStatus.pending
    requested_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # Signed into the code; a reissue bumps it, so every earlier code stops working.
    code_generation: int = Field(default=0, sa_column_kwargs={"server_default": "0"})

    @property
    def run_to_wake(self) -> uuid.UUID:
        """The Prefect run that waits for this request's decision."""
        return self.batch_run_id or self.flow_run_id


class ApprovalDecision(SQLModel, table=True):
    """The decision that closed an approval request; its code is consumed with it."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    request_id: uuid.UUID = Field(foreign_key="approvalrequest.id", unique=True)
    decision: Decision
    comment: str = Field(default="", sa_type=Text)
    approver_name: str
    code_digest: str = Field(unique=True, max_length=64)
    pause_key: str
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    decided_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Document(SQLModel, table=True):
    """A rendered PDF, stored once by content hash and numbered per organisation and year."""

    __table_args__ = (UniqueConstraint("organization_id", "year", "series", "number"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    unique_key: str = Field(unique=True, max_length=255)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    cycle_id: uuid.UUID | None = Field(default=None, foreign_key="cycle.id", index=True)
    doc_type: str
    series: str
    year: int
    number: int
    doc_date: date
    title: str
    status: DocumentStatus = DocumentStatus.draft
    content_hash: str = Field(index=True, max_length=64)
    path: str
    pages: int = 1
    flow_run_id: uuid.UUID | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))

    @property
    def label(self) -> str:
        return f"№ {self.series}-{self.number}" if self.series else f"№ {self.number}"


class OutboxMessage(SQLModel, table=True):
    """An e-mail to send exactly once, keyed by its idempotency key."""

    # The retry pass looks for active messages whose next attempt is due.
    __table_args__ = (Index("ix_outboxmessage_due", "status", "next_attempt_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=255)
    to_addr: str
    # Who the recipient is to the programme: director, curator, mentor, mentee ("" if unknown).
    recipient_role: str = Field(default="", max_length=32)
    subject: str
    body_text: str = Field(sa_type=Text)
    body_html: str = Field(default="", sa_type=Text)
    document_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    status: OutboxStatus = OutboxStatus.pending
    attempts: int = 0
    last_error: str = Field(default="", sa_type=Text)
    # A retrying message is not attempted before this time (None: as soon as possible).
    next_attempt_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # A sender's claim: nobody else attempts the message until then (None: not claimed).
    claimed_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    flow_run_id: uuid.UUID | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class AuditEvent(SQLModel, table=True):
    """One line of the audit trail: who did what, when, to which thing."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_key: str | None = Field(default=None, unique=True, max_length=255)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    actor: str
    action: str
    cycle_id: uuid.UUID | None = Field(default=None, index=True)
    flow_run_id: uuid.UUID | None = None
    entity: str = ""
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class PairStatus(StrEnum):
    draft = "draft"
    proposed = "proposed"  # in an order waiting for the director
    active = "active"
    ended = "ended"  # on its end date, by the clock
    dropped = "dropped"
    replaced = "replaced"  # §2.8: the mentor replaced by order; the new mentor's pair goes on
    extended = "extended"  # §2.9: the term extended by order; the pair goes on to the new end
    terminated = "terminated"  # §2.10: ended early by order


class ConstraintKind(StrEnum):
    keep = "keep"
    forbid = "forbid"


class TrainingSession(SQLModel, table=True):
    """One mentor training or interview session of a cycle."""

    __table_args__ = (UniqueConstraint("cycle_id", "code"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    code: str = Field(max_length=64)
    title: str
    held_on: date
    mandatory: bool = True


class TrainingAttendance(SQLModel, table=True):
    """Whether a mentor attended a training session."""

    __table_args__ = (UniqueConstraint("session_id", "participant_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="trainingsession.id", index=True)
    participant_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    present: bool
    source: str = ""


class MentorAdmission(SQLModel, table=True):
    """The training result for one mentor: admitted to pairing or not, and why."""

    __table_args__ = (UniqueConstraint("cycle_id", "participant_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    participant_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    selected: bool = True
    admitted: bool = False
    reason: str = ""
    decided_by: str = ""
    appointed_on: date | None = None  # date of the approved order appointing the mentor
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class PairingConstraint(SQLModel, table=True):
    """A curator's instruction for matching: keep this pair, or never make it."""

    __table_args__ = (UniqueConstraint("cycle_id", "mentee_id", "mentor_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    mentee_id: uuid.UUID = Field(foreign_key="participant.id")
    mentor_id: uuid.UUID = Field(foreign_key="participant.id")
    kind: ConstraintKind
    comment: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class MentorshipPair(SQLModel, table=True):
    """A pair or group: one mentor and one to three mentees, fixed by the director's order."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    mentor_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    form: MentoringForm
    is_group: bool = False
    status: PairStatus = PairStatus.draft
    score: float = 0.0
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    locked: bool = False
    matching_key: str = ""
    starts_on: date | None = None
    ends_on: date | None = None
    order_document_id: uuid.UUID | None = Field(default=None, foreign_key="document.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class PairVersion(SQLModel, table=True):
    """One step of a pair's history: its state from a date on, why, and the order behind it."""

    __table_args__ = (UniqueConstraint("pair_id", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    pair_id: uuid.UUID = Field(foreign_key="mentorshippair.id", index=True)
    version: int
    status: PairStatus
    mentor_id: uuid.UUID = Field(foreign_key="participant.id")
    starts_on: date | None = None
    ends_on: date | None = None
    changed_on: date
    reason: str = ""
    order_document_id: uuid.UUID | None = Field(default=None, foreign_key="document.id")
    """The order that made the change; none when the pair ended on its date by the clock."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class PairMember(SQLModel, table=True):
    """A mentee of a pair or group."""

    __table_args__ = (UniqueConstraint("pair_id", "mentee_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    pair_id: uuid.UUID = Field(foreign_key="mentorshippair.id", index=True)
    mentee_id: uuid.UUID = Field(foreign_key="participant.id", index=True)


class SearchListEntry(SQLModel, table=True):
    """A mentee left without a mentor, kept on the search list with the reason."""

    __table_args__ = (UniqueConstraint("cycle_id", "mentee_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    mentee_id: uuid.UUID = Field(foreign_key="participant.id")
    reason: str
    since: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    resolved: bool = False


class ProgrammeStatus(StrEnum):
    draft = "draft"
    acknowledged = "acknowledged"
    approved = "approved"
    returned = "returned"


class PersonalProgramme(SQLModel, table=True):
    """A pair's personal mentoring programme (§2.11–§2.12)."""

    __table_args__ = (UniqueConstraint("pair_id", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    pair_id: uuid.UUID = Field(foreign_key="mentorshippair.id", index=True)
    version: int = 1
    document_id: uuid.UUID | None = Field(default=None, foreign_key="document.id")
    status: ProgrammeStatus = ProgrammeStatus.draft
    acknowledged_on: date | None = None
    director_comment: str = Field(default="", sa_type=Text)
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class OrganisationPolicyRecord(SQLModel, table=True):
    """An organisation's policy (nastavnik.policy): the regulation's configurable hard rules."""

    __tablename__ = "organisationpolicy"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", unique=True)
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_by: str = ""


class ParticipantLink(SQLModel, table=True):
    """The state of one participant's personal link to one pair (DESIGN §11).

    The link itself is never stored: it is signed from these ids, its expiry and the
    generation, so bumping the generation (a reissue) refuses every earlier link.
    """

    __table_args__ = (UniqueConstraint("participant_id", "pair_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    pair_id: uuid.UUID = Field(foreign_key="mentorshippair.id", index=True)
    generation: int = 0
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    issued_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
