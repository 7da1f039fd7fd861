"""Who may see what on the web pages (issue 11 §3); no web framework here.

- A curator or director sees their own organisation only: its roadmap pages, documents, reports.
- A department account sees its own organisation (the department) and its member organisations
  (``Organization.department_id`` is the department), never another department's.
- An operator sees the deliveries page (failed and waiting e-mails), no organisation's pages.

Participants' ``/p/<token>`` pages and approvers' ``/approvals/<id>?code=`` pages are opened by
their signed links, not by an account. A document can also be handed out as a signed link that
expires (``document_token``): the approver's e-mail carries such links, valid as long as the code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, select

from models import AccountRole, Cycle, Document, Organization, UserAccount

ORGANISATION_VIEWERS = frozenset(
    {AccountRole.curator, AccountRole.director, AccountRole.department}
)


@dataclass(frozen=True)
class Viewer:
    """The signed-in account as the rules need it."""

    account_id: uuid.UUID
    email: str
    display_name: str
    role: AccountRole
    organization_id: uuid.UUID | None

    @classmethod
    def of(cls, account: UserAccount) -> Viewer:
        return cls(
            account_id=account.id,
            email=account.email,
            display_name=account.display_name,
            role=account.role,
            organization_id=account.organization_id,
        )


def visible_organisations(*, session: Session, viewer: Viewer) -> frozenset[uuid.UUID]:
    """The organisations whose pages and documents the viewer may open."""
    if viewer.role not in ORGANISATION_VIEWERS or viewer.organization_id is None:
        return frozenset()
    if viewer.role != AccountRole.department:
        return frozenset({viewer.organization_id})
    members = session.exec(
        select(Organization.id).where(Organization.department_id == viewer.organization_id)
    ).all()
    return frozenset({viewer.organization_id, *members})


def may_see_organisation(*, session: Session, viewer: Viewer, organization_id: uuid.UUID) -> bool:
    return organization_id in visible_organisations(session=session, viewer=viewer)


def may_see_organisation_code(*, session: Session, viewer: Viewer, code: str) -> bool:
    """Whether the viewer may see the organisation with this code (an unknown code: no)."""
    organisation = session.exec(select(Organization).where(Organization.code == code)).first()
    return organisation is not None and may_see_organisation(
        session=session, viewer=viewer, organization_id=organisation.id
    )


def may_see_cycle(*, session: Session, viewer: Viewer, cycle_id: uuid.UUID) -> bool:
    """Whether the viewer may see this cycle's roadmap and reports (an unknown cycle: no)."""
    cycle = session.get(Cycle, cycle_id)
    return cycle is not None and may_see_organisation(
        session=session, viewer=viewer, organization_id=cycle.organization_id
    )


def may_see_document(*, session: Session, viewer: Viewer, document_id: uuid.UUID) -> bool:
    """Whether the viewer may download this document (an unknown document: no)."""
    document = session.get(Document, document_id)
    return document is not None and may_see_organisation(
        session=session, viewer=viewer, organization_id=document.organization_id
    )


def may_operate_deliveries(viewer: Viewer) -> bool:
    """The deliveries page (addresses masked, subjects shown) is the operator's."""
    return viewer.role == AccountRole.operator


# --------------------------------------------------------------- signed, expiring document links

_SIGNATURE_BYTES = 16
_TOKEN = struct.Struct(f">q{_SIGNATURE_BYTES}s")  # expiry (unix seconds), signature


def _document_signature(secret: bytes, document_id: uuid.UUID, expires: int) -> bytes:
    payload = f"document:{document_id}:{expires}".encode()
    return hmac.new(secret, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def document_token(*, secret: bytes, document_id: uuid.UUID, expires_at: datetime) -> str:
    """A token that opens this one document until ``expires_at``."""
    expires = int(_utc(expires_at).timestamp())
    raw = _TOKEN.pack(expires, _document_signature(secret, document_id, expires))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def check_document_token(
    *, secret: bytes, document_id: uuid.UUID, token: str, now: datetime
) -> bool:
    """Whether the token was signed for this document with this secret and has not expired."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        expires, signature = _TOKEN.unpack(raw)
    except (binascii.Error, struct.error, ValueError):
        return False
    expected = _document_signature(secret, document_id, expires)
    return hmac.compare_digest(signature, expected) and _utc(now).timestamp() < expires


def signed_document_url(
    *, base_url: str, secret: bytes, document_id: uuid.UUID, expires_at: datetime
) -> str:
    """The document's address with a signed key that expires (for an approver's e-mail)."""
    key = document_token(secret=secret, document_id=document_id, expires_at=expires_at)
    return f"{base_url.rstrip('/')}/documents/{document_id}.pdf?key={key}"
