"""Sign-in and roles on the web pages (issue 11 §3): every route refused without the right role or
a signed link, one school's curator never sees another's, department users see their members only,
CSRF refused, sign-in throttled on the injected clock, passwords stored as argon2 hashes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import AccountRole, Document, LoginAttempt, Organization, OutboxMessage, UserAccount
from nastavnik import access, accounts, approval_mail, repository
from nastavnik.settings import Settings
from nastavnik.web import create_app
from tests.test_roadmap_report import _make_plan
from tests.test_web_approvals import Client, Clock, Resumes
from tests.web_support import PASSWORD, add_account, csrf_of, log_in, sign_in_as

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

# Routes anyone may call: health, the sign-in form, and the pages opened by a signed link (the
# approver's code, a participant's personal token), which check the link themselves.
PUBLIC_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/approvals/{request_id}"),
    ("POST", "/approvals/{request_id}"),
    # Another installation's upload of a signed report: the organisation's Bearer token and the
    # envelope's signature are checked, not a session (tests/test_report_envelope*.py).
    ("POST", "/department/reports"),
}
SIGNED_LINK_PREFIX = "/p/{token}"


def _app(settings: Settings, engine: Engine, clock: Clock | None = None):
    return create_app(settings=settings, engine=engine, resume=Resumes(), clock=clock or Clock(T0))


def _routes(app) -> list[tuple[str, str]]:
    return sorted(
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    )


def _filled(path: str) -> str:
    """The path with a made-up value (a UUID fits both UUID and text parameters) in each slot."""
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    return path


def _is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC_ROUTES or path.startswith(SIGNED_LINK_PREFIX)


def _refused(response) -> bool:
    """Sent to sign in (303 to /login), asked to sign in (401) or forbidden (403)."""
    if response.status_code == 303:
        return response.headers["location"].startswith("/login")
    return response.status_code in (401, 403)


def test_every_route_is_public_by_list_or_refused_without_a_session(engine, settings):
    app = _app(settings, engine)
    routes = _routes(app)
    assert PUBLIC_ROUTES <= set(routes), "a public route in the list no longer exists"
    client = Client(app)
    answered = {}
    for method, path in routes:
        if _is_public(method, path):
            continue
        response = client.request(method, _filled(path), data={})
        answered[(method, path)] = response.status_code
        assert _refused(response), f"{method} {path} answers {response.status_code} without sign-in"
    # The staff's pages are among those checked (the test would pass vacuously otherwise).
    assert ("GET", "/documents/{document_id}.pdf") in answered
    assert ("GET", "/roadmap/{cycle_id}") in answered
    assert ("GET", "/operator/deliveries") in answered
    assert ("GET", "/department/{code}") in answered
    assert not any(path.startswith("/openapi") for _, path in routes)


def test_signed_link_routes_refuse_a_made_up_link(engine, settings):
    client = Client(_app(settings, engine))
    for method, path in _routes(client.app):
        if path.startswith(SIGNED_LINK_PREFIX):
            response = client.request(method, _filled(path), data={})
            assert response.status_code in (403, 410), f"{method} {path}"
    assert client.get(f"/approvals/{uuid.uuid4()}").status_code == 404


# --------------------------------------------------------------------------- organisations


def _organisation(session: Session, code: str, kind: str = "school") -> Organization:
    org = repository.upsert_organization(
        session=session,
        code=code,
        name=f"Организация {code}",
        short_name=code,
        director_name="Директор",
        director_email=f"director@{code}.example",
        curator_name="Куратор",
        curator_email=f"curator@{code}.example",
    )
    org.kind = kind
    session.add(org)
    session.flush()
    return org


def _document(session: Session, settings: Settings, org: Organization, number: int) -> uuid.UUID:
    path = Path(f"{org.code}-{number}.pdf")
    (settings.documents_dir).mkdir(parents=True, exist_ok=True)
    (settings.documents_dir / path).write_bytes(b"%PDF-1.4 test " + org.code.encode())
    doc = Document(
        unique_key=f"test:{org.code}:{number}",
        organization_id=org.id,
        doc_type="order",
        series="П",
        year=2026,
        number=number,
        doc_date=date(2026, 11, 1),
        title="Приказ",
        content_hash=f"{number:064d}",
        path=str(path),
    )
    session.add(doc)
    session.flush()
    return doc.id


@pytest.fixture
def two_departments(engine, settings, cycle_ids):
    """school-7 in department dept-a, school-8 in dept-b; a plan and a document each."""
    org7_id, cycle7 = cycle_ids
    with Session(engine) as session:
        dept_a = _organisation(session, "dept-a", kind="department")
        dept_b = _organisation(session, "dept-b", kind="department")
        school7 = session.get(Organization, org7_id)
        assert school7 is not None
        school8 = _organisation(session, "school-8")
        school7.department_id, school8.department_id = dept_a.id, dept_b.id
        session.add_all([school7, school8])
        cycle8 = repository.get_or_create_cycle(
            session=session, organization_id=school8.id, school_year="2026/2027"
        ).id
        ids = {
            "doc7": _document(session, settings, school7, 1),
            "doc8": _document(session, settings, school8, 1),
            "doc_a": _document(session, settings, dept_a, 1),
            "doc_b": _document(session, settings, dept_b, 1),
            "cycle7": cycle7,
            "cycle8": cycle8,
        }
        session.commit()
    _make_plan(engine, cycle7)
    _make_plan(engine, cycle8)
    return ids


def _signed_in(settings, engine, role: AccountRole, org_code: str | None) -> Client:
    client = Client(_app(settings, engine))
    sign_in_as(client, engine, role=role, org_code=org_code)
    return client


@pytest.mark.parametrize("role", [AccountRole.curator, AccountRole.director])
def test_a_school_account_sees_its_own_school_only(engine, settings, two_departments, role):
    ids = two_departments
    client = _signed_in(settings, engine, role, "school-7")
    own = client.get(f"/documents/{ids['doc7']}.pdf")
    assert own.status_code == 200 and own.content.endswith(b"school-7")
    assert client.get(f"/roadmap/{ids['cycle7']}").status_code == 200
    assert client.get(f"/roadmap/{ids['cycle7']}/report.pdf").status_code == 200
    for refused in (
        f"/documents/{ids['doc8']}.pdf",
        f"/documents/{ids['doc_a']}.pdf",
        f"/roadmap/{ids['cycle8']}",
        f"/roadmap/{ids['cycle8']}/report.pdf",
    ):
        assert client.get(refused).status_code == 404, refused
    assert client.get("/operator/deliveries").status_code == 403
    assert client.get("/department/dept-a").status_code == 404


def test_a_department_sees_its_members_and_itself_not_another_department(
    engine, settings, two_departments
):
    ids = two_departments
    client = _signed_in(settings, engine, AccountRole.department, "dept-a")
    assert client.get(f"/documents/{ids['doc7']}.pdf").status_code == 200
    assert client.get(f"/documents/{ids['doc_a']}.pdf").status_code == 200
    assert client.get(f"/roadmap/{ids['cycle7']}").status_code == 200
    assert client.get(f"/documents/{ids['doc8']}.pdf").status_code == 404
    assert client.get(f"/documents/{ids['doc_b']}.pdf").status_code == 404
    assert client.get(f"/roadmap/{ids['cycle8']}").status_code == 404
    assert client.get("/department/dept-a?year=2026/2027").status_code == 200
    assert client.get("/department/dept-b?year=2026/2027").status_code == 404
    with Session(engine) as session:
        viewer = access.Viewer.of(
            session.exec(select(UserAccount).where(UserAccount.role == "department")).one()
        )
        codes = {
            session.get(Organization, i).code  # type: ignore[union-attr]
            for i in access.visible_organisations(session=session, viewer=viewer)
        }
        assert codes == {"dept-a", "school-7"}
        assert access.may_see_organisation_code(session=session, viewer=viewer, code="school-7")
        assert not access.may_see_organisation_code(session=session, viewer=viewer, code="school-8")


def test_an_operator_sees_deliveries_but_no_organisation(engine, settings, two_departments):
    ids = two_departments
    client = _signed_in(settings, engine, AccountRole.operator, None)
    assert client.get("/operator/deliveries").status_code == 200
    assert "/operator/deliveries" in client.get("/").text
    assert client.get(f"/documents/{ids['doc7']}.pdf").status_code == 404
    assert client.get(f"/roadmap/{ids['cycle7']}").status_code == 404


def test_a_signed_document_link_opens_one_document_until_it_expires(
    engine, settings, two_departments
):
    ids = two_departments
    clock = Clock(T0)
    client = Client(_app(settings, engine, clock))
    url = access.signed_document_url(
        base_url="",
        secret=settings.approval_secret(),
        document_id=ids["doc8"],
        expires_at=T0 + timedelta(days=1),
    )
    assert client.get(url).status_code == 200
    other = url.replace(str(ids["doc8"]), str(ids["doc7"]))
    assert _refused(client.get(other))
    forged = access.signed_document_url(
        base_url="", secret=b"x" * 32, document_id=ids["doc8"], expires_at=T0 + timedelta(days=1)
    )
    assert _refused(client.get(forged))
    clock.now = T0 + timedelta(days=1, seconds=1)
    assert _refused(client.get(url))


def test_the_approvers_mail_and_page_carry_signed_document_links(
    engine, settings, two_departments, cycle_ids
):
    ids = two_departments
    with Session(engine, expire_on_commit=False) as session:
        request, message = approval_mail.open_request_with_mail(
            session=session,
            settings=settings,
            cycle_id=cycle_ids[1],
            stage="base-formation",
            approval_key="registers",
            flow_run_id=uuid.uuid4(),
            title="Реестры",
            summary="",
            document_ids=[str(ids["doc7"])],
            now=T0,
        )
        session.commit()
        mail = session.get(OutboxMessage, message.id)
        assert mail is not None
        body = mail.body_text
        code = approval_mail.approvals.code_for_request(
            secret=settings.approval_secret(), request=request
        )
    assert f"/documents/{ids['doc7']}.pdf?key=" in body
    client = Client(_app(settings, engine))
    page = client.get(f"/approvals/{request.id}?code={code}")
    link = page.text.split(f"/documents/{ids['doc7']}.pdf?key=")[1].split('"')[0]
    assert client.get(f"/documents/{ids['doc7']}.pdf?key={link}").status_code == 200
    without_code = client.get(f"/approvals/{request.id}")
    assert f"/documents/{ids['doc7']}.pdf?key=" not in without_code.text


# --------------------------------------------------------------------------- sessions and CSRF


def test_csrf_is_refused_on_forms_of_signed_in_users(engine, settings):
    add_account(engine, email="op@staff.example", role=AccountRole.operator)
    client = Client(_app(settings, engine))
    # The sign-in form itself: a post without the form's token is refused.
    assert (
        client.post("/login", data={"email": "op@staff.example", "password": PASSWORD}).status_code
        == 403
    )
    assert log_in(client, "op@staff.example").status_code == 303
    page = client.get("/operator/deliveries")
    token = csrf_of(page.text)
    assert client.post("/operator/deliveries/retry-failed").status_code == 403
    wrong = client.post("/operator/deliveries/retry-failed", data={"csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    done = client.post("/operator/deliveries/retry-failed", data={"csrf_token": token})
    assert done.status_code == 303
    out = client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
    assert out.status_code == 303
    assert _refused(client.get("/operator/deliveries"))


def test_the_session_cookie_is_httponly_lax_and_secure_on_https(engine, settings):
    add_account(engine, email="op@staff.example", role=AccountRole.operator)
    response = log_in(Client(_app(settings, engine)), "op@staff.example")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    https = settings.model_copy(update={"web_base_url": "https://nastavnik.example"})
    # The form's visit already starts the session (for its CSRF token).
    response = Client(_app(https, engine)).get("/login")
    assert "; secure" in response.headers["set-cookie"].lower()


def test_a_disabled_account_is_signed_out_at_once(engine, settings):
    client = Client(_app(settings, engine))
    email = sign_in_as(client, engine, role=AccountRole.operator, org_code=None)
    assert client.get("/operator/deliveries").status_code == 200
    with Session(engine) as session:
        accounts.set_active(session=session, email=email, active=False)
        session.commit()
    assert _refused(client.get("/operator/deliveries"))
    assert log_in(client, email).status_code == 401


def test_sign_in_goes_back_only_to_a_page_of_this_site(engine, settings):
    add_account(engine, email="op@staff.example", role=AccountRole.operator)
    client = Client(_app(settings, engine))
    first = client.get("/operator/deliveries?done=retried")
    assert first.headers["location"] == "/login?next=%2Foperator%2Fdeliveries%3Fdone%3Dretried"
    form = client.get(first.headers["location"]).text
    response = client.post(
        "/login",
        data={
            "email": "op@staff.example",
            "password": PASSWORD,
            "csrf_token": csrf_of(form),
            "next": "//evil.example/",
        },
    )
    assert response.headers["location"] == "/"


# --------------------------------------------------------------------------- throttling, hashes


def test_sign_in_is_throttled_after_five_failures_for_fifteen_minutes(engine, settings, cycle_ids):
    add_account(
        engine, email="curator@staff.example", role=AccountRole.curator, org_code="school-7"
    )
    clock = Clock(T0)
    client = Client(_app(settings, engine, clock))
    for _ in range(accounts.FAILURES_LIMIT):
        assert log_in(client, "curator@staff.example", "неверный").status_code == 401
    # Now even the right password is refused, until the failures are fifteen minutes old.
    assert log_in(client, "curator@staff.example").status_code == 429
    clock.now = T0 + timedelta(minutes=14)
    assert log_in(client, "curator@staff.example").status_code == 429
    clock.now = T0 + timedelta(minutes=15, seconds=1)
    assert log_in(client, "curator@staff.example").status_code == 303


def test_many_accounts_tried_from_one_address_are_throttled_too(engine, settings):
    with Session(engine) as session:
        for n in range(accounts.FAILURES_LIMIT):
            accounts.sign_in(
                session=session, email=f"u{n}@x.example", password="x", ip="10.0.0.9", now=T0
            )
        assert accounts.is_throttled(session=session, email="new@x.example", ip="10.0.0.9", now=T0)
        assert not accounts.is_throttled(
            session=session, email="new@x.example", ip="10.0.0.10", now=T0
        )
        later = T0 + accounts.THROTTLE_WINDOW
        assert not accounts.is_throttled(
            session=session, email="new@x.example", ip="10.0.0.9", now=later
        )
        session.commit()
        assert len(session.exec(select(LoginAttempt)).all()) == accounts.FAILURES_LIMIT


def test_passwords_are_stored_as_argon2_hashes(engine, settings, cycle_ids):
    add_account(
        engine, email="Director@School7.example", role=AccountRole.director, org_code="school-7"
    )
    with Session(engine) as session:
        account = session.exec(select(UserAccount)).one()
        assert account.email == "director@school7.example"
        assert account.password_hash.startswith("$argon2id$")
        assert PASSWORD not in account.password_hash
        with pytest.raises(accounts.AccountRefused, match="уже есть"):
            accounts.add_account(
                session=session,
                email="director@school7.example",
                role=AccountRole.director,
                organisation_code="school-7",
                password=PASSWORD,
            )
        with pytest.raises(accounts.AccountRefused, match="нужна организация"):
            accounts.add_account(
                session=session,
                email="c@x.example",
                role=AccountRole.curator,
                organisation_code=None,
                password=PASSWORD,
            )
        with pytest.raises(accounts.AccountRefused, match="не управление"):
            accounts.add_account(
                session=session,
                email="d@x.example",
                role=AccountRole.department,
                organisation_code="school-7",
                password=PASSWORD,
            )
        with pytest.raises(accounts.AccountRefused, match="короче"):
            accounts.add_account(
                session=session,
                email="o@x.example",
                role=AccountRole.operator,
                organisation_code=None,
                password="short",
            )


# --------------------------------------------------------------------------- CLI


def test_the_users_cli_adds_lists_and_disables(monkeypatch, tmp_path, engine, cycle_ids):
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI runs on the test's SQLite file")
    from typer.testing import CliRunner

    from deployments import cli as cli_module
    from nastavnik.settings import get_settings

    monkeypatch.setenv("NASTAVNIK_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("NASTAVNIK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    monkeypatch.setattr(cli_module.console, "width", 200)
    runner = CliRunner()
    try:
        added = runner.invoke(
            cli_module.app,
            [
                "users",
                "add",
                "--email",
                "curator@school7.example",
                "--role",
                "curator",
                "--org",
                "school-7",
                "--name",
                "Петров О. И.",
                "--password-stdin",
            ],
            input=PASSWORD + "\n",
        )
        assert added.exit_code == 0, added.output
        assert "добавлена" in added.output and PASSWORD not in added.output
        unknown = runner.invoke(
            cli_module.app,
            [
                "users",
                "add",
                "--email",
                "x@y.example",
                "--role",
                "curator",
                "--org",
                "nope",
                "--password-stdin",
            ],
            input=PASSWORD + "\n",
        )
        assert unknown.exit_code == 1 and "nope" in unknown.output
        listed = runner.invoke(cli_module.app, ["users", "list"])
        assert "curator@school7.example" in listed.output and "school-7" in listed.output
        disabled = runner.invoke(cli_module.app, ["users", "disable", "curator@school7.example"])
        assert disabled.exit_code == 0, disabled.output
    finally:
        get_settings.cache_clear()
    with Session(engine) as session:
        account = session.exec(select(UserAccount)).one()
        assert not account.active and account.display_name == "Петров О. И."
