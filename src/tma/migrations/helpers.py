"""Steps that more than one migration takes, written once.

A migration that calls one of these runs what the helper does today, so a helper is frozen
once a revision uses it: never change what one emits (tables, names, statements); write a
new helper for a new need. tests/test_migrations.py checks the schema each revision builds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# 64-bit ids on PostgreSQL (0002); SQLite's INTEGER primary keys are 64-bit already.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_counter_table(table: str, key: str, parent: str, backfill: str) -> None:
    """`table(user_id, <key>, completed)`: completed posts per user and `parent` row (a
    module, a course), both keys cascading, indexed by `key`, filled by `backfill`."""
    op.create_table(
        table,
        sa.Column("user_id", ID, nullable=False),
        sa.Column(key, ID, nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            [key], [f"{parent}.id"], name=f"fk_{table}_{key}_{parent}", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", key, name=f"pk_{table}"),
    )
    op.create_index(f"ix_{table}_{key}", table, [key])
    op.execute(backfill)


def drop_counter_table(table: str, key: str) -> None:
    op.drop_index(f"ix_{table}_{key}", table_name=table)
    op.drop_table(table)


def execute_for_dialect(postgresql: Sequence[str], sqlite: Sequence[str]) -> None:
    """Runs the statements written for the database at hand, in order."""
    for statement in postgresql if is_postgresql() else sqlite:
        op.execute(statement)


def drop_triggers(postgresql: Sequence[tuple[str, str]], sqlite: Sequence[str]) -> None:
    """Drops triggers: on PostgreSQL each (name, table) with its function of the same name,
    on SQLite each named trigger."""
    if is_postgresql():
        for name, table in postgresql:
            op.execute(f"DROP TRIGGER {name} ON {table}")
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in sqlite:
            op.execute(f"DROP TRIGGER {name}")
