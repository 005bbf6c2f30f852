"""Progress counters exact under concurrent writers: on PostgreSQL the counters' triggers
lock what they read, so the counters stay exact under any interleaving (issue 21). Data
and tables unchanged.

At READ COMMITTED each trigger of 0005/0006 read the other side's table as committed when
its statement started, and the two sides touched no common row. A completion racing the
unlink of its module: the completion's trigger still saw the link and added 1 to the
course; the unlink's trigger subtracted the module's counter as committed, without that
completion: the course kept 1 too many (the group view showed 16/11). A completion racing
a link of its module into another course: the completion's trigger did not see the new
link yet, the link's trigger did not see the completion yet: the new course missed it.

Now both sides take a lock on the module's row before they read:
- a counter of `module_progress` changed (a completion, or a post deleted or moved) takes
  the module FOR SHARE before it reads the module's course links (completions in one module
  still run side by side);
- a link inserted or deleted takes the module FOR NO KEY UPDATE before it reads the
  module's counters;
so one waits for the other to commit and then reads what it wrote (each statement of a
PL/pgSQL function reads with a new snapshot at READ COMMITTED). The application takes the
same locks first, in one order (tma.progress.service), so no two writers deadlock.
- a completion locks its post FOR SHARE before it reads the post's module: a move of the
  post in progress is waited for, and the counter goes to the module the post is in.
- a link deleted by its course's delete, and a counter deleted by its user's delete, change
  nothing: the course's (or user's) `course_progress` rows go by cascade anyway, and taking
  the module's lock there would only add a lock order against the course or user.

SQLite runs one writer at a time: its triggers cannot interleave and stay as they are.

Revision 0007, after 0006, of 2026-12-07.
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"


def _revision(filename: str) -> ModuleType:
    """An earlier revision's module (its trigger texts, kept there once)."""
    spec = importlib.util.spec_from_file_location(filename, Path(__file__).with_name(filename))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


R5 = _revision("0005_module_progress.py")
R6 = _revision("0006_course_progress.py")

LOCK_POST = "\n            PERFORM 1 FROM posts WHERE id = NEW.post_id FOR SHARE;"
PG_ADD = LOCK_POST + R5.PG_ADD
PROGRESS_0005 = R5.POSTGRESQL[0].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
PROGRESS = PROGRESS_0005.replace(R5.PG_ADD, PG_ADD)


LOCK_MODULE = "\n        PERFORM 1 FROM modules WHERE id = {module} FOR {mode};"


def _share(module: str) -> str:
    return LOCK_MODULE.format(module=module, mode="SHARE")


def _exclusive(module: str) -> str:
    return LOCK_MODULE.format(module=module, mode="NO KEY UPDATE")


# A counter deleted by its user's delete, a link by its course's: nothing to do (see above).
USER_STAYS = "EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id)"
COURSE_STAYS = "EXISTS (SELECT 1 FROM courses WHERE id = OLD.course_id)"

COUNTER = """CREATE OR REPLACE FUNCTION course_progress_on_module_progress() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF """ + (
    USER_STAYS
    + " THEN"
    + _share("OLD.module_id")
    + R6.REMOVE_FROM_COURSES.format(
        count="OLD.completed", user="OLD.user_id", module="OLD.module_id"
    )
    + """
        END IF;
    ELSIF TG_OP = 'INSERT' THEN"""
    + _share("NEW.module_id")
    + R6.ADD_TO_COURSES.format(user="NEW.user_id", delta="NEW.completed", module="NEW.module_id")
    + """
    ELSIF NEW.completed <> OLD.completed THEN"""
    + _share("NEW.module_id")
    + R6.ADD_TO_COURSES.format(
        user="NEW.user_id", delta="NEW.completed - OLD.completed", module="NEW.module_id"
    )
    + """
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql"""
)
COUNTER_0006 = R6.POSTGRESQL[1].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)

LINK = """CREATE OR REPLACE FUNCTION course_progress_on_link() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN""" + (
    _exclusive("NEW.module_id")
    + R6.ADD_MODULE.format(course="NEW.course_id", module="NEW.module_id")
    + """
    ELSIF """
    + COURSE_STAYS
    + " THEN"
    + _exclusive("OLD.module_id")
    + R6.REMOVE_MODULE.format(course="OLD.course_id", module="OLD.module_id")
    + """
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql"""
)
LINK_0006 = R6.POSTGRESQL[3].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in (PROGRESS, COUNTER, LINK):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in (PROGRESS_0005, COUNTER_0006, LINK_0006):
            op.execute(statement)
