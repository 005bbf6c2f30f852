"""A whole course in one read: `GET /api/courses/{course_id}/bundle` (docs/offline.md).

A fixed number of statements whatever the course's size (tests/test_query_counts.py): the
course detail (with whether the caller sees it; `tma.courses.service.course_detail`), every
module of the course with its posts, whether it is open to the caller and the caller's
progress on each post (one statement, in course order then post order), and every question
and option of the course's quizzes (one statement). The quizzes are shaped without answers
for everyone: the bundle is what a phone keeps on its disk.

A module not open to a `user` today (companion spec §3, `tma.courses.availability`: its
detail would be 403) is listed with `posts: []` (its `post_count` still counts them); staff
see every module open.
"""

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Date, String, and_, bindparam, cast, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.config import Settings
from tma.core.hotpath import hot_rows
from tma.core.reads import comma_joined, named
from tma.courses import availability
from tma.courses import service as courses
from tma.courses.models import CourseModule, Module
from tma.courses.visibility import course_visible_to
from tma.posts.models import Post, PostType
from tma.posts.quiz import pass_mark_of
from tma.posts.service import POST_COLUMNS, post_dict
from tma.progress.models import PostProgress, ProgressStatus
from tma.quizzes.models import QuizOption, QuizQuestion

_COURSE = bindparam("course_id", type_=BigInteger)
_USER = bindparam("user_id", type_=BigInteger)
_VIEWER = bindparam("viewer_id", type_=BigInteger)
_TODAY = bindparam("today", type_=Date)
_POST_KEYS = tuple(column.key for column in POST_COLUMNS)
_POST_LABELS = tuple(f"post_{key}" for key in _POST_KEYS)
_POST_PAIRS = tuple(zip(_POST_KEYS, _POST_LABELS, strict=True))


# Built once, at import (`_MODULES` below): mutmut cannot switch a mutant of it on after
# import, so it is not mutated (tests/README.md "Mutation testing"); every read tests it.
def _modules_and_posts(scoped: bool) -> Any:  # pragma: no mutate block
    """Each module of the course (course order) with its posts (post order) and the
    caller's progress on each: one row per post, one row of null post columns for a module
    without posts. `course_ids`: the courses the caller sees the module in; `open`: whether
    the module is open to the caller today (always for staff, `scoped` False)."""
    in_course = CourseModule.module_id == Module.id
    other = CourseModule.__table__.alias("other_link")
    seen_in = other.c.module_id == Module.id
    is_open: Any = true()
    if scoped:
        seen_in = and_(seen_in, course_visible_to(other.c.course_id, _VIEWER))
        is_open = availability.module_open_to(Module.id, _VIEWER, _TODAY)
    course_ids = (
        select(comma_joined(cast(other.c.course_id, String))).where(seen_in).scalar_subquery()
    )
    return (
        select(
            Module.id.label("module_id"),
            Module.title.label("module_title"),
            Module.description.label("module_description"),
            Module.color.label("module_color"),
            Module.min_age_months.label("module_min_age_months"),
            Module.max_age_months.label("module_max_age_months"),
            Module.created_at.label("module_created_at"),
            Module.updated_at.label("module_updated_at"),
            course_ids.label("course_ids"),
            is_open.label("open"),
            *(
                column.label(label)
                for column, label in zip(POST_COLUMNS, _POST_LABELS, strict=True)
            ),
            Post.pass_mark.label("pass_mark"),
            PostProgress.status.label("progress_status"),
            PostProgress.updated_at.label("progress_updated_at"),
            PostProgress.started_at.label("progress_started_at"),
            PostProgress.completed_at.label("progress_completed_at"),
        )
        .select_from(CourseModule)
        .join(Module, in_course)
        .outerjoin(Post, Post.module_id == Module.id)
        .outerjoin(
            PostProgress, and_(PostProgress.post_id == Post.id, PostProgress.user_id == _USER)
        )
        .where(CourseModule.course_id == _COURSE)
        .order_by(CourseModule.ordering, CourseModule.module_id, Post.ordering, Post.id)
    )


_MODULES = {scoped: named(_modules_and_posts(scoped)) for scoped in (False, True)}

# Every question and option of the course's quiz posts, in authored order.
_QUIZZES = named(
    select(
        QuizQuestion.post_id,
        QuizQuestion.id.label("question_id"),
        QuizQuestion.prompt,
        QuizQuestion.kind,
        QuizOption.id.label("option_id"),
        QuizOption.text,
    )
    .outerjoin(QuizOption, QuizOption.question_id == QuizQuestion.id)
    .where(
        QuizQuestion.post_id.in_(
            select(Post.id)
            .join(CourseModule, CourseModule.module_id == Post.module_id)
            .where(CourseModule.course_id == _COURSE, Post.post_type == PostType.QUIZ.value)
        )
    )
    .order_by(QuizQuestion.post_id, QuizQuestion.position, QuizQuestion.id, QuizOption.position)
)


def _progress(post_id: int, row: Any) -> dict[str, Any]:
    if row["progress_status"] is None:
        return {
            "post_id": post_id,
            "status": ProgressStatus.NOT_STARTED.value,
            "updated_at": None,
            "started_at": None,
            "completed_at": None,
        }
    return {
        "post_id": post_id,
        "status": row["progress_status"],
        "updated_at": row["progress_updated_at"],
        "started_at": row["progress_started_at"],
        "completed_at": row["progress_completed_at"],
    }


async def _questions(session: AsyncSession, course_id: int) -> dict[int, list[dict[str, Any]]]:
    """Each quiz post's questions (without answers), by post id.

    Alike in shape with migration 0009's grouping of question rows: a released migration
    reads the tables as they were then and shares no code with the app."""
    found: dict[int, list[dict[str, Any]]] = {}
    questions: dict[int, dict[str, Any]] = {}
    for row in await hot_rows(session, _QUIZZES, course_id=course_id):
        question = questions.get(row["question_id"])
        if question is None:
            question = questions[row["question_id"]] = {
                "id": row["question_id"],
                "prompt": row["prompt"],
                "kind": row["kind"],
                "explanation": None,
                "options": [],
            }
            found.setdefault(row["post_id"], []).append(question)
        if row["option_id"] is not None:
            question["options"].append({"id": row["option_id"], "text": row["text"]})
    return found


async def bundle(
    session: AsyncSession,
    *,
    course_id: int,
    user_id: int,
    viewer_id: int | None,
    settings: Settings,
    today: date,
) -> dict[str, Any]:
    """The course's bundle (without `generated_at`) on `today` (UTC): 404 unknown course,
    403 a viewer (None: staff) who does not see it."""
    course = await courses.course_detail(
        session, course_id=course_id, viewer_id=viewer_id, today=today
    )
    params: dict[str, Any] = {"course_id": course_id, "user_id": user_id}
    if viewer_id is not None:
        params |= {"viewer_id": viewer_id, "today": today}
    # Both on the driver (tma.core.hotpath): 200 rows of 34 columns cost SQLAlchemy's result
    # processing and a dict each on the session's path (docs/offline.md "Bench lines").
    found = await hot_rows(session, _MODULES[viewer_id is not None], **params)
    quizzes = await _questions(session, course_id)
    modules: list[dict[str, Any]] = []
    current: dict[str, Any] = {"id": None}
    for row in found:
        if row["module_id"] != current["id"]:
            ids = row["course_ids"]
            current = {
                "id": row["module_id"],
                "title": row["module_title"],
                "description": row["module_description"],
                "color": row["module_color"],
                "min_age_months": row["module_min_age_months"],
                "max_age_months": row["module_max_age_months"],
                "post_count": 0,
                "created_at": row["module_created_at"],
                "updated_at": row["module_updated_at"],
                "module_id": row["module_id"],
                "module_title": row["module_title"],
                "module_description": row["module_description"],
                "module_color": row["module_color"],
                "posts": [],
                "course_ids": sorted(int(i) for i in ids.split(",")) if ids else [],
            }
            modules.append(current)
        post_id = row["post_id"]
        if post_id is None:
            continue
        current["post_count"] += 1
        if not row["open"]:
            continue  # listed, its posts left out until it opens
        post = post_dict(row, settings, prefix="post_")  # `BundlePost`'s keys, in order
        post["progress"] = _progress(post_id, row)
        post["quiz"] = None
        if row["post_post_type"] == PostType.QUIZ.value:
            # A dict: the row adapter reads `QuizRead | None` as a row too (core/schemas.py).
            post["quiz"] = {
                "pass_mark": pass_mark_of(row["pass_mark"]),
                "questions": quizzes.get(post_id, []),
            }
        current["posts"].append(post)
    return {"course": course, "modules": modules}
