"""Stage 2, training: select mentors for this year's requests, train them, admit them to pairing.

Rules come from the regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) and its
roadmap: the base of mentors is formed by «отбор из числа потенциальных наставников в соответствии
с формированным на текущий учебный год перечнем запросов» (row 3.3), then «Обучение наставников»
follows «по отдельному графику» (row 3.4); «Максимальное число лиц, в отношении которых наставник
одновременно осуществляет наставничество, не может превышать трех» (§2.5); «Утверждение кандидатуры
наставника осуществляется приказом организации» (§2.7); the director «определяет (предлагает)
кандидатуры наставника» (§3.1), so the curator's manual decisions win over automatic ones.

Contract of the writers: they flush inside the caller's session and never commit, except
``import_attendance_transaction``, which commits one file (as ``questionnaires`` does).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import (
    Cycle,
    ImportKind,
    MentorAdmission,
    MentoringForm,
    Participant,
    Person,
    Role,
    TrainingAttendance,
    TrainingSession,
)
from models.tables import utcnow
from nastavnik.consents import check_consents
from nastavnik.db import session_scope
from nastavnik.repository import school_year_start
from nastavnik.tabular import (
    AMBIGUOUS,
    MISSING,
    REQUIRED_HINT,
    Field,
    ImportFileError,
    ImportReport,
    PersonIndex,
    TableSpec,
    fold_text,
    person_fields,
    read_table,
    saved_mappings,
    update_fields,
)

MAX_MENTEES_PER_MENTOR = 3
"""§2.5: «не может превышать трех»."""

DEFAULT_RESERVE_RATIO = 0.25
"""Extra mentors trained per form beyond the need, so a drop-out does not leave mentees alone."""

BY_SELECTION = "selection"
BY_TRAINING = "training"
BY_CURATOR = "curator"
_AUTOMATIC = {"", BY_SELECTION, BY_TRAINING}

REASON_RESERVE = "резерв"

# The fields of an attendance file; the key is what `nastavnik columns set` takes.
ATTENDANCE = TableSpec(
    ImportKind.attendance,
    (
        *person_fields(
            full_name=("ФИО наставника", "Наставник"),
            last_name=("Фамилия наставника",),
            first_name=("Имя наставника",),
        ),
        Field(
            "session",
            "Занятие",
            (
                "Код занятия",
                "Название занятия",
                "Тема занятия",
                "Занятие (код или название)",
                "Мероприятие",
            ),
        ),
        Field(
            "present",
            "Присутствовал",
            (
                "Присутствовал(а)",
                "Присутствовала",
                "Присутствие",
                "Отметка о присутствии",
                "Явка",
                "Посещение",
            ),
        ),
    ),
)
_PRESENT = {"да", "+", "1", "присутствовал", "присутствовала", "был", "была", "yes", "true"}
_ABSENT = {"нет", "-", "0", "н", "нб", "отсутствовал", "отсутствовала", "не был", "не была"}
_ABSENT |= {"no", "false", "–", "—"}
_PRESENT_HINT = "ожидается «да», «нет», «+», «-», «1» или «0»"

_WORD = re.compile(r"[^\W\d_]+")
# Longest first: a crude Russian stemmer, enough to meet «математика» with «по математике».
_ENDINGS = tuple(
    sorted(
        (
            "ями ами ого его ому ему ыми ими ой ей ом ем ам ям ах ях ий ый ая яя ое ее ые ие ую "
            "юю ов ев а я е и у ю ы ь о"
        ).split(),
        key=len,
        reverse=True,
    )
)
_STOP_WORDS = {"для", "при", "или", "как", "это", "над", "под", "без"}
_STEM_LENGTH = 6


@dataclass(frozen=True)
class FormDemand:
    """How many mentors one form needs this year and how many the register offers."""

    form: MentoringForm
    mentees: int
    mentors_needed: int
    mentors_available: int

    @property
    def shortage(self) -> int:
        """Mentors missing from the register to cover the form's mentees."""
        return max(0, self.mentors_needed - self.mentors_available)


@dataclass(frozen=True)
class SelectionRow:
    """One mentor's selection outcome, with the reason in Russian."""

    participant_id: UUID
    full_name: str
    form: MentoringForm
    selected: bool
    reason: str
    matched_mentees: int
    experience_years: int | None
    decided_by: str


@dataclass
class SelectionResult:
    """Demand per form and every mentor of the cycle, selected or not (each list by name)."""

    demand: list[FormDemand]
    selected: list[SelectionRow]
    not_selected: list[SelectionRow]


@dataclass(frozen=True)
class SessionSpec:
    """A training session to schedule, identified within the cycle by its code."""

    code: str
    title: str
    held_on: date
    mandatory: bool = True


AttendanceReport = ImportReport


@dataclass(frozen=True)
class AdmissionRow:
    """One line of the training results: who is admitted to pairing and why."""

    number: int
    participant_id: UUID
    full_name: str
    position: str
    form: str
    training_result: str
    admitted: bool
    selected: bool
    decided_by: str


# --- demand and selection -------------------------------------------------------------------


def _cycle(session: Session, cycle_id: UUID) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} is not known")
    return cycle


def _name_key(person: Person) -> tuple[str, str, str, str]:
    return (
        fold_text(person.last_name),
        fold_text(person.first_name),
        fold_text(person.middle_name),
        person.id.hex,
    )


def _participants(session: Session, cycle_id: UUID, role: Role) -> list[tuple[Participant, Person]]:
    query = select(Participant, Person).where(
        Participant.person_id == Person.id,
        Participant.cycle_id == cycle_id,
        Participant.role == role,
    )
    pairs = [(participant, person) for participant, person in session.exec(query)]
    pairs.sort(key=lambda pair: _name_key(pair[1]))
    return pairs


def _stems(text: str) -> set[str]:
    stems = set()
    for word in _WORD.findall(fold_text(text)):
        if len(word) < 3 or word in _STOP_WORDS:
            continue
        for ending in _ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                word = word[: -len(ending)]
                break
        stems.add(word[:_STEM_LENGTH])
    return stems


def _mentors_needed(mentees: int, max_mentees_per_mentor: int) -> int:
    if max_mentees_per_mentor < 1:
        raise ValueError("max_mentees_per_mentor must be at least 1")
    return math.ceil(mentees / max_mentees_per_mentor)


def demand_by_form(
    *,
    session: Session,
    cycle_id: UUID,
    on: date,
    max_mentees_per_mentor: int = MAX_MENTEES_PER_MENTOR,
) -> list[FormDemand]:
    """Mentors needed per requested form: eligible mentees / at most three each (§2.5)."""
    _cycle(session, cycle_id)
    mentees = _eligible_by_form(session, cycle_id, Role.mentee, on)
    mentors = _eligible_by_form(session, cycle_id, Role.mentor, on)
    return _demand(mentees, mentors, max_mentees_per_mentor)


def _demand(
    mentees: dict[MentoringForm, list[tuple[Participant, Person]]],
    mentors: dict[MentoringForm, list[tuple[Participant, Person]]],
    max_mentees_per_mentor: int,
) -> list[FormDemand]:
    return [
        FormDemand(
            form=form,
            mentees=len(mentees.get(form, [])),
            mentors_needed=_mentors_needed(len(mentees.get(form, [])), max_mentees_per_mentor),
            mentors_available=len(mentors.get(form, [])),
        )
        for form in MentoringForm
        if form in mentees or form in mentors
    ]


def _eligible_by_form(
    session: Session, cycle_id: UUID, role: Role, on: date
) -> dict[MentoringForm, list[tuple[Participant, Person]]]:
    eligible = set(check_consents(session=session, cycle_id=cycle_id, on=on, role=role).eligible)
    grouped: dict[MentoringForm, list[tuple[Participant, Person]]] = defaultdict(list)
    for participant, person in _participants(session, cycle_id, role):
        if participant.id in eligible:
            grouped[participant.form].append((participant, person))
    return grouped


def _admissions(session: Session, cycle_id: UUID) -> dict[UUID, MentorAdmission]:
    query = select(MentorAdmission).where(MentorAdmission.cycle_id == cycle_id)
    return {a.participant_id: a for a in session.exec(query)}


def _frozen(admission: MentorAdmission | None) -> bool:
    # Manual decisions win (§3.1); an appointment is fixed by the director's order (§2.7).
    return admission is not None and (
        admission.decided_by not in _AUTOMATIC or admission.appointed_on is not None
    )


def select_mentors(
    *,
    session: Session,
    cycle_id: UUID,
    on: date,
    max_mentees_per_mentor: int = MAX_MENTEES_PER_MENTOR,
    reserve_ratio: float = DEFAULT_RESERVE_RATIO,
) -> SelectionResult:
    """Pick mentors of the register «в соответствии с … перечнем запросов» (roadmap 3.3)."""
    if reserve_ratio < 0:
        raise ValueError("reserve_ratio must not be negative")
    _cycle(session, cycle_id)
    mentees = _eligible_by_form(session, cycle_id, Role.mentee, on)
    mentee_stems = {
        form: [_stems(f"{p.requests} {p.subjects} {p.interests}") for p, _ in rows]
        for form, rows in mentees.items()
    }
    check = check_consents(session=session, cycle_id=cycle_id, on=on, role=Role.mentor)
    eligible = set(check.eligible)
    missing = {m.participant_id: m.reason for m in check.missing}
    admissions = _admissions(session, cycle_id)

    decisions: dict[UUID, tuple[bool, str]] = {}
    matched: dict[UUID, int] = {}
    by_form: dict[MentoringForm, list[tuple[Participant, Person]]] = defaultdict(list)
    mentors = _participants(session, cycle_id, Role.mentor)
    for participant, person in mentors:
        subjects = _stems(participant.subjects)
        matched[participant.id] = sum(
            bool(subjects & stems) for stems in mentee_stems.get(participant.form, [])
        )
        if participant.id not in eligible:
            reason = missing.get(participant.id, "нет действующего согласия")
            decisions[participant.id] = (False, f"не включён в реестр наставников: {reason}")
        else:
            by_form[participant.form].append((participant, person))
    demand = _demand(mentees, by_form, max_mentees_per_mentor)
    needs = {d.form: d for d in demand}

    for form, candidates in by_form.items():
        need = needs[form].mentors_needed
        if need == 0:
            for participant, _ in candidates:
                reason = f"не требуется: нет запросов на форму «{form.value}»"
                decisions[participant.id] = (False, reason)
            continue
        reserve = max(1, math.ceil(need * reserve_ratio)) if reserve_ratio > 0 else 0
        # Mentors the curator has already chosen fill the form's places first.
        taken = sum(
            1
            for participant, _ in candidates
            if _frozen(admissions.get(participant.id)) and admissions[participant.id].selected
        )
        open_ = [p for p in candidates if not _frozen(admissions.get(p[0].id))]
        open_.sort(
            key=lambda pair: (
                -matched[pair[0].id],
                -(pair[0].experience_years or 0),
                pair[0].experience_years is None,
                _name_key(pair[1]),
            )
        )
        for participant, _ in open_:
            if taken < need:
                hits = matched[participant.id]
                reason = (
                    f"отобран: предметы совпадают с запросами {hits} из {needs[form].mentees} "
                    "наставляемых"
                    if hits
                    else f"отобран: нужно наставников формы «{form.value}»: {need}"
                )
                decisions[participant.id] = (True, reason)
            elif taken < need + reserve:
                decisions[participant.id] = (True, REASON_RESERVE)
            else:
                reason = (
                    f"не требуется: на форму «{form.value}» отобрано достаточно наставников "
                    f"({need} и резерв {reserve})"
                )
                decisions[participant.id] = (False, reason)
            taken += 1

    now = utcnow()
    result = SelectionResult(demand=demand, selected=[], not_selected=[])
    for participant, person in mentors:
        admission = admissions.get(participant.id)
        if not _frozen(admission):
            selected, reason = decisions[participant.id]
            admission, changed = _apply_selection(
                cycle_id, participant, admission, selected, reason
            )
            if changed:
                admission.updated_at = now
                session.add(admission)
        assert admission is not None
        row = SelectionRow(
            participant_id=participant.id,
            full_name=person.full_name,
            form=participant.form,
            selected=admission.selected,
            reason=admission.reason,
            matched_mentees=matched[participant.id],
            experience_years=participant.experience_years,
            decided_by=admission.decided_by,
        )
        (result.selected if row.selected else result.not_selected).append(row)
    session.flush()
    return result


def _apply_selection(
    cycle_id: UUID,
    participant: Participant,
    admission: MentorAdmission | None,
    selected: bool,
    reason: str,
) -> tuple[MentorAdmission, bool]:
    if admission is None:
        created = MentorAdmission(
            cycle_id=cycle_id,
            participant_id=participant.id,
            selected=selected,
            admitted=False,
            reason=reason,
            decided_by=BY_SELECTION,
        )
        return created, True
    if selected and admission.selected and admission.decided_by == BY_TRAINING:
        return admission, False  # still selected: keep the training result already decided
    changed = update_fields(
        admission, selected=selected, admitted=False, reason=reason, decided_by=BY_SELECTION
    )
    return admission, changed


# --- sessions -------------------------------------------------------------------------------


def schedule_sessions(
    *, session: Session, cycle_id: UUID, sessions: list[SessionSpec]
) -> list[TrainingSession]:
    """Create or update the cycle's training sessions by code («по отдельному графику», 3.4)."""
    _cycle(session, cycle_id)
    codes = [spec.code.strip() for spec in sessions]
    if any(not code for code in codes) or len(set(codes)) != len(codes):
        raise ValueError("session codes must be non-empty and unique")
    existing = {
        s.code: s
        for s in session.exec(select(TrainingSession).where(TrainingSession.cycle_id == cycle_id))
    }
    result = []
    for code, spec in zip(codes, sessions, strict=True):
        row = existing.get(code)
        if row is None:
            row = TrainingSession(
                cycle_id=cycle_id, code=code, title=spec.title, held_on=spec.held_on
            )
        row.title, row.held_on, row.mandatory = spec.title, spec.held_on, spec.mandatory
        session.add(row)
        result.append(row)
    session.flush()
    return result


def default_sessions(*, school_year: str) -> list[SessionSpec]:
    """Three November sessions: two trainings and the curator's interview (roadmap 3.4)."""
    first = date(school_year_start(school_year).year, 11, 1)
    tuesday = first + timedelta(days=(1 - first.weekday()) % 7)
    return [
        SessionSpec("vvodnoe", "Вводное занятие: целевая модель наставничества", tuesday),
        SessionSpec(
            "praktikum", "Практикум: формы и методы наставничества", tuesday + timedelta(days=7)
        ),
        SessionSpec("sobesedovanie", "Собеседование с куратором", tuesday + timedelta(days=14)),
    ]


def _sessions(session: Session, cycle_id: UUID) -> list[TrainingSession]:
    query = select(TrainingSession).where(TrainingSession.cycle_id == cycle_id)
    return sorted(session.exec(query), key=lambda s: (s.held_on, s.code))


# --- attendance -----------------------------------------------------------------------------


class _Mentors:
    """The cycle's mentors by e-mail or full name; only the selected ones may attend."""

    def __init__(self, session: Session, cycle_id: UUID, admissions: dict[UUID, MentorAdmission]):
        self.admissions = admissions
        pairs = _participants(session, cycle_id, Role.mentor)
        self.index = PersonIndex((person, (participant, person)) for participant, person in pairs)

    def find(self, *, email: str, name: str) -> tuple[Participant | None, str, str]:
        """(participant, error field, error message); the participant is None on an error."""
        match = self.index.find(email=email, name=name)
        if match.found is not None:
            participant, person = match.found
            admission = self.admissions.get(participant.id)
            if admission is None or not admission.selected:
                message = f"«{person.full_name}» не отобран(а) в наставники этого цикла"
                return None, match.field, message
            return participant, "", ""
        if match.problem == MISSING:
            return None, match.field, REQUIRED_HINT
        if match.problem == AMBIGUOUS:
            message = f"несколько наставников «{match.typed}», укажите электронную почту"
            return None, match.field, message
        return None, match.field, f"наставник «{match.typed}» не найден среди наставников цикла"


def _present(text: str) -> bool | None:
    folded = fold_text(text)
    if folded in _PRESENT:
        return True
    if folded in _ABSENT:
        return False
    return None


def _session_lookup(sessions: list[TrainingSession]) -> dict[str, TrainingSession]:
    lookup: dict[str, TrainingSession] = {}
    for training in sessions:
        lookup[fold_text(training.title)] = training
    for training in sessions:
        lookup[fold_text(training.code)] = training  # a code wins over another session's title
    return lookup


def import_attendance(
    *, session: Session, cycle_id: UUID, path: Path, max_bytes: int
) -> AttendanceReport:
    """Validate and upsert one attendance file (CSV/XLSX) in a savepoint; the caller commits."""
    file = path.name
    cycle = _cycle(session, cycle_id)
    mappings = saved_mappings(
        session=session, organization_id=cycle.organization_id, spec=ATTENDANCE
    )
    table = read_table(path, ATTENDANCE, max_bytes=max_bytes, mappings=mappings)
    table.require(("Занятие", "Присутствовал"), person=True)
    trainings = _sessions(session, cycle_id)
    if not trainings:
        raise ImportFileError(f"{file}: для цикла не запланированы занятия обучения наставников")
    lookup = _session_lookup(trainings)
    codes = ", ".join(t.code for t in trainings)
    mentors = _Mentors(session, cycle_id, _admissions(session, cycle_id))
    report = ImportReport(file=file, ignored_columns=table.ignored)

    good: dict[tuple[UUID, UUID], tuple[int, bool]] = {}
    for record in table.records:
        number = record.number

        def err(column: str, message: str, number: int = number) -> None:
            report.reject(number, column, message)

        participant, field_, message = mentors.find(
            email=record.get("Электронная почта"), name=record.full_name
        )
        if participant is None:
            err(field_, message)
        training = None
        typed = record.get("Занятие")
        if not typed:
            err("Занятие", REQUIRED_HINT)
        else:
            training = lookup.get(fold_text(typed))
            if training is None:
                err("Занятие", f"неизвестное занятие «{typed}»; допустимы коды: {codes}")
        present = None
        mark = record.get("Присутствовал")
        if not mark:
            err("Присутствовал", REQUIRED_HINT)
        else:
            present = _present(mark)
            if present is None:
                err("Присутствовал", f"{_PRESENT_HINT}, указано «{mark}»")
        if participant is None or training is None or present is None:
            continue
        key = (training.id, participant.id)
        if key in good:
            # The later mark wins, as a re-typed line in a journal does.
            err(
                "Занятие",
                f"повторная отметка того же наставника на этом занятии, учтена строка {number}",
                good[key][0],
            )
        good[key] = (number, present)
    report.rejected.sort(key=lambda e: e.row)

    with session.begin_nested():
        existing = _attendance(session, [t.id for t in trainings])
        for (session_id, participant_id), (number, present) in sorted(
            good.items(), key=lambda item: item[1][0]
        ):
            row = existing.get((session_id, participant_id))
            source = f"{file}:{number}"
            if row is None:
                row = TrainingAttendance(
                    session_id=session_id,
                    participant_id=participant_id,
                    present=present,
                    source=source,
                )
                report.accepted += 1
            elif row.present != present:
                row.present, row.source = present, source
                report.updated += 1
            else:
                row.source = source  # provenance, not data: not an update
                report.unchanged += 1
            session.add(row)
        session.flush()
    return report


def _attendance(
    session: Session, session_ids: list[UUID]
) -> dict[tuple[UUID, UUID], TrainingAttendance]:
    if not session_ids:
        return {}
    query = select(TrainingAttendance).where(
        TrainingAttendance.session_id.in_(session_ids)  # type: ignore[attr-defined]
    )
    return {(a.session_id, a.participant_id): a for a in session.exec(query)}


def import_attendance_transaction(
    *, engine: Engine, cycle_id: UUID, path: Path, max_bytes: int
) -> AttendanceReport:
    """Import one attendance file in its own transaction: committed once, or not at all."""
    with session_scope(engine) as session:
        return import_attendance(session=session, cycle_id=cycle_id, path=path, max_bytes=max_bytes)


def record_attendance(
    *,
    session: Session,
    cycle_id: UUID,
    participant_id: UUID,
    session_code: str,
    present: bool,
    source: str = "cli",
) -> TrainingAttendance:
    """Mark one selected mentor present or absent at one session (the curator's CLI)."""
    training = session.exec(
        select(TrainingSession).where(
            TrainingSession.cycle_id == cycle_id, TrainingSession.code == session_code
        )
    ).first()
    if training is None:
        raise LookupError(f"training session {session_code!r} is not scheduled in this cycle")
    admission = _admissions(session, cycle_id).get(participant_id)
    if admission is None or not admission.selected:
        raise ValueError(f"participant {participant_id} is not a selected mentor of this cycle")
    row = _attendance(session, [training.id]).get((training.id, participant_id))
    if row is None:
        row = TrainingAttendance(
            session_id=training.id, participant_id=participant_id, present=present, source=source
        )
    row.present, row.source = present, source
    session.add(row)
    session.flush()
    return row


# --- admission ------------------------------------------------------------------------------


def _training_result(
    mandatory: list[TrainingSession],
    attended: set[UUID],
    min_mandatory_share: float,
) -> tuple[bool, str]:
    if not mandatory:
        return False, "обучение не проведено: не запланированы обязательные занятия"
    total = len(mandatory)
    done = sum(1 for s in mandatory if s.id in attended)
    # A tiny epsilon keeps 2/3 of 3 at 2, not 3, despite floating point.
    required = math.ceil(min_mandatory_share * total - 1e-9)
    if done >= required:
        return True, f"прошёл обучение ({done} из {total} занятий)"
    missed = "; ".join(
        f"«{s.title}» ({s.held_on:%d.%m.%Y})" for s in mandatory if s.id not in attended
    )
    reason = f"не посетил обязательные занятия: {missed}"
    if required < total:
        reason += f" (посещено {done} из {total}, нужно не менее {required})"
    return False, reason


def decide_admissions(
    *, session: Session, cycle_id: UUID, min_mandatory_share: float = 1.0
) -> list[AdmissionRow]:
    """Admit selected mentors who attended the required share of mandatory sessions."""
    if not 0 <= min_mandatory_share <= 1:
        raise ValueError("min_mandatory_share must be between 0 and 1")
    _cycle(session, cycle_id)
    mandatory = [s for s in _sessions(session, cycle_id) if s.mandatory]
    attended: dict[UUID, set[UUID]] = defaultdict(set)
    for (session_id, participant_id), row in _attendance(
        session, [s.id for s in mandatory]
    ).items():
        if row.present:
            attended[participant_id].add(session_id)
    admissions = _admissions(session, cycle_id)
    now = utcnow()
    for participant_id, admission in admissions.items():
        if _frozen(admission):
            continue
        if not admission.selected:
            changed = update_fields(admission, admitted=False)
        else:
            admitted, reason = _training_result(
                mandatory, attended[participant_id], min_mandatory_share
            )
            changed = update_fields(
                admission, admitted=admitted, reason=reason, decided_by=BY_TRAINING
            )
        if changed:
            admission.updated_at = now
            session.add(admission)
    session.flush()
    return admission_rows(session=session, cycle_id=cycle_id)


def admission_rows(*, session: Session, cycle_id: UUID) -> list[AdmissionRow]:
    """The cycle's training results, numbered in order of name."""
    admissions = _admissions(session, cycle_id)
    rows: list[AdmissionRow] = []
    for participant, person in _participants(session, cycle_id, Role.mentor):
        admission = admissions.get(participant.id)
        if admission is None:
            continue
        rows.append(
            AdmissionRow(
                number=len(rows) + 1,
                participant_id=participant.id,
                full_name=person.full_name,
                position=participant.position,
                form=participant.form.value,
                training_result=admission.reason,
                admitted=admission.admitted,
                selected=admission.selected,
                decided_by=admission.decided_by,
            )
        )
    return rows


def set_admission(
    *,
    session: Session,
    cycle_id: UUID,
    participant_id: UUID,
    admitted: bool,
    reason: str,
    decided_by: str = BY_CURATOR,
) -> MentorAdmission:
    """Record a manual decision on one mentor; automatic runs never change it afterwards."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a manual decision needs a reason")
    participant = session.get(Participant, participant_id)
    if participant is None or participant.cycle_id != cycle_id or participant.role != Role.mentor:
        raise LookupError(f"participant {participant_id} is not a mentor of this cycle")
    admission = _admissions(session, cycle_id).get(participant_id)
    if admission is None:
        admission = MentorAdmission(
            cycle_id=cycle_id, participant_id=participant_id, selected=admitted
        )
    # An admitted mentor is necessarily a selected one; a refusal keeps the selection as it was.
    selected = admission.selected or admitted
    update_fields(
        admission, selected=selected, admitted=admitted, reason=reason, decided_by=decided_by
    )
    admission.updated_at = utcnow()
    session.add(admission)
    session.flush()
    return admission


def admitted_mentor_ids(*, session: Session, cycle_id: UUID) -> list[UUID]:
    """Mentors admitted to pairing (DESIGN §3: only trained mentors are paired), by name."""
    return [
        row.participant_id
        for row in admission_rows(session=session, cycle_id=cycle_id)
        if row.admitted
    ]


def mark_appointed(*, session: Session, cycle_id: UUID, on: date) -> int:
    """Date the admitted mentors' appointment by the approved order (§2.7); returns how many."""
    count = 0
    now = utcnow()
    for admission in _admissions(session, cycle_id).values():
        if admission.admitted and admission.appointed_on is None:
            admission.appointed_on, admission.updated_at = on, now
            session.add(admission)
            count += 1
    session.flush()
    return count


def session_plan(*, session: Session, cycle_id: UUID) -> list[SessionSpec]:
    """The cycle's scheduled sessions, or the default three when none are scheduled yet."""
    cycle = _cycle(session, cycle_id)
    trainings = _sessions(session, cycle_id)
    return [SessionSpec(t.code, t.title, t.held_on, t.mandatory) for t in trainings] or (
        default_sessions(school_year=cycle.school_year)
    )


def selected_mentors(*, session: Session, cycle_id: UUID) -> list[tuple[Participant, Person]]:
    """The mentors selected for training, in name order."""
    admissions = _admissions(session, cycle_id)
    return [
        (participant, person)
        for participant, person in _participants(session, cycle_id, Role.mentor)
        if participant.id in admissions and admissions[participant.id].selected
    ]
