"""The completion stage's documents read back from the PDF: the reports put to the director and
the memo «Справка по результатам оценки и обратной связи» with its charts (vector, labelled,
no names in them)."""

from __future__ import annotations

import re
from datetime import date

from pypdf import PdfReader
from sqlmodel import Session, select

from models import CompletionReport, Document, Participant
from nastavnik import completion_documents, documents, indicators
from tests.test_completion import (  # noqa: F401
    JUNE_12,
    MENTEES,
    MENTOR_1,
    MENTOR_2,
    _interview,
    school,
)
from tests.test_indicators import _year_end


def _pdf_text(settings, document: Document) -> tuple[str, PdfReader]:
    reader = PdfReader(documents.document_file(settings=settings, document=document))
    return "\n".join(page.extract_text() for page in reader.pages), reader


def test_the_reports_read_back_from_the_pdf(engine, settings, school) -> None:  # noqa: F811
    _year_end(engine, school)
    _interview(engine, school.ended.id, school.ended.mentee_id, date(2027, 6, 7))
    with Session(engine) as session:
        document = completion_documents.issue_reports_document(
            session=session, settings=settings, cycle_id=school.cycle_id, on=JUNE_12
        )
        again = completion_documents.issue_reports_document(
            session=session, settings=settings, cycle_id=school.cycle_id, on=JUNE_12
        )
        session.commit()
        assert again.id == document.id  # one document per cycle and day, never two
        text, _ = _pdf_text(settings, document)
    flat = " ".join(text.split())
    assert "Отчёты по завершении наставничества" in flat
    assert f"{MENTOR_1} — {MENTEES['ended']}" in flat
    assert "Индивидуальный план выполнен полностью." in flat
    assert "Оценка работы наставника: 10 из 10." in flat
    assert "Освоил приёмы решения олимпиадных задач" in flat
    assert "прекращено досрочно приказом, п. 2.10" in flat  # the terminated pair
    assert "Отчёт не сдан." in flat  # B's mentee
    assert "сдан с опозданием" in flat  # C's mentor
    assert "удовлетворённость программой — 9" in flat
    assert (
        "Собеседование директора по окончании наставничества (п. 3.1): 07.06.2027, "
        "Иванова Мария Петровна: Готов работать самостоятельно." in flat
    )
    assert "Собеседование директора (п. 3.1): не проведено." in flat  # the other mentees


def test_the_director_approves_the_reports_once(engine, school) -> None:  # noqa: F811
    _year_end(engine, school)
    with Session(engine) as session:
        first = completion_documents.approve_reports(
            session=session, cycle_id=school.cycle_id, on=date(2027, 6, 15)
        )
        second = completion_documents.approve_reports(
            session=session, cycle_id=school.cycle_id, on=date(2027, 6, 16)
        )
        session.commit()
        approved = {r.approved_on for r in session.exec(select(CompletionReport))}
    assert (first, second) == (5, 0) and approved == {date(2027, 6, 15)}


def test_the_memo_has_vector_charts_with_their_labels_and_no_names(
    engine,
    settings,
    school,  # noqa: F811
) -> None:
    _year_end(engine, school)
    with Session(engine) as session:
        pupil = session.get(Participant, school.past_end.mentor_id)
        pupil.grade = 11  # a pupil mentor: a child, named nowhere in the memo
        session.add(pupil)
        session.commit()
        result = indicators.cycle_indicators(
            session=session, cycle_id=school.cycle_id, today=JUNE_12
        )
        charts = completion_documents.memo_charts(result)
        document = completion_documents.issue_memo(
            session=session, settings=settings, cycle_id=school.cycle_id, on=JUNE_12
        )
        session.commit()
        text, reader = _pdf_text(settings, document)
    # The charts: SVG with text kept as text, deterministic, no person's name in them.
    assert [c.title for c in charts] == [
        "Показатели программы наставничества",
        "Удовлетворённость программой по формам наставничества",
    ]
    assert charts[0].svg == completion_documents.shares_chart_svg(result)
    chart_texts = " ".join(
        t for chart in charts for t in re.findall(r"<text[^>]*>([^<]*)</text>", chart.svg)
    )
    assert "Отчёты сданы в срок" in chart_texts and "66,7 % (4 из 6)" in chart_texts
    assert "«ученик–ученик»" in chart_texts and "наставляемые" in chart_texts
    people = [MENTOR_1, MENTOR_2, *MENTEES.values()]
    for name in people:
        for part in name.split():
            assert part not in chart_texts
    # The PDF: the memo's text, the formulas, the charts' labels as text, drawn as vectors.
    flat = " ".join(text.split())
    assert "Справка по результатам оценки и обратной связи" in flat
    assert "Отчёты в срок = отчёты, сданные не позднее N дней" in flat
    assert "63,6 %" in flat and "7 из 11" in flat
    assert "Диаграмма 1. Показатели программы наставничества" in flat
    assert "66,7 % (4 из 6)" in text  # a label drawn inside the chart, read back as text
    assert "среднее, 1–10" in text  # the satisfaction chart's axis
    assert not any(page.images for page in reader.pages)  # vectors, not pictures
    forms = [
        obj.get_object()
        for page in reader.pages
        for obj in (page["/Resources"].get("/XObject") or {}).values()
    ]
    assert any(form.get("/Subtype") == "/Form" for form in forms)  # the SVGs, as vector forms
    # Adults only: adult mentors are named in the results table; no mentee, no pupil mentor.
    assert MENTOR_1 in flat
    assert re.search(r"наставник-\s?обучающийся", flat)
    assert MENTOR_2 not in flat
    for name in MENTEES.values():
        assert name not in flat and name.split()[0] not in flat


def test_the_self_diagnostics_memo_reads_back(engine, settings, school) -> None:  # noqa: F811
    """Seed school №7, item 6: «Самодиагностика реализации планов мероприятий (дорожной карты),
    эффективности программ наставничества. Июнь. Ежегодно»."""
    from tests.test_roadmap_report import _make_plan

    _year_end(engine, school)
    with Session(engine) as session:
        bare = completion_documents.self_diagnostics_context(
            session=session, cycle_id=school.cycle_id, today=JUNE_12
        )
    assert bare["roadmap"] is None  # no plan in the system: the section says so
    _make_plan(engine, school.cycle_id)
    with Session(engine) as session:
        document = completion_documents.issue_self_diagnostics(
            session=session, settings=settings, cycle_id=school.cycle_id, on=JUNE_12
        )
        session.commit()
        text, _ = _pdf_text(settings, document)
    flat = " ".join(text.split())
    assert "Справка по результатам самодиагностики" in flat
    assert "«Дорожная карта СШ № 7»: выполнено 3 из" in flat
    assert "Формирование базы наставников — выполнен с опозданием на 5 дн." in flat
    assert "Мониторинг программы — просрочен" in flat
    # 66,7 % of mentees completed and of reports in time, meetings 63,6 %: below 80 %.
    assert "Требуют внимания" in flat and "Отчёты сданы в срок: 66,7 % (4 из 6)" in flat
    for name in [MENTOR_1, MENTOR_2, *MENTEES.values()]:
        assert name not in flat


def test_the_stage_issues_its_four_documents_reading_the_indicators_once(
    engine,
    settings,
    school,  # noqa: F811
    monkeypatch,
) -> None:
    """The memo and the self-diagnostics read one computation of the indicators; issuing again
    finds the same four documents."""
    _year_end(engine, school)
    computed = []
    real = indicators.cycle_indicators

    def counted(**kwargs):
        computed.append(kwargs["today"])
        return real(**kwargs)

    monkeypatch.setattr(indicators, "cycle_indicators", counted)
    with Session(engine) as session:
        issued = completion_documents.issue_completion_documents(
            session=session, settings=settings, cycle_id=school.cycle_id, on=JUNE_12
        )
        session.commit()
        again = completion_documents.issue_completion_documents(
            session=session, settings=settings, cycle_id=school.cycle_id, on=JUNE_12
        )
        titles = [_pdf_text(settings, document)[0] for document in issued]
    assert computed == [JUNE_12, JUNE_12]  # once a call, not once a memo
    assert [d.id for d in again] == [d.id for d in issued]
    assert [d.doc_type for d in issued] == ["report", "memo", "memo", "order"]
    flat = [" ".join(text.split()) for text in titles]
    assert "Отчёты по завершении наставничества" in flat[0]
    assert "Справка по результатам оценки" in flat[1]
    assert "Справка по результатам самодиагностики" in flat[2]
    assert "Об итогах реализации программы наставничества" in flat[3]
