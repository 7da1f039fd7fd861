"""Personal programmes: the target model's meeting sequence, months, personalisation, forms."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import MeetingKind, MentoringForm
from nastavnik.programmes import (
    JOINT_MEETINGS_PER_MONTH,
    MONTHLY_REPORT_TASK,
    ProgrammeContent,
    build_programme,
    month_label,
    term_months,
)

NOV_23 = date(2026, 11, 23)
MAY_31 = date(2027, 5, 31)
KIND_ORDER = [
    MeetingKind.intro,
    MeetingKind.trial,
    MeetingKind.planning,
    MeetingKind.joint_work,
    MeetingKind.final,
]


def build(**overrides: Any) -> ProgrammeContent:
    """A student–student programme for Nov 2026 – May 2027 unless overridden."""
    args: dict[str, Any] = {
        "form": MentoringForm.student_student,
        "mentor_name": "Орлова Вера Николаевна",
        "mentee_names": ["Кузнецов Иван Андреевич"],
        "mentee_requests": [],
        "subjects": [],
        "starts_on": NOV_23,
        "ends_on": MAY_31,
    }
    args.update(overrides)
    return build_programme(**args)


def all_tasks(programme: ProgrammeContent) -> list[str]:
    """Every task of every month, in order."""
    return [task for _month, tasks in programme.tasks_by_month for task in tasks]


def assert_meeting_plan_follows_the_target_model(programme: ProgrammeContent) -> None:
    """intro, trial, planning, ≥1 joint work (feedback each), final; months in term order."""
    kinds = [meeting.kind for meeting in programme.meetings]
    assert kinds[:3] == KIND_ORDER[:3] and kinds[-1] == MeetingKind.final
    assert set(kinds[3:-1]) == {MeetingKind.joint_work}
    assert all(m.feedback_required for m in programme.meetings if m.kind == MeetingKind.joint_work)
    months = [month for month, _tasks in programme.tasks_by_month]
    positions = [months.index(meeting.month) for meeting in programme.meetings]  # in the term
    assert positions == sorted(positions)
    assert positions[0] == 0 and positions[-1] == len(months) - 1


def test_month_labels_are_russian_nominative() -> None:
    assert month_label(date(2026, 10, 15)) == "Октябрь 2026"
    assert month_label(date(2027, 5, 1)) == "Май 2027"
    assert term_months(starts_on=date(2026, 11, 30), ends_on=date(2027, 2, 1)) == [
        "Ноябрь 2026",
        "Декабрь 2026",
        "Январь 2027",
        "Февраль 2027",
    ]
    with pytest.raises(ValueError, match="before it starts"):
        term_months(starts_on=MAY_31, ends_on=NOV_23)


def test_school_year_meeting_plan() -> None:
    programme = build()
    assert_meeting_plan_follows_the_target_model(programme)
    by_kind = [meeting.kind for meeting in programme.meetings]
    assert by_kind.count(MeetingKind.intro) == by_kind.count(MeetingKind.final) == 1
    first, last = programme.meetings[0], programme.meetings[-1]
    assert (first.title, first.month) == ("Встреча-знакомство", "Ноябрь 2026")
    assert last.month == "Май 2027" and last.title.startswith("Итоговая встреча")
    assert not any(m.feedback_required for m in programme.meetings[:3])
    # About two joint-work meetings in every month between the opening and the closing month.
    for month in ("Декабрь 2026", "Январь 2027", "Февраль 2027", "Март 2027", "Апрель 2027"):
        joint = [m for m in programme.meetings if m.kind == "joint_work" and m.month == month]
        assert len(joint) == JOINT_MEETINGS_PER_MONTH


@pytest.mark.parametrize(
    ("starts_on", "ends_on"),
    [(date(2026, 12, 1), date(2026, 12, 25)), (date(2026, 12, 1), date(2027, 1, 31))],
    ids=["one-month", "two-months"],
)
def test_short_terms_still_get_every_kind_of_meeting(starts_on: date, ends_on: date) -> None:
    programme = build(starts_on=starts_on, ends_on=ends_on)
    assert_meeting_plan_follows_the_target_model(programme)
    assert MeetingKind.joint_work in [m.kind for m in programme.meetings]


@settings(max_examples=150, deadline=None)
@given(
    starts_on=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    days=st.integers(min_value=0, max_value=800),
    form=st.sampled_from(list(MentoringForm)),
)
def test_any_term_gives_a_valid_plan_covering_its_months(
    starts_on: date, days: int, form: MentoringForm
) -> None:
    ends_on = starts_on + timedelta(days=days)
    programme = build(form=form, starts_on=starts_on, ends_on=ends_on)
    assert_meeting_plan_follows_the_target_model(programme)
    months = [month for month, _tasks in programme.tasks_by_month]
    assert months == term_months(starts_on=starts_on, ends_on=ends_on)
    assert months[0] == month_label(starts_on) and months[-1] == month_label(ends_on)
    # The mentor reports to the curator at least monthly (regulation §4.2).
    assert all(MONTHLY_REPORT_TASK in tasks for _month, tasks in programme.tasks_by_month)


def test_months_cover_the_term_with_opening_and_closing_tasks() -> None:
    programme = build()
    months = [month for month, _tasks in programme.tasks_by_month]
    assert months == [
        "Ноябрь 2026",
        "Декабрь 2026",
        "Январь 2027",
        "Февраль 2027",
        "Март 2027",
        "Апрель 2027",
        "Май 2027",
    ]
    opening, closing = programme.tasks_by_month[0][1], programme.tasks_by_month[-1][1]
    assert any("персонализированной программы" in task for task in opening)
    assert any("в течение 10 дней" in task and "наставника" in task for task in closing)
    assert any("оценкой работы наставника" in task for task in closing)


def test_requests_and_subjects_personalise_tasks_goals_and_results() -> None:
    programme = build(
        mentee_requests=["Подготовка к ОГЭ", "хочу научиться играть в шахматы", "  "],
        subjects=["математика", "физика"],
    )
    tasks = all_tasks(programme)
    assert "Подготовка к ОГЭ по математике: разбор заданий" in tasks
    assert "Подготовка к ОГЭ по физике: разбор заданий" in tasks
    # The follow-up comes later in the term than the first step.
    first = tasks.index("Подготовка к ОГЭ по математике: разбор заданий")
    assert first < tasks.index("Подготовка к ОГЭ по математике: пробный экзамен и разбор ошибок")
    assert "Работа по запросу наставляемого: «хочу научиться играть в шахматы»" in tasks
    assert programme.mentee_requests == ["Подготовка к ОГЭ", "хочу научиться играть в шахматы"]
    assert any("Подготовка к ОГЭ" in goal for goal in programme.goals)
    assert "Готовность к ОГЭ по математике, рост результатов пробных работ" in (
        programme.expected_results
    )
    # Personal tasks go to the months of joint work, not to the opening month.
    assert not any("ОГЭ" in task for task in programme.tasks_by_month[0][1])


def test_subject_named_in_the_request_wins_and_others_get_subject_support() -> None:
    programme = build(
        form=MentoringForm.teacher_teacher,
        mentee_requests=["ЕГЭ по русскому языку", "дисциплина на уроке"],
        subjects=["Русский язык", "литература", "черчение"],
    )
    tasks = all_tasks(programme)
    assert "Подготовка к ЕГЭ по русскому языку: разбор заданий" in tasks
    assert not any("ЕГЭ по литературе" in task for task in tasks)
    assert any(task.startswith("Методическая поддержка по предмету «литература»") for task in tasks)
    assert any("«черчение»" in task for task in tasks)
    assert any(task.startswith("Дисциплина на уроке") for task in tasks)


def test_without_requests_nothing_is_invented() -> None:
    programme = build()
    assert programme.mentee_requests == []
    assert not any("ОГЭ" in task or "по запросу" in task for task in all_tasks(programme))


def test_each_form_has_its_own_goals_from_the_regulation() -> None:
    goals = {form: tuple(build(form=form).goals) for form in MentoringForm}
    assert len(set(goals.values())) == len(MentoringForm)
    assert "адаптации к новым условиям обучения" in goals[MentoringForm.student_student][0]
    assert "молодого специалиста" in goals[MentoringForm.teacher_teacher][0]
    assert "осознанного подхода" in goals[MentoringForm.employer_student][0]
    assert "следующей ступени образования" in goals[MentoringForm.university_student_pupil][0]
    assert "студента" in goals[MentoringForm.teacher_student][0]
    for form in MentoringForm:
        programme = build(form=form)
        assert programme.form == form and f"«{form.value}»" in programme.title
        assert programme.expected_results


def test_deterministic_and_round_trips_through_json() -> None:
    args = {"mentee_requests": ["подготовка к олимпиаде", "проект"], "subjects": ["химия"]}
    first, second = build(**args), build(**args)
    assert first == second and first.as_dict() == second.as_dict()
    data = json.loads(json.dumps(first.as_dict(), ensure_ascii=False))
    assert data["form"] == "ученик–ученик" and data["meetings"][0]["kind"] == "intro"
    assert data["tasks_by_month"][0]["month"] == "Ноябрь 2026"
    assert ProgrammeContent.from_dict(data) == first


def test_invalid_input() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        build(starts_on=MAY_31, ends_on=NOV_23)
    with pytest.raises(ValueError, match="at least one mentee"):
        build(mentee_names=[])
    with pytest.raises(ValueError, match="mentor"):
        build(mentor_name=" ")
