"""The final event's documents: the two orders and one letter or certificate per nominee.

Regulation (seed ``regulation_and_roadmap_school2_ustyuzhna.txt``) §2.16: «объявление
благодарности, награждение почетной грамотой организации, вручение ценного подарка;
материальное поощрение» — by order («О поощрении наставников»); the roadmaps' final event
(«Итоговые мероприятия по наставничеству», seed roadmap_lyceum_blagoveshchensk.txt) — by order
«О проведении итогового мероприятия».

Every nominee gets one paper: a certificate of honour (почётная грамота) for that reward, a
letter of thanks (благодарственное письмо) for the others — a gift or a bonus is handed over
with a letter. All of them are issued as ONE batch through nastavnik.documents.issue_documents,
each under a unique key per cycle, mentor and paper, so a re-run makes nothing twice.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from models import (
    Cycle,
    Document,
    MentorNomination,
    MentorshipPair,
    Organization,
    PairMember,
    Participant,
    Person,
    RewardKind,
)
from nastavnik import documents
from nastavnik.documents import DocumentRequest
from nastavnik.final_event import (
    COUNTED_STATUSES,
    REWARD_LABEL_RU,
    WEIGHTS_RU,
    RankedMentor,
    nominations,
    ranking_evidence,
)
from nastavnik.settings import Settings

AWARD_DOC_TYPE = "certificate"
LETTER_TEMPLATE = "award_letter.html"
CERTIFICATE_TEMPLATE = "award_certificate.html"
REWARD_ORDER = (
    RewardKind.honour_certificate,
    RewardKind.gratitude,
    RewardKind.gift,
    RewardKind.bonus,
)

DEFAULT_PROGRAMME = (
    "Открытие: итоги программы наставничества за учебный год (куратор программы).",
    "Выступления наставнических пар и групп: достижения и лучшие практики.",
    "Награждение лучших наставников: благодарности, почётные грамоты, ценные подарки.",
    "Обратная связь: впечатления наставников и наставляемых, планы на следующий год.",
)


class AwardsRefused(ValueError):
    """The documents cannot be issued (the message is Russian, for the curator)."""


@dataclass(frozen=True)
class FinalEventPlan:
    """What the order «О проведении итогового мероприятия» announces."""

    title: str
    held_on: date
    place: str
    time: str = ""
    responsible_name: str = ""  # "" → the curator
    programme: tuple[str, ...] = DEFAULT_PROGRAMME


@dataclass(frozen=True)
class Nominee:
    """A nominated mentor with what the documents print about them."""

    nomination: MentorNomination
    person: Person
    participant: Participant
    mentees: int

    @property
    def position(self) -> str:
        if self.participant.position:
            return self.participant.position
        if self.participant.grade is not None:
            return f"обучающийся {self.participant.grade}{self.participant.class_letter} класса"
        return ""


def address_ru(*, first_name: str, middle_name: str) -> str:
    """«Уважаемая Анна Петровна!» / «Уважаемый Олег Ильич!»; by the patronymic's ending, else
    the neutral «Уважаемый(ая)»."""
    name = " ".join(part for part in (first_name, middle_name) if part)
    ending = middle_name.casefold()
    if ending.endswith(("вна", "чна", "кызы")):
        return f"Уважаемая {name}!"
    if ending.endswith(("вич", "ич", "оглы")):
        return f"Уважаемый {name}!"
    return f"Уважаемый(ая) {name}!"


def paper_of(reward: RewardKind) -> str:
    """Which paper a reward comes with: "certificate" (почётная грамота) or "letter"."""
    return "certificate" if reward == RewardKind.honour_certificate else "letter"


def award_key(*, cycle_id: uuid.UUID, mentor_id: uuid.UUID, paper: str) -> str:
    return f"award:{cycle_id}:{mentor_id}:{paper}"


def rewards_order_key(cycle_id: uuid.UUID, round_no: int = 1) -> str:
    """Round 2, 3 … after the director sent the order back: a new draft, the old one kept."""
    return f"order:rewards:{cycle_id}:{round_no}"


def event_order_key(cycle_id: uuid.UUID, round_no: int = 1) -> str:
    return f"order:final-event:{cycle_id}:{round_no}"


def ranking_memo_key(cycle_id: uuid.UUID, round_no: int = 1) -> str:
    return f"memo:mentor-ranking:{cycle_id}:{round_no}"


def _cycle(session: Session, cycle_id: uuid.UUID) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} is not known")
    return cycle


def nominees(*, session: Session, cycle_id: uuid.UUID) -> list[Nominee]:
    """The nominations in force with the people behind them, in ranking order."""
    chosen = nominations(session=session, cycle_id=cycle_id)
    ids = [n.mentor_id for n in chosen]
    people = {
        participant.id: (participant, person)
        for participant, person in session.exec(
            select(Participant, Person).where(
                Participant.person_id == Person.id, col(Participant.id).in_(ids)
            )
        )
    }
    mentees: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for mentor_id, mentee_id in session.exec(
        select(MentorshipPair.mentor_id, PairMember.mentee_id).where(
            PairMember.pair_id == MentorshipPair.id,
            col(MentorshipPair.mentor_id).in_(ids),
            col(MentorshipPair.status).in_(COUNTED_STATUSES),
        )
    ):
        mentees[mentor_id].add(mentee_id)
    return [
        Nominee(
            nomination=n,
            participant=people[n.mentor_id][0],
            person=people[n.mentor_id][1],
            mentees=len(mentees[n.mentor_id]),
        )
        for n in chosen
    ]


def _order_reference(document: Document | None) -> dict[str, object] | None:
    if document is None:
        return None
    return {"label": document.label, "date": document.doc_date}


def _find(session: Session, unique_key: str) -> Document | None:
    return session.exec(select(Document).where(Document.unique_key == unique_key)).first()


def award_requests(
    *,
    session: Session,
    cycle_id: uuid.UUID,
    doc_date: date,
    rewards_order_id: uuid.UUID | None = None,
    flow_run_id: uuid.UUID | None = None,
) -> list[DocumentRequest]:
    """One request per nominee: the paper of the reward, citing the rewards order if given."""
    cycle = _cycle(session, cycle_id)
    order = _order_reference(
        session.get(Document, rewards_order_id) if rewards_order_id is not None else None
    )
    requests = []
    for nominee in nominees(session=session, cycle_id=cycle_id):
        paper = paper_of(nominee.nomination.reward)
        person = nominee.person
        requests.append(
            DocumentRequest(
                unique_key=award_key(
                    cycle_id=cycle_id, mentor_id=nominee.participant.id, paper=paper
                ),
                organization_id=cycle.organization_id,
                cycle_id=cycle_id,
                doc_type=AWARD_DOC_TYPE,
                title=("Почётная грамота" if paper == "certificate" else "Благодарственное письмо")
                + f": {documents.initials(person.full_name)}",
                template=CERTIFICATE_TEMPLATE if paper == "certificate" else LETTER_TEMPLATE,
                context={
                    "cycle": {"school_year": cycle.school_year},
                    "mentor": {
                        "full_name": person.full_name,
                        "address": address_ru(
                            first_name=person.first_name, middle_name=person.middle_name
                        ),
                        "position": nominee.position,
                        "form": nominee.participant.form.value,
                        "mentees": nominee.mentees,
                    },
                    "order": order,
                },
                doc_date=doc_date,
                flow_run_id=flow_run_id,
            )
        )
    return requests


def issue_award_documents(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    doc_date: date,
    rewards_order_id: uuid.UUID | None = None,
    flow_run_id: uuid.UUID | None = None,
) -> list[Document]:
    """Every nominee's letter or certificate, rendered as one batch; existing ones are kept."""
    requests = award_requests(
        session=session,
        cycle_id=cycle_id,
        doc_date=doc_date,
        rewards_order_id=rewards_order_id,
        flow_run_id=flow_run_id,
    )
    return documents.issue_documents(session=session, settings=settings, requests=requests)


def _basis(nomination: MentorNomination) -> str:
    if nomination.overridden and nomination.comment:
        return f"представление куратора: {nomination.comment}"
    score = f"{nomination.score:.1f}".replace(".", ",")
    return f"рейтинг наставников: {nomination.rank}-е место, {score} балла"


def issue_rewards_order(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    order_date: date,
    round_no: int = 1,
    flow_run_id: uuid.UUID | None = None,
) -> Document:
    """The order «О поощрении наставников» (§2.16) listing the nominations in force; issued once
    per cycle and round (a re-run returns it)."""
    existing = _find(session, rewards_order_key(cycle_id, round_no))
    if existing is not None:
        return existing
    cycle = _cycle(session, cycle_id)
    chosen = nominees(session=session, cycle_id=cycle_id)
    if not chosen:
        raise AwardsRefused("Нет ни одного наставника, выдвинутого к поощрению: приказ не нужен.")
    by_reward: dict[RewardKind, list[Nominee]] = defaultdict(list)
    for nominee in chosen:
        by_reward[nominee.nomination.reward].append(nominee)
    groups = [
        {
            "reward": reward.value,
            "mentors": [
                {"full_name": n.person.full_name, "position": n.position} for n in by_reward[reward]
            ],
        }
        for reward in REWARD_ORDER
        if by_reward.get(reward)
    ]
    rows = [
        {
            "number": number,
            "full_name": n.person.full_name,
            "position": n.position,
            "form": n.participant.form.value,
            "reward_ru": REWARD_LABEL_RU[n.nomination.reward],
            "basis": _basis(n.nomination),
        }
        for number, n in enumerate(chosen, start=1)
    ]
    return documents.issue_document(
        session=session,
        settings=settings,
        unique_key=rewards_order_key(cycle_id, round_no),
        organization_id=cycle.organization_id,
        cycle_id=cycle_id,
        doc_type="order",
        title="Приказ о поощрении наставников",
        template="order_rewards.html",
        context={
            "cycle": {"school_year": cycle.school_year},
            "order_date": order_date,
            "groups": groups,
            "rows": rows,
        },
        doc_date=order_date,
        flow_run_id=flow_run_id,
    )


def issue_event_order(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    plan: FinalEventPlan,
    order_date: date,
    round_no: int = 1,
    flow_run_id: uuid.UUID | None = None,
) -> Document:
    """The order «О проведении итогового мероприятия»; issued once per cycle and round."""
    if plan.held_on < order_date:
        raise AwardsRefused(
            f"Дата мероприятия {plan.held_on:%d.%m.%Y} раньше даты приказа {order_date:%d.%m.%Y}."
        )
    cycle = _cycle(session, cycle_id)
    return documents.issue_document(
        session=session,
        settings=settings,
        unique_key=event_order_key(cycle_id, round_no),
        organization_id=cycle.organization_id,
        cycle_id=cycle_id,
        doc_type="order",
        title="Приказ о проведении итогового мероприятия",
        template="order_final_event.html",
        context={
            "cycle": {"school_year": cycle.school_year},
            "order_date": order_date,
            "event": {
                "title": plan.title,
                "held_on": plan.held_on,
                "time": plan.time,
                "place": plan.place,
                "responsible_name": plan.responsible_name or _curator(session, cycle),
                "programme": list(plan.programme),
            },
        },
        doc_date=order_date,
        flow_run_id=flow_run_id,
    )


def _curator(session: Session, cycle: Cycle) -> str:
    organization = session.get(Organization, cycle.organization_id)
    assert organization is not None
    return organization.curator_name


def issue_ranking_memo(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    ranking: Sequence[RankedMentor],
    as_of: date,
    round_no: int = 1,
    flow_run_id: uuid.UUID | None = None,
) -> Document:
    """The curator's memo: the ranking with every reason and the nominations so far."""
    cycle = _cycle(session, cycle_id)
    chosen = {n.mentor_id: n for n in nominations(session=session, cycle_id=cycle_id)}
    rows = []
    for entry in ranking:
        nomination = chosen.get(entry.mentor_id)
        rows.append(
            {
                "rank": entry.rank,
                "full_name": entry.record.full_name,
                "score": f"{entry.score:.1f}".replace(".", ","),
                "recommended_ru": REWARD_LABEL_RU[entry.recommended] if entry.recommended else "—",
                "chosen": nomination is not None,
                "chosen_ru": REWARD_LABEL_RU[nomination.reward] if nomination else "—",
                "comment": nomination.comment if nomination else "",
                "reasons": entry.reasons_ru,
            }
        )
    return documents.issue_document(
        session=session,
        settings=settings,
        unique_key=ranking_memo_key(cycle_id, round_no),
        organization_id=cycle.organization_id,
        cycle_id=cycle_id,
        doc_type="memo",
        title="Справка «Рейтинг наставников и выдвижение к поощрению»",
        template="final_event_ranking.html",
        context={
            "cycle": {"school_year": cycle.school_year},
            "as_of": as_of,
            "weights": WEIGHTS_RU,
            "rows": rows,
            "evidence": ranking_evidence(
                session=session, cycle_id=cycle_id, ranking=ranking, as_of=as_of
            ).statement_ru,
        },
        doc_date=as_of,
        flow_run_id=flow_run_id,
    )
