"""Serve every deployment of the catalog from one process (the embedded runner)."""

from __future__ import annotations

from prefect import serve

from deployments.catalog import DEPLOYMENTS


def deployments() -> list:  # type: ignore[type-arg]
    """The deployments the embedded stack serves, as the catalog lists them."""
    return [
        spec.load_flow().to_deployment(
            name=spec.name, description=spec.description, interval=spec.interval_seconds
        )
        for spec in DEPLOYMENTS
    ]


def main() -> None:
    """Serve until interrupted."""
    serve(*deployments(), limit=4, print_starting_message=False)


if __name__ == "__main__":
    main()
