"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

import models  # noqa: F401  (registers the tables)
from models import MenteeCategory, MentoringForm, MentorshipPair, Participant, Person, Role
from nastavnik.db import MIGRATIONS_DIR


def test_migrations_match_the_models(engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def _alembic(engine: Engine, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_college_forms_and_mentee_category_are_stored(engine, cycle_ids) -> None:
    """0006: every form (the college's too) and every §2.3 category round-trips."""
    org_id, cycle_id = cycle_ids
    with Session(engine) as session:
        for number, form in enumerate(MentoringForm):
            person = Person(
                organization_id=org_id, person_key=f"p{number}", last_name="А", first_name="Б"
            )
            session.add(person)
            session.flush()
            categories = list(MenteeCategory)
            participant = Participant(
                cycle_id=cycle_id,
                person_id=person.id,
                role=Role.mentee if number % 2 else Role.mentor,
                form=form,
                mentee_category=categories[number % len(categories)],
            )
            session.add(participant)
            session.flush()
            session.add(MentorshipPair(cycle_id=cycle_id, mentor_id=participant.id, form=form))
        session.commit()
    with Session(engine) as session:
        stored = {p.form for p in session.exec(select(Participant))}
        assert stored == set(MentoringForm)
        assert {p.form for p in session.exec(select(MentorshipPair))} == set(MentoringForm)
        assert {p.mentee_category for p in session.exec(select(Participant))} == set(MenteeCategory)
    with engine.connect() as connection:
        # The enum stores member names, as since 0001.
        names = connection.execute(text("SELECT form FROM participant")).scalars().all()
        assert {str(n) for n in names} == {f.name for f in MentoringForm}


def test_0006_downgrades_and_upgrades_again(engine) -> None:
    """0006 is reversible on an empty database (PostgreSQL rebuilds the enum type)."""
    _alembic(engine, "downgrade", "0005_outbox_retry")
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert context.get_current_revision() == "0005_outbox_retry"
            columns = [c["name"] for c in inspect(connection).get_columns("participant")]
            assert "mentee_category" not in columns
    finally:
        _alembic(engine, "upgrade", "head")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_the_head_revision_is_the_newest_files_name() -> None:
    """engine_for() compares the database with head_revision() without loading any script: that
    holds while the newest migration's revision is its file's name."""
    from alembic.script import ScriptDirectory

    from nastavnik.db import head_revision

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(config)
    (head,) = scripts.get_heads()
    script = scripts.get_revision(head)
    assert script is not None and script.path is not None
    assert head == Path(script.path).stem == head_revision()


def test_a_database_behind_the_head_is_migrated_and_one_at_the_head_is_left(tmp_path) -> None:
    from nastavnik.db import current_revision, engine_for, head_revision, make_engine

    url = f"sqlite:///{tmp_path / 'app.db'}"
    assert current_revision(make_engine(url)) is None
    engine = engine_for.__wrapped__(url)  # not the process's cached engine
    assert current_revision(engine) == head_revision()
    _alembic(engine, "downgrade", "0013_department")
    assert not inspect(engine).has_table("useraccount")
    again = engine_for.__wrapped__(url)
    assert current_revision(again) == head_revision() and inspect(again).has_table("useraccount")
