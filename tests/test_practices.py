"""The best-practice bank: the mentor describes a practice through the personal link; the bank
is compiled into one page and one PDF with a table of contents; authors are named only with an
adult's consent to publication, mentees never.

Seeds: «Формирование банка лучших практик» (roadmap_school7_mineralnye_vody.txt, item 13);
DESIGN §11: the link opens the owner's own page only, every use is audited.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from pypdf import PdfReader
from sqlmodel import Session, select

from models import AuditEvent, BestPractice, Participant, Person
from nastavnik import honour_board, practices
from tests.test_links import _issue, school, web  # noqa: F401

PRACTICE = {
    "title": "Дневник маленьких побед",
    "summary": "Каждую неделю наставляемый записывал одно достижение.\nРазбирали их на встрече.",
    "results": "Выросла уверенность при ответах у доски.",
}
NOW = datetime(2027, 6, 5, 9, tzinfo=UTC)


def _practices(engine) -> list[BestPractice]:
    with Session(engine) as session:
        return list(session.exec(select(BestPractice)))


def test_the_mentor_submits_a_practice_through_the_link(engine, settings, school, web):  # noqa: F811
    client, _ = web
    token = _issue(engine, settings, school.mentor_a, school.pair_a)
    assert f'href="/p/{token}/practice"' in client.get(f"/p/{token}").text
    form = client.get(f"/p/{token}/practice")
    assert form.status_code == 200 and f'action="/p/{token}/practice"' in form.text
    saved = client.post(f"/p/{token}/practice", data=PRACTICE)
    assert (saved.status_code, saved.headers["location"]) == (
        303,
        f"/p/{token}/practice?done=1",
    )
    shown = client.get(saved.headers["location"])
    assert "Практика сохранена. Спасибо!" in shown.text and "Дневник маленьких побед" in shown.text
    # Sent again with a new title: still one practice per mentor, the text replaced.
    again = {**PRACTICE, "title": "Дневник побед"}
    assert client.post(f"/p/{token}/practice", data=again).status_code == 303
    (practice,) = _practices(engine)
    assert (practice.mentor_id, practice.title, practice.source) == (
        school.mentor_a,
        "Дневник побед",
        "link",
    )
    assert practice.summary.split("\n") == [
        "Каждую неделю наставляемый записывал одно достижение.",
        "Разбирали их на встрече.",
    ]
    # Bad input: a clear message, the typed text kept, nothing saved.
    empty = client.post(f"/p/{token}/practice", data={**PRACTICE, "title": "  "})
    assert empty.status_code == 422 and "Укажите название практики." in empty.text
    assert "Разбирали их на встрече." in empty.text
    assert _practices(engine)[0].title == "Дневник побед"


def test_a_mentees_link_cannot_submit_a_practice(engine, settings, school, web):  # noqa: F811
    client, _ = web
    token = _issue(engine, settings, school.mentee_a, school.pair_a)
    assert f"/p/{token}/practice" not in client.get(f"/p/{token}").text
    assert client.get(f"/p/{token}/practice").status_code == 403
    refused = client.post(f"/p/{token}/practice", data=PRACTICE)
    assert refused.status_code == 403 and "Только для наставника" in refused.text
    assert _practices(engine) == []
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "practice.refused"))
        assert [e.actor for e in events] == [f"participant:{school.mentee_a}"]


def test_the_bank_has_contents_and_names_only_consenting_adults(
    engine,
    settings,
    school,  # noqa: F811
) -> None:
    with Session(engine) as session:
        for mentor, pair, title in (
            (school.mentor_a, school.pair_a, "Дневник маленьких побед"),
            (school.mentor_b, school.pair_b, "Аудиокниги вместо учебника"),
        ):
            participant = session.get(Participant, mentor)
            assert participant is not None
            person = session.get(Person, participant.person_id)
            assert person is not None
            person.birth_date = date(1985, 1, 1)
            practices.submit_practice(
                session=session,
                pair_id=pair,
                participant_id=mentor,
                title=title,
                summary="Описание практики.\nВторой абзац.",
                results="Результат.",
                now=NOW,
                today=NOW.date(),
            )
        named = session.get(Participant, school.mentor_a)
        assert named is not None
        honour_board.record_publication_consent(
            session=session,
            person_id=named.person_id,
            cycle_id=school.cycle_id,
            given_on=date(2027, 6, 1),
            source="заявление",
        )
        published = practices.publish_bank(
            session=session, settings=settings, cycle_id=school.cycle_id, on=NOW.date()
        )
    assert published.practices == 2
    page = published.html_path.read_text()
    reader = PdfReader(io.BytesIO(published.pdf_path.read_bytes()))
    assert len(reader.pages) == 3  # the contents, then a page per practice
    # Sorted by title; the contents give each practice's page on the title's line.
    lines = [
        " ".join(line.split())
        for line in reader.pages[0].extract_text(extraction_mode="layout").splitlines()
    ]
    assert "1. Аудиокниги вместо учебника 2" in lines
    assert "2. Дневник маленьких побед 3" in lines
    assert "Аудиокниги вместо учебника" in reader.pages[1].extract_text()
    for text in (page, " ".join(p.extract_text() for p in reader.pages)):
        assert "Смирнова Анна Сергеевна" in text  # adult, consented
        assert "Орлов" not in text  # adult without consent: «наставник»
        assert "Автор: наставник; форма наставничества: ученик–ученик" in " ".join(text.split())
        for mentee in ("Кузнецов", "Лебедева"):
            assert mentee not in text
    assert '<a href="#practice-1">Аудиокниги вместо учебника</a>' in page
    assert 'id="practice-2"' in page and "<script" not in page
