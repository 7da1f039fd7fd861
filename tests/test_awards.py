"""The final event's documents: the two orders and a letter or certificate per nominee, read
back from the PDFs; a re-run issues nothing twice.

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §2.16: «объявление
благодарности, награждение почетной грамотой организации, вручение ценного подарка;
материальное поощрение (выплаты стимулирующего характера …)».
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlmodel import Session, func, select

from models import Document
from nastavnik import awards, final_event
from nastavnik.awards import AwardsRefused, FinalEventPlan
from nastavnik.documents import document_file
from nastavnik.settings import Settings
from tests.final_event_school import build_school

ORDER_DAY = date(2027, 6, 1)
EVENT = FinalEventPlan(
    title="Наставник года", held_on=date(2027, 6, 10), place="актовый зал", time="14:00"
)


def _text(settings: Settings, document: Document) -> str:
    reader = PdfReader(io.BytesIO(document_file(settings=settings, document=document).read_bytes()))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_address_follows_the_patronymic() -> None:
    assert (
        awards.address_ru(first_name="Анна", middle_name="Петровна") == "Уважаемая Анна Петровна!"
    )
    assert (
        awards.address_ru(first_name="Глеб", middle_name="Артёмович") == "Уважаемый Глеб Артёмович!"
    )
    assert awards.address_ru(first_name="Саша", middle_name="") == "Уважаемый(ая) Саша!"


def test_orders_and_letters_read_back_and_are_issued_once(engine, cycle_ids, settings) -> None:
    school = build_school(engine, cycle_ids)
    with Session(engine) as session:
        event = awards.issue_event_order(
            session=session, settings=settings, cycle_id=school.cycle_id, plan=EVENT,
            order_date=ORDER_DAY,
        )  # fmt: skip
        order = awards.issue_rewards_order(
            session=session, settings=settings, cycle_id=school.cycle_id, order_date=ORDER_DAY
        )
        papers = awards.issue_award_documents(
            session=session,
            settings=settings,
            cycle_id=school.cycle_id,
            doc_date=EVENT.held_on,
            rewards_order_id=order.id,
        )
        session.commit()
        event_text, order_text = _text(settings, event), _text(settings, order)
        assert "О проведении итогового мероприятия программы наставничества" in event_text
        assert "«Наставник года» 10 июня 2027 г. в 14:00; место проведения: актовый зал" in (
            event_text
        )
        assert "Программа итогового мероприятия" in event_text
        assert "О поощрении наставников по итогам 2026/2027 учебного года" in order_text
        assert "Наградить почётной грамотой СШ № 7 наставников: Алексеева Анна Петровна" in (
            order_text
        )
        assert "Объявить благодарность наставникам: Гусев Глеб Артёмович (обучающийся 10А" in (
            order_text
        )
        assert "Вручить ценный подарок наставникам: Ветрова Вера Олеговна" in order_text
        assert "Выплатить премию" in order_text and "Борисов Борис Ильич" in order_text
        assert "Бухгалтерии СШ № 7 произвести выплату премии" in order_text
        assert "Всего: 4" in order_text
        # Mentees are children: they are nobody's business in a rewards order.
        for child in school.children:
            assert child not in order_text

        assert len(papers) == 4
        texts = {paper.unique_key.rsplit(":", 2)[1]: _text(settings, paper) for paper in papers}
        top = texts[str(school.consenting.participant_id)]
        assert "ПОЧЁТНАЯ ГРАМОТА" in top and "награждается" in top
        assert "Алексеева Анна Петровна учитель математики" in top
        assert f"приказ СШ № 7 от 01.06.2027 {order.label} «О поощрении наставников»" in top
        letter = texts[str(school.revoked.participant_id)]
        assert "БЛАГОДАРСТВЕННОЕ ПИСЬМО" in letter and "Уважаемая Вера Олеговна!" in letter
        pupil = texts[str(school.pupil.participant_id)]
        assert "Уважаемый Глеб Артёмович!" in pupil and "2026/2027 учебном году" in pupil
        for paper in papers:
            # Personal papers are rendered on first opening (above): each is one page.
            assert paper.doc_type == "certificate" and paper.pages == 0
            pdf = document_file(settings=settings, document=paper)
            assert len(PdfReader(pdf).pages) == 1
        # The labels are numbered in one series, in the ranking's order.
        assert sorted(p.number for p in papers) == list(range(1, 5))

        # A re-run (a resumed flow) issues nothing again.
        before = session.exec(select(func.count()).select_from(Document)).one()
        again = awards.issue_award_documents(
            session=session,
            settings=settings,
            cycle_id=school.cycle_id,
            doc_date=EVENT.held_on,
            rewards_order_id=order.id,
        )
        assert [d.id for d in again] == [d.id for d in papers]
        assert (
            awards.issue_rewards_order(
                session=session, settings=settings, cycle_id=school.cycle_id, order_date=ORDER_DAY
            ).id
            == order.id
        )
        assert (
            awards.issue_event_order(
                session=session, settings=settings, cycle_id=school.cycle_id, plan=EVENT,
                order_date=ORDER_DAY,
            ).id
            == event.id
        )  # fmt: skip
        assert session.exec(select(func.count()).select_from(Document)).one() == before == 6


def test_no_order_without_nominees_and_no_event_before_its_order(
    engine, cycle_ids, settings
) -> None:
    _, cycle_id = cycle_ids
    with Session(engine) as session:
        with pytest.raises(AwardsRefused, match="Нет ни одного наставника"):
            awards.issue_rewards_order(
                session=session, settings=settings, cycle_id=cycle_id, order_date=ORDER_DAY
            )
        with pytest.raises(AwardsRefused, match="раньше даты приказа"):
            awards.issue_event_order(
                session=session, settings=settings, cycle_id=cycle_id, plan=EVENT,
                order_date=date(2027, 6, 11),
            )  # fmt: skip


def test_ranking_memo_shows_reasons_and_the_curators_choice(engine, cycle_ids, settings) -> None:
    school = build_school(engine, cycle_ids)
    with Session(engine) as session:
        ranking = final_event.cycle_ranking(
            session=session, cycle_id=school.cycle_id, as_of=ORDER_DAY
        )
        memo = awards.issue_ranking_memo(
            session=session,
            settings=settings,
            cycle_id=school.cycle_id,
            ranking=ranking,
            as_of=ORDER_DAY,
        )
        text = _text(settings, memo)
    assert "Рейтинг наставников и выдвижение к поощрению" in text
    assert "встречи по программе — 30" in text
    assert "Наставников в рейтинге: 5; выдвинуто к поощрению: 4" in text
    assert text.count("Представление") == 4  # the curator's comment on each choice
    assert "пары завершены: 1 из 1" in text
    for child in school.children:
        assert child not in text
