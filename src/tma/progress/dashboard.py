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
   answers, counted by one GROUP BY over the rows each submit writes (`quiz_answers`: per
   attempt and question one row for the answer, one per option chosen), one row per
   question and option comes back, not per attempt;
4. the question catalog: the course's quizzes as they are now (`quiz_questions`,
   `quiz_options`), and, for a question answered in attempts but no longer in its quiz
   (a quiz is replaced whole on edit, with new ids), its prompt and options from the copy
   held by the latest attempt that answered it (only that attempt's JSON is expanded).

Measured (bench/dashboard.py, docs/performance.md): parsing every attempt's `results` JSON
per request was the bulk of the database's work, hence the answer rows (0017); subqueries
on the memberships instead of bound id sets made PostgreSQL pair every post with every
member first. On PostgreSQL the four reads run on the driver (`tma.core.hotpath`), and
the progress, attempt and answer counts are index-only scans (0017's indexes).
"""

import json
from collections.abc import Callable, Sequence
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
from tma.core.hotpath import hot_rows
from tma.core.reads import NamedRow, first
from tma.courses.models import Course, CourseModule, GroupCourse
from tma.groups import privacy
from tma.groups.models import Group, GroupMember
from tma.posts.models import Post
from tma.progress.models import CourseProgress, PostProgress, ProgressStatus
from tma.progress.schemas import MemberStatus
from tma.progress.service import percent
from tma.quizzes.models import AttemptStatus, QuizAnswer, QuizAttempt, QuizOption, QuizQuestion
from tma.users.caller import Caller
from tma.users.models import Role, SystemRole, User

_GROUP_ID = bindparam("group_id", type_=BigInteger)
_COURSE_ID = bindparam("course_id", type_=BigInteger)
_VIEWER_ID = bindparam("viewer_id", type_=BigInteger)


def _named(subquery: Any) -> Select[Any]:
    """Every column of `subquery`, each labelled with its name (a read of the hot path,
    `tma.core.hotpath`, names every column in its SQL)."""
    return select(*(column.label(column.key) for column in subquery.c))


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


def _check_group(row: NamedRow, *, group_id: int, viewer: Caller) -> None:
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
    (row,) = await hot_rows(
        session, _COURSE_ACCESS, group_id=group_id, course_id=course_id, viewer_id=viewer.id
    )
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
_MEMBERS_AND_POSTS = _named(_ROSTER).order_by(_ROSTER.c.kind, _ROSTER.c.seq)


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
_FACT_COLUMNS = ("kind", "a", "b", "n", "m", "at", "option", "sample", "current")


def _fact(kind: str, **values: Any) -> list[Any]:
    """The columns of one kind of row of statement 3, typed nulls where it has no value."""
    types: dict[str, Any] = {
        "a": BigInteger,
        "b": BigInteger,
        "n": BigInteger,
        "m": BigInteger,
        "at": PostProgress.updated_at.type,
        "option": BigInteger,
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


def _stats(in_ids: InIds) -> Select[Any]:
    """Rows of statement 3, kind `answer`, counted from the parents' answer rows
    (`quiz_answers`, written when an attempt is submitted): one per (quiz `a`, question `b`,
    `option`): with `option` null, `n` the submitted attempts that held the question and
    `m` those graded right; with an option, `n` the attempts that chose it. `sample` the
    latest such attempt, `current` whether the quiz still holds the question."""
    return (
        select(
            *_fact(
                "answer",
                a=QuizAnswer.post_id,
                b=QuizAnswer.question_id,
                n=func.count(),
                m=func.count(case((QuizAnswer.correct, 1))),
                option=QuizAnswer.option_id,
                sample=func.max(QuizAnswer.attempt_id),
                current=QuizAnswer.question_id.in_(
                    select(QuizQuestion.id).where(in_ids(QuizQuestion.post_id, "posts"))
                ),
            )
        )
        .where(in_ids(QuizAnswer.post_id, "posts"), in_ids(QuizAnswer.user_id, "users"))
        .group_by(QuizAnswer.post_id, QuizAnswer.question_id, QuizAnswer.option_id)
    )


def _facts(in_ids: InIds, *, grouping_sets: bool) -> Select[Any]:
    """3. Everything counted from the parents' rows on the course's posts, in one statement
    (a UNION ALL of kinds, `_FACT_COLUMNS`)."""
    both = union_all(*_activity(in_ids, grouping_sets=grouping_sets), _stats(in_ids))
    return _named(both.subquery("facts"))


def _catalog(elements: Elements, in_ids: InIds) -> Select[Any]:
    """4. The course's quizzes as they are now (question and option positions), then the
    questions named by `gone` as the attempts `samples` copied them (no positions): both id
    sets bound as `in_ids` binds the others."""
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
        .where(in_ids(QuizAttempt.id, "samples"), in_ids(question_id, "gone"))
    )
    return _named(union_all(now_held, copied).subquery("catalog"))


@dataclass(frozen=True, slots=True)
class _Spelling:
    facts: Select[Any]
    catalog: Select[Any]
    ids: Callable[[list[int]], Any]  # a list of ids as the `in_ids` parameter takes it


_SPELLINGS = {
    "postgresql": _Spelling(
        _facts(_pg_in, grouping_sets=True),
        _catalog(_pg_elements, _pg_in),
        list,
    ),
    "sqlite": _Spelling(
        _facts(_sqlite_in, grouping_sets=False),
        _catalog(_sqlite_elements, _sqlite_in),
        json.dumps,
    ),
}


def _questions(
    order: dict[int, int],
    counted: dict[int, list[int]],
    chosen: dict[tuple[int, int], int],
    catalog: Sequence[Any],
) -> list[dict[str, Any]]:
    """The questions of the course's quizzes, in the course's post order (`order`: post id
    to its place), each quiz's current questions in their authored order and those no
    longer in it after them (by id); options in authored order (positions, else ids).
    `counted`: question id to [post id, answered, correct]; `chosen`: (question id, option
    id) to the attempts that chose it; zero where none."""
    last = len(order)
    found: dict[int, dict[str, Any]] = {}
    for row in catalog:
        question_id = row["question_id"]
        entry = found.get(question_id)
        if entry is None:
            position = row["question_position"]
            entry = found[question_id] = {
                "key": (order.get(row["post_id"], last), position is None, position or 0),
                "post_id": row["post_id"],
                "prompt": row["prompt"] or "",
                "options": {},
            }
        option_id = row["option_id"]
        if option_id is not None:
            entry["options"][option_id] = (row["option_position"] or 0, row["text"] or "")
    for question_id, (post_id, _, _) in counted.items():  # answered, in no copy read: untitled
        if question_id not in found:
            found[question_id] = {
                "key": (order.get(post_id, last), True, 0),
                "post_id": post_id,
                "prompt": "",
                "options": {},
            }
    for question_id, option_id in chosen:
        entry = found.get(question_id)
        if entry is not None and option_id not in entry["options"]:
            entry["options"][option_id] = (0, "")
    out = []
    for question_id, entry in sorted(found.items(), key=lambda item: (item[1]["key"], item[0])):
        _, answered, correct = counted.get(question_id, (0, 0, 0))
        options = sorted(entry["options"].items(), key=lambda item: (item[1][0], item[0]))
        out.append(
            {
                "post_id": entry["post_id"],
                "question_id": question_id,
                "prompt": entry["prompt"],
                "answered": answered,
                "correct": correct,
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
    members: list[Any] = []
    posts: list[dict[str, Any]] = []
    for row in await hot_rows(session, _MEMBERS_AND_POSTS, group_id=group_id, course_id=course_id):
        if row["kind"] == "member":
            members.append(row)
        else:
            posts.append({"post_id": row["id"], "title": row["name"], "module_id": row["number"]})
    spelling = _SPELLINGS[session.get_bind().dialect.name]
    ids = {
        "users": spelling.ids([m["id"] for m in members]),
        "posts": spelling.ids([p["post_id"] for p in posts]),
    }
    last_progress: dict[int, datetime] = {}
    attempts: dict[int, tuple[int, datetime | None]] = {}
    counts: dict[int, tuple[int, int]] = {}
    counted: dict[int, list[int]] = {}
    chosen: dict[tuple[int, int], int] = {}
    gone: dict[int, int] = {}
    for row in await hot_rows(session, spelling.facts, **ids):
        kind = row["kind"]
        if kind == "answer":
            question_id, option_id = row["b"], row["option"]
            if option_id is None:
                counted[question_id] = [row["a"], row["n"], row["m"]]
                if not row["current"]:
                    gone[question_id] = row["sample"]
            else:
                chosen[question_id, option_id] = row["n"]
        elif kind == "attempts":
            attempts[row["a"]] = (row["n"], row["at"])
        elif row["current"]:  # progress per post
            counts[row["a"]] = (row["n"], row["m"])
        else:  # progress per parent
            last_progress[row["a"]] = row["at"]
    catalog = await hot_rows(
        session,
        spelling.catalog,
        posts=ids["posts"],
        gone=spelling.ids(list(gone)),
        samples=spelling.ids(sorted(set(gone.values()))),
    )
    total = len(posts)
    idle = timedelta(days=inactivity_days)
    body_members = []
    for row in members:
        user_id = row["id"]
        completed = row["number"] or 0
        failed, attempted_at = attempts.get(user_id, (0, None))
        last = latest(last_progress.get(user_id), attempted_at)
        body_members.append(
            {
                "user_id": user_id,
                "username": row["name"],
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
    order: dict[int, int] = {}
    for n, post in enumerate(posts):
        order[post["post_id"]] = n
        post["started"], post["completed"] = counts.get(post["post_id"], (0, 0))
    return {
        "group_id": group_id,
        "course_id": course_id,
        "members": body_members,
        "posts": posts,
        "questions": _questions(order, counted, chosen, catalog),
    }
