"""End-of-mentoring reports from a form's export (CSV/XLSX), through the one reader.

Schools that collect the §2.13–§2.14 reports on paper or in an online form export one row per
report: the mentor and the mentee by full name (or person key, or e-mail), who fills it in
(«наставник» or «наставляемый»), the date it was handed in, and the same answers as the link's
form (nastavnik.completion). The contract is ``docs/completion_import.md``.

All or nothing: a file with one bad row writes nothing (its errors name file, row and field),
so the curator fixes the file and imports it again. Re-importing the same file adds nothing: a
report already stored with the same answers is «unchanged»; one with other answers is an error
(a submitted report is final: the director approves it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import (
    CompletionReport,
    Cycle,
    ImportKind,
    MentorshipPair,
    Role,
)
from nastavnik import completion, repository
from nastavnik.db import session_scope
from nastavnik.meetings_import import CycleParticipants, pairs_by_members
from nastavnik.progress import cycle_policy
from nastavnik.tabular import (
    REQUIRED_HINT,
    Field,
    ImportReport,
    TableSpec,
    fold_text,
    parse_date,
    read_table,
    saved_mappings,
)

MENTOR = "Наставник"
MENTEE = "Наставляемый"
AUTHOR = "Кто заполняет"
SUBMITTED_ON = "Дата сдачи"

# Attribute of the answers → the field's name in the file (the same words as the link's form).
ANSWER_FIELDS: dict[str, str] = {
    "plan_fulfilment": completion.FIELD_FULFILMENT,
    "results": completion.FIELD_RESULTS,
    "difficulties": completion.FIELD_DIFFICULTIES,
    "proposals": completion.FIELD_PROPOSALS,
    "mentor_rating": completion.FIELD_MENTOR_RATING,
    **{attribute: field for attribute, field, _ in completion.QUESTIONNAIRE_RU},
    "comment": completion.FIELD_COMMENT,
}

REPORTS = TableSpec(
    ImportKind.completion,
    (
        Field("mentor", MENTOR, ("ФИО наставника", "Наставник (ФИО)")),
        Field("mentee", MENTEE, ("ФИО наставляемого", "Наставляемый (ФИО)", "Наставляемая")),
        Field("author", AUTHOR, ("Роль", "Заполняет", "Отчёт составил")),
        Field("submitted_on", SUBMITTED_ON, ("Дата", "Отметка времени", "Дата отчёта")),
        Field(
            "plan_fulfilment",
            completion.FIELD_FULFILMENT,
            ("Индивидуальный план выполнен", "Выполнение индивидуального плана"),
        ),
        Field("results", completion.FIELD_RESULTS, ("Что освоено", "Что получилось")),
        Field("difficulties", completion.FIELD_DIFFICULTIES, ("Затруднения",)),
        Field("proposals", completion.FIELD_PROPOSALS, ("Предложения по программе",)),
        Field(
            "mentor_rating",
            completion.FIELD_MENTOR_RATING,
            ("Оценка наставника", "Оценка деятельности наставника"),
        ),
        Field(
            "satisfaction_programme",
            completion.FIELD_SATISFACTION_PROGRAMME,
            ("Удовлетворенность программой",),
        ),
        Field(
            "satisfaction_pair",
            completion.FIELD_SATISFACTION_PAIR,
            ("Удовлетворенность работой в паре",),
        ),
        Field("expectations_met", completion.FIELD_EXPECTATIONS, ("Оправдались ли ожидания",)),
        Field("usefulness", completion.FIELD_USEFULNESS, ("Полезность",)),
        Field("comment", completion.FIELD_COMMENT, ("Что бы вы изменили",)),
    ),
)

_AUTHORS = {
    "наставник": Role.mentor,
    "mentor": Role.mentor,
    "наставляемый": Role.mentee,
    "наставляемая": Role.mentee,
    "mentee": Role.mentee,
}


@dataclass
class CompletionImportReport(ImportReport):
    """An import's report: rows counted once; also how many reports were new."""

    reports_recorded: int = 0


def import_reports(
    *, session: Session, cycle_id: uuid.UUID, path: Path, max_bytes: int, today: date
) -> CompletionImportReport:
    """Validate one export and record every report, or none when a row is bad (flushed, the
    caller commits); one audit event per file with the counts (no names)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} is not known")
    _, rules = cycle_policy(session=session, cycle_id=cycle_id)
    mappings = saved_mappings(session=session, organization_id=cycle.organization_id, spec=REPORTS)
    table = read_table(path, REPORTS, max_bytes=max_bytes, mappings=mappings)
    table.require((MENTOR, MENTEE, AUTHOR, SUBMITTED_ON))
    report = CompletionImportReport(file=table.file, ignored_columns=table.ignored)
    mentors = CycleParticipants(session, cycle_id, Role.mentor)
    mentees = CycleParticipants(session, cycle_id, Role.mentee)
    pairs = pairs_by_members(session, cycle_id)
    stored = {
        (r.pair_id, r.participant_id): r
        for r in session.exec(
            select(CompletionReport)
            .join(MentorshipPair, col(MentorshipPair.id) == col(CompletionReport.pair_id))
            .where(MentorshipPair.cycle_id == cycle_id)
        )
    }
    new: dict[tuple[uuid.UUID, uuid.UUID], tuple[int, CompletionReport]] = {}
    unchanged = 0
    for record in table.records:
        number, errors_before = record.number, len(report.rejected)
        mentor_id, problem = mentors.find(record.get(MENTOR))
        if mentor_id is None:
            report.reject(number, MENTOR, problem)
        mentee_id, problem = mentees.find(record.get(MENTEE))
        if mentee_id is None:
            report.reject(number, MENTEE, problem)
        typed = record.get(AUTHOR)
        role = _AUTHORS.get(fold_text(typed))
        if role is None:
            report.reject(
                number,
                AUTHOR,
                REQUIRED_HINT
                if not typed
                else f"ожидается «наставник» или «наставляемый», указано «{typed}»",
            )
        typed = record.get(SUBMITTED_ON)
        submitted_on = parse_date(typed) if typed else None
        if submitted_on is None:
            report.reject(
                number,
                SUBMITTED_ON,
                REQUIRED_HINT if not typed else f"ожидается дата ДД.ММ.ГГГГ, указано «{typed}»",
            )
        elif submitted_on > today:
            report.reject(number, SUBMITTED_ON, f"дата {submitted_on:%d.%m.%Y} ещё не наступила")
        pair = None
        if mentor_id is not None and mentee_id is not None:
            candidates = pairs.get((mentor_id, mentee_id))
            if not candidates:
                report.reject(
                    number,
                    MENTEE,
                    f"«{record.get(MENTEE)}» не в паре с наставником «{record.get(MENTOR)}»",
                )
            else:
                finished = [p for p in candidates if completion.is_finished(p, today)]
                if not finished:
                    ends = candidates[-1].ends_on
                    report.reject(
                        number,
                        MENTEE,
                        "наставничество пары ещё не завершено"
                        + (f" (окончание {ends:%d.%m.%Y})" if ends else ""),
                    )
                else:
                    pair = finished[-1]
        answers = None
        if role is not None:
            try:
                answers = completion.parse_answers(
                    role=role,
                    values={key: record.get(name) for key, name in ANSWER_FIELDS.items()},
                )
            except completion.ReportRefused as refused:
                report.reject(number, refused.field_ru, refused.message_ru)
        if len(report.rejected) > errors_before:
            continue
        assert pair is not None and pair.ends_on is not None and role and answers
        assert submitted_on is not None and mentor_id is not None and mentee_id is not None
        if submitted_on < pair.ends_on:
            report.reject(
                number,
                SUBMITTED_ON,
                f"отчёт сдаётся по завершении наставничества ({pair.ends_on:%d.%m.%Y})",
            )
            continue
        author = mentor_id if role == Role.mentor else mentee_id
        key = (pair.id, author)
        earlier = stored.get(key) or (new[key][1] if key in new else None)
        if earlier is not None:
            if completion.same_answers(earlier, answers) and earlier.submitted_on == submitted_on:
                unchanged += 1
                continue
            where = (
                f"строке {new[key][0]} этого файла"
                if key in new
                else f"{earlier.submitted_on:%d.%m.%Y}"
            )
            report.reject(
                number,
                AUTHOR,
                f"отчёт этого участника уже сдан ({where}) с другими ответами; "
                "сданный отчёт не меняется",
            )
            continue
        new[key] = (
            number,
            CompletionReport(
                pair_id=pair.id,
                participant_id=author,
                role=role,
                ended_on=pair.ends_on,
                due_on=completion.report_due_on(
                    ended_on=pair.ends_on, deadline_days=rules.report_deadline_days
                ),
                submitted_on=submitted_on,
                source=f"{table.file}:{number}",
                created_at=datetime.combine(today, time(), tzinfo=UTC),
                **completion.answer_fields(answers),
            ),
        )
    report.rejected.sort(key=lambda e: e.row)
    if report.rejected:
        return report  # all or nothing: nothing was added to the session
    session.add_all(row for _, row in new.values())
    session.flush()
    report.accepted = report.reports_recorded = len(new)
    report.unchanged = unchanged
    if new:
        repository.record_audit(
            session=session,
            actor="curator",
            action="completion_reports.imported",
            cycle_id=cycle_id,
            entity=f"file:{table.file}",
            details={
                "reports": len(new),
                "mentors": sum(1 for _, r in new.values() if r.role == Role.mentor),
                "mentees": sum(1 for _, r in new.values() if r.role == Role.mentee),
            },
        )
    return report


def import_reports_transaction(
    *, engine: Engine, cycle_id: uuid.UUID, path: Path, max_bytes: int, today: date
) -> CompletionImportReport:
    """Import one export in its own transaction: committed once, or not at all."""
    with session_scope(engine) as session:
        return import_reports(
            session=session, cycle_id=cycle_id, path=path, max_bytes=max_bytes, today=today
        )
