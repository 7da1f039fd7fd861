"""«Доска почёта»: the nominated mentors who may be published, as a web page and an A3 poster.

Who appears (152-ФЗ; DESIGN §8): a mentor the curator nominated (nastavnik.final_event), in the
ranking's order, who is an adult on the board's date and whose written consent to publication
(ConsentKind.publication) is in force that day. Children never appear — not a pupil mentor, not
a mentee — and nobody's contact does: the board prints the name, the position or class, the
reward and, if one is supplied, a photo. A minor cannot give the consent at all (a guardian's
consent to publish a child on the school's board is out of this programme's scope).
"""

from __future__ import annotations

import base64
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlmodel import Session, select

from models import Consent, ConsentKind, Cycle, Organization, Participant, Person
from nastavnik.awards import nominees
from nastavnik.consents import is_minor
from nastavnik.documents import document_env, render_html
from nastavnik.final_event import REWARD_LABEL_RU
from nastavnik.settings import Settings

PHOTO_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
MAX_PHOTO_BYTES = 2 * 1024 * 1024


class PublicationRefused(ValueError):
    """The consent cannot be recorded (the message is Russian)."""


@dataclass(frozen=True)
class BoardEntry:
    """One mentor on the board: what is published, nothing more."""

    full_name: str
    position: str
    form: str
    reward_ru: str
    photo: str = ""  # a data: URI, so the page stays one self-contained file


@dataclass(frozen=True)
class HonourBoard:
    organization_name: str
    school_year: str
    on: date
    entries: list[BoardEntry]
    left_out: int  # nominees not shown (no consent, or a minor): a count, never names


@dataclass(frozen=True)
class PublishedBoard:
    html_path: Path
    pdf_path: Path
    shown: int
    left_out: int


def _is_child(person: Person, participant: Participant | None, on: date) -> bool:
    # A pupil whose birth date is unknown is presumed a minor (as nastavnik.consents does).
    unknown_pupil = (
        person.birth_date is None and participant is not None and participant.grade is not None
    )
    return is_minor(person.birth_date, on) or unknown_pupil


def _in_force(consent: Consent | None, on: date) -> bool:
    return (
        consent is not None
        and consent.given_on <= on
        and (consent.revoked_on is None or consent.revoked_on > on)
    )


def may_publish(
    *, person: Person, participant: Participant | None, consent: Consent | None, on: date
) -> bool:
    """Whether the person's name may be published on that day: an adult whose publication
    consent is in force (the honour board, the best-practice bank)."""
    return not _is_child(person, participant, on) and _in_force(consent, on)


def publication_consents(*, session: Session, cycle_id: uuid.UUID) -> dict[uuid.UUID, Consent]:
    """The cycle's publication consents by person id."""
    return {
        consent.person_id: consent
        for consent in session.exec(
            select(Consent).where(
                Consent.cycle_id == cycle_id, Consent.kind == ConsentKind.publication
            )
        )
    }


def record_publication_consent(
    *, session: Session, person_id: uuid.UUID, cycle_id: uuid.UUID, given_on: date, source: str
) -> Consent:
    """An adult's written consent to publication (name, position, photo); refused for a minor.
    Giving it again after a revocation renews it; giving it twice changes nothing."""
    person = session.get(Person, person_id)
    if person is None:
        raise LookupError(f"person {person_id} is not known")
    participant = session.exec(
        select(Participant).where(
            Participant.person_id == person_id, Participant.cycle_id == cycle_id
        )
    ).first()
    if _is_child(person, participant, given_on):
        raise PublicationRefused(
            f"{person.full_name}: несовершеннолетний, согласие на публикацию на доске почёта "
            "не принимается."
        )
    consent = session.exec(
        select(Consent).where(
            Consent.person_id == person_id,
            Consent.cycle_id == cycle_id,
            Consent.kind == ConsentKind.publication,
        )
    ).first()
    if consent is None:
        consent = Consent(
            person_id=person_id,
            cycle_id=cycle_id,
            kind=ConsentKind.publication,
            given_on=given_on,
            source=source,
        )
    elif consent.revoked_on is not None:
        consent.given_on, consent.revoked_on, consent.source = given_on, None, source
    session.add(consent)
    session.flush()
    return consent


def revoke_publication_consent(
    *, session: Session, person_id: uuid.UUID, cycle_id: uuid.UUID, revoked_on: date
) -> Consent | None:
    """Revoke the consent from that day (the next board leaves the person out)."""
    consent = session.exec(
        select(Consent).where(
            Consent.person_id == person_id,
            Consent.cycle_id == cycle_id,
            Consent.kind == ConsentKind.publication,
        )
    ).first()
    if consent is not None and consent.revoked_on is None:
        consent.revoked_on = revoked_on
        session.add(consent)
        session.flush()
    return consent


def _photo(photos_dir: Path | None, person: Person) -> str:
    """The person's photo `<person_key>.jpg|.jpeg|.png` as a data URI, or ""."""
    if photos_dir is None:
        return ""
    for suffix, mime in PHOTO_TYPES.items():
        path = photos_dir / f"{person.person_key}{suffix}"
        # The key comes from a questionnaire: never let it leave the photos folder.
        if path.resolve().parent != photos_dir.resolve() or not path.is_file():
            continue
        data = path.read_bytes()
        if len(data) > MAX_PHOTO_BYTES:
            continue
        return f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return ""


def honour_board(
    *, session: Session, cycle_id: uuid.UUID, on: date, photos_dir: Path | None = None
) -> HonourBoard:
    """The board on a date: nominated adults with publication consent, in ranking order."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} is not known")
    organization = session.get(Organization, cycle.organization_id)
    assert organization is not None
    chosen = nominees(session=session, cycle_id=cycle_id)
    consents = publication_consents(session=session, cycle_id=cycle_id)
    entries = [
        BoardEntry(
            full_name=n.person.full_name,
            position=n.position,
            form=n.participant.form.value,
            reward_ru=REWARD_LABEL_RU[n.nomination.reward],
            photo=_photo(photos_dir, n.person),
        )
        for n in chosen
        if may_publish(
            person=n.person, participant=n.participant, consent=consents.get(n.person.id), on=on
        )
    ]
    return HonourBoard(
        organization_name=organization.name,
        school_year=cycle.school_year,
        on=on,
        entries=entries,
        left_out=len(chosen) - len(entries),
    )


def board_html(board: HonourBoard) -> str:
    """The static page: one file, styles inline, works on a phone, no script."""
    return document_env().get_template("web/honour_board.html").render(board=board)


def board_pdf(board: HonourBoard) -> bytes:
    """The printable A3 poster."""
    html = document_env().get_template("documents/honour_board_a3.html").render(board=board)
    pdf, _pages = render_html(html)
    return pdf


def write_file(target: Path, data: bytes) -> None:
    """Write whole or not at all (temp file + rename): a web server never serves half a page."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def publish_honour_board(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    on: date,
    photos_dir: Path | None = None,
) -> PublishedBoard:
    """Write `publications/<cycle>/honour-board.html` and `honour-board-a3.pdf` under the data
    directory (replaced whole: a re-run after a revoked consent removes the person)."""
    board = honour_board(session=session, cycle_id=cycle_id, on=on, photos_dir=photos_dir)
    folder = settings.data_dir / "publications" / str(cycle_id)
    html_path, pdf_path = folder / "honour-board.html", folder / "honour-board-a3.pdf"
    write_file(html_path, board_html(board).encode())
    write_file(pdf_path, board_pdf(board))
    return PublishedBoard(html_path, pdf_path, len(board.entries), board.left_out)
