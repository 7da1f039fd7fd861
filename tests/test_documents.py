"""Documents: the PDF read back (text, pages), numbering, idempotence, storage, strictness."""

from __future__ import annotations

import io
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.tables import Document, DocumentStatus
from nastavnik import documents, repository
from nastavnik.documents import (
    RenderWarning,
    document_file,
    initials,
    issue_document,
    render_html,
    render_pdf,
    set_document_status,
    warn_if_slow_pdf,
    years_ru,
)
from nastavnik.settings import Settings

ORGANIZATION = {
    "name": "МБОУ «Средняя школа № 7»",
    "short_name": "СШ № 7",
    "city": "Минеральные Воды",
    "director_name": "Иванова Мария Петровна",
    "curator_name": "Петров Олег Ильич",
}
JUNE_14 = date(2026, 6, 14)


@dataclass
class Row:
    """Mirrors consents.RegisterRow: templates must read dataclasses and dicts alike."""

    number: int
    full_name: str
    grade_label: str = "7«Б»"
    form: str = "ученик–ученик"
    requests: str = "подготовка к ОГЭ"
    interests: str = "шахматы"
    subjects: str = "математика"
    experience_years: int | None = 12
    position: str = "учитель"
    consent_date: date | None = JUNE_14


def pdf_text(pdf: bytes) -> str:
    """All text of the PDF, whitespace collapsed and hyphenation undone (table cells wrap)."""
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    return re.sub(r"(\w)[-\u2010] (\w)", r"\1\2", text)


def register_context(rows: list[Any], label: str = "№ Р-1") -> dict[str, Any]:
    """What render_pdf needs for a register, document info included (issue_document adds it)."""
    return {
        "organization": ORGANIZATION,
        "cycle": {"school_year": "2026/2027"},
        "rows": rows,
        "document": {"title": "Реестр наставляемых", "label": label, "date": JUNE_14},
    }


def test_initials_and_russian_years() -> None:
    assert initials("Иванова Мария Петровна") == "М. П. Иванова"
    assert initials("Smith John") == "J. Smith"
    assert initials("Платон") == "Платон"
    assert [years_ru(n) for n in (1, 3, 5, 11, 21, 24, 112)] == [
        "1 год",
        "3 года",
        "5 лет",
        "11 лет",
        "21 год",
        "24 года",
        "112 лет",
    ]
    assert years_ru(None) == "—"


def test_register_pdf_shows_rows_date_number_and_escapes_html() -> None:
    rows = [
        Row(1, "Кузнецова Анна"),
        {
            "number": 2,
            "full_name": "<b>Смирнов</b> Иван",
            "grade_label": "5«А»",
            "form": "ученик–ученик",
            "requests": "",
            "interests": "футбол",
        },
    ]
    pdf = render_pdf("register_mentees.html", register_context(rows))
    text = pdf_text(pdf)
    assert "Кузнецова Анна" in text
    assert "<b>Смирнов</b> Иван" in text  # escaped, so printed literally rather than bold
    assert "Реестр наставляемых № Р-1 от 14 июня 2026 г." in text
    assert "УТВЕРЖДАЮ" in text
    assert "М. П. Иванова" in text and "О. И. Петров" in text
    assert "Всего: 2" in text
    assert "Стр. 1 из 1" in text


def test_long_register_runs_over_several_pages() -> None:
    rows = [Row(i, f"Участник Номер{i} Отчество", requests="адаптация " * 8) for i in range(1, 41)]
    pdf = render_pdf("register_mentees.html", register_context(rows))
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    assert pages > 1
    text = pdf_text(pdf)
    assert f"Стр. {pages} из {pages}" in text
    assert "Номер40" in text and "Всего: 40" in text


def test_mentor_register_and_missing_consents_memo() -> None:
    mentors = render_pdf("register_mentors.html", register_context([Row(1, "Орлова Вера")]))
    text = pdf_text(mentors)
    assert "Орлова Вера" in text and "12 лет" in text and "математика" in text

    context = register_context([]) | {
        "missing": [
            {
                "full_name": "Зайцев Пётр",
                "role": "mentee",
                "grade_label": "6«В»",
                "reason": "нет согласия законного представителя",
            }
        ],
    }
    memo = pdf_text(render_pdf("consents_missing.html", context))
    assert "Зайцев Пётр" in memo and "наставляемый" in memo
    assert "нет согласия законного представителя" in memo
    assert "УТВЕРЖДАЮ" not in memo  # an internal memo is addressed, not approved


def test_missing_context_key_raises() -> None:
    context = register_context([])
    del context["cycle"]
    with pytest.raises(UndefinedError):
        render_pdf("register_mentees.html", context)


@pytest.mark.parametrize(
    "head",
    [
        # A font that cannot be loaded must not silently fall back to another one.
        "<style>@font-face { font-family: Gone; src: url(gone.woff2); }"
        " p { font-family: Gone; }</style>",
        "<style>p { colr: red; }</style>",
    ],
    ids=["missing-font-face", "bad-css"],
)
def test_weasyprint_warnings_become_errors(head: str, tmp_path: Path) -> None:
    html = f"<html><head>{head}</head><body><p>Текст</p></body></html>"
    with pytest.raises(RenderWarning):
        render_html(html, base_url=tmp_path)


def test_warnings_caught_even_when_logging_is_silenced(tmp_path: Path) -> None:
    weasy_logger = logging.getLogger("weasyprint")
    previous = weasy_logger.level
    weasy_logger.setLevel(logging.CRITICAL)
    try:
        with pytest.raises(RenderWarning, match="colr"):
            render_html("<style>p { colr: red; }</style><p>Текст</p>", base_url=tmp_path)
    finally:
        weasy_logger.setLevel(previous)
    assert weasy_logger.level == previous


def test_fonttools_fallback_is_slow_but_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import weasyprint.pdf.fonts

    # Without libharfbuzz-subset WeasyPrint logs a warning on every render; that one is reported
    # once by warn_if_slow_pdf() and must not fail every document on a machine lacking it.
    monkeypatch.setattr(weasyprint.pdf.fonts, "harfbuzz_subset", None)
    pdf, pages = render_html("<p>Короткий текст</p>")
    assert pages == 1 and "Короткий текст" in pdf_text(pdf)


def test_slow_pdf_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    from weasyprint.text import ffi

    monkeypatch.setattr(ffi, "harfbuzz_subset", None)
    assert "libharfbuzz-subset0" in (warn_if_slow_pdf() or "")
    monkeypatch.setattr(ffi, "harfbuzz_subset", object())
    assert warn_if_slow_pdf() is None


# --- database: numbering, idempotence, storage ------------------------------------------------


def issue(session: Session, settings: Settings, org_id: uuid.UUID, key: str, **kw: Any) -> Document:
    """issue_document with small defaults: an empty register of the 2026/2027 cycle."""
    args: dict[str, Any] = {
        "cycle_id": None,
        "doc_type": "register",
        "title": "Реестр наставляемых",
        "template": "register_mentees.html",
        "doc_date": JUNE_14,
        "context": {"cycle": {"school_year": "2026/2027"}, "rows": []},
    }
    args.update(kw)
    return issue_document(
        session=session, settings=settings, unique_key=key, organization_id=org_id, **args
    )


def other_organization(session: Session, code: str) -> uuid.UUID:
    """A second school whose printed details equal the first one's."""
    org = repository.upsert_organization(
        session=session,
        code=code,
        name="МБОУ «Средняя школа № 7»",
        short_name="СШ № 7",
        director_name="Иванова Мария Петровна",
        director_email="d@x.example",
        curator_name="Петров Олег Ильич",
        curator_email="c@x.example",
        city="Минеральные Воды",
    )
    return org.id


def test_numbering_per_series_year_and_organisation(
    engine: Engine, cycle_ids: tuple, settings: Settings
) -> None:
    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        first = issue(session, settings, org_id, "r1", cycle_id=cycle_id)
        second = issue(session, settings, org_id, "r2", cycle_id=cycle_id)
        memo = issue(
            session,
            settings,
            org_id,
            "m1",
            doc_type="memo",
            title="Справка",
            template="consents_missing.html",
            context={"cycle": {"school_year": "2026/2027"}, "missing": []},
        )
        next_year = issue(session, settings, org_id, "r2027", doc_date=date(2027, 1, 10))
        elsewhere = issue(session, settings, other_organization(session, "school-8"), "r-8")
        session.commit()
        assert [
            (d.series, d.year, d.number) for d in (first, second, memo, next_year, elsewhere)
        ] == [("Р", 2026, 1), ("Р", 2026, 2), ("С", 2026, 1), ("Р", 2027, 1), ("Р", 2026, 1)]
        assert second.label == "№ Р-2" and second.status == DocumentStatus.draft
        assert second.cycle_id == cycle_id and second.pages == 1

        text = pdf_text(document_file(settings=settings, document=second).read_bytes())
        assert "Реестр наставляемых № Р-2 от 14 июня 2026 г." in text
        assert "Минеральные Воды" in text  # organisation taken from the database


def test_issue_document_is_idempotent(engine: Engine, cycle_ids: tuple, settings: Settings) -> None:
    org_id, _ = cycle_ids
    with Session(engine) as session:
        first = issue(session, settings, org_id, "same")
        session.commit()
        again = issue(session, settings, org_id, "same", title="Другое название")
        session.commit()
        assert again.id == first.id and again.number == 1 and again.title == first.title
        assert session.exec(select(Document)).all() == [first]
    assert len(list(settings.documents_dir.rglob("*.pdf"))) == 1


def test_identical_content_is_stored_once(
    engine: Engine, cycle_ids: tuple, settings: Settings
) -> None:
    org_id, _ = cycle_ids
    with Session(engine) as session:
        twin = other_organization(session, "school-7-twin")
        first = issue(session, settings, org_id, "a")
        second = issue(session, settings, twin, "b")
        session.commit()
        assert first.id != second.id and first.number == second.number == 1
        assert first.content_hash == second.content_hash
        assert first.path == second.path == f"{first.content_hash[:2]}/{first.content_hash}.pdf"
    assert len(list(settings.documents_dir.rglob("*.pdf"))) == 1
    assert not list(settings.documents_dir.rglob(".tmp-*"))


def test_failed_render_or_rollback_leaves_nothing(
    engine: Engine, cycle_ids: tuple, settings: Settings
) -> None:
    org_id, _ = cycle_ids
    with Session(engine) as session:
        with pytest.raises(UndefinedError):
            issue(session, settings, org_id, "broken", context={"rows": []})
        # The caller's transaction survives the failed attempt and the number is not burnt.
        assert issue(session, settings, org_id, "ok").number == 1
        session.rollback()
    with Session(engine) as session:
        assert session.exec(select(Document)).all() == []


def test_set_document_status(engine: Engine, cycle_ids: tuple, settings: Settings) -> None:
    org_id, _ = cycle_ids
    with Session(engine) as session:
        document_id = issue(session, settings, org_id, "s").id
        session.commit()
        set_document_status(
            session=session, document_id=document_id, status=DocumentStatus.approved
        )
        session.commit()
    with Session(engine) as session:
        assert session.get(Document, document_id).status == DocumentStatus.approved
        with pytest.raises(LookupError):
            set_document_status(
                session=session, document_id=uuid.uuid4(), status=DocumentStatus.approved
            )


def test_unknown_document_type(engine: Engine, cycle_ids: tuple, settings: Settings) -> None:
    org_id, _ = cycle_ids
    with Session(engine) as session, pytest.raises(ValueError, match="unknown document type"):
        issue(session, settings, org_id, "x", doc_type="poem")
    assert "register" in documents.SERIES


def test_per_person_documents_show_no_names_where_everyone_looks() -> None:
    """Artifacts are seen by every Prefect user: consent forms and programmes appear there by
    their kind and number only (DESIGN §8, 152-ФЗ)."""
    from models.tables import Document

    consent = Document(
        unique_key="k",
        organization_id=uuid.uuid4(),
        doc_type="consent",
        series="Сг",
        year=2026,
        number=1,
        doc_date=date(2026, 11, 3),
        title="Согласие на участие в наставничестве: Волков Марк Евгеньевич",
        content_hash="0" * 64,
        path="x.pdf",
    )
    order = consent.model_copy(
        update={"doc_type": "order", "title": "Приказ о назначении наставников"}
    )
    assert documents.public_title(consent) == "Согласие на участие в наставничестве"
    assert documents.names_people(consent) and not documents.names_people(order)
    assert documents.public_title(order) == "Приказ о назначении наставников"


def test_a_large_batch_renders_in_processes_numbered_in_order(
    engine: Engine, cycle_ids: tuple, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Consent forms and programmes come in batches of dozens: they render in parallel
    processes, numbered in the order asked, and a second call issues nothing again."""
    from nastavnik.documents import MIN_PARALLEL_BATCH, DocumentRequest, issue_documents

    monkeypatch.setenv("NASTAVNIK_RENDER_PROCESSES", "2")
    org_id, cycle_id = cycle_ids
    requests = [
        DocumentRequest(
            unique_key=f"batch-{n}",
            organization_id=org_id,
            cycle_id=cycle_id,
            doc_type="register",
            title=f"Реестр {n}",
            template="register_mentees.html",
            context={"cycle": {"school_year": "2026/2027"}, "rows": []},
            doc_date=JUNE_14,
        )
        for n in range(MIN_PARALLEL_BATCH + 2)
    ]
    with Session(engine) as session:
        first = issue(session, settings, org_id, "before")  # № Р-1, alone
        issued = issue_documents(session=session, settings=settings, requests=requests)
        session.commit()
        assert [d.number for d in issued] == list(range(2, MIN_PARALLEL_BATCH + 4))
        for document in (first, issued[0], issued[-1]):
            text = pdf_text(document_file(settings=settings, document=document).read_bytes())
            assert f"{document.title} {document.label} от 14 июня 2026 г." in text
        again = issue_documents(session=session, settings=settings, requests=requests[::-1])
        assert [d.id for d in again] == [d.id for d in issued[::-1]]
        assert len(session.exec(select(Document)).all()) == MIN_PARALLEL_BATCH + 3


def test_personal_documents_are_rendered_on_first_opening(
    engine: Engine, cycle_ids: tuple, settings: Settings
) -> None:
    """A school's consent forms and programmes run to hundreds: each is kept as its source,
    fixed when issued (number, date, content hash), and becomes a PDF when first opened; the
    first of a batch is rendered at once, so a template WeasyPrint rejects fails the issuing."""
    import hashlib

    from nastavnik.documents import DocumentRequest, is_rendered, issue_documents

    org_id, cycle_id = cycle_ids
    requests = [
        DocumentRequest(
            unique_key=f"consent-{n}",
            organization_id=org_id,
            cycle_id=cycle_id,
            doc_type="consent",
            title=f"Согласие {n}",
            template="register_mentees.html",
            context={"cycle": {"school_year": "2026/2027"}, "rows": []},
            doc_date=JUNE_14,
        )
        for n in range(3)
    ]
    with Session(engine) as session:
        first, second, third = issue_documents(
            session=session, settings=settings, requests=requests
        )
        session.commit()
        assert [d.label for d in (first, second, third)] == ["№ Сг-1", "№ Сг-2", "№ Сг-3"]
        assert is_rendered(settings=settings, document=first)
        assert not is_rendered(settings=settings, document=second)
        assert not is_rendered(settings=settings, document=third)
        source = (settings.documents_dir / second.path).with_suffix(".html")
        assert hashlib.sha256(source.read_bytes()).hexdigest() == second.content_hash
        assert second.pages == 0

        pdf = document_file(settings=settings, document=second)
        assert "Согласие 1 № Сг-2 от 14 июня 2026 г." in pdf_text(pdf.read_bytes())
        made = pdf.stat().st_mtime_ns
        assert document_file(settings=settings, document=second).stat().st_mtime_ns == made
        again = issue_documents(session=session, settings=settings, requests=requests)
        assert [d.id for d in again] == [first.id, second.id, third.id]
    assert not is_rendered(settings=settings, document=third)
    assert not list(settings.documents_dir.rglob(".tmp-*"))


def test_a_document_asked_so_is_rendered_on_opening_after_its_templates_first(
    engine: Engine, cycle_ids: tuple, settings: Settings
) -> None:
    """The curator's monthly summary is issued by the tick for every organisation in turn and
    opened by one person, if at all: kept as its source like a personal document. A process
    renders a template's first such document at once (a template WeasyPrint rejects fails the
    tick, not the curator's download), then the next ones on opening."""
    from nastavnik.documents import is_rendered

    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        october, november = (
            issue(
                session,
                settings,
                org_id,
                f"summary-{month}",
                cycle_id=cycle_id,
                doc_type="report",
                title=f"Сводка {month}",
                template="register_mentors.html",
                render_on_opening=True,
            )
            for month in (10, 11)
        )
        session.commit()
        assert [october.label, november.label] == ["№ О-1", "№ О-2"]
        assert is_rendered(settings=settings, document=october)
        assert not is_rendered(settings=settings, document=november)
        assert november.pages == 0
        text = pdf_text(document_file(settings=settings, document=november).read_bytes())
        assert "Сводка 11 № О-2 от 14 июня 2026 г." in text


def test_a_failed_batch_gives_its_numbers_back(
    engine: Engine, cycle_ids: tuple, settings: Settings
) -> None:
    from nastavnik.documents import DocumentRequest, issue_documents

    org_id, _ = cycle_ids
    good = DocumentRequest(
        unique_key="good",
        organization_id=org_id,
        cycle_id=None,
        doc_type="register",
        title="Реестр",
        template="register_mentees.html",
        context={"cycle": {"school_year": "2026/2027"}, "rows": []},
        doc_date=JUNE_14,
    )
    broken = DocumentRequest(**{**good.__dict__, "unique_key": "broken", "context": {"rows": []}})
    with Session(engine) as session:
        with pytest.raises(UndefinedError):
            issue_documents(session=session, settings=settings, requests=[good, broken])
        assert issue(session, settings, org_id, "after").number == 1


def _render_a_batch_in_a_child() -> None:
    from nastavnik.documents import MIN_PARALLEL_BATCH, render_many

    html = "<html><body><p>Проверка</p></body></html>"
    assert len(render_many([html] * MIN_PARALLEL_BATCH)) == MIN_PARALLEL_BATCH


def test_a_process_that_rendered_a_batch_can_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flow run's process is a multiprocessing child: at exit it waits for its own children,
    so the render workers must be gone when the batch is done (a kept pool hung the run)."""
    import multiprocessing

    monkeypatch.setenv("NASTAVNIK_RENDER_PROCESSES", "2")
    child = multiprocessing.get_context("spawn").Process(target=_render_a_batch_in_a_child)
    child.start()
    child.join(timeout=120)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0
