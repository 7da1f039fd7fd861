"""Printed documents: Jinja2 → WeasyPrint PDF, numbered per organisation and year, stored once."""

from __future__ import annotations

import atexit
import hashlib
import logging
import multiprocessing
import os
import tempfile
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from jinja2 import Environment, Template
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.tables import Document, DocumentStatus, Organization
from nastavnik.rendering import TEMPLATES_DIR, get_jinja_env
from nastavnik.settings import Settings

if TYPE_CHECKING:  # WeasyPrint takes ~1 s to import: only the functions that render load it
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

logger = logging.getLogger(__name__)

DOCUMENTS_TEMPLATES_DIR = TEMPLATES_DIR / "documents"
PRINT_CSS = DOCUMENTS_TEMPLATES_DIR / "print.css"

# Number series per document type: orders are plain «№ 37», the others carry a letter prefix.
SERIES: dict[str, str] = {
    "order": "",
    "register": "Р",
    "memo": "С",
    "programme": "П",
    "report": "О",
    "certificate": "Св",
    "consent": "Сг",
    "regulation": "Пл",
}

# Enough for a handful of concurrent writers racing for the same number; more means a bug.
MAX_NUMBER_ATTEMPTS = 20

# WeasyPrint logs this on every render without libharfbuzz-subset: it is a speed problem, not a
# content fallback, and warn_if_slow_pdf() reports it once at startup instead.
_SLOW_SUBSET_MESSAGE = "Using fontTools instead of HarfBuzz-Subset"

ROLE_LABELS = {"mentor": "наставник", "mentee": "наставляемый"}


class RenderWarning(RuntimeError):
    """WeasyPrint logged a warning or error while rendering: the PDF is not what was asked for."""


# ---------------------------------------------------------------------------------------------
# Jinja filters and environment
# ---------------------------------------------------------------------------------------------


def initials(full_name: str) -> str:
    """«Фамилия Имя Отчество» → «И. О. Фамилия» (as under a signature)."""
    parts = full_name.split()
    if len(parts) <= 1:
        return full_name.strip()
    surname, given = parts[0], parts[1:]
    return " ".join([*(f"{name[0]}." for name in given), surname])


def years_ru(value: int | None) -> str:
    """5 → «5 лет», 2 → «2 года», 21 → «21 год»; None → «—»."""
    if value is None:
        return "—"
    n = abs(value)
    if n % 10 == 1 and n % 100 != 11:
        word = "год"
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        word = "года"
    else:
        word = "лет"
    return f"{value} {word}"


def role_ru(value: object) -> str:
    """Role value ('mentor'/'mentee' or the enum) → Russian label."""
    key = str(getattr(value, "value", value))
    return ROLE_LABELS.get(key, key)


_DOCUMENT_FILTERS = {"initials": initials, "years_ru": years_ru, "role_ru": role_ru}


def document_env() -> Environment:
    """The shared Jinja environment with the document filters installed (idempotent)."""
    env = get_jinja_env()
    for name, function in _DOCUMENT_FILTERS.items():
        if env.filters.get(name) is not function:
            env.filters[name] = function
    return env


# ---------------------------------------------------------------------------------------------
# WeasyPrint
# ---------------------------------------------------------------------------------------------


def harfbuzz_subset_available() -> bool:
    """Whether WeasyPrint found libharfbuzz-subset (≈4× faster PDF writing than fontTools)."""
    from weasyprint.text import ffi

    return ffi.harfbuzz_subset is not None


def warn_if_slow_pdf() -> str | None:
    """A loud warning (also logged) when the HarfBuzz subsetter is missing, else None."""
    if harfbuzz_subset_available():
        return None
    message = (
        "libharfbuzz-subset is missing: WeasyPrint falls back to fontTools and every PDF "
        "takes ~4x longer (~440 ms instead of ~110 ms per page). "
        "Install it: apt-get install libharfbuzz-subset0"
    )
    logger.warning(message)
    return message


@lru_cache(maxsize=1)
def font_config() -> FontConfiguration:
    """The process's one FontConfiguration (a new one per document leaks ~0.2 MB each)."""
    from weasyprint.text.fonts import FontConfiguration

    # Dropped before the interpreter tears modules down: its __del__ removes a temporary folder
    # and fails noisily ("'NoneType' object is not callable") once shutil is gone.
    atexit.register(_print_css.cache_clear)
    atexit.register(font_config.cache_clear)
    return FontConfiguration()


@lru_cache(maxsize=1)
def _print_css() -> CSS:
    # Parsed once; a file rather than a {{ }} <style> block because autoescape mangles quotes.
    from weasyprint import CSS

    return CSS(filename=str(PRINT_CSS), font_config=font_config())


class _ThreadRecords(logging.Handler):
    """Collects WARNING+ records logged by the current thread only (renders may run in threads)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread or str(record.msg).startswith(_SLOW_SUBSET_MESSAGE):
            return
        self.messages.append(record.getMessage())


_level_lock = threading.Lock()
_active_renders = 0
_saved_level = logging.NOTSET


@contextmanager
def _weasyprint_warnings_raise() -> Iterator[None]:
    """Raise RenderWarning if WeasyPrint logs WARNING or worse inside the block."""
    global _active_renders, _saved_level
    weasy_logger = logging.getLogger("weasyprint")
    handler = _ThreadRecords()
    with _level_lock:
        # An application silencing logging must not silence our check: make sure WARNINGs reach
        # the handler. The first concurrent render saves the level and the last one restores it.
        if _active_renders == 0:
            _saved_level = weasy_logger.level
            if weasy_logger.getEffectiveLevel() > logging.WARNING:
                weasy_logger.setLevel(logging.WARNING)
        _active_renders += 1
        weasy_logger.addHandler(handler)
    try:
        yield
    finally:
        with _level_lock:
            weasy_logger.removeHandler(handler)
            _active_renders -= 1
            if _active_renders == 0:
                weasy_logger.setLevel(_saved_level)
    if handler.messages:
        raise RenderWarning("WeasyPrint: " + "; ".join(handler.messages))


def render_html(html: str, *, base_url: Path | None = None) -> tuple[bytes, int]:
    """Render an HTML string with the print stylesheet; returns (PDF bytes, page count)."""
    from weasyprint import HTML

    base = str(base_url or DOCUMENTS_TEMPLATES_DIR)
    if not base.endswith(os.sep):
        base += os.sep  # so that relative URLs resolve inside the directory, not beside it
    with _weasyprint_warnings_raise():
        fonts = font_config()
        rendered = HTML(string=html, base_url=base).render(
            stylesheets=[_print_css()], font_config=fonts
        )
        pdf = rendered.write_pdf()
    assert pdf is not None  # write_pdf() without a target returns the bytes
    return pdf, len(rendered.pages)


def warm_renderer() -> int:
    """Render a small document once so that this process (and every process forked from it)
    has its fonts, stylesheet and WeasyPrint's C bindings ready; returns its page count.

    A process's first document costs ≈0.6 s more than the next ones (FontConfiguration,
    print.css, Pango's fonts, cffi's types): paid once in a fork server instead of in each
    flow run's process that renders (15 of a school year's 24)."""
    html = (
        "<html lang='ru'><body><h1>Приказ</h1><p class='text'>Об утверждении <b>программы</b> "
        "наставничества и назначении наставников образовательной организации.</p>"
        "<table class='register'><thead><tr><th>№</th><th>ФИО</th></tr></thead>"
        "<tbody><tr><td class='num'>1</td><td>Иванова Мария Петровна</td></tr></tbody></table>"
        "</body></html>"
    )
    return render_html(html)[1]


def _render(template: str, context: dict[str, Any], base_url: Path | None) -> tuple[bytes, int]:
    html = document_env().get_template(f"documents/{template}").render(**context)
    return render_html(html, base_url=base_url)


def _render_in_worker(html: str) -> tuple[bytes, int]:
    return render_html(html)


def render_processes() -> int:
    """How many processes render a batch of documents (`NASTAVNIK_RENDER_PROCESSES`; default:
    the machine's cores, at most 4). WeasyPrint is pure Python on one core: threads don't help."""
    configured = os.environ.get("NASTAVNIK_RENDER_PROCESSES")
    if configured:
        return max(1, int(configured))
    return max(1, min(os.cpu_count() or 1, 4))


# Batches smaller than this render in the calling process: starting the workers costs ~1–2 s.
MIN_PARALLEL_BATCH = 12


class _Rendered:
    """A render done in the calling process, with a Future's `result()`."""

    def __init__(self, html: str) -> None:
        self._result = render_html(html)

    def result(self) -> tuple[bytes, int]:
        return self._result

    def done(self) -> bool:
        return True


@contextmanager
def renderer(expected: int) -> Iterator[Callable[[str], Any]]:
    """A function that starts rendering an HTML document to (PDF, pages) and returns something
    whose `result()` gives it: in parallel processes when `expected` documents make it worth it,
    so the caller prepares the next documents while the first ones render."""
    workers = render_processes()
    if workers == 1 or expected < MIN_PARALLEL_BATCH:
        yield _Rendered
        return
    # A fork server, not fork: the caller (a flow run) has threads, and forking a process with
    # threads can leave a child waiting forever on a lock one of them held. The pool lives for
    # one batch: a flow run's process (itself a multiprocessing child) waits at exit for every
    # child it still has, so workers kept for later would keep the run's process alive.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["weasyprint", "nastavnik.documents"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield lambda html: pool.submit(_render_in_worker, html)


def render_many(htmls: list[str]) -> list[tuple[bytes, int]]:
    """Render HTML documents to (PDF, pages), in parallel processes for a large batch."""
    with renderer(len(htmls)) as start:
        pending = [start(html) for html in htmls]
        return [job.result() for job in pending]


def render_pdf(template: str, context: dict[str, Any], *, base_url: Path | None = None) -> bytes:
    """Render templates/documents/<template> to PDF bytes; RenderWarning if WeasyPrint warns."""
    return _render(template, context, base_url)[0]


# ---------------------------------------------------------------------------------------------
# Numbering, storage and records
# ---------------------------------------------------------------------------------------------


# Document types made for one person or pair: their titles carry people's names (a mentor's
# letter of thanks or certificate of honour too: a pupil mentor is a child).
PERSONAL_DOCUMENT_TYPES = frozenset({"consent", "programme", "certificate"})

# Personal documents run to hundreds a school (consent forms, programmes, letters of thanks) and
# each is opened by one or two people, if at all: they are kept as their HTML source, fixed when
# issued (number, date, content; content_hash is the source's), and rendered to PDF on first
# opening by document_file(). Rendering them all at once took a third of a simulated year
# (bench/year.py). A process renders the first of each template at once, so a template that
# WeasyPrint rejects fails the stage that issues it, not a download months later. A request can
# ask for the same (DocumentRequest.render_on_opening): the curator's monthly summary, one a
# month per organisation, rendered by the daily tick for every organisation in turn.
ON_DEMAND_DOCUMENT_TYPES = PERSONAL_DOCUMENT_TYPES

# The templates whose first document kept for rendering on opening this process rendered at
# once (above); a template reloaded from disk is a new object and is checked again.
_checked_templates: weakref.WeakSet[Template] = weakref.WeakSet()


def names_people(document: Document) -> bool:
    """Whether the document is made for a person or pair (its title names them)."""
    return document.doc_type in PERSONAL_DOCUMENT_TYPES


def public_title(document: Document) -> str:
    """The title without people's names, for what everyone with Prefect access sees."""
    if names_people(document):
        return document.title.split(":", 1)[0].strip()
    return document.title


def number_label(series: str, number: int) -> str:
    """«№ Р-3», or «№ 37» for a series without a letter (orders)."""
    return f"№ {series}-{number}" if series else f"№ {number}"


def _store(settings: Settings, pdf: bytes) -> tuple[str, str]:
    """Write the PDF once under its hash; returns (sha256, path relative to documents_dir)."""
    digest = hashlib.sha256(pdf).hexdigest()
    relative = f"{digest[:2]}/{digest}.pdf"
    _write_once(settings.documents_dir / relative, pdf)
    return digest, relative


def _store_source(settings: Settings, html: str) -> tuple[str, str]:
    """Write an on-demand document's HTML once under its hash; returns (sha256, the path
    relative to documents_dir where its PDF will be, beside the source)."""
    source = html.encode("utf-8")
    digest = hashlib.sha256(source).hexdigest()
    relative = f"{digest[:2]}/{digest}.pdf"
    _write_once((settings.documents_dir / relative).with_suffix(".html"), source)
    return digest, relative


def _write_once(target: Path, data: bytes) -> None:
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    # Temp file + rename: a reader (or a crash) never sees a half-written file under the final
    # name, and two processes rendering the same document at once both leave a whole one.
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _organization_context(organization: Organization) -> dict[str, str]:
    return {
        "name": organization.name,
        "short_name": organization.short_name,
        "city": organization.city,
        "director_name": organization.director_name,
        "curator_name": organization.curator_name,
    }


def _find(session: Session, unique_key: str) -> Document | None:
    return session.exec(select(Document).where(Document.unique_key == unique_key)).first()


@dataclass(frozen=True)
class DocumentRequest:
    """What to issue: one document of a batch (see issue_documents)."""

    unique_key: str
    organization_id: UUID
    cycle_id: UUID | None
    doc_type: str
    title: str
    template: str
    context: dict[str, Any]
    doc_date: date
    flow_run_id: UUID | None = None
    render_on_opening: bool = False  # a personal document's type implies it

    @property
    def on_demand(self) -> bool:
        """Whether the document is kept as its source and rendered when first opened."""
        return self.render_on_opening or self.doc_type in ON_DEMAND_DOCUMENT_TYPES


def _reserve(session: Session, request: DocumentRequest) -> tuple[Document, str | None]:
    """The existing document (and None), or a newly numbered draft row and its HTML to render.

    The number is reserved first: it is printed in the document, so it must be final before
    rendering, and a concurrent writer then waits or fails on this row."""
    existing = _find(session, request.unique_key)
    if existing is not None:
        return existing, None
    try:
        series = SERIES[request.doc_type]
    except KeyError:
        raise ValueError(
            f"unknown document type {request.doc_type!r}; known: {sorted(SERIES)}"
        ) from None
    organization = session.get(Organization, request.organization_id)
    if organization is None:
        raise LookupError(f"organisation {request.organization_id} does not exist")
    year = request.doc_date.year
    for _attempt in range(MAX_NUMBER_ATTEMPTS):
        number = 1 + (
            session.exec(
                select(func.coalesce(func.max(Document.number), 0)).where(
                    Document.organization_id == request.organization_id,
                    Document.year == year,
                    Document.series == series,
                )
            ).one()
        )
        try:
            # The savepoint makes a lost race undo only this attempt, not the caller's work.
            with session.begin_nested():
                document = Document(
                    unique_key=request.unique_key,
                    organization_id=request.organization_id,
                    cycle_id=request.cycle_id,
                    doc_type=request.doc_type,
                    series=series,
                    year=year,
                    number=number,
                    doc_date=request.doc_date,
                    title=request.title,
                    status=DocumentStatus.draft,
                    content_hash="",
                    path="",
                    pages=0,
                    flow_run_id=request.flow_run_id,
                )
                session.add(document)
                session.flush()
                context = {
                    "organization": _organization_context(organization),
                    **request.context,
                    "document": {
                        "title": request.title,
                        "doc_type": request.doc_type,
                        "series": series,
                        "number": number,
                        "label": number_label(series, number),
                        "date": request.doc_date,
                    },
                }
                # Inside the savepoint: a template error gives the number back.
                html = (
                    document_env().get_template(f"documents/{request.template}").render(**context)
                )
        except IntegrityError:
            # Either a concurrent writer took this number (try the next) or issued this very key.
            existing = _find(session, request.unique_key)
            if existing is not None:
                return existing, None
            continue
        return document, html
    raise RuntimeError(
        f"could not number {request.unique_key!r} after {MAX_NUMBER_ATTEMPTS} attempts "
        f"(organisation {request.organization_id}, {year}, series {series!r})"
    )


def issue_documents(
    *, session: Session, settings: Settings, requests: Sequence[DocumentRequest]
) -> list[Document]:
    """Each requested document: the existing one, or a newly numbered draft, rendered (or, for
    a personal document or one asked so, kept to render on first opening).

    New ones are numbered in the order given and rendered together (in parallel processes for
    a large batch); a failed render fails the batch, and the caller's transaction undoes it."""
    eager = sum(1 for request in requests if not request.on_demand)
    # One savepoint for the batch: a failed render undoes its numbers, not the caller's work.
    with session.begin_nested(), renderer(eager) as start:
        issued: list[Document] = []
        rendering: deque[tuple[Document, Any]] = deque()
        for request in requests:
            document, html = _reserve(session, request)
            issued.append(document)
            if html is None:
                pass
            elif request.on_demand:
                document.content_hash, document.path = _store_source(settings, html)
                document.pages = 0  # not rendered yet
                session.add(document)
                template = document_env().get_template(f"documents/{request.template}")
                if template not in _checked_templates:
                    document_file(settings=settings, document=document)
                    _checked_templates.add(template)
            else:
                # Rendering starts at once: the next documents are numbered meanwhile.
                rendering.append((document, start(html)))
            # Store what is rendered already: a batch of hundreds then never holds every PDF
            # in memory at once (RSS stays flat, bench/rewards.py).
            while rendering and rendering[0][1].done():
                _keep(session, settings, *rendering.popleft())
        while rendering:
            _keep(session, settings, *rendering.popleft())
        session.flush()
    return issued


def _keep(session: Session, settings: Settings, document: Document, job: Any) -> None:
    pdf, pages = job.result()
    document.content_hash, document.path = _store(settings, pdf)
    document.pages = pages
    session.add(document)


def issue_document(
    *,
    session: Session,
    settings: Settings,
    unique_key: str,
    organization_id: UUID,
    cycle_id: UUID | None,
    doc_type: str,
    title: str,
    template: str,
    context: dict[str, Any],
    doc_date: date,
    flow_run_id: UUID | None = None,
    render_on_opening: bool = False,
) -> Document:
    """The document with this unique_key: the existing one, or a newly numbered, rendered draft
    (kept to render on first opening when asked, see DocumentRequest.render_on_opening)."""
    request = DocumentRequest(
        unique_key=unique_key,
        organization_id=organization_id,
        cycle_id=cycle_id,
        doc_type=doc_type,
        title=title,
        template=template,
        context=context,
        doc_date=doc_date,
        flow_run_id=flow_run_id,
        render_on_opening=render_on_opening,
    )
    (document,) = issue_documents(session=session, settings=settings, requests=[request])
    return document


def set_document_status(*, session: Session, document_id: UUID, status: DocumentStatus) -> Document:
    """Set a document's status (draft → approved/rejected) and flush."""
    document = session.get(Document, document_id)
    if document is None:
        raise LookupError(f"document {document_id} does not exist")
    document.status = status
    session.add(document)
    session.flush()
    return document


def document_file(*, settings: Settings, document: Document) -> Path:
    """Where the document's PDF lives on disk; a personal document not opened before is
    rendered there from its source first."""
    path = settings.documents_dir / document.path
    if not path.exists():
        source = path.with_suffix(".html")
        if source.exists():
            pdf, _pages = render_html(source.read_text(encoding="utf-8"))
            _write_once(path, pdf)
    return path


def is_rendered(*, settings: Settings, document: Document) -> bool:
    """Whether the document's PDF exists yet (a personal one is made on first opening)."""
    return (settings.documents_dir / document.path).exists()
