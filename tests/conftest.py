"""Shared fixtures: migrated databases (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from nastavnik import repository
from nastavnik.db import make_engine, migrate
from nastavnik.settings import Settings

POSTGRES_URL = os.environ.get("NASTAVNIK_TEST_POSTGRES_URL")
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _templates_unchecked() -> None:
    """Each test issues documents as a new process would: the first of a template kept to render
    on opening is rendered at once (nastavnik.documents checks each template once a process)."""
    from nastavnik import documents

    documents._checked_templates.clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a throw-away data directory and SQLite file."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        secret_key="test-secret-key-0123456789abcdef",
        smtp_url="smtp://127.0.0.1:1",
    )


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database in a temporary file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def _worker_database(url: str, worker: str) -> str:
    """Under pytest-xdist each worker truncates tables between tests: each gets a database of its
    own, created beside the configured one (and dropped at the end)."""
    import psycopg

    base, _, name = url.rpartition("/")
    database = f"{name}_{worker}"
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')
    return f"{base}/{database}"


def _drop_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _postgres_engine(worker_id: str) -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip("NASTAVNIK_TEST_POSTGRES_URL is not set")
    url = POSTGRES_URL if worker_id == "master" else _worker_database(POSTGRES_URL, worker_id)
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()
    if url != POSTGRES_URL:
        _drop_database(url)


def _truncate(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The repository/import tests' database: SQLite, and PostgreSQL when configured."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_engine")
        return
    pg = request.getfixturevalue("_postgres_engine")
    _truncate(pg)
    yield pg
    _truncate(pg)


@pytest.fixture
def cycle_ids(engine: Engine) -> tuple:
    """An organisation and its 2026/2027 cycle; returns (organization_id, cycle_id)."""
    with Session(engine) as session:
        org = repository.upsert_organization(
            session=session,
            code="school-7",
            name="МБОУ «Средняя школа № 7»",
            short_name="СШ № 7",
            director_name="Иванова Мария Петровна",
            director_email="director@school7.example",
            curator_name="Петров Олег Ильич",
            curator_email="curator@school7.example",
            city="Минеральные Воды",
        )
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year="2026/2027"
        )
        session.commit()
        return org.id, cycle.id


# The longest test files first: `make test` hands whole files to two processes in this order, so
# the two demo years start at once instead of after everything collected before them.
SLOWEST_FIRST = (
    "test_demo_department.py",
    "test_demo.py",
    "test_year.py",
    "test_crash_safety.py",
    "test_production.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slowest files first (a stable sort: the rest keep their order)."""

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)
