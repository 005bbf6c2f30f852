"""A quiz's questions kept whole on its post (`posts.question_bank`), for starting attempts.

An attempt copies its quiz's questions when it starts (migration 0009). The copy was read
from `quiz_questions` joined with `quiz_options`, a row per option (200 for a quiz of 50
questions of 4 options), and rebuilt in Python on every start: most of a start's cost
(docs/performance.md, "The quiz engine"). A quiz post now also holds its questions as
an attempt copies them (`[{id, prompt, kind, explanation, options: [{id, text,
is_correct}]}]`, authored order), written with the questions (`tma.posts.quiz.
write_questions`), read by the start's one statement. The tables stay the source of every
other read (the quiz, post detail, the bundle).

Every existing quiz is filled in from its tables (a quiz without questions: `[]`); other
posts stay null. Every other row is kept as it was. `downgrade` drops the column (plain
ALTER TABLE ... DROP COLUMN: a batch rebuild of `posts` would drop its progress triggers).

Revision 0012, after 0011, of 2026-12-07.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"

_posts = sa.table(
    "posts", sa.column("id"), sa.column("post_type"), sa.column("question_bank", sa.JSON)
)
_questions = sa.table(
    "quiz_questions",
    sa.column("id"),
    sa.column("post_id"),
    sa.column("position"),
    sa.column("prompt"),
    sa.column("kind"),
    sa.column("explanation"),
)
_options = sa.table(
    "quiz_options",
    sa.column("id"),
    sa.column("question_id"),
    sa.column("position"),
    sa.column("text"),
    sa.column("is_correct"),
)


def _banks(bind: sa.Connection) -> dict[int, list[dict[str, Any]]]:
    """Each quiz post's questions with their options, in authored order, by post id."""
    found = bind.execute(
        sa.select(
            _posts.c.id.label("post_id"),
            _questions.c.id.label("question_id"),
            _questions.c.prompt,
            _questions.c.kind,
            _questions.c.explanation,
            _options.c.id.label("option_id"),
            _options.c.text,
            _options.c.is_correct,
        )
        .select_from(
            _posts.outerjoin(_questions, _questions.c.post_id == _posts.c.id).outerjoin(
                _options, _options.c.question_id == _questions.c.id
            )
        )
        .where(_posts.c.post_type == "quiz")
        .order_by(
            _posts.c.id,
            _questions.c.position,
            _questions.c.id,
            _options.c.position,
            _options.c.id,
        )
    ).mappings()
    banks: dict[int, list[dict[str, Any]]] = {}
    by_id: dict[int, dict[str, Any]] = {}
    for row in found:
        bank = banks.setdefault(row["post_id"], [])
        if row["question_id"] is None:  # a quiz without questions
            continue
        question = by_id.get(row["question_id"])
        if question is None:
            question = by_id[row["question_id"]] = {
                "id": row["question_id"],
                "prompt": row["prompt"],
                "kind": row["kind"],
                "explanation": row["explanation"],
                "options": [],
            }
            bank.append(question)
        if row["option_id"] is not None:
            question["options"].append(
                {"id": row["option_id"], "text": row["text"], "is_correct": bool(row["is_correct"])}
            )
    return banks


def upgrade() -> None:
    op.add_column("posts", sa.Column("question_bank", sa.JSON(), nullable=True))
    bind = op.get_bind()
    for post_id, bank in _banks(bind).items():
        bind.execute(sa.update(_posts).where(_posts.c.id == post_id).values(question_bank=bank))


def downgrade() -> None:
    op.drop_column("posts", "question_bank")
