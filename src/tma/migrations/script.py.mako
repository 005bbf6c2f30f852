"""${message}

Revision ${up_revision}, after ${down_revision | comma,n}, of ${create_date.date()}.
"""

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

# Alembic reads these two. `branch_labels` and `depends_on` are left out: none is used here,
# and Alembic takes None when they are absent.
revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
