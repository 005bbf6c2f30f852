"""Quiz settings and attempts that own their questions (issue 23, companion.md §2).

A quiz post gains its settings (`max_attempts`, `cooldown_minutes`, `time_limit_minutes`,
`shuffle_questions`, `shuffle_options`, `questions_per_attempt`, `reveal`), every existing
quiz at the defaults (unlimited, no cooldown, no time limit, no shuffle, every question,
results shown after submit): it behaves as before.

An attempt gains its own copy of its questions (`questions`), the answers saved while it
runs (`saved_answers`), its `deadline`, the `pass_mark` it is graded on and `timed_out`.
Existing attempts are filled in from what the database holds:
- an attempt in progress gets the quiz's questions as they are now, in authored order (what
  its owner was shown), and the quiz's pass mark;
- a submitted attempt gets the questions its `results` name, in that order: each from the
  quiz as it is now while the quiz still holds it (an edit gives a quiz new question ids,
  so a question still there is the one graded); one the quiz no longer holds is rebuilt
  from the results alone (its option ids: the chosen and the correct ones; prompt
  "(no longer in the quiz)", option texts empty), since its texts were never stored.
Every other row is kept as it was. `downgrade` drops the new columns (plain ALTER TABLE ...
DROP COLUMN, SQLite 3.35+: a batch rebuild of `posts` would drop its progress triggers).

Revision 0009, after 0008, of 2026-12-07.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from tma.core.db import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"

GONE_PROMPT = "(no longer in the quiz)"

_posts = sa.table("posts", sa.column("id"), sa.column("pass_mark"))
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
_attempts = sa.table(
    "quiz_attempts",
    sa.column("id"),
    sa.column("post_id"),
    sa.column("status"),
    sa.column("results", sa.JSON),
    sa.column("questions", sa.JSON),
    sa.column("pass_mark"),
)

POST_COLUMNS = (
    "max_attempts",
    "cooldown_minutes",
    "time_limit_minutes",
    "shuffle_questions",
    "shuffle_options",
    "questions_per_attempt",
    "reveal",
)
ATTEMPT_COLUMNS = ("questions", "saved_answers", "deadline", "pass_mark", "timed_out")


def _stored_questions(bind: sa.Connection) -> dict[int, list[dict[str, Any]]]:
    """Every quiz's questions as an attempt stores them, by post id, in authored order."""
    rows = bind.execute(
        sa.select(
            _questions.c.post_id,
            _questions.c.id.label("question_id"),
            _questions.c.prompt,
            _questions.c.kind,
            _questions.c.explanation,
            _options.c.id.label("option_id"),
            _options.c.text,
            _options.c.is_correct,
        )
        .select_from(_questions.outerjoin(_options, _options.c.question_id == _questions.c.id))
        .order_by(
            _questions.c.post_id,
            _questions.c.position,
            _questions.c.id,
            _options.c.position,
            _options.c.id,
        )
    ).mappings()
    by_post: dict[int, list[dict[str, Any]]] = {}
    seen: dict[int, dict[str, Any]] = {}
    for row in rows:
        question = seen.get(row["question_id"])
        if question is None:
            question = seen[row["question_id"]] = {
                "id": row["question_id"],
                "prompt": row["prompt"],
                "kind": row["kind"],
                "explanation": row["explanation"],
                "options": [],
            }
            by_post.setdefault(row["post_id"], []).append(question)
        if row["option_id"] is not None:
            question["options"].append(
                {"id": row["option_id"], "text": row["text"], "is_correct": bool(row["is_correct"])}
            )
    return by_post


def _rebuilt(result: dict[str, Any]) -> dict[str, Any]:
    """A graded question the quiz no longer holds, from its stored result."""
    correct = list(result.get("correct_option_ids") or [])
    ids = list(dict.fromkeys([*result.get("chosen_option_ids", []), *correct]))
    return {
        "id": result["question_id"],
        "prompt": GONE_PROMPT,
        "kind": "single" if len(correct) == 1 else "multiple",
        "explanation": result.get("explanation"),
        "options": [{"id": i, "text": "", "is_correct": i in correct} for i in sorted(ids)],
    }


def upgrade() -> None:
    op.add_column("posts", sa.Column("max_attempts", sa.Integer(), nullable=True))
    op.add_column(
        "posts", sa.Column("cooldown_minutes", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("posts", sa.Column("time_limit_minutes", sa.Integer(), nullable=True))
    for name in ("shuffle_questions", "shuffle_options"):
        op.add_column(
            "posts", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.add_column("posts", sa.Column("questions_per_attempt", sa.Integer(), nullable=True))
    op.add_column(
        "posts",
        sa.Column("reveal", sa.String(20), nullable=False, server_default="after_submit"),
    )
    for name in ("questions", "saved_answers"):
        op.add_column(
            "quiz_attempts",
            sa.Column(name, sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        )
    op.add_column("quiz_attempts", sa.Column("deadline", UTCDateTime(), nullable=True))
    op.add_column("quiz_attempts", sa.Column("pass_mark", sa.Integer(), nullable=True))
    op.add_column(
        "quiz_attempts",
        sa.Column("timed_out", sa.Boolean(), nullable=False, server_default=sa.false()),
    )

    bind = op.get_bind()
    quizzes = _stored_questions(bind)
    attempts = bind.execute(
        sa.select(
            _attempts.c.id,
            _attempts.c.post_id,
            _attempts.c.status,
            _attempts.c.results,
            _posts.c.pass_mark,
        )
        .join(_posts, _posts.c.id == _attempts.c.post_id)
        .order_by(_attempts.c.id)
    ).mappings()
    for attempt in attempts.all():
        current = quizzes.get(attempt["post_id"], [])
        if attempt["status"] == "in_progress" or attempt["results"] is None:
            questions = current
        else:
            by_id = {q["id"]: q for q in current}
            questions = [by_id.get(r["question_id"]) or _rebuilt(r) for r in attempt["results"]]
        bind.execute(
            sa.update(_attempts)
            .where(_attempts.c.id == attempt["id"])
            .values(questions=questions, pass_mark=attempt["pass_mark"])
        )


def downgrade() -> None:
    for name in ATTEMPT_COLUMNS:
        op.drop_column("quiz_attempts", name)
    for name in POST_COLUMNS:
        op.drop_column("posts", name)
