"""Tasks of the roadmap's execution log: the status reports the tick publishes."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

from nastavnik import roadmap_report


def status_key(cycle_id: str) -> str:
    """The key of a cycle's plan status artifact."""
    return f"roadmap-{cycle_id}"


@task(name="publish-plan-statuses", retries=2, retry_delay_seconds=[1, 5])
def publish_plan_statuses(markdowns: dict[str, str]) -> list[str]:
    """Each cycle's plan status as its markdown artifact: a new version only for those whose
    status changed (the latest versions read in one request); returns the cycles published."""
    if not markdowns:
        return []
    keys = {status_key(cycle_id): cycle_id for cycle_id in markdowns}
    with get_client(sync_client=True) as client:
        latest = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(
                key=ArtifactCollectionFilterKey(any_=list(keys))
            )
        )
    previous = {a.key: a.data for a in latest if isinstance(a.data, str)}
    published = []
    for key, cycle_id in keys.items():
        markdown = markdowns[cycle_id]
        if roadmap_report.same_status(previous.get(key), markdown):
            continue
        create_markdown_artifact(
            key=key, markdown=markdown, description="Выполнение дорожной карты"
        )
        published.append(cycle_id)
    return published
