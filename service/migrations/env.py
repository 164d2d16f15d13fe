"""Alembic environment: migrations run against the URL the service was configured with."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from service.db import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url must be set by service.db.upgrade"  # nosec B101  # a wiring check, not a guard

engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
