"""Changes to a pair by the director's order: replacement (§2.8), extension (§2.9), early
termination (§2.10). One row per request, with its reason, the order and what it produced.

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §2.8 «Замена наставника
производится в следующих случаях …», §2.9 «Срок наставничества … может быть продлен …»,
§2.10 «Наставничество прекращается до истечения срока … в случае неисполнения лицом, в
отношении которого осуществляется наставничество, обязанностей …».
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Text
from sqlmodel import Field, SQLModel

from models.tables import utcnow


class PairChangeKind(StrEnum):
    replacement = "replacement"  # §2.8
    extension = "extension"  # §2.9
    termination = "termination"  # §2.10


class PairChangeReason(StrEnum):
    """Why a pair changes, in the regulation's words (the database stores the member names)."""

    # §2.8, replacement of the mentor
    dismissal = "прекращение трудового договора с наставником"
    transfer = (
        "перевод наставника или наставляемого на иную должность или в другое структурное "
        "подразделение"
    )
    mentor_request = "просьба наставника о сложении обязанностей наставника (п. 4.1)"
    mentee_request = "ходатайство наставляемого о замене наставника (п. 5.1)"
    non_performance = "неисполнение наставником функций наставничества или должностных обязанностей"
    other = "иные обстоятельства, препятствующие осуществлению наставничества"
    # §2.9, extension of the term
    illness = "временная нетрудоспособность"
    business_trip = "командировка"
    long_absence = "иное продолжительное отсутствие по уважительной причине"
    # §2.10, early termination
    mentee_non_performance = (
        "неисполнение наставляемым обязанностей, предусмотренных положением (п. 5.2)"
    )


class PairChangeStatus(StrEnum):
    requested = "requested"  # recorded, the order not yet put to the director
    ordered = "ordered"  # the order waits for the director
    approved = "approved"  # applied to the pair
    rejected = "rejected"  # the director said no: the pair is as it was


class PairChange(SQLModel, table=True):
    """One requested change to a pair and its outcome."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # Who asked for it once: a resumed or repeated request with the same key is the same change.
    request_key: str = Field(unique=True, max_length=255)
    pair_id: uuid.UUID = Field(foreign_key="mentorshippair.id", index=True)
    cycle_id: uuid.UUID = Field(foreign_key="cycle.id", index=True)
    kind: PairChangeKind
    reason: PairChangeReason
    comment: str = Field(default="", sa_type=Text)
    requested_on: date
    requested_by: str = ""
    status: PairChangeStatus = PairChangeStatus.requested
    # Replacement: the new mentor and their written consent (§2.6), given before the order.
    new_mentor_id: uuid.UUID | None = Field(default=None, foreign_key="participant.id")
    mentor_consent_on: date | None = None
    mentor_consent_how: str = ""
    # Extension: the new end of the term.
    new_ends_on: date | None = None
    # Termination: whether the mentee wants a new mentor (then back on the search list).
    mentee_wants_new_mentor: bool = False
    order_document_id: uuid.UUID | None = Field(default=None, foreign_key="document.id")
    decided_on: date | None = None
    # Replacement: the pair that goes on with the new mentor.
    resulting_pair_id: uuid.UUID | None = Field(default=None, foreign_key="mentorshippair.id")
    flow_run_id: uuid.UUID | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
