"""64-bit ids on PostgreSQL: users, groups, courses, modules and the columns referring to them.

The API accepts any id in 1..2^63-1 and answers 404 for one that does not exist; with
32-bit columns PostgreSQL could not even be asked about an id above 2^31-1 (the driver
refused the parameter: a 500). SQLite's INTEGER is 64-bit already: nothing to do there.
The sequences are widened too, so new ids can go past 2^31-1.

Revision 0002, after 0001, of 2026-11-27.
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"

ID_COLUMNS = {
    "users": ("id",),
    "groups": ("id", "created_by"),
    "group_members": ("group_id", "user_id"),
    "courses": ("id",),
    "course_modules": ("id", "course_id"),
    "group_courses": ("group_id", "course_id"),
}
SEQUENCES = ("users_id_seq", "groups_id_seq", "courses_id_seq", "course_modules_id_seq")


def _retype(column_type: type[sa.Integer], sequence_type: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in ID_COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=column_type())
    for sequence in SEQUENCES:
        op.execute(f"ALTER SEQUENCE {sequence} AS {sequence_type}")


def upgrade() -> None:
    _retype(sa.BigInteger, "bigint")


def downgrade() -> None:
    # Fails, changing nothing, if an id above 2^31-1 is already stored.
    _retype(sa.Integer, "integer")
