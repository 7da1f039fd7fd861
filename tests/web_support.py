"""Signing in to the web app in tests: an account in the database, then the real /login form."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import AccountRole, UserAccount
from nastavnik import accounts

PASSWORD = "пароль-для-тестов-1"


def add_account(
    engine: Engine, *, email: str, role: AccountRole, org_code: str | None = None
) -> None:
    """An active account with PASSWORD (kept if it exists)."""
    with Session(engine) as session:
        found = session.exec(select(UserAccount).where(UserAccount.email == email)).first()
        if found is None:
            accounts.add_account(
                session=session,
                email=email,
                role=role,
                organisation_code=org_code,
                password=PASSWORD,
            )
            session.commit()


def csrf_of(html: str) -> str:
    """The CSRF token in a page's hidden field."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def log_in(client, email: str, password: str = PASSWORD) -> httpx.Response:
    """Open the sign-in form and post it, as a browser does."""
    form = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
    )


def sign_in_as(
    client, engine: Engine, *, role: AccountRole, org_code: str | None = "school-7"
) -> str:
    """Create an account of this role (for this organisation) and sign the client in; its e-mail."""
    email = f"{role.value}.{org_code or 'service'}@staff.example"
    add_account(engine, email=email, role=role, org_code=org_code)
    response = log_in(client, email)
    assert response.status_code == 303, response.text
    return email
