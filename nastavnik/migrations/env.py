"""Alembic environment: runs against the connection handed in by ``nastavnik.db.migrate``."""

from alembic import context
from sqlmodel import SQLModel

import models  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata
config = context.config

connection = config.attributes.get("connection")
if connection is None:
    from nastavnik.db import make_engine
    from nastavnik.settings import get_settings

    url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url
    with make_engine(url).connect() as own_connection:
        context.configure(
            connection=own_connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        own_connection.commit()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
