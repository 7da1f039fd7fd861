"""Pairing-stage documents read back from the PDF: mentors' order, draft, pairing order, consent,
personal programme."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import MentoringForm
from nastavnik.documents import SERIES, document_file, issue_document, render_pdf
from nastavnik.programmes import build_programme
from nastavnik.settings import Settings

ORGANIZATION = {
    "name": "Муниципальное общеобразовательное учреждение «Средняя школа № 2»",
    "short_name": "МОУ «СШ № 2»",
    "city": "Устюжна",
    "director_name": "Исакова Наталья Рудольфовна",
    "curator_name": "Петров Олег Ильич",
}
ORDER_DATE = date(2026, 11, 20)
STARTS_ON = date(2026, 11, 23)
ENDS_ON = date(2027, 5, 31)
HTML_NAME = "<b>Смирнов</b> Иван"


def pdf_text(pdf: bytes) -> str:
    """All text of the PDF, whitespace collapsed and hyphenation undone (table cells wrap)."""
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    return re.sub(r"(\w)[-\u2010] (\w)", r"\1\2", text)


def page_count(pdf: bytes) -> int:
    """Number of pages of the PDF."""
    return len(PdfReader(io.BytesIO(pdf)).pages)


def base_context(title: str, label: str) -> dict[str, Any]:
    """What issue_document would add: organisation, cycle and the document's number and date."""
    return {
        "organization": ORGANIZATION,
        "cycle": {"school_year": "2026/2027"},
        "document": {"title": title, "label": label, "date": ORDER_DATE},
    }


def mentors_order_context(count: int = 3, curator: str = "") -> dict[str, Any]:
    """A mentors' order with `count` mentors; `curator` non-empty adds the curator's item."""
    mentors = [
        {
            "number": i,
            "full_name": f"Наставникова{i} Вера Николаевна",
            "position": "учитель математики" if i % 2 else "ученик 10«А»",
            "form": "учитель–учитель" if i % 2 else "ученик–ученик",
            "training_result": "обучение пройдено (16 ч), собеседование пройдено",
        }
        for i in range(1, count + 1)
    ]
    mentors[0]["full_name"] = HTML_NAME
    return base_context("Приказ", "№ 37") | {
        "mentors": mentors,
        "curator_name_appointed": curator,
        "order_date": ORDER_DATE,
    }


def pair_rows(count: int) -> list[dict[str, Any]]:
    """`count` pairs; every third one is a group of two mentees."""
    pairs = []
    for i in range(1, count + 1):
        group = i % 3 == 0
        mentees = [f"Учеников{i} Пётр Сергеевич"]
        if group:
            mentees.append(f"Ученикова{i} Анна Павловна")
        pairs.append(
            {
                "number": i,
                "mentor_name": f"Наставников{i} Иван Петрович",
                "mentee_names": mentees,
                "form": "ученик–ученик",
                "score": round(0.95 - i / 100, 4),
                "reasons": [f"общий предмет: математика (пара {i})", "запрос «подготовка к ОГЭ»"],
                "is_group": group,
                "locked": i == 2,
                "starts_on": STARTS_ON,
                "ends_on": ENDS_ON,
            }
        )
    return pairs


def draft_context(count: int = 3) -> dict[str, Any]:
    """A draft of `count` pairs and one unmatched mentee."""
    pairs = pair_rows(count)
    return base_context("Справка", "№ С-4") | {
        "pairs": pairs,
        "unmatched": [{"full_name": "Зайцев Пётр", "reason": "нет наставника этой формы"}],
        "summary": {
            "matched": sum(len(p["mentee_names"]) for p in pairs),
            "unmatched": 1,
            "total_score": sum(p["score"] for p in pairs),
            "worst_name": pairs[-1]["mentee_names"][0] if pairs else "",
            "worst_score": pairs[-1]["score"] if pairs else None,
        },
    }


def pairing_order_context(count: int = 3) -> dict[str, Any]:
    """A pairing order fixing `count` pairs and groups."""
    pairs = pair_rows(count)
    pairs[0]["mentee_names"] = [HTML_NAME]
    return base_context("Приказ", "№ 41") | {"pairs": pairs, "order_date": ORDER_DATE}


def consent_context(*, role: str = "mentee", minor: bool = True, guardian: str = "") -> dict:
    """A consent of one participant to the pair with Орлова Вера Николаевна."""
    return base_context("Согласие на участие в программе наставничества", "№ Сг-3") | {
        "participant": {
            "full_name": "Кузнецов Иван Андреевич",
            "role": role,
            "is_minor": minor,
            "guardian_name": guardian,
        },
        "partners": ["Орлова Вера Николаевна"],
        "form": MentoringForm.student_student.value,
        "starts_on": STARTS_ON,
        "ends_on": ENDS_ON,
    }


def programme_context(mentees: list[str] | None = None) -> dict[str, Any]:
    """A student–student programme, Nov 2026 – May 2027, personalised for the ОГЭ."""
    mentee_names = mentees or ["Кузнецов Иван Андреевич"]
    programme = build_programme(
        form=MentoringForm.student_student,
        mentor_name="Орлова Вера Николаевна",
        mentee_names=mentee_names,
        mentee_requests=["подготовка к ОГЭ по математике", "адаптация в новом классе"],
        subjects=["математика"],
        starts_on=STARTS_ON,
        ends_on=ENDS_ON,
    )
    return base_context("Персонализированная программа наставничества", "№ П-7") | {
        "programme": programme.as_dict(),
        "mentor_name": "Орлова Вера Николаевна",
        "mentee_names": mentee_names,
        "starts_on": STARTS_ON,
        "ends_on": ENDS_ON,
    }


# --- mentors' order ----------------------------------------------------------------------------


def test_mentors_order_lists_every_mentor_without_curator_item() -> None:
    context = mentors_order_context(count=4)
    text = pdf_text(render_pdf("order_mentors.html", context))
    assert "Приказ № 37 от 20 ноября 2026 г." in text
    assert "О назначении наставников на 2026/2027 учебный год" in text
    assert "В соответствии с Положением о системе наставничества" in text
    assert "ПРИКАЗЫВАЮ" in text and "оставляю за собой" in text
    for mentor in context["mentors"]:
        assert mentor["full_name"] in text
    assert HTML_NAME in text  # escaped: printed literally, not bold
    assert "Назначить куратором" not in text
    assert "Приложение к приказу МОУ «СШ № 2» от 20.11.2026 № 37" in text
    assert "УТВЕРЖДАЮ" not in text  # an order is signed, not approved
    assert "Н. Р. Исакова" in text


def test_mentors_order_appoints_the_curator_only_when_given() -> None:
    text = pdf_text(
        render_pdf("order_mentors.html", mentors_order_context(curator="Сидорова Анна"))
    )
    assert "Назначить куратором программы наставничества" in text
    assert "Сидорова Анна" in text and "А. Сидорова" in text


# --- pairing draft -----------------------------------------------------------------------------


def test_pairing_draft_shows_pairs_scores_unmatched_and_summary() -> None:
    context = draft_context(count=3)
    text = pdf_text(render_pdf("pairing_draft.html", context))
    for pair in context["pairs"]:
        assert pair["mentor_name"] in text
        assert all(name in text for name in pair["mentee_names"])
        assert pair["reasons"][0] in text
    assert "94 %" in text  # score 0.94 as a percentage
    assert "группа (2)" in text and "закреплено куратором" in text
    assert "Зайцев Пётр" in text and "нет наставника этой формы" in text
    assert "Подобрано наставляемых: 4" in text and "Не подобрано: 1" in text
    assert "Суммарная совместимость: 2,79" in text
    assert "Учеников3 Пётр Сергеевич — 92 %" in text
    assert "УТВЕРЖДАЮ" not in text


def test_pairing_draft_with_nobody_matched() -> None:
    context = draft_context(count=0)
    context["summary"] |= {"matched": 0, "total_score": 0.0, "worst_name": "", "worst_score": None}
    text = pdf_text(render_pdf("pairing_draft.html", context))
    assert "Ни одна пара не подобрана" in text and "Наименьшая совместимость" not in text


# --- pairing order -----------------------------------------------------------------------------


def test_pairing_order_lists_pairs_names_terms_and_reasons() -> None:
    context = pairing_order_context(count=4)
    text = pdf_text(render_pdf("pairing_order.html", context))
    assert "О закреплении наставнических пар (групп) на 2026/2027 учебный год" in text
    assert "письменного согласия" in text and "п. 2.6" in text
    for pair in context["pairs"]:
        assert pair["mentor_name"] in text
        assert all(name in text for name in pair["mentee_names"])
        assert pair["reasons"][0] in text  # the appendix
    assert HTML_NAME in text
    assert "с 23 ноября 2026 г. по 31 мая 2027 г." in text
    assert "Обоснование подбора" in text and "оставляю за собой" in text


def test_long_pairing_order_splits_and_repeats_the_header() -> None:
    pdf = render_pdf("pairing_order.html", pairing_order_context(count=24))
    pages = page_count(pdf)
    assert pages >= 3
    reader = PdfReader(io.BytesIO(pdf))
    # The header row is printed again on each page the table continues on.
    assert "Наставляемый(е)" in reader.pages[1].extract_text()
    text = pdf_text(pdf)
    assert "Наставников24 Иван Петрович" in text and f"Стр. {pages} из {pages}" in text


# --- consent -----------------------------------------------------------------------------------


def test_consent_series() -> None:
    assert SERIES["consent"] == "Сг"


def test_minor_mentee_consent_is_signed_by_the_guardian() -> None:
    context = consent_context(guardian="Кузнецова Ольга Викторовна")
    pdf = render_pdf("consent_form.html", context)
    text = pdf_text(pdf)
    assert "Я, Кузнецова Ольга Викторовна, являясь законным представителем" in text
    assert "Кузнецов Иван Андреевич" in text and "в качестве наставляемого" in text
    assert "Орлова Вера Николаевна" in text and "ученик–ученик" in text
    assert "с 23 ноября 2026 г. по 31 мая 2027 г." in text
    assert "Законный представитель" in text and "О. В. Кузнецова" in text
    assert "п. 2.6" in text
    assert page_count(pdf) == 1


def test_adult_mentor_consent_and_guardian_left_blank() -> None:
    adult = pdf_text(render_pdf("consent_form.html", consent_context(role="mentor", minor=False)))
    assert "Я, Кузнецов Иван Андреевич, даю согласие" in adult
    assert "в качестве наставника" in adult and "Законный представитель" not in adult
    blank = pdf_text(render_pdf("consent_form.html", consent_context(guardian="")))
    assert "являясь законным представителем" in blank  # a line to fill in by hand


# --- personal programme ------------------------------------------------------------------------


def test_personal_programme_carries_names_months_meetings_and_tasks() -> None:
    context = programme_context(mentees=["Кузнецов Иван Андреевич", HTML_NAME])
    pdf = render_pdf("personal_programme.html", context)
    text = pdf_text(pdf)
    assert "Орлова Вера Николаевна" in text and "Кузнецов Иван Андреевич" in text
    assert HTML_NAME in text
    for month in ("Ноябрь 2026", "Декабрь 2026", "Январь 2027", "Май 2027"):
        assert month in text
    assert "Подготовка к ОГЭ по математике: разбор заданий" in text
    assert "Встреча-знакомство" in text and "Итоговая встреча" in text
    assert "С программой ознакомлен(а)" in text and "УТВЕРЖДАЮ" in text
    assert "с 23 ноября 2026 г. по 31 мая 2027 г." in text


# --- numbering through issue_document ----------------------------------------------------------


def test_issue_consent_is_numbered_in_its_own_series(
    engine: Engine, cycle_ids: tuple, settings: Settings
) -> None:
    org_id, cycle_id = cycle_ids
    context = consent_context(guardian="Кузнецова Ольга Викторовна")
    context = {k: v for k, v in context.items() if k not in ("organization", "document")}
    with Session(engine) as session:
        document = issue_document(
            session=session,
            settings=settings,
            unique_key="consent-1",
            organization_id=org_id,
            cycle_id=cycle_id,
            doc_type="consent",
            title="Согласие на участие в программе наставничества",
            template="consent_form.html",
            context=context,
            doc_date=ORDER_DATE,
        )
        session.commit()
        assert (document.series, document.number) == ("Сг", 1)
        text = pdf_text(document_file(settings=settings, document=document).read_bytes())
    assert "Согласие на участие в программе наставничества № Сг-1" in text


@pytest.mark.parametrize("form", list(MentoringForm))
def test_every_form_renders_a_one_pair_programme(form: MentoringForm) -> None:
    context = programme_context()
    context["programme"] = build_programme(
        form=form,
        mentor_name="Орлова Вера Николаевна",
        mentee_names=["Кузнецов Иван Андреевич"],
        mentee_requests=[],
        subjects=[],
        starts_on=date(2026, 10, 1),
        ends_on=date(2026, 12, 31),
    ).as_dict()
    context |= {"starts_on": date(2026, 10, 1), "ends_on": date(2026, 12, 31)}
    text = pdf_text(render_pdf("personal_programme.html", context))
    assert form.value in text and "Октябрь 2026" in text and "Декабрь 2026" in text
