"""Learning content: modules of their own (shared by courses through ordered links), posts,
quiz questions and options, files, quiz attempts and progress.

Data: every row of the old `course_modules` (a module owned by one course) becomes a module
with the same id, title and text (`content` -> `description`) and timestamps, linked to its
course; each course's links are numbered 1..n in the old order (`ordering`, then id).
Downgrade turns each link back into an owned module row (a module shared by several courses
becomes one row per course; the first keeps the id) and drops the new tables.

Revision 0003, after 0002, of 2026-12-01.
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    ]


def _fk(column: str, table: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    # Every table is written out as this revision created it, also where two look alike
    # (an id, a parent key, a position, some text, timestamps): this is the schema as applied,
    # and a shared table builder would let a later edit change what an applied revision does.
    op.create_table(
        "modules",
        sa.Column("id", ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("color", sa.String(length=7), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_modules"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_modules_created_at_id", "modules", ["created_at", "id"])
    op.create_table(
        "course_module_links",
        sa.Column("course_id", ID, nullable=False),
        sa.Column("module_id", ID, nullable=False),
        sa.Column("ordering", sa.Integer(), nullable=False),
        sa.Column("linked_at", TS, nullable=False),
        _fk("course_id", "course_module_links", "courses", "CASCADE"),
        _fk("module_id", "course_module_links", "modules", "CASCADE"),
        sa.PrimaryKeyConstraint("course_id", "module_id", name="pk_course_module_links"),
    )
    op.create_index(
        "ix_course_module_links_course_id_ordering",
        "course_module_links",
        ["course_id", "ordering"],
    )
    op.create_index("ix_course_module_links_module_id", "course_module_links", ["module_id"])

    # The old modules, kept: same ids, texts and timestamps; links numbered 1..n per course.
    op.execute(
        "INSERT INTO modules (id, title, description, color, created_at, updated_at) "
        "SELECT id, title, content, NULL, created_at, updated_at FROM course_modules"
    )
    op.execute(
        "INSERT INTO course_module_links (course_id, module_id, ordering, linked_at) "
        "SELECT course_id, id, ROW_NUMBER() OVER (PARTITION BY course_id ORDER BY ordering, id), "
        "created_at FROM course_modules"
    )
    if _is_postgresql():
        op.execute(
            "SELECT setval(pg_get_serial_sequence('modules', 'id'), "
            "COALESCE((SELECT MAX(id) FROM modules), 0) + 1, false)"
        )
    op.drop_index("ix_course_modules_course_id", table_name="course_modules")
    op.drop_table("course_modules")

    op.create_table(
        "files",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('attachment', 'avatar')", name="ck_files_kind"),
        _fk("uploaded_by", "files", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
    )
    op.create_index("ix_files_created_at_id", "files", ["created_at", "id"])
    op.create_index("ix_files_uploaded_by", "files", ["uploaded_by"])

    op.create_table(
        "posts",
        sa.Column("id", ID, nullable=False),
        sa.Column("module_id", ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("post_type", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("video_url", sa.String(length=2000), nullable=True),
        sa.Column("file_id", sa.String(length=64), nullable=True),
        sa.Column("ordering", sa.Integer(), nullable=False),
        sa.Column("pass_mark", sa.Integer(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "post_type IN ('default', 'video', 'attachment', 'quiz')", name="ck_posts_type"
        ),
        _fk("module_id", "posts", "modules", "CASCADE"),
        _fk("file_id", "posts", "files", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_posts"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_posts_module_id_ordering", "posts", ["module_id", "ordering"])
    op.create_index("ix_posts_file_id", "posts", ["file_id"])

    op.create_table(
        "quiz_questions",
        sa.Column("id", ID, nullable=False),
        sa.Column("post_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('single', 'multiple')", name="ck_quiz_questions_kind"),
        _fk("post_id", "quiz_questions", "posts", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_quiz_questions"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_quiz_questions_post_id_position", "quiz_questions", ["post_id", "position"])
    op.create_table(
        "quiz_options",
        sa.Column("id", ID, nullable=False),
        sa.Column("question_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("is_correct", sa.Boolean(), nullable=False),
        _fk("question_id", "quiz_options", "quiz_questions", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_quiz_options"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_quiz_options_question_id_position", "quiz_options", ["question_id", "position"]
    )

    op.create_table(
        "quiz_attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("post_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("results", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "status IN ('in_progress', 'submitted')", name="ck_quiz_attempts_status"
        ),
        _fk("post_id", "quiz_attempts", "posts", "CASCADE"),
        _fk("user_id", "quiz_attempts", "users", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_quiz_attempts"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_quiz_attempts_post_id_user_id", "quiz_attempts", ["post_id", "user_id"])
    op.create_index("ix_quiz_attempts_user_id", "quiz_attempts", ["user_id"])
    op.create_index(
        "uq_quiz_attempts_one_in_progress",
        "quiz_attempts",
        ["post_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'in_progress'"),
        sqlite_where=sa.text("status = 'in_progress'"),
    )

    op.create_table(
        "post_progress",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("post_id", ID, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('in_progress', 'completed')", name="ck_post_progress_status"
        ),
        _fk("user_id", "post_progress", "users", "CASCADE"),
        _fk("post_id", "post_progress", "posts", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "post_id", name="pk_post_progress"),
    )
    op.create_index("ix_post_progress_post_id", "post_progress", ["post_id"])


def downgrade() -> None:
    for table in ("post_progress", "quiz_attempts", "quiz_options", "quiz_questions", "posts"):
        op.drop_table(table)
    op.drop_table("files")

    op.create_table(
        "course_modules",
        sa.Column("id", ID, nullable=False),
        sa.Column("course_id", ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("ordering", sa.Integer(), nullable=False),
        *_timestamps(),
        _fk("course_id", "course_modules", "courses", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_course_modules"),
    )
    op.create_index("ix_course_modules_course_id", "course_modules", ["course_id"])
    # A module's first link (lowest course id) keeps the module's id; a module shared by
    # more courses gets a new row (and id) for each further course.
    op.execute(
        "INSERT INTO course_modules (id, course_id, title, content, ordering, created_at, "
        "updated_at) SELECT m.id, l.course_id, m.title, m.description, l.ordering, m.created_at, "
        "m.updated_at FROM course_module_links l JOIN modules m ON m.id = l.module_id "
        "WHERE l.course_id = (SELECT MIN(course_id) FROM course_module_links x "
        "WHERE x.module_id = l.module_id)"
    )
    op.execute(
        "INSERT INTO course_modules (course_id, title, content, ordering, created_at, "
        "updated_at) SELECT l.course_id, m.title, m.description, l.ordering, m.created_at, "
        "m.updated_at FROM course_module_links l JOIN modules m ON m.id = l.module_id "
        "WHERE l.course_id > (SELECT MIN(course_id) FROM course_module_links x "
        "WHERE x.module_id = l.module_id)"
    )
    if _is_postgresql():
        op.execute(
            "SELECT setval(pg_get_serial_sequence('course_modules', 'id'), "
            "COALESCE((SELECT MAX(id) FROM course_modules), 0) + 1, false)"
        )
    op.drop_table("course_module_links")
    op.drop_table("modules")
