"""Which keys of each translated read hold which translated field: the shapes of course,
module, post, quiz, feed and bundle bodies, given to a `Translator`. Each returns the
response's language; the default, with no statement, when the reader wants no other."""

from collections.abc import MutableSequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from tma.i18n.service import Translator

Q = TypeVar("Q", bound=BaseModel)

COURSE = {"title": "title", "description": "description"}
MODULE = {"title": "title", "description": "description"}
# A module as an outline item or a module detail's own keys names it `module_*`.
MODULE_ITEM = {"module_title": "title", "module_description": "description"}
POST = {"title": "title", "content": "content"}


def _dicts(rows: MutableSequence[Any]) -> MutableSequence[dict[str, Any]]:
    """The rows as dicts, in place (the hot path's rows are read-only records)."""
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            rows[i] = dict(row)
    return rows


async def _translate_rows(
    session: AsyncSession,
    t: Translator,
    rows: MutableSequence[Any],
    kind: str,
    key: str,
    fields: dict[str, str],
) -> str:
    """Rows of one kind, each naming its object by `key`: the lists' shared step."""
    if t.languages:
        for row in _dicts(rows):
            t.add(kind, row[key], row, fields)
    return await t.apply(session)


async def translate_course(
    session: AsyncSession,
    t: Translator,
    course: dict[str, Any],
    found: dict[tuple[str, int, str], dict[str, Any]] | None = None,
) -> str:
    """A course detail: the course and its outline items (`found`: their translations,
    joined by the detail's own statement)."""
    t.add("course", course["id"], course, COURSE)
    for item in course["modules"]:
        t.add("module", item["module_id"], item, MODULE_ITEM)
    return await t.apply(session, found)


async def translate_courses(
    session: AsyncSession, t: Translator, rows: MutableSequence[Any]
) -> str:
    """A list of courses (`CourseRead` rows)."""
    return await _translate_rows(session, t, rows, "course", "id", COURSE)


async def translate_outline(
    session: AsyncSession, t: Translator, items: MutableSequence[Any]
) -> str:
    """A course's outline items."""
    return await _translate_rows(session, t, items, "module", "module_id", MODULE_ITEM)


async def translate_modules(
    session: AsyncSession, t: Translator, rows: MutableSequence[Any]
) -> str:
    """A list of modules (`ModuleRead` rows)."""
    return await _translate_rows(session, t, rows, "module", "id", MODULE)


async def translate_module(session: AsyncSession, t: Translator, module: dict[str, Any]) -> str:
    """A module detail: the module (both spellings of its keys) and its posts."""
    t.add("module", module["id"], module, {**MODULE, **MODULE_ITEM})
    for post in module["posts"]:
        t.add("post", post["id"], post, POST)
    return await t.apply(session)


async def translate_posts(session: AsyncSession, t: Translator, posts: MutableSequence[Any]) -> str:
    """A list of posts (`PostRead` bodies)."""
    return await _translate_rows(session, t, posts, "post", "id", POST)


async def translate_post(session: AsyncSession, t: Translator, post: dict[str, Any]) -> str:
    """A post detail, its quiz (a `QuizRead` or `QuizStaffRead`) included: the quiz is
    rebuilt as the same model from its translated body."""
    t.add("post", post["id"], post, POST)
    quiz = post.get("quiz")
    body = quiz.model_dump() if t.languages and isinstance(quiz, BaseModel) else None
    if body is not None:
        t.add_quiz(post["id"], body)
    language = await t.apply(session)
    if body is not None and quiz is not None:
        post["quiz"] = type(quiz).model_validate(body)
    return language


async def translate_quiz(
    session: AsyncSession, t: Translator, post_id: int, quiz: Q
) -> tuple[Q, str]:
    """A quiz read (`QuizRead` or `QuizStaffRead`): its questions' prompts, explanations
    (where shown) and option texts; the same model, rebuilt from its translated body."""
    if not t.languages:
        return quiz, t.default
    body = quiz.model_dump()
    t.add_quiz(post_id, body)
    language = await t.apply(session)
    return type(quiz).model_validate(body), language


async def translate_attempts(
    session: AsyncSession, t: Translator, attempts: MutableSequence[dict[str, Any]]
) -> str:
    """Attempt bodies: their questions' texts, and their results' explanations where the
    reveal rule shows them (a withheld one is null and stays null)."""
    for attempt in attempts:
        t.add_quiz(attempt["post_id"], attempt)
        if attempt.get("results"):
            t.add_quiz(attempt["post_id"], {"questions": attempt["results"]}, "question_id")
    return await t.apply(session)


async def translate_bundle(session: AsyncSession, t: Translator, bundle: dict[str, Any]) -> str:
    """A course bundle: the course and its outline, each module, its posts and quizzes."""
    course = bundle["course"]
    t.add("course", course["id"], course, COURSE)
    for item in course["modules"]:
        t.add("module", item["module_id"], item, MODULE_ITEM)
    for module in bundle["modules"]:
        t.add("module", module["id"], module, {**MODULE, **MODULE_ITEM})
        for post in module["posts"]:
            t.add("post", post["id"], post, POST)
            if post.get("quiz") is not None:
                t.add_quiz(post["id"], post["quiz"])
    return await t.apply(session)


async def translate_feed(session: AsyncSession, t: Translator, items: MutableSequence[Any]) -> str:
    """Feed items: the post's, module's and course's titles."""
    if t.languages:
        for item in _dicts(items):
            t.add("post", item["post_id"], item, {"title": "title"})
            t.add("module", item["module_id"], item, {"module_title": "title"})
            t.add("course", item["course_id"], item, {"course_title": "title"})
    return await t.apply(session)
