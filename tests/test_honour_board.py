"""«Доска почёта»: only adults who agreed to publication; no child, no contact (152-ФЗ).

DESIGN §8: «Minors' data is personal data … process only with consent … honour revocation»;
issue 9: «showing only adults who agreed to publication, built from the ranking and the
curator's choice».
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlmodel import Session

from nastavnik import honour_board
from nastavnik.honour_board import PublicationRefused
from tests.final_event_school import BOARD_DAY, build_school

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def test_board_shows_only_consenting_adults_and_no_child_or_contact(
    engine, cycle_ids, settings, tmp_path
) -> None:
    school = build_school(engine, cycle_ids)
    photos = tmp_path / "photos"
    photos.mkdir()
    with Session(engine) as session:
        consenting = session.get(honour_board.Person, school.consenting.person_id)
        assert consenting is not None
        (photos / f"{consenting.person_key}.png").write_bytes(PNG)
        published = honour_board.publish_honour_board(
            session=session, settings=settings, cycle_id=school.cycle_id, on=BOARD_DAY,
            photos_dir=photos,
        )  # fmt: skip
    assert (published.shown, published.left_out) == (1, 3)
    page = published.html_path.read_text()
    reader = PdfReader(io.BytesIO(published.pdf_path.read_bytes()))
    poster = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    # A3 portrait: 297 × 420 mm.
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (297, 420)
    for text in (page, poster):
        assert "Алексеева Анна Петровна" in text and "почётная грамота" in text
        for absent in (
            school.silent,  # never agreed
            school.revoked,  # agreed, then revoked
            school.pupil,  # a child, whatever the consent table says
            school.not_nominated,  # agreed, not chosen by the curator
        ):
            assert absent.full_name not in text
            assert absent.full_name.split()[0] not in text
        for child in school.children:
            assert child not in text and child.split()[0] not in text
        for contact in school.contacts:
            assert contact not in text
        assert "@" not in text and "+7" not in text
    assert 'src="data:image/png;base64,' in page  # the photo travels inside the one file
    assert '<meta name="viewport"' in page and "<script" not in page


def test_a_minor_cannot_consent_and_a_renewed_consent_counts(engine, cycle_ids) -> None:
    school = build_school(engine, cycle_ids)
    with Session(engine) as session:
        with pytest.raises(PublicationRefused, match="несовершеннолетний"):
            honour_board.record_publication_consent(
                session=session, person_id=school.pupil.person_id, cycle_id=school.cycle_id,
                given_on=BOARD_DAY, source="заявление",
            )  # fmt: skip
        honour_board.record_publication_consent(
            session=session, person_id=school.revoked.person_id, cycle_id=school.cycle_id,
            given_on=date(2027, 6, 15), source="заявление повторно",
        )  # fmt: skip
        board = honour_board.honour_board(session=session, cycle_id=school.cycle_id, on=BOARD_DAY)
        assert [e.full_name for e in board.entries] == [
            school.consenting.full_name,
            school.revoked.full_name,
        ]
        # Not yet in force the day before it was given.
        earlier = honour_board.honour_board(
            session=session, cycle_id=school.cycle_id, on=date(2027, 6, 14)
        )
        assert [e.full_name for e in earlier.entries] == [school.consenting.full_name]
