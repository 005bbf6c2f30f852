"""Submitted answers as rows (issue 26, the dashboard's bench line)

- `quiz_answers`: per submitted attempt and question one row with `option_id` null (the
  answer: `correct`), then one per distinct option chosen; `post_id` and `user_id` copied
  from the attempt. The dashboard counts them with a GROUP BY instead of parsing every
  attempt's `results` JSON per request.
- Filled from the submitted attempts' `results` (`[{question_id, correct,
  chosen_option_ids, ...}]`), read and written in batches of `BATCH` attempts; an attempt
  whose `results` is not a list (none stored) gets no rows.

- PostgreSQL only: `ix_post_progress_post_id` and `ix_quiz_attempts_post_id_user_id` carry
  the columns the dashboard counts (`INCLUDE`), so its reads are index-only scans; the
  same keys, so every other plan is as it was. SQLite has no `INCLUDE`: unchanged there.

No existing row changes. Downgrade drops the table and gives the two indexes back their
keys only.

Revision 0017, after 0016, of 2026-12-07.
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 1000


def answer_rows(attempt: Any) -> list[dict[str, Any]]:
    """The rows of one submitted attempt (`id`, `post_id`, `user_id`, `results`), as the
    submit writes them (`tma.quizzes.engine.answer_rows`, copied here: a released migration
    never imports code that could change under it)."""
    results = attempt.results
    if isinstance(results, str):  # SQLite's JSON column read as text by a raw select
        results = json.loads(results)
    out: list[dict[str, Any]] = []
    if not isinstance(results, list):
        return out
    base = {"attempt_id": attempt.id, "post_id": attempt.post_id, "user_id": attempt.user_id}
    for result in results:
        question_id, correct = int(result["question_id"]), bool(result["correct"])
        out.append({**base, "question_id": question_id, "option_id": None, "correct": correct})
        for option_id in sorted({int(o) for o in result.get("chosen_option_ids") or ()}):
            out.append(
                {**base, "question_id": question_id, "option_id": option_id, "correct": correct}
            )
    return out


def upgrade() -> None:
    answers = op.create_table(
        "quiz_answers",
        sa.Column("id", ID, primary_key=True),
        sa.Column("attempt_id", ID, nullable=False),
        sa.Column("post_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("question_id", ID, nullable=False),
        sa.Column("option_id", ID, nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["quiz_attempts.id"],
            name="fk_quiz_answers_attempt_id_quiz_attempts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_quiz_answers"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_quiz_answers_attempt_id", "quiz_answers", ["attempt_id"])
    op.create_index(
        "ix_quiz_answers_post_id_user_id",
        "quiz_answers",
        ["post_id", "user_id", "question_id", "option_id", "correct", "attempt_id"],
    )
    conn = op.get_bind()
    read = sa.text(
        "SELECT id, post_id, user_id, results FROM quiz_attempts "
        "WHERE status = 'submitted' AND id > :after ORDER BY id LIMIT :batch"
    )
    after = 0
    while True:
        batch = conn.execute(read, {"after": after, "batch": BATCH}).all()
        if not batch:
            break
        rows = [row for attempt in batch for row in answer_rows(attempt)]
        if rows:
            conn.execute(sa.insert(answers), rows)
        after = batch[-1].id

    if conn.dialect.name == "postgresql":
        _covering_indexes(include=True)


# (table, index, key columns, the columns 0017 adds to it on PostgreSQL)
COVERING = (
    ("post_progress", "ix_post_progress_post_id", ["post_id"], ["user_id", "status", "updated_at"]),
    (
        "quiz_attempts",
        "ix_quiz_attempts_post_id_user_id",
        ["post_id", "user_id"],
        ["status", "passed", "started_at", "submitted_at"],
    ),
)


def _covering_indexes(*, include: bool) -> None:
    for table, name, keys, extra in COVERING:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, keys, postgresql_include=extra if include else [])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _covering_indexes(include=False)
    op.drop_index("ix_quiz_answers_post_id_user_id", table_name="quiz_answers")
    op.drop_index("ix_quiz_answers_attempt_id", table_name="quiz_answers")
    op.drop_table("quiz_answers")
