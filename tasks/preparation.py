"""Tasks of the preparation stage: the orders and the regulation from the organisation's policy."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from models import Cycle
from nastavnik import policy, preparation
from nastavnik.db import session_scope
from nastavnik.roadmap import Roadmap, RoadmapError
from nastavnik.settings import get_settings
from tasks.caching import run_cached_task


def _load_roadmap(path: Path) -> Roadmap:
    # TODO(lead): use load_roadmap (nastavnik.roadmap, written on another branch).
    try:
        return Roadmap.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise RoadmapError([f"{path}: {error}"]) from None


class PreparationDocuments(BaseModel):
    """The stage's documents and what its artifacts show."""

    document_ids: list[str]
    policy_table: list[dict[str, str]]
    roadmap_table: list[dict[str, str]]
    forms: list[str]


@run_cached_task(
    name="render-preparation-documents",
    retries=1,
    retry_delay_seconds=[5],
)
def render_preparation_documents(
    *, cycle_id: str, on: date, flow_run_id: str, roadmap_file: str
) -> PreparationDocuments:
    """The four orders and the regulation printed from the organisation's policy."""
    roadmap = _load_roadmap(Path(roadmap_file))
    settings = get_settings()
    with session_scope() as session:
        issued = preparation.issue_documents(
            session=session,
            settings=settings,
            cycle_id=uuid.UUID(cycle_id),
            roadmap=roadmap,
            on=on,
            run_key=flow_run_id,
            flow_run_id=uuid.UUID(flow_run_id),
        )
        cycle = session.get(Cycle, uuid.UUID(cycle_id))
        assert cycle is not None
        rules = policy.get_policy(session=session, organization_id=cycle.organization_id)
        return PreparationDocuments(
            document_ids=[str(document.id) for document in issued],
            policy_table=preparation.policy_table(
                rules, approval_code_days_default=settings.approval_ttl_days
            ),
            roadmap_table=preparation.roadmap_table(roadmap),
            forms=[form.value for form in rules.forms],
        )
