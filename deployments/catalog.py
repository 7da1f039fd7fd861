"""The one list of deployments: the runner serves it and ``prefect.yaml`` is generated from it."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import yaml

# The organisations' time zone: the daily tick runs in the morning of their day.
TIMEZONE = "Europe/Moscow"


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployed flow: where it lives, what it is called, how often it runs by itself."""

    name: str
    entrypoint: str  # "flows/<module>.py:<flow function>"
    description: str
    interval_seconds: int | None = None
    cron: str | None = None  # in TIMEZONE

    def schedules(self) -> list[Any]:
        """The deployment's schedules as Prefect schedule objects (empty: started on demand)."""
        from prefect.schedules import Cron, Interval

        if self.cron:
            return [Cron(self.cron, timezone=TIMEZONE)]
        if self.interval_seconds:
            return [Interval(self.interval_seconds)]
        return []

    @property
    def flow_name(self) -> str:
        """The flow's own name: every stage flow is named as its deployment."""
        return self.name

    @property
    def full_name(self) -> str:
        """``<flow>/<deployment>``, as the Prefect API and ``run_deployment`` name it."""
        return f"{self.flow_name}/{self.name}"

    def load_flow(self) -> Any:
        """Import the flow object named by the entrypoint."""
        path, _, attribute = self.entrypoint.partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        return getattr(module, attribute)


DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec(
        "preparation",
        "flows/preparation.py:preparation",
        "Подготовка: приказы, положение о наставничестве по политике организации, дорожная карта",
    ),
    DeploymentSpec(
        "base-formation",
        "flows/base_formation.py:base_formation",
        "Формирование базы наставляемых и наставников",
    ),
    DeploymentSpec("training", "flows/training.py:training", "Обучение и назначение наставников"),
    DeploymentSpec(
        "pairing",
        "flows/pairing.py:pairing",
        "Подбор наставнических пар, приказ о закреплении, персональные программы",
    ),
    DeploymentSpec(
        "pair-replacement",
        "flows/pair_changes.py:pair_replacement",
        "Замена наставника по приказу (п. 2.8 положения)",
    ),
    DeploymentSpec(
        "pair-extension",
        "flows/pair_changes.py:pair_extension",
        "Продление срока наставничества по приказу (п. 2.9 положения)",
    ),
    DeploymentSpec(
        "pair-termination",
        "flows/pair_changes.py:pair_termination",
        "Досрочное прекращение наставничества по приказу (п. 2.10 положения)",
    ),
    DeploymentSpec(
        "completion",
        "flows/completion.py:completion",
        "Завершение: отчёты наставников и наставляемых (п. 2.13–2.14), справка по результатам "
        "оценки и обратной связи, приказ об итогах",
    ),
    DeploymentSpec(
        "final-event",
        "flows/final_event.py:final_event",
        "Итоговое мероприятие: рейтинг наставников, приказы о мероприятии и о поощрении, "
        "благодарственные письма и грамоты, доска почёта",
    ),
    DeploymentSpec(
        "department",
        "flows/department.py:department",
        "Отдел образования: информационно-аналитический отчёт по отчётам организаций, приказ "
        "об итогах реализации целевой модели наставничества, рассылка отчёта организациям",
    ),
    DeploymentSpec(
        "organisation-report",
        "flows/organisation_report.py:organisation_report",
        "Отчёт организации управлению образования по запросу: показатели, дорожная карта, "
        "пояснительная записка; утверждение директором, подписанная отправка",
    ),
    DeploymentSpec(
        "stage-batch",
        "flows/batch.py:stage_batch",
        "Этап для нескольких организаций одним запуском (ежедневный шаг отдела образования): "
        "одна приостановка на все решения директоров",
    ),
    DeploymentSpec(
        "retry-deliveries",
        "flows/delivery.py:retry_deliveries",
        "Повторная отправка писем, которым подошёл срок (каждую минуту)",
        # The first retry is due a minute after a failure (nastavnik.mail.RetryPolicy).
        interval_seconds=60,
    ),
    DeploymentSpec(
        "cycle-tick",
        "flows/cycle.py:cycle_tick",
        "Ежедневный шаг годового цикла: сроки дорожной карты, запуск этапов, напоминания",
        cron="0 7 * * *",
    ),
)

STAGE_DEPLOYMENTS = {spec.name: spec.full_name for spec in DEPLOYMENTS}

PREFECT_YAML_HEADER = """\
# Generated from deployments/catalog.py by `nastavnik deployments --write prefect.yaml`;
# edit the catalog, not this file (a test checks they agree).
# Production deployments: a Prefect server (on PostgreSQL) and any number of process workers.
#   prefect work-pool create nastavnik --type process
#   prefect deploy --all
#   prefect worker start --pool nastavnik
# Workers need the NASTAVNIK_* settings (database URL, SMTP URL, web base URL, secret key)
# in their environment; the embedded stack (`nastavnik up`) serves the same flows without this file.
"""


def prefect_yaml(*, work_pool: str = "nastavnik") -> str:
    """``prefect.yaml`` for ``prefect deploy --all`` on a process work pool."""
    deployments: list[dict[str, Any]] = []
    for spec in DEPLOYMENTS:
        item: dict[str, Any] = {
            "name": spec.name,
            "entrypoint": spec.entrypoint,
            "description": spec.description,
        }
        if spec.cron:
            item["schedules"] = [{"cron": spec.cron, "timezone": TIMEZONE}]
        elif spec.interval_seconds:
            item["schedules"] = [{"interval": spec.interval_seconds}]
        item["work_pool"] = {"name": work_pool}
        deployments.append(item)
    document = {
        "name": "nastavnik",
        "prefect-version": "3.8.8",
        "pull": [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ $NASTAVNIK_CODE_DIR }}"
                }
            }
        ],
        "deployments": deployments,
    }
    body = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    return PREFECT_YAML_HEADER + body


def run_label(deployment: str, params: dict[str, object]) -> tuple[str | None, list[str]]:
    """A stage run's name and tags, as the daily tick gives them: «school-7 · 2026/2027 ·
    pairing» and [school-7, 2026/2027, pairing], so the Prefect UI filters by organisation,
    year and stage (no name or tags for a run that names no organisation and year)."""
    stage = deployment.split("/", 1)[0]
    org, year = params.get("organization_code"), params.get("school_year")
    if not org or not year:
        return None, []
    return f"{org} · {year} · {stage}", [str(org), str(year), stage]
