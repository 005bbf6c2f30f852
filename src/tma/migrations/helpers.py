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


def create_version_triggers(content: Sequence[str], caller: Sequence[str]) -> None:
    """The triggers of `tma.core.versions` on new tables: a write to a `content` table bumps
    `content_version` (PostgreSQL: a deferred constraint trigger, once per transaction, at
    commit), a write to a `caller` table (column `user_id`) bumps `users.version` of the
    rows' users (PostgreSQL: one statement trigger per event, with transition tables).
    Needs the functions of migration 0016."""
    for table in content:
        if is_postgresql():
            op.execute(
                f"CREATE CONSTRAINT TRIGGER content_version_{table} "
                f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                "EXECUTE FUNCTION bump_content_version()"
            )
            continue
        for event in ("INSERT", "UPDATE", "DELETE"):
            name = f"content_version_{table}_{event.lower()}"
            bump = "UPDATE content_version SET version = version + 1 WHERE id = 1;"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN {bump} END"
            )
    for table in caller:
        if is_postgresql():
            for event, referencing, function in (
                ("INSERT", "NEW TABLE AS new_rows", "bump_caller_version_new"),
                (
                    "UPDATE",
                    "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                    "bump_caller_version_both",
                ),
                ("DELETE", "OLD TABLE AS old_rows", "bump_caller_version_old"),
            ):
                op.execute(
                    f"CREATE TRIGGER caller_version_{table}_{event.lower()} AFTER {event} "
                    f"ON {table} REFERENCING {referencing} FOR EACH STATEMENT "
                    f"EXECUTE FUNCTION {function}()"
                )
            continue
        for event, ids in (
            ("INSERT", "NEW.user_id"),
            ("UPDATE", "NEW.user_id, OLD.user_id"),
            ("DELETE", "OLD.user_id"),
        ):
            name = f"caller_version_{table}_{event.lower()}"
            bump = f"UPDATE users SET version = version + 1 WHERE id IN ({ids});"  # noqa: S608
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN {bump} END"
            )


def drop_version_triggers(content: Sequence[str], caller: Sequence[str]) -> None:
    """Drops what `create_version_triggers` made (not the functions)."""
    for table in content:
        if is_postgresql():
            op.execute(f"DROP TRIGGER content_version_{table} ON {table}")
            continue
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER content_version_{table}_{event}")
    for table in caller:
        for event in ("insert", "update", "delete"):
            on = f" ON {table}" if is_postgresql() else ""
            op.execute(f"DROP TRIGGER caller_version_{table}_{event}{on}")
