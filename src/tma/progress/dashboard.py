"""A group's dashboard for one course (companion spec §5): where each parent stands, where
people stop, which question confuses them. Four statements after the caller's, whatever
the number of parents, posts, attempts or questions (tests/test_query_counts.py):

1. the access row: the group, whether the caller owns or moderates it, the course, whether
   the group has it (404/403 decided before any learner data is read);
2. the parents (members of system role `user`) in joining order with the course's
   completion counter (`course_progress`), then the course's posts in course order;
3. everything counted from the parents' rows on those posts (`_facts`), the ids of 2 bound
   as one parameter each (a PostgreSQL array, a JSON array on SQLite): per parent the
   latest progress write and their attempts (failed, latest); per post the parents who
   started and completed it (on PostgreSQL both from one read: GROUPING SETS); and the
   answers, aggregated by the database from the submitted attempts' own `results` (JSON
   `[{question_id, correct, chosen_option_ids, ...}]`, issue 23: an attempt owns its
   questions) with each database's JSON table functions: PostgreSQL's
   `json_to_recordset` (each attempt's text parsed once, into typed columns), SQLite's
   `json_each`. One row per question and answer pattern comes back, not per attempt;
4. the question catalog: the course's quizzes as they are now (`quiz_questions`,
   `quiz_options`), and, for a question answered in attempts but no longer in its quiz
   (a quiz is replaced whole on edit, with new ids), its prompt and options from the copy
   held by the latest attempt that answered it (only that attempt's JSON is expanded).

Measured (bench/dashboard.py, docs/performance.md): the JSON of the answers is the bulk
of the database's work; subqueries on the memberships instead of bound id sets made
PostgreSQL pair every post with every member first.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# The SQL constructs these statements use: an import list alike with the feed's.
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    FunctionElement,
    Integer,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    null,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.errors import Forbidden, NotFound
from tma.core.reads import first, rows
from tma.courses.models import Course, CourseModule, GroupCourse
from tma.groups import privacy
from tma.groups.models import Group, GroupMember
from tma.posts.models import Post
from tma.progress.models import CourseProgress, PostProgress, ProgressStatus
from tma.progress.schemas import MemberStatus
from tma.progress.service import percent
from tma.quizzes.models import AttemptStatus, QuizAttempt, QuizOption, QuizQuestion
from tma.users.caller import Caller
from tma.users.models import Role, SystemRole, User

_GROUP_ID = bindparam("group_id", type_=BigInteger)
_COURSE_ID = bindparam("course_id", type_=BigInteger)
_VIEWER_ID = bindparam("viewer_id", type_=BigInteger)

# --- 1. who may read it -----------------------------------------------------------------

_GROUP_ACCESS = select(
    exists().where(Group.id == _GROUP_ID).label("group_found"),
    privacy.manages_group(_VIEWER_ID, _GROUP_ID).label("manages"),
)
_COURSE_ACCESS = _GROUP_ACCESS.add_columns(
    exists().where(Course.id == _COURSE_ID).label("course_found"),
    exists()
    .where(GroupCourse.group_id == _GROUP_ID, GroupCourse.course_id == _COURSE_ID)
    .label("assigned"),
)


def _check_group(row: dict[str, Any], *, group_id: int, viewer: Caller) -> None:
    if not row["group_found"]:
        raise NotFound(f"Group {group_id} not found")
    if not (privacy.is_admin(viewer) or (privacy.is_manager(viewer) and row["manages"])):
        raise Forbidden(privacy.NOT_YOUR_GROUP)


async def check_group_readable(session: AsyncSession, *, group_id: int, viewer: Caller) -> None:
    """404 unknown group; 403 for a manager who neither owns nor moderates it (admins read
    every group; a `user` is refused before this, by the route's `StaffUser`). One
    statement, on the memberships as they are now."""
    row = await first(session, _GROUP_ACCESS, group_id=group_id, viewer_id=viewer.id)
    assert row is not None  # a SELECT without FROM: always one row
    _check_group(row, group_id=group_id, viewer=viewer)


async def _check_course_readable(
    session: AsyncSession, *, group_id: int, course_id: int, viewer: Caller
) -> None:
    row = await first(
        session, _COURSE_ACCESS, group_id=group_id, course_id=course_id, viewer_id=viewer.id
    )
    assert row is not None
    _check_group(row, group_id=group_id, viewer=viewer)
    if not row["course_found"]:
        raise NotFound(f"Course {course_id} not found")
    if not row["assigned"]:
        raise NotFound(f"Course {course_id} not found in group {group_id}")


# --- 2. the parents and the posts -------------------------------------------------------

# The group's parents: its members whose system role is `user` (staff who belong to a group
# run it; they are not followed by its dashboard).
PARENT = Role.name == literal(SystemRole.USER.value)
_SUBMITTED = QuizAttempt.status == AttemptStatus.SUBMITTED.value
_DONE = PostProgress.status == ProgressStatus.COMPLETED.value

_MEMBER_ROWS = (
    select(
        literal("member").label("kind"),
        GroupMember.user_id.label("id"),
        User.username.label("name"),
        CourseProgress.completed.label("number"),
        func.row_number().over(order_by=(GroupMember.joined_at, GroupMember.user_id)).label("seq"),
    )
    .join(User, User.id == GroupMember.user_id)
    .join(Role, Role.id == User.role_id)
    .outerjoin(
        CourseProgress,
        and_(CourseProgress.user_id == GroupMember.user_id, CourseProgress.course_id == _COURSE_ID),
    )
    .where(GroupMember.group_id == _GROUP_ID, PARENT)
)
_POST_ROWS = (
    select(
        literal("post"),
        Post.id,
        Post.title,
        Post.module_id,
        func.row_number().over(order_by=(CourseModule.ordering, Post.ordering, Post.id)),
    )
    .select_from(CourseModule)
    .join(Post, Post.module_id == CourseModule.module_id)
    .where(CourseModule.course_id == _COURSE_ID)
)
_ROSTER = union_all(_MEMBER_ROWS, _POST_ROWS).subquery("roster")
# 2. the parents in joining order with their completed posts in the course (`number`), then
# the course's posts in course order with their module (`number`): one statement.
_MEMBERS_AND_POSTS = select(*_ROSTER.c).order_by(_ROSTER.c.kind, _ROSTER.c.seq)


def latest(*moments: datetime | None) -> datetime | None:
    """The latest of the moments given, None when there is none."""
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def member_status(
    *, completed: int, total: int, last: datetime | None, now: datetime, idle: timedelta
) -> MemberStatus:
    """`completed` when every post of the course is (and it has some); else `inactive` with
    no activity in the course for `idle` (or none ever), else `active`."""
    if total and completed >= total:
        return MemberStatus.COMPLETED
    if last is None or now - last >= idle:
        return MemberStatus.INACTIVE
    return MemberStatus.ACTIVE


# --- one spelling per database: id sets and JSON table functions --------------------------
#
# The rows of statements 3 and 4 are those of the parents (`users`) on the course's posts
# (`posts`), named by the ids statement 2 read, bound as one parameter each: a
# PostgreSQL array (`= ANY(...)`), a JSON array on SQLite (`IN (SELECT value FROM
# json_each(...))`). The planner then walks the posts' index and checks each row's user in
# a set of known size, whatever the group's size (measured: joins to the memberships there
# made PostgreSQL pair every post with every member first).

# (document, key): the JSON array at `document[key]` (the document itself without a key)
# as a table of one column `value`, joined to the row that holds it.
Elements = Callable[[Any, str | None], FunctionElement[Any]]
InIds = Callable[[Any, str], ColumnElement[bool]]


def _pg_elements(document: Any, key: str | None) -> FunctionElement[Any]:
    # A submitted attempt always holds an array; anything else (JSON null) is no element,
    # where `json_array_elements` would fail on a scalar.
    array = document if key is None else document[key]
    guarded = case((func.json_typeof(array) == "array", array), else_=cast("[]", JSON))
    return func.json_array_elements(guarded)


def _pg_in(column: Any, name: str) -> ColumnElement[bool]:
    found: ColumnElement[bool] = column == any_(bindparam(name, type_=postgresql.ARRAY(BigInteger)))
    return found


def _sqlite_elements(document: Any, key: str | None) -> FunctionElement[Any]:
    # json_each of a non-array yields the value itself: filtered out by its null id.
    return func.json_each(document) if key is None else func.json_each(document, f"$.{key}")


def _sqlite_in(column: Any, name: str) -> ColumnElement[bool]:
    ids = func.json_each(bindparam(name, type_=Text)).table_valued("value").alias(f"{name}_ids")
    found: ColumnElement[bool] = column.in_(select(ids.c.value))
    return found


def _table(elements: FunctionElement[Any], name: str) -> Any:
    return elements.table_valued(column("value", JSON)).alias(name)


def _id_of(value: Any, key: str) -> ColumnElement[int]:
    return cast(value[key].as_string(), BigInteger)


# The columns of statement 3's rows, whatever their kind (each kind uses some of them).
_FACT_COLUMNS = ("kind", "a", "b", "n", "m", "at", "chosen", "sample", "current")


def _fact(kind: str, **values: Any) -> list[Any]:
    """The columns of one kind of row of statement 3, typed nulls where it has no value."""
    types: dict[str, Any] = {
        "a": BigInteger,
        "b": BigInteger,
        "n": BigInteger,
        "m": BigInteger,
        "at": PostProgress.updated_at.type,
        "chosen": Text,
        "sample": BigInteger,
        "current": Boolean,
    }
    out: list[Any] = [literal(kind).label("kind")]
    for name, type_ in types.items():
        value = values.get(name)
        out.append((cast(null(), type_) if value is None else value).label(name))
    return out


def _activity(in_ids: InIds, *, grouping_sets: bool) -> list[Select[Any]]:
    """Rows of statement 3. Kind `progress`, per parent (`a` the user, `current` false):
    the latest progress write on the course's posts (`at`); per post (`a` the post,
    `current` true): the parents who started it (`n`, any stored status) and completed it
    (`m`). Kind `attempts`, per parent (`a`): failed attempts at the course's quizzes (`n`)
    and the latest start or submit (`at`). On PostgreSQL the progress rows are read once
    for both groupings (GROUPING SETS); SQLite, which has none, reads them twice."""
    progress = and_(in_ids(PostProgress.post_id, "posts"), in_ids(PostProgress.user_id, "users"))
    attempts = and_(in_ids(QuizAttempt.post_id, "posts"), in_ids(QuizAttempt.user_id, "users"))
    started, done = func.count(), func.count(case((_DONE, 1)))
    last = func.max(PostProgress.updated_at)
    by_attempts = (
        select(
            *_fact(
                "attempts",
                a=QuizAttempt.user_id,
                n=func.count(case((and_(_SUBMITTED, QuizAttempt.passed == false()), 1))),
                at=func.max(func.coalesce(QuizAttempt.submitted_at, QuizAttempt.started_at)),
            )
        )
        .where(attempts)
        .group_by(QuizAttempt.user_id)
    )
    if grouping_sets:
        by_post = func.grouping(PostProgress.user_id) == 1
        both = (
            select(
                *_fact(
                    "progress",
                    a=func.coalesce(PostProgress.post_id, PostProgress.user_id),
                    n=started,
                    m=done,
                    at=last,
                    current=by_post,
                )
            )
            .where(progress)
            .group_by(
                func.grouping_sets(tuple_(PostProgress.user_id), tuple_(PostProgress.post_id))
            )
        )
        return [both, by_attempts]
    by_user = (
        select(*_fact("progress", a=PostProgress.user_id, at=last, current=false()))
        .where(progress)
        .group_by(PostProgress.user_id)
    )
    posts = (
        select(*_fact("progress", a=PostProgress.post_id, n=started, m=done, current=true()))
        .where(progress)
        .group_by(PostProgress.post_id)
    )
    return [by_user, posts, by_attempts]


@dataclass(frozen=True, slots=True)
class _Results:
    """Each attempt's `results` as a table joined to its row: the table, and its elements'
    question id, whether graded right, and the chosen option ids (the JSON text stored)."""

    table: Any
    question_id: ColumnElement[Any]
    correct: ColumnElement[Any]
    chosen: ColumnElement[Any]


def _pg_results() -> _Results:
    # `json_to_recordset`: each attempt's text parsed once into typed columns (measured
    # ahead of `json_array_elements` with `->>`, which parses each element again per key,
    # and of a cast to jsonb). A submitted attempt always holds an array; anything else
    # (JSON null) is no element, where the function would fail on a scalar.
    guarded = case(
        (func.json_typeof(QuizAttempt.results) == "array", QuizAttempt.results),
        else_=cast("[]", JSON),
    )
    table = (
        func.json_to_recordset(guarded)
        .table_valued(
            column("question_id", BigInteger),
            column("correct", Boolean),
            column("chosen_option_ids", Text),
        )
        .render_derived(name="r", with_types=True)
    )
    return _Results(table, table.c.question_id, table.c.correct, table.c.chosen_option_ids)


def _sqlite_results() -> _Results:
    table = _table(_sqlite_elements(QuizAttempt.results, None), "r")
    value = table.c.value
    return _Results(
        table,
        _id_of(value, "question_id"),
        value["correct"].as_boolean(),
        value["chosen_option_ids"].as_string(),
    )


def _stats(results: _Results, in_ids: InIds) -> Select[Any]:
    """Rows of statement 3, kind `answer`: one per (quiz `a`, question `b`, answer given):
    `n` the parents' submitted attempts that held the question and chose exactly that,
    `m` those graded right, `chosen` the chosen option ids (the JSON text stored, decoded
    in Python: a handful of patterns per question, however many attempts), `sample` the
    latest such attempt, `current` whether the quiz still holds the question."""
    return (
        select(
            *_fact(
                "answer",
                a=QuizAttempt.post_id,
                b=results.question_id,
                n=func.count(),
                m=func.count(case((results.correct, 1))),
                chosen=results.chosen,
                sample=func.max(QuizAttempt.id),
                current=results.question_id.in_(
                    select(QuizQuestion.id).where(in_ids(QuizQuestion.post_id, "posts"))
                ),
            )
        )
        .select_from(QuizAttempt)
        .join(results.table, true())
        .where(
            _SUBMITTED,
            in_ids(QuizAttempt.post_id, "posts"),
            in_ids(QuizAttempt.user_id, "users"),
        )
        .group_by(QuizAttempt.post_id, results.question_id, results.chosen)
    )


def _facts(results: _Results, in_ids: InIds, *, grouping_sets: bool) -> Select[Any]:
    """3. Everything counted from the parents' rows on the course's posts, in one statement
    (a UNION ALL of kinds, `_FACT_COLUMNS`)."""
    both = union_all(
        *_activity(in_ids, grouping_sets=grouping_sets), _stats(results, in_ids)
    ).subquery("facts")
    return select(*both.c)


_GONE = bindparam("gone", type_=BigInteger, expanding=True)
_SAMPLES = bindparam("samples", type_=BigInteger, expanding=True)


def _catalog(elements: Elements, in_ids: InIds) -> Select[Any]:
    """4. The course's quizzes as they are now (question and option positions), then the
    questions named by `gone` as the attempts `samples` copied them (no positions)."""
    now_held = (
        select(
            QuizQuestion.post_id,
            QuizQuestion.id.label("question_id"),
            QuizQuestion.prompt,
            QuizQuestion.position.label("question_position"),
            QuizOption.id.label("option_id"),
            QuizOption.text,
            QuizOption.position.label("option_position"),
        )
        .outerjoin(QuizOption, QuizOption.question_id == QuizQuestion.id)
        .where(in_ids(QuizQuestion.post_id, "posts"))
    )
    question = _table(elements(QuizAttempt.questions, None), "q")
    option = _table(elements(question.c.value, "options"), "o")
    question_id = _id_of(question.c.value, "id")
    copied = (
        select(
            QuizAttempt.post_id,
            question_id.label("question_id"),
            question.c.value["prompt"].as_string().label("prompt"),
            cast(null(), Integer).label("question_position"),
            _id_of(option.c.value, "id").label("option_id"),
            option.c.value["text"].as_string().label("text"),
            cast(null(), Integer).label("option_position"),
        )
        .select_from(QuizAttempt)
        .join(question, true())
        .join(option, true())
        .where(QuizAttempt.id.in_(_SAMPLES), question_id.in_(_GONE))
    )
    both = union_all(now_held, copied).subquery("catalog")
    return select(*both.c)


@dataclass(frozen=True, slots=True)
class _Spelling:
    facts: Select[Any]
    catalog: Select[Any]
    ids: Callable[[list[int]], Any]  # a list of ids as the `in_ids` parameter takes it


_SPELLINGS = {
    "postgresql": _Spelling(
        _facts(_pg_results(), _pg_in, grouping_sets=True),
        _catalog(_pg_elements, _pg_in),
        list,
    ),
    "sqlite": _Spelling(
        _facts(_sqlite_results(), _sqlite_in, grouping_sets=False),
        _catalog(_sqlite_elements, _sqlite_in),
        json.dumps,
    ),
}


def _questions(
    posts: list[dict[str, Any]], stats: list[dict[str, Any]], catalog: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The questions of the course's quizzes, in the course's post order, each quiz's current
    questions in their authored order and those no longer in it after them (by id); options
    in authored order (positions, else ids). Counts from `stats`, zero where none."""
    order = {post["post_id"]: n for n, post in enumerate(posts)}
    counted: dict[int, dict[str, Any]] = {}
    chosen: dict[tuple[int, int], int] = {}
    for row in stats:
        question_id = row["question_id"]
        if question_id is None:
            continue
        seen = counted.setdefault(
            question_id, {"post_id": row["post_id"], "answered": 0, "correct": 0}
        )
        seen["answered"] += row["answered"]
        seen["correct"] += row["correct"]
        for option_id in set(json.loads(row["chosen"] or "[]")):
            key = (question_id, int(option_id))
            chosen[key] = chosen.get(key, 0) + row["answered"]
    found: dict[int, dict[str, Any]] = {}
    for row in catalog:
        entry = found.get(row["question_id"])
        if entry is None:
            position = row["question_position"]
            entry = found[row["question_id"]] = {
                "key": (order.get(row["post_id"], len(order)), position is None, position or 0),
                "post_id": row["post_id"],
                "prompt": row["prompt"] or "",
                "options": {},
            }
        if row["option_id"] is not None:
            entry["options"][row["option_id"]] = (row["option_position"] or 0, row["text"] or "")
    for question_id, seen in counted.items():  # answered but in no copy read: kept, untitled
        if question_id not in found:
            found[question_id] = {
                "key": (order.get(seen["post_id"], len(order)), True, 0),
                "post_id": seen["post_id"],
                "prompt": "",
                "options": {},
            }
    for question_id, option_id in chosen:
        entry = found.get(question_id)
        if entry is not None and option_id not in entry["options"]:
            entry["options"][option_id] = (0, "")
    out = []
    for question_id, entry in sorted(found.items(), key=lambda item: (item[1]["key"], item[0])):
        stat = counted.get(question_id)
        options = sorted(entry["options"].items(), key=lambda item: (item[1][0], item[0]))
        out.append(
            {
                "post_id": entry["post_id"],
                "question_id": question_id,
                "prompt": entry["prompt"],
                "answered": stat["answered"] if stat else 0,
                "correct": stat["correct"] if stat else 0,
                "options": [
                    {
                        "option_id": option_id,
                        "text": text,
                        "chosen": chosen.get((question_id, option_id), 0),
                    }
                    for option_id, (_, text) in options
                ],
            }
        )
    return out


async def group_dashboard(
    session: AsyncSession,
    *,
    group_id: int,
    course_id: int,
    viewer: Caller,
    now: datetime,
    inactivity_days: int,
) -> dict[str, Any]:
    """The dashboard of `group_id` for `course_id`, a dict in the keys, order and types of
    `GroupDashboard`. NotFound: unknown group, unknown course, a course the group does not
    have; Forbidden: a manager who neither owns nor moderates the group."""
    await _check_course_readable(session, group_id=group_id, course_id=course_id, viewer=viewer)
    members: list[dict[str, Any]] = []
    posts: list[dict[str, Any]] = []
    for row in await rows(session, _MEMBERS_AND_POSTS, group_id=group_id, course_id=course_id):
        if row["kind"] == "member":
            members.append(
                {"user_id": row["id"], "username": row["name"], "completed": row["number"]}
            )
        else:
            posts.append({"post_id": row["id"], "title": row["name"], "module_id": row["number"]})
    spelling = _SPELLINGS[session.get_bind().dialect.name]
    ids = {
        "users": spelling.ids([m["user_id"] for m in members]),
        "posts": spelling.ids([p["post_id"] for p in posts]),
    }
    last_progress: dict[int, datetime] = {}
    attempts: dict[int, tuple[int, datetime | None]] = {}
    counts: dict[int, tuple[int, int]] = {}
    stats: list[dict[str, Any]] = []
    gone: dict[int, int] = {}
    for row in await rows(session, spelling.facts, **ids):
        kind = row["kind"]
        if kind == "answer":
            stats.append(
                {
                    "post_id": row["a"],
                    "question_id": row["b"],
                    "chosen": row["chosen"],
                    "answered": row["n"],
                    "correct": row["m"],
                }
            )
            if row["b"] is not None and not row["current"]:
                gone[row["b"]] = max(row["sample"], gone.get(row["b"], 0))
        elif kind == "attempts":
            attempts[row["a"]] = (row["n"], row["at"])
        elif row["current"]:  # progress per post
            counts[row["a"]] = (row["n"], row["m"])
        else:  # progress per parent
            last_progress[row["a"]] = row["at"]
    catalog = await rows(
        session,
        spelling.catalog,
        posts=ids["posts"],
        gone=list(gone),
        samples=sorted(set(gone.values())),
    )
    total = len(posts)
    idle = timedelta(days=inactivity_days)
    body_members = []
    for row in members:
        completed = row["completed"] or 0
        failed, attempted_at = attempts.get(row["user_id"], (0, None))
        last = latest(last_progress.get(row["user_id"]), attempted_at)
        body_members.append(
            {
                "user_id": row["user_id"],
                "username": row["username"],
                "completed_posts": completed,
                "total_posts": total,
                "percent": percent(completed, total),
                "last_activity_at": last,
                "failed_attempts": failed,
                "status": member_status(
                    completed=completed, total=total, last=last, now=now, idle=idle
                ).value,
            }
        )
    body_posts = [
        {**post, "started": started, "completed": done}
        for post in posts
        for started, done in (counts.get(post["post_id"], (0, 0)),)
    ]
    return {
        "group_id": group_id,
        "course_id": course_id,
        "members": body_members,
        "posts": body_posts,
        "questions": _questions(posts, stats, catalog),
    }
