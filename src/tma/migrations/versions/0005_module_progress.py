"""Completed posts per user and module, kept by triggers: the group progress view reads
these counters (members x modules) instead of counting every completed post of every
member on each request.

`module_progress(user_id, module_id, completed)` holds, for each user and module, how many
of the module's posts the user has completed. Triggers keep it exact whatever writes:
- a `post_progress` row inserted as `completed`, or updated to `completed`: +1 for the
  post's module (status never moves back; rows are never deleted but by cascades);
- a post deleted: minus its completions, before the cascade removes them;
- a post moved to another module: its completions move with it;
- a module or user deleted: its counters go by foreign-key cascade.
Backfilled from the existing progress.

Revision 0005, after 0004, of 2026-12-01.
"""

from textwrap import indent

from tma.migrations.helpers import (
    create_counter_table,
    drop_counter_table,
    drop_triggers,
    execute_for_dialect,
)

revision: str = "0005"
down_revision: str | None = "0004"

# The body both databases' triggers run when a post is deleted (OLD: the post).
POST_DELETED = """
    UPDATE module_progress SET completed = completed - 1
    WHERE module_id = OLD.module_id AND user_id IN (
        SELECT user_id FROM post_progress WHERE post_id = OLD.id AND status = 'completed'
    );"""
# A post moved to another module (OLD, NEW: the post): its completions move with it. The
# PostgreSQL function has it one level deeper (inside an IF), with ON CONFLICT's DO on a line
# of its own.
POST_MOVED = """
    UPDATE module_progress SET completed = completed - 1
    WHERE module_id = OLD.module_id AND user_id IN (
        SELECT user_id FROM post_progress WHERE post_id = NEW.id AND status = 'completed'
    );
    INSERT INTO module_progress (user_id, module_id, completed)
    SELECT user_id, NEW.module_id, 1 FROM post_progress
    WHERE post_id = NEW.id AND status = 'completed'"""

# Adds 1 to the counter of (NEW.user_id, the module of NEW.post_id).
PG_ADD = """
            INSERT INTO module_progress (user_id, module_id, completed)
            SELECT NEW.user_id, p.module_id, 1 FROM posts p WHERE p.id = NEW.post_id
            ON CONFLICT (user_id, module_id)
            DO UPDATE SET completed = module_progress.completed + 1;"""

POSTGRESQL = [
    """CREATE FUNCTION module_progress_on_progress() RETURNS trigger AS $$
BEGIN
    IF NEW.status = 'completed' THEN
        IF TG_OP = 'INSERT' THEN"""
    + PG_ADD
    + """
        ELSIF OLD.status <> 'completed' THEN"""
    + PG_ADD
    + """
        END IF;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER module_progress_on_progress AFTER INSERT OR UPDATE OF status "
    "ON post_progress FOR EACH ROW EXECUTE FUNCTION module_progress_on_progress()",
    """CREATE FUNCTION module_progress_on_post_delete() RETURNS trigger AS $$
BEGIN"""
    + POST_DELETED
    + """
    RETURN OLD;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER module_progress_on_post_delete BEFORE DELETE ON posts "
    "FOR EACH ROW EXECUTE FUNCTION module_progress_on_post_delete()",
    """CREATE FUNCTION module_progress_on_post_move() RETURNS trigger AS $$
BEGIN
    IF NEW.module_id <> OLD.module_id THEN"""
    + indent(POST_MOVED, "    ")
    + """
        ON CONFLICT (user_id, module_id)
        DO UPDATE SET completed = module_progress.completed + 1;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER module_progress_on_post_move AFTER UPDATE OF module_id ON posts "
    "FOR EACH ROW EXECUTE FUNCTION module_progress_on_post_move()",
]

# SQLite: the same rules (an INSERT ... SELECT upsert needs the WHERE these have).
SQLITE_ADD = """
    INSERT INTO module_progress (user_id, module_id, completed)
    SELECT NEW.user_id, p.module_id, 1 FROM posts p WHERE p.id = NEW.post_id
    ON CONFLICT (user_id, module_id) DO UPDATE SET completed = module_progress.completed + 1;
END"""

SQLITE_MOVED_UPSERT = """
    ON CONFLICT (user_id, module_id) DO UPDATE SET completed = module_progress.completed + 1;
END"""

SQLITE = [
    """CREATE TRIGGER module_progress_on_progress_insert AFTER INSERT ON post_progress
FOR EACH ROW WHEN NEW.status = 'completed'
BEGIN"""
    + SQLITE_ADD,
    """CREATE TRIGGER module_progress_on_progress_update AFTER UPDATE OF status ON post_progress
FOR EACH ROW WHEN NEW.status = 'completed' AND OLD.status <> 'completed'
BEGIN"""
    + SQLITE_ADD,
    """CREATE TRIGGER module_progress_on_post_delete BEFORE DELETE ON posts
FOR EACH ROW
BEGIN"""
    + POST_DELETED
    + """
END""",
    """CREATE TRIGGER module_progress_on_post_move AFTER UPDATE OF module_id ON posts
FOR EACH ROW WHEN NEW.module_id <> OLD.module_id
BEGIN"""
    + POST_MOVED
    + SQLITE_MOVED_UPSERT,
]


def upgrade() -> None:
    create_counter_table(
        "module_progress",
        "module_id",
        "modules",
        backfill="INSERT INTO module_progress (user_id, module_id, completed) "
        "SELECT pp.user_id, p.module_id, COUNT(*) FROM post_progress pp "
        "JOIN posts p ON p.id = pp.post_id WHERE pp.status = 'completed' "
        "GROUP BY pp.user_id, p.module_id",
    )
    execute_for_dialect(POSTGRESQL, SQLITE)


def downgrade() -> None:
    drop_triggers(
        [
            ("module_progress_on_progress", "post_progress"),
            ("module_progress_on_post_delete", "posts"),
            ("module_progress_on_post_move", "posts"),
        ],
        [
            "module_progress_on_progress_insert",
            "module_progress_on_progress_update",
            "module_progress_on_post_delete",
            "module_progress_on_post_move",
        ],
    )
    drop_counter_table("module_progress", "module_id")
