"""Staff accounts: adding, listing and disabling them, checking a password, throttling sign-in.

Passwords are hashed with argon2id (argon2-cffi's defaults); only the hash is stored. Sign-in is
refused for a while after too many failures for one e-mail or from one address: ``FAILURES_LIMIT``
failures within ``THROTTLE_WINDOW`` block further attempts until the oldest of them is older than
the window. The time comes from the caller (``now``), never from the system clock here.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, func, select

from models import AccountRole, LoginAttempt, Organization, UserAccount

FAILURES_LIMIT = 5
THROTTLE_WINDOW = timedelta(minutes=15)
PASSWORD_MIN_LENGTH = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

ROLE_RU = {
    AccountRole.curator: "куратор",
    AccountRole.director: "директор",
    AccountRole.department: "управление образования",
    AccountRole.operator: "оператор",
}

# Roles that belong to one organisation (an operator belongs to none).
ORGANISATION_ROLES = frozenset({AccountRole.curator, AccountRole.director, AccountRole.department})

_hasher = PasswordHasher()
# Checked against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("nastavnik-no-such-account")


class AccountRefused(ValueError):
    """An account cannot be added or changed as asked; the message says why, in Russian."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    """The argon2id hash of a password (with its own salt and parameters)."""
    return _hasher.hash(password)


def add_account(
    *,
    session: Session,
    email: str,
    role: AccountRole,
    organisation_code: str | None,
    password: str,
    display_name: str = "",
) -> UserAccount:
    """A new active account; refused for a taken e-mail, an unknown organisation, a short password
    or an organisation missing for a role that needs one (a department account needs a
    department organisation)."""
    email = normalise_email(email)
    if not _EMAIL.match(email):
        raise AccountRefused(f"«{email}» не похож на адрес электронной почты")
    if session.exec(select(UserAccount).where(UserAccount.email == email)).first() is not None:
        raise AccountRefused(f"учётная запись {email} уже есть")
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountRefused(f"пароль короче {PASSWORD_MIN_LENGTH} символов")
    organisation: Organization | None = None
    if organisation_code:
        organisation = session.exec(
            select(Organization).where(Organization.code == organisation_code)
        ).first()
        if organisation is None:
            raise AccountRefused(f"организация с кодом «{organisation_code}» не найдена")
    if role in ORGANISATION_ROLES and organisation is None:
        raise AccountRefused(f"для роли «{ROLE_RU[role]}» нужна организация (--org КОД)")
    if role == AccountRole.operator and organisation is not None:
        raise AccountRefused("оператор не относится к организации: уберите --org")
    if role == AccountRole.department and organisation is not None:
        if organisation.kind != "department":
            raise AccountRefused(
                f"«{organisation.code}» — не управление образования (вид: {organisation.kind})"
            )
    account = UserAccount(
        email=email,
        display_name=display_name.strip() or email,
        role=role,
        organization_id=organisation.id if organisation else None,
        password_hash=hash_password(password),
    )
    session.add(account)
    session.flush()
    return account


def list_accounts(*, session: Session) -> list[tuple[UserAccount, Organization | None]]:
    """Every account with its organisation, by e-mail."""
    rows = session.exec(select(UserAccount).order_by(col(UserAccount.email))).all()
    return [
        (a, session.get(Organization, a.organization_id) if a.organization_id else None)
        for a in rows
    ]


def set_active(*, session: Session, email: str, active: bool) -> UserAccount:
    """Enable or disable an account; a disabled account's sessions stop working at once."""
    email = normalise_email(email)
    account = session.exec(select(UserAccount).where(UserAccount.email == email)).first()
    if account is None:
        raise AccountRefused(f"учётной записи {email} нет")
    account.active = active
    session.add(account)
    session.flush()
    return account


def is_throttled(*, session: Session, email: str, ip: str, now: datetime) -> bool:
    """Whether too many sign-ins failed lately for this e-mail or from this address."""
    since = now - THROTTLE_WINDOW
    failures = select(LoginAttempt).where(
        col(LoginAttempt.at) > since,
        col(LoginAttempt.at) <= now,
        col(LoginAttempt.succeeded).is_(False),
        col(LoginAttempt.throttled).is_(False),
    )
    by_email = session.exec(
        select(func.count()).select_from(
            failures.where(LoginAttempt.email == normalise_email(email)).subquery()
        )
    ).one()
    by_ip = session.exec(
        select(func.count()).select_from(failures.where(LoginAttempt.ip == ip).subquery())
    ).one()
    return by_email >= FAILURES_LIMIT or by_ip >= FAILURES_LIMIT


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the account, or why not (throttled, or wrong e-mail/password)."""

    account_id: uuid.UUID | None
    throttled: bool = False


def sign_in(*, session: Session, email: str, password: str, ip: str, now: datetime) -> SignIn:
    """Check an e-mail and password, recording the attempt (the caller commits)."""
    email = normalise_email(email)
    if is_throttled(session=session, email=email, ip=ip, now=now):
        session.add(LoginAttempt(email=email, ip=ip, at=now, throttled=True))
        return SignIn(account_id=None, throttled=True)
    account = session.exec(select(UserAccount).where(UserAccount.email == email)).first()
    stored = account.password_hash if account is not None else _DUMMY_HASH
    try:
        matches = bool(_hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        matches = False
    succeeded = matches and account is not None and account.active
    session.add(LoginAttempt(email=email, ip=ip, at=now, succeeded=succeeded))
    if not succeeded or account is None:
        return SignIn(account_id=None)
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
        session.add(account)
    return SignIn(account_id=account.id)


def active_account(*, session: Session, account_id: uuid.UUID) -> UserAccount | None:
    """The account of a session, if it still exists and is active."""
    account = session.get(UserAccount, account_id)
    return account if account is not None and account.active else None
