"""Serve every stage deployment from one process (the embedded runner; a worker in production)."""

from __future__ import annotations

from prefect import serve

from flows.base_formation import base_formation
from flows.delivery import retry_deliveries
from flows.pairing import pairing
from flows.training import training

DEPLOYMENT_NAMES = {
    "base-formation": "base-formation/base-formation",
    "training": "training/training",
    "pairing": "pairing/pairing",
}


def deployments() -> list:  # type: ignore[type-arg]
    """The deployments the embedded stack serves."""
    return [
        base_formation.to_deployment(
            name="base-formation", description="Формирование базы наставляемых и наставников"
        ),
        training.to_deployment(name="training", description="Обучение и назначение наставников"),
        pairing.to_deployment(
            name="pairing",
            description="Подбор наставнических пар, приказ о закреплении, персональные программы",
        ),
        retry_deliveries.to_deployment(
            name="retry-deliveries",
            interval=900,
            description="Повторная отправка недоставленных писем",
        ),
    ]


def main() -> None:
    """Serve until interrupted."""
    serve(*deployments(), limit=4, print_starting_message=False)


if __name__ == "__main__":
    main()
