"""Completed posts per user and course, kept by triggers: the group progress view reads one
counter per member and course instead of summing the members' per-module counters.

`course_progress(user_id, course_id, completed)` holds, for each user and course, the sum
of the user's `module_progress` over the course's modules (a module in two courses counts
in both). Triggers keep it exact:
- a `module_progress` counter inserted or changed (a post completed, deleted or moved):
  the difference goes to every course the module is linked to;
- a `module_progress` counter deleted (its module or user deleted): its count leaves those
  courses;
- a module linked to a course: every user's counter of the module joins the course's;
  unlinked (or its course or module deleted): it leaves it. Links are only inserted and
  deleted, never re-pointed (the application moves a module by its `ordering` only).
A module deleted: its counts leave its courses before the row goes (a BEFORE DELETE
trigger), and the triggers above do nothing for a module that no longer exists, so the
cascades that follow (its links, its counters, its posts, in whatever order and at whatever
moment each database fires their triggers) do not take them out again. A user or course
deleted takes its counters by foreign-key cascade. Rows are never deleted by the triggers
(a count of 0 reads as no row does). Backfilled from `module_progress`.

Also fixed here, in 0005's trigger on a post deleted: it now leaves `module_progress` alone
when the post goes with its module. On PostgreSQL, deleting a module in which one user had
completed two posts failed: the cascade deleted the posts after the module, the trigger
updated that user's counter twice, and PostgreSQL checks the foreign key of a row already
updated in the same transaction even when the key did not change: the module was gone, so
the delete failed with a foreign-key violation. The counter is deleted by the module's
cascade anyway.

Revision 0006, after 0005, of 2026-12-01.
"""

from alembic import op

from tma.migrations.helpers import (
    create_counter_table,
    drop_counter_table,
    drop_triggers,
    execute_for_dialect,
    is_postgresql,
)

revision: str = "0006"
down_revision: str | None = "0005"

# The upsert adds: an INSERT ... SELECT then needs a WHERE before ON CONFLICT on SQLite.
# Nothing for a module being deleted (see the module's own trigger).
ADD_TO_COURSES = """
    INSERT INTO course_progress (user_id, course_id, completed)
    SELECT {user}, l.course_id, {delta} FROM course_module_links l
    WHERE l.module_id = {module} AND EXISTS (SELECT 1 FROM modules WHERE id = {module})
    ON CONFLICT (user_id, course_id)
    DO UPDATE SET completed = course_progress.completed + excluded.completed;"""
# Removing only updates: a row being deleted by a cascade (its user) must not come back.
REMOVE_FROM_COURSES = """
    UPDATE course_progress SET completed = completed - {count}
    WHERE user_id = {user} AND course_id IN (
        SELECT course_id FROM course_module_links WHERE module_id = {module}
    ) AND EXISTS (SELECT 1 FROM modules WHERE id = {module});"""
ADD_MODULE = """
    INSERT INTO course_progress (user_id, course_id, completed)
    SELECT mp.user_id, {course}, mp.completed FROM module_progress mp
    WHERE mp.module_id = {module}
    ON CONFLICT (user_id, course_id)
    DO UPDATE SET completed = course_progress.completed + excluded.completed;"""
REMOVE_MODULE = """
    UPDATE course_progress SET completed = completed - (
        SELECT mp.completed FROM module_progress mp
        WHERE mp.module_id = {module} AND mp.user_id = course_progress.user_id
    )
    WHERE course_id = {course} AND user_id IN (
        SELECT user_id FROM module_progress WHERE module_id = {module}
    ) AND EXISTS (SELECT 1 FROM modules WHERE id = {module});"""
# A module about to be deleted: each user's count of it leaves each of its courses.
MODULE_LEAVES = """
    UPDATE course_progress SET completed = completed - (
        SELECT mp.completed FROM module_progress mp
        WHERE mp.module_id = OLD.id AND mp.user_id = course_progress.user_id
    )
    WHERE course_id IN (SELECT course_id FROM course_module_links WHERE module_id = OLD.id)
    AND user_id IN (SELECT user_id FROM module_progress WHERE module_id = OLD.id);"""

# 0005's trigger on a post deleted, guarded: nothing when the post goes with its module.
PG_POST_DELETE = """CREATE OR REPLACE FUNCTION module_progress_on_post_delete() RETURNS trigger AS $$
BEGIN
    UPDATE module_progress SET completed = completed - 1
    WHERE module_id = OLD.module_id AND user_id IN (
        SELECT user_id FROM post_progress WHERE post_id = OLD.id AND status = 'completed'
    ){guard};
    RETURN OLD;
END $$ LANGUAGE plpgsql"""
SQLITE_POST_DELETE = """CREATE TRIGGER module_progress_on_post_delete BEFORE DELETE ON posts
FOR EACH ROW
BEGIN
    UPDATE module_progress SET completed = completed - 1
    WHERE module_id = OLD.module_id AND user_id IN (
        SELECT user_id FROM post_progress WHERE post_id = OLD.id AND status = 'completed'
    ){guard};
END"""
POST_WITH_ITS_MODULE = " AND EXISTS (SELECT 1 FROM modules WHERE id = OLD.module_id)"

POSTGRESQL = [
    PG_POST_DELETE.format(guard=POST_WITH_ITS_MODULE),
    """CREATE FUNCTION course_progress_on_module_progress() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN"""
    + REMOVE_FROM_COURSES.format(count="OLD.completed", user="OLD.user_id", module="OLD.module_id")
    + """
    ELSIF TG_OP = 'INSERT' THEN"""
    + ADD_TO_COURSES.format(user="NEW.user_id", delta="NEW.completed", module="NEW.module_id")
    + """
    ELSIF NEW.completed <> OLD.completed THEN"""
    + ADD_TO_COURSES.format(
        user="NEW.user_id", delta="NEW.completed - OLD.completed", module="NEW.module_id"
    )
    + """
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER course_progress_on_module_progress AFTER INSERT OR DELETE OR UPDATE OF "
    "completed ON module_progress FOR EACH ROW EXECUTE FUNCTION "
    "course_progress_on_module_progress()",
    """CREATE FUNCTION course_progress_on_link() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN"""
    + ADD_MODULE.format(course="NEW.course_id", module="NEW.module_id")
    + """
    ELSE"""
    + REMOVE_MODULE.format(course="OLD.course_id", module="OLD.module_id")
    + """
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER course_progress_on_link AFTER INSERT OR DELETE ON course_module_links "
    "FOR EACH ROW EXECUTE FUNCTION course_progress_on_link()",
    """CREATE FUNCTION course_progress_on_module_delete() RETURNS trigger AS $$
BEGIN"""
    + MODULE_LEAVES
    + """
    RETURN OLD;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER course_progress_on_module_delete BEFORE DELETE ON modules "
    "FOR EACH ROW EXECUTE FUNCTION course_progress_on_module_delete()",
]

SQLITE = [
    "DROP TRIGGER module_progress_on_post_delete",
    SQLITE_POST_DELETE.format(guard=POST_WITH_ITS_MODULE),
    "CREATE TRIGGER course_progress_on_module_progress_insert AFTER INSERT ON module_progress "
    "FOR EACH ROW BEGIN"
    + ADD_TO_COURSES.format(user="NEW.user_id", delta="NEW.completed", module="NEW.module_id")
    + "\nEND",
    "CREATE TRIGGER course_progress_on_module_progress_update AFTER UPDATE OF completed "
    "ON module_progress FOR EACH ROW WHEN NEW.completed <> OLD.completed BEGIN"
    + ADD_TO_COURSES.format(
        user="NEW.user_id", delta="NEW.completed - OLD.completed", module="NEW.module_id"
    )
    + "\nEND",
    "CREATE TRIGGER course_progress_on_module_progress_delete AFTER DELETE ON module_progress "
    "FOR EACH ROW BEGIN"
    + REMOVE_FROM_COURSES.format(count="OLD.completed", user="OLD.user_id", module="OLD.module_id")
    + "\nEND",
    "CREATE TRIGGER course_progress_on_link_insert AFTER INSERT ON course_module_links "
    "FOR EACH ROW BEGIN"
    + ADD_MODULE.format(course="NEW.course_id", module="NEW.module_id")
    + "\nEND",
    "CREATE TRIGGER course_progress_on_link_delete AFTER DELETE ON course_module_links "
    "FOR EACH ROW BEGIN"
    + REMOVE_MODULE.format(course="OLD.course_id", module="OLD.module_id")
    + "\nEND",
    "CREATE TRIGGER course_progress_on_module_delete BEFORE DELETE ON modules "
    "FOR EACH ROW BEGIN" + MODULE_LEAVES + "\nEND",
]


def upgrade() -> None:
    create_counter_table(
        "course_progress",
        "course_id",
        "courses",
        backfill="INSERT INTO course_progress (user_id, course_id, completed) "
        "SELECT mp.user_id, l.course_id, SUM(mp.completed) FROM module_progress mp "
        "JOIN course_module_links l ON l.module_id = mp.module_id "
        "GROUP BY mp.user_id, l.course_id",
    )
    execute_for_dialect(POSTGRESQL, SQLITE)


def downgrade() -> None:
    drop_triggers(
        [
            ("course_progress_on_module_progress", "module_progress"),
            ("course_progress_on_link", "course_module_links"),
            ("course_progress_on_module_delete", "modules"),
        ],
        [
            "course_progress_on_module_progress_insert",
            "course_progress_on_module_progress_update",
            "course_progress_on_module_progress_delete",
            "course_progress_on_link_insert",
            "course_progress_on_link_delete",
            "course_progress_on_module_delete",
            "module_progress_on_post_delete",
        ],
    )
    op.execute((PG_POST_DELETE if is_postgresql() else SQLITE_POST_DELETE).format(guard=""))
    drop_counter_table("course_progress", "course_id")
