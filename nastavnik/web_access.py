"""Sign-in, sessions, CSRF and role checks for the web app (issue 11 §3).

``install_sign_in(app, …)`` adds the signed session cookie (itsdangerous, HttpOnly, SameSite=Lax,
Secure when ``web_base_url`` is https), the pages ``/login`` (GET form, POST) and ``/logout``
(POST), and the answers to a refusal: a visitor without a session is sent to ``/login`` (303 for a
GET, 401 otherwise), a signed-in user without the right is answered 403.

A route is protected by adding one dependency; the rules themselves are in ``nastavnik.access``::

    @app.get("/department/{code}", dependencies=[Depends(require_organisation_access("code"))])
    @app.post("/operator/x", dependencies=[Depends(require_role(AccountRole.operator)),
                                           Depends(require_csrf)])

- ``require_viewer``: any signed-in, active account (returns ``access.Viewer``).
- ``require_role(*roles)``: a signed-in account of one of these roles, else 403.
- ``require_organisation_access(param)``: the path parameter ``param`` (an organisation code) names
  an organisation the account may see (its own; a department's members), else 404.
- ``require_cycle_access(param)``: the same for a cycle id (roadmap pages and reports).
- ``require_operator_or_link`` (``OperatorOrLink``): the deliveries pages, for an operator or a
  signed, expiring operator link ``?token=``.
- ``require_department_or_link`` (``DepartmentOrLink``): the department's dashboard, for its
  accounts or a signed, expiring dashboard link ``?token=``.
- ``require_csrf``: every POST form of a signed-in user carries the session's token in the hidden
  field ``csrf_token`` (``csrf_token(request)`` gives it to the template), else 403.

Routes opened by a signed link (``/p/<token>``, ``/approvals/<id>?code=``) need none of these;
tests/test_web_access.py lists them and fails for any other route that answers without a session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.middleware.sessions import SessionMiddleware

from models import AccountRole
from nastavnik import access, accounts, dashboard, deliveries
from nastavnik.rendering import get_jinja_env
from nastavnik.settings import Settings

SESSION_COOKIE = "nastavnik_session"
SESSION_HOURS = 12
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """No signed-in account: the visitor is sent to the sign-in page."""


class AccessRefused(Exception):
    """Signed in (or holding a link), but not allowed to open this page: answered 403."""

    def __init__(
        self,
        *,
        heading: str = "Нет доступа",
        message: str = "Эта страница не для вашей учётной записи.",
    ) -> None:
        super().__init__(message)
        self.heading, self.message = heading, message


@dataclass(frozen=True)
class SignInContext:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime]


def _context(request: Request) -> SignInContext:
    context: SignInContext = request.app.state.sign_in
    return context


def session_secret(settings: Settings) -> str:
    """The cookie-signing key, derived from the settings' secret (not the secret itself)."""
    return hmac.new(settings.approval_secret(), b"web-session", hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (also before sign-in, for the login form)."""
    token = request.session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return str(token)


def current_viewer(request: Request) -> access.Viewer | None:
    """The session's account if it is still active (a disabled account is signed out)."""
    raw = request.session.get("account_id")
    if not raw:
        return None
    try:
        account_id = uuid.UUID(str(raw))
    except ValueError:
        return None
    with Session(_context(request).engine) as session:
        account = accounts.active_account(session=session, account_id=account_id)
        if account is None:
            request.session.clear()
            return None
        return access.Viewer.of(account)


def require_viewer(request: Request) -> access.Viewer:
    """Dependency: the signed-in account, or the sign-in page."""
    viewer = current_viewer(request)
    if viewer is None:
        raise SignInRequired
    return viewer


Signed = Annotated[access.Viewer, Depends(require_viewer)]


def require_role(*roles: AccountRole) -> Callable[[access.Viewer], access.Viewer]:
    """Dependency factory: a signed-in account of one of ``roles``, else 403."""

    def dependency(viewer: Signed) -> access.Viewer:
        if viewer.role not in roles:
            raise AccessRefused
        return viewer

    return dependency


def require_organisation_access(
    param: str = "code",
) -> Callable[[Request, access.Viewer], access.Viewer]:
    """Dependency factory: the organisation whose code is the path parameter ``param`` is one the
    account may see (an unknown one or another's is answered 404)."""

    def dependency(request: Request, viewer: Signed) -> access.Viewer:
        code = str(request.path_params.get(param, ""))
        with Session(_context(request).engine) as session:
            if not access.may_see_organisation_code(session=session, viewer=viewer, code=code):
                raise HTTPException(404, "Организация не найдена")
        return viewer

    return dependency


def require_cycle_access(
    param: str = "cycle_id",
) -> Callable[[Request, access.Viewer], access.Viewer]:
    """Dependency factory: the cycle in the path parameter ``param`` belongs to an organisation the
    account may see (an unknown one or another's is answered 404)."""

    def dependency(request: Request, viewer: Signed) -> access.Viewer:
        try:
            cycle_id = uuid.UUID(str(request.path_params.get(param, "")))
        except ValueError:
            raise HTTPException(404, "Цикл не найден") from None
        with Session(_context(request).engine) as session:
            if not access.may_see_cycle(session=session, viewer=viewer, cycle_id=cycle_id):
                raise HTTPException(404, "Цикл не найден")
        return viewer

    return dependency


async def require_csrf(request: Request) -> None:
    """Dependency: the form's ``csrf_token`` equals the session's, else 403."""
    form = await request.form()
    sent = str(form.get(CSRF_FIELD, ""))
    expected = str(request.session.get(CSRF_FIELD, ""))
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise AccessRefused(
            heading="Форма устарела",
            message="Форма пришла не с нашей страницы или устарела: откройте страницу снова.",
        )


def _page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = get_jinja_env().get_template(f"web/{template}").render(**context)
    return HTMLResponse(html, status_code=status_code)


def _local_path(target: str) -> str:
    """Only a path on this site is followed after sign-in (never another host)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def install_sign_in(
    app: FastAPI, *, settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> None:
    """Add the session cookie, /login and /logout and the refusal answers to the app."""
    app.state.sign_in = SignInContext(settings=settings, engine=engine, clock=clock)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=settings.web_base_url.startswith("https://"),
    )

    @app.exception_handler(SignInRequired)
    def sign_in_required(request: Request, _: SignInRequired) -> Response:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
        return _page("link_refused.html", 401, heading="Нужен вход", message="Войдите и повторите.")

    @app.exception_handler(AccessRefused)
    def access_refused(_: Request, refused: AccessRefused) -> Response:
        return _page("link_refused.html", 403, heading=refused.heading, message=refused.message)

    def login_page(
        request: Request, *, next_path: str, email: str = "", error: str = "", status: int = 200
    ) -> HTMLResponse:
        return _page(
            "login.html",
            status,
            csrf_token=csrf_token(request),
            next_path=_local_path(next_path),
            email=email,
            error=error,
        )

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> HTMLResponse:
        return login_page(request, next_path=next)

    @app.post("/login", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
    def login(
        request: Request,
        email: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        ip = request.client.host if request.client else "unknown"
        with Session(engine) as session:
            outcome = accounts.sign_in(
                session=session, email=email, password=password, ip=ip, now=clock()
            )
            session.commit()
        if outcome.throttled:
            minutes = int(accounts.THROTTLE_WINDOW.total_seconds() // 60)
            return login_page(
                request,
                next_path=next,
                email=email,
                error=f"Слишком много неудачных попыток. Попробуйте через {minutes} минут.",
                status=429,
            )
        if outcome.account_id is None:
            return login_page(
                request,
                next_path=next,
                email=email,
                error="Неверный адрес или пароль.",
                status=401,
            )
        # A new session on sign-in: nothing set before it (a planted cookie) carries over.
        request.session.clear()
        request.session["account_id"] = str(outcome.account_id)
        request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
        return RedirectResponse(_local_path(next), status_code=303)

    @app.post("/logout", dependencies=[Depends(require_csrf)])
    def logout(request: Request) -> RedirectResponse:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)


async def require_operator_or_link(request: Request, token: str = "") -> access.Viewer | None:
    """Dependency of the deliveries pages: a signed-in operator (POST forms with the CSRF token),
    or None for a valid signed operator link ``?token=`` (HMAC, expiring); refused otherwise."""
    context = _context(request)
    if token:
        secret = context.settings.approval_secret()
        if deliveries.check_operator_token(secret=secret, token=token, now=context.clock()):
            return None
        raise AccessRefused(
            message="Ссылка оператора не действует: войдите или получите новую командой "
            "«nastavnik deliveries link».",
        )
    viewer = require_viewer(request)
    if not access.may_operate_deliveries(viewer):
        raise AccessRefused
    if request.method == "POST":
        await require_csrf(request)
    return viewer


OperatorOrLink = Annotated[access.Viewer | None, Depends(require_operator_or_link)]


def require_department_or_link(
    request: Request, code: str, token: str = ""
) -> access.Viewer | None:
    """Dependency of the department's dashboard ``/department/{code}``: an account that may see
    that organisation (the department's own users), or None for a valid signed dashboard link
    ``?token=`` (HMAC for this department, expiring); refused otherwise."""
    context = _context(request)
    if token:
        if dashboard.check_dashboard_token(
            secret=context.settings.approval_secret(),
            department_code=code,
            token=token,
            now=context.clock(),
        ):
            return None
        raise AccessRefused(
            message="Ссылка на мониторинг управления не действует: войдите или получите новую "
            "командой «nastavnik department dashboard-link».",
        )
    return require_organisation_access("code")(request, require_viewer(request))


DepartmentOrLink = Annotated[access.Viewer | None, Depends(require_department_or_link)]
