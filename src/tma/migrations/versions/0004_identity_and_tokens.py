"""One identity per name (canonical keys) and tokens that can end (`tokens_valid_after`).

- `users.username_key` and `users.email_key`: the canonical keys of tma.core.identity
  (NFKC + PRECIS UsernameCaseMapped with case folding; NFKC + case folding for e-mails),
  each with a unique index. They replace the `lower(username)` index, whose `lower()`
  differs between SQLite (ASCII only) and PostgreSQL.
- `users.tokens_valid_after`: tokens issued at or before it are refused (null: none is).

Existing rows get their keys computed here by the application's own functions. Two rows
that now share a key (say `Émile1` and `émile1`, which SQLite let in) are not merged and
do not stop the upgrade: the later one (higher id) gets the key `<key> #<id>`, which no
name can have (the rule refuses spaces), and a warning names both rows so that an admin
can rename or remove one. Until then the earlier one logs in under that name.

The key columns are added NOT NULL with an empty default (SQLite can then add them
without rebuilding the table) and filled before their unique indexes are built.

Revision 0004, after 0003, of 2026-12-01.
"""

import logging
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from tma.core.db import UTCDateTime
from tma.core.identity import EMAIL_KEY_MAX, USERNAME_KEY_MAX, email_key, username_key

revision: str = "0004"
down_revision: str | None = "0003"

logger = logging.getLogger("tma.migrations")

_users = sa.table(
    "users",
    sa.column("id", sa.BigInteger()),
    sa.column("username", sa.String()),
    sa.column("email", sa.String()),
    sa.column("username_key", sa.String()),
    sa.column("email_key", sa.String()),
)


def _keys(
    rows: Sequence[tuple[int, str]], key_of: Callable[[str], str], what: str
) -> dict[int, str]:
    """Each row's key; a row whose key an earlier row already has gets `<key> #<id>`."""
    owner: dict[str, tuple[int, str]] = {}
    keys: dict[int, str] = {}
    for row_id, value in rows:
        key = key_of(value)
        if key in owner:
            first_id, first_value = owner[key]
            logger.warning(
                "users %s (%r) and %s (%r) share the %s key %r: user %s keeps it, "
                "user %s gets %r until an admin renames one",
                first_id,
                first_value,
                row_id,
                value,
                what,
                key,
                first_id,
                row_id,
                f"{key} #{row_id}",
            )
            key = f"{key} #{row_id}"
        owner[key] = (row_id, value)
        keys[row_id] = key
    return keys


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("username_key", sa.String(USERNAME_KEY_MAX), nullable=False, server_default=""),
    )
    op.add_column(
        "users",
        sa.Column("email_key", sa.String(EMAIL_KEY_MAX), nullable=False, server_default=""),
    )
    op.add_column("users", sa.Column("tokens_valid_after", UTCDateTime(), nullable=True))

    bind = op.get_bind()
    rows = bind.execute(sa.select(_users.c.id, _users.c.username, _users.c.email).order_by("id"))
    found = [(row.id, row.username, row.email) for row in rows]
    names = _keys([(i, name) for i, name, _ in found], username_key, "username")
    mails = _keys([(i, mail) for i, _, mail in found], email_key, "email")
    if found:
        bind.execute(
            _users.update()
            .where(_users.c.id == sa.bindparam("row_id"))
            .values(username_key=sa.bindparam("name_key"), email_key=sa.bindparam("mail_key")),
            [{"row_id": i, "name_key": names[i], "mail_key": mails[i]} for i, _, _ in found],
        )

    op.drop_index("uq_users_username_lower", table_name="users")
    op.create_index("uq_users_username_key", "users", ["username_key"], unique=True)
    op.create_index("uq_users_email_key", "users", ["email_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_email_key", table_name="users")
    op.drop_index("uq_users_username_key", table_name="users")
    # Fails, changing nothing, if two names now differ only in a way `lower()` ignores.
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild of `users` would
    # fire the ON DELETE CASCADE of the tables referring to it.
    for column in ("tokens_valid_after", "email_key", "username_key"):
        op.drop_column("users", column)
