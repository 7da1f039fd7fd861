"""The best-practice bank: mentors describe a practice through their link; the bank is compiled
into one HTML page and one PDF, each with a table of contents (no Prefect).

Seeds: «Формирование банка лучших практик» (roadmap_school7_mineralnye_vody.txt, item 13),
«Обобщение и распространение лучших практик наставничества» (roadmap_municipality_kedrovy.txt).
The bank is published, so an author is named only when an adult with a consent to publication
in force (nastavnik.honour_board.may_publish); otherwise the entry says «наставник» and the form.
A mentee is never named, and the texts are the mentor's own words about the work.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, select

from models import (
    BestPractice,
    Cycle,
    MentorshipPair,
    Organization,
    Participant,
    Person,
)
from nastavnik import repository
from nastavnik.documents import document_env, render_html
from nastavnik.honour_board import may_publish, publication_consents, write_file
from nastavnik.settings import Settings

TITLE_MAX = 200
TEXT_MAX = 4000


class PracticeRefused(ValueError):
    """The practice cannot be saved; `message_ru` says why, `status_code` how to answer."""

    def __init__(self, message_ru: str, status_code: int = 422) -> None:
        super().__init__(message_ru)
        self.message_ru = message_ru
        self.status_code = status_code


def _clean(text: str) -> str:
    # Line breaks are kept (paragraphs), the rest of the whitespace folded.
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


def practice_of(
    *, session: Session, cycle_id: uuid.UUID, mentor_id: uuid.UUID
) -> BestPractice | None:
    """The mentor's practice of the cycle, if submitted."""
    return session.exec(
        select(BestPractice).where(
            BestPractice.cycle_id == cycle_id, BestPractice.mentor_id == mentor_id
        )
    ).first()


def submit_practice(
    *,
    session: Session,
    pair_id: uuid.UUID,
    participant_id: uuid.UUID,
    title: str,
    summary: str,
    results: str,
    now: datetime,
    today: date,
    source: str = "link",
) -> BestPractice:
    """Save the mentor's practice (only the pair's mentor may; again replaces the text).
    Refusals and submissions are audited."""
    pair = session.get(MentorshipPair, pair_id)
    if pair is None:
        raise PracticeRefused("Пара не найдена.", 404)
    if pair.mentor_id != participant_id:
        repository.record_audit(
            session=session,
            actor=f"participant:{participant_id}",
            action="practice.refused",
            cycle_id=pair.cycle_id,
            entity=f"pair:{pair_id}",
            details={"reason": "not the pair's mentor"},
            at=now,
        )
        raise PracticeRefused("Описать практику может только наставник пары.", 403)
    title, summary, results = _clean(title), _clean(summary), _clean(results)
    if not title:
        raise PracticeRefused("Укажите название практики.")
    if len(title) > TITLE_MAX:
        raise PracticeRefused(f"Название длиннее {TITLE_MAX} символов.")
    if not summary:
        raise PracticeRefused("Опишите практику: что и как вы делали.")
    for label, text in (("Описание", summary), ("Результаты", results)):
        if len(text) > TEXT_MAX:
            raise PracticeRefused(f"{label}: не более {TEXT_MAX} символов.")
    practice = practice_of(session=session, cycle_id=pair.cycle_id, mentor_id=participant_id)
    if practice is None:
        practice = BestPractice(
            cycle_id=pair.cycle_id,
            mentor_id=participant_id,
            pair_id=pair_id,
            title=title,
            summary=summary,
            results=results,
            submitted_on=today,
            source=source,
            updated_at=now,
        )
    else:
        practice.pair_id, practice.title, practice.summary = pair_id, title, summary
        practice.results, practice.submitted_on, practice.source = results, today, source
        practice.updated_at = now
    session.add(practice)
    session.flush()
    repository.record_audit(
        session=session,
        actor=f"participant:{participant_id}",
        action="practice.submitted",
        cycle_id=pair.cycle_id,
        entity=f"practice:{practice.id}",
        details={"source": source},
        at=now,
    )
    return practice


@dataclass(frozen=True)
class BankEntry:
    number: int
    anchor: str
    title: str
    author: str  # the name, or «наставник» when it may not be published
    form: str
    summary: list[str]  # paragraphs
    results: list[str]


@dataclass(frozen=True)
class PracticeBank:
    organization_name: str
    school_year: str
    on: date
    entries: list[BankEntry]


def compile_bank(*, session: Session, cycle_id: uuid.UUID, on: date) -> PracticeBank:
    """The cycle's practices by title (then author id, for a stable order)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} is not known")
    organization = session.get(Organization, cycle.organization_id)
    assert organization is not None
    consents = publication_consents(session=session, cycle_id=cycle_id)
    rows = session.exec(
        select(BestPractice, Participant, Person).where(
            BestPractice.cycle_id == cycle_id,
            BestPractice.mentor_id == Participant.id,
            Participant.person_id == Person.id,
        )
    ).all()
    rows = sorted(rows, key=lambda row: (row[0].title.casefold(), str(row[0].mentor_id)))
    entries = []
    for number, (practice, participant, person) in enumerate(rows, start=1):
        named = may_publish(
            person=person, participant=participant, consent=consents.get(person.id), on=on
        )
        entries.append(
            BankEntry(
                number=number,
                anchor=f"practice-{number}",
                title=practice.title,
                author=person.full_name if named else "наставник",
                form=participant.form.value,
                summary=[p for p in practice.summary.split("\n") if p],
                results=[p for p in practice.results.split("\n") if p],
            )
        )
    return PracticeBank(organization.name, cycle.school_year, on, entries)


def bank_html(bank: PracticeBank) -> str:
    """The bank as one self-contained web page with a table of contents."""
    return document_env().get_template("web/practice_bank.html").render(bank=bank)


def bank_pdf(bank: PracticeBank) -> bytes:
    """The bank as a PDF: a table of contents with page numbers, a practice per section."""
    html = document_env().get_template("documents/practice_bank.html").render(bank=bank)
    pdf, _pages = render_html(html)
    return pdf


@dataclass(frozen=True)
class PublishedBank:
    html_path: Path
    pdf_path: Path
    practices: int


def publish_bank(
    *, session: Session, settings: Settings, cycle_id: uuid.UUID, on: date
) -> PublishedBank:
    """Write `publications/<cycle>/practice-bank.html` and `.pdf` (replaced whole each time)."""
    bank = compile_bank(session=session, cycle_id=cycle_id, on=on)
    folder = settings.data_dir / "publications" / str(cycle_id)
    html_path, pdf_path = folder / "practice-bank.html", folder / "practice-bank.pdf"
    write_file(html_path, bank_html(bank).encode())
    write_file(pdf_path, bank_pdf(bank))
    return PublishedBank(html_path, pdf_path, len(bank.entries))
