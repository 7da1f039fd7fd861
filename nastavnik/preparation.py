"""The preparation stage's documents: what goes into the orders and the regulation (no Prefect).

DESIGN §3, stage 0: orders approving the regulation (положение), appointing the curator,
approving the roadmap, and the order introducing the target model. The regulation («Положение
о наставничестве») is printed from the organisation's policy (:mod:`nastavnik.policy`): the
numbers in it are the numbers the stages enforce. The roadmap is its appendix, each item's due
rule printed exactly as the source wrote it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from models import Cycle, Document, MentoringForm
from nastavnik import documents, policy
from nastavnik.policy import OrganisationPolicy
from nastavnik.roadmap import Roadmap
from nastavnik.settings import Settings


@dataclass(frozen=True)
class DocumentSpec:
    """One document of the stage: its key within the run, type, title and template."""

    slug: str
    doc_type: str
    title: str
    template: str


# In the order they are issued: the regulation cites the order approving it, so it comes after.
ORDERS: tuple[DocumentSpec, ...] = (
    DocumentSpec(
        "order-model",
        "order",
        "Приказ о внедрении целевой модели наставничества",
        "order_target_model.html",
    ),
    DocumentSpec(
        "order-regulation",
        "order",
        "Приказ об утверждении положения о системе наставничества",
        "order_regulation.html",
    ),
    DocumentSpec("order-curator", "order", "Приказ о назначении куратора", "order_curator.html"),
    DocumentSpec(
        "order-roadmap", "order", "Приказ об утверждении дорожной карты", "order_roadmap.html"
    ),
)
REGULATION = DocumentSpec(
    "regulation", "regulation", "Положение о наставничестве", "regulation.html"
)

_GENITIVE = {
    1: "одного",
    2: "двух",
    3: "трёх",
    4: "четырёх",
    5: "пяти",
    6: "шести",
    7: "семи",
    8: "восьми",
    9: "девяти",
    10: "десяти",
}


def genitive_number(value: int) -> str:
    """3 → «трёх (3)», as the regulation writes a limit («не может превышать трех»)."""
    word = _GENITIVE.get(value)
    return f"{word} ({value})" if word else str(value)


def plural_ru(value: int, one: str, few: str, many: str) -> str:
    """«1 день», «3 дня», «5 дней»: the word form that goes with the number."""
    n = abs(value)
    if n % 10 == 1 and n % 100 != 11:
        word = one
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        word = few
    else:
        word = many
    return f"{value} {word}"


def days_ru(value: int) -> str:
    """«за 3 дня», «на 1 день», «на 5 дней» (accusative)."""
    return plural_ru(value, "день", "дня", "дней")


def days_genitive(value: int) -> str:
    """«в течение 10 дней», «в течение 1 дня», «в течение 21 дня»."""
    return plural_ru(value, "дня", "дней", "дней")


def years_genitive(value: int) -> str:
    """«от 0 до 3 лет», «от 5 лет», «от 1 года», «от 21 года»."""
    return plural_ru(value, "года", "лет", "лет")


def policy_context(
    rules: OrganisationPolicy,
    *,
    approval_code_days_default: int,
) -> dict[str, Any]:
    """The policy's values as the regulation's template prints them.

    ``approval_code_days_default`` is the installation's setting, which applies when the
    organisation has not set its own validity for approval codes.
    """
    return {
        "forms": [form.value for form in rules.forms],
        "runs": {form.name: form in rules.forms for form in MentoringForm},
        "max_mentees": rules.max_mentees_per_mentor,
        "max_mentees_words": genitive_number(rules.max_mentees_per_mentor),
        "young_specialist_max_years": years_genitive(rules.young_specialist_max_years),
        "employer_min_years": years_genitive(rules.employer_min_years),
        "employer_mentee_min_grade": rules.employer_mentee_min_grade,
        "pupil_mentor_min_grade_gap": plural_ru(
            rules.pupil_mentor_min_grade_gap, "класс", "класса", "классов"
        ),
        "pupil_mentor_higher_stage": rules.pupil_mentor_higher_stage,
        "group_min": rules.group_min,
        "group_max": rules.group_max,
        "report_deadline": days_genitive(rules.report_deadline_days),
        "monthly_mentor_report": rules.monthly_mentor_report,
        "mentor_report_day": rules.mentor_report_day,
        "participant_link_valid": days_genitive(rules.participant_link_valid_days),
        "approval_code_valid": days_genitive(
            rules.approval_code_valid_days or approval_code_days_default
        ),
        "reminder_before": days_ru(rules.reminder_days_before_due),
        "escalation": [
            {"role": _ROLE_DATIVE[role], "after": days_ru(days)}
            for role, days in rules.escalation_ladder()
        ],
    }


_ROLE_DATIVE = {
    "curator": "куратору",
    "director": "руководителю организации",
    "department": "в муниципальный орган управления образованием",
}


def roadmap_rows(roadmap: Roadmap) -> list[dict[str, str]]:
    """The roadmap's items as the appendix prints them: №, мероприятие, сроки (as written),
    ответственные, результат."""
    return [
        {
            "number": item.number,
            "title": item.title,
            "due": item.due,
            "responsible": ", ".join(item.responsible),
            "result": item.result,
            "section": item.section,
        }
        for item in roadmap.items
    ]


def roadmap_table(roadmap: Roadmap) -> list[dict[str, str]]:
    """The roadmap as a table artifact (Russian headers)."""
    return [
        {
            "№": row["number"],
            "Мероприятие": row["title"],
            "Сроки": row["due"],
            "Ответственные": row["responsible"],
            "Результат": row["result"],
        }
        for row in roadmap_rows(roadmap)
    ]


def roadmap_context(roadmap: Roadmap) -> dict[str, Any]:
    """The roadmap appendix's context: title, source year, rows."""
    return {
        "title": roadmap.title,
        "school_year": roadmap.school_year,
        "rows": roadmap_rows(roadmap),
    }


def policy_table(
    rules: OrganisationPolicy, *, approval_code_days_default: int
) -> list[dict[str, str]]:
    """The policy as a table artifact: what the regulation was printed from."""
    rows = []
    for key in policy.KEYS:
        value = policy.display_value(getattr(rules, key))
        if key == "approval_code_valid_days" and not value:
            value = f"{approval_code_days_default} (настройка)"
        rows.append({"Параметр": policy.title_of(key), "Значение": value})
    return rows


def issue_documents(
    *,
    session: Session,
    settings: Settings,
    cycle_id: uuid.UUID,
    roadmap: Roadmap,
    on: date,
    run_key: str,
    flow_run_id: uuid.UUID | None = None,
) -> list[Document]:
    """The four orders, then the regulation citing its order; each once per ``run_key``.

    The regulation and the orders are printed from the organisation's policy as it is now.
    """
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise LookupError(f"cycle {cycle_id} does not exist")
    rules = policy.get_policy(session=session, organization_id=cycle.organization_id)
    context: dict[str, Any] = {
        "cycle": {"school_year": cycle.school_year},
        "order_date": on,
        "rules": policy_context(rules, approval_code_days_default=settings.approval_ttl_days),
        "roadmap": roadmap_context(roadmap),
    }
    issued: dict[str, Document] = {}
    for spec in (*ORDERS, REGULATION):
        if spec is REGULATION:
            order = issued["order-regulation"]
            context["approved_by"] = {"label": order.label, "date": order.doc_date}
        issued[spec.slug] = documents.issue_document(
            session=session,
            settings=settings,
            unique_key=f"preparation:{run_key}:{spec.slug}",
            organization_id=cycle.organization_id,
            cycle_id=cycle.id,
            doc_type=spec.doc_type,
            title=spec.title,
            template=spec.template,
            context=context,
            doc_date=on,
            flow_run_id=flow_run_id,
        )
    return list(issued.values())
