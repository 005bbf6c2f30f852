"""Load the sample CSVs into an empty database (or a reset one). All people are invented."""

import csv
import json
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.config import Settings
from tma.core.db import utcnow
from tma.core.security import PasswordHasher
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.files.models import StoredFile
from tma.groups.models import Group, GroupMember
from tma.i18n.models import Translation
from tma.posts.models import Post, PostType
from tma.posts.schemas import PostCreate
from tma.posts.service import add_post
from tma.quizzes.models import QuizOption, QuizQuestion
from tma.seed.files import remove_stored_files, seed_files
from tma.seed.progress import seed_progress
from tma.users.models import Role, User

SAMPLE_PASSWORD = "password"  # noqa: S105 - documented sample logins, development only
SAMPLE_LOGINS = ("admin", "manager", "user")


@dataclass(frozen=True)
class SeedResult:
    users: int
    groups: int
    memberships: int
    courses: int
    assignments: int
    modules: int = 0
    posts: int = 0


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("tma.seed").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _blank_is_none(value: str | None) -> str | None:
    return value or None


async def is_empty(session: AsyncSession) -> bool:
    """True when the database has no user yet."""
    return not await session.scalar(select(func.count()).select_from(User))


async def reset(session: AsyncSession, *, settings: Settings) -> None:
    """Delete every row except the system roles, and the stored files' bytes."""
    await remove_stored_files(session, settings=settings)
    # Modules first: their posts, quizzes, attempts and progress go with them (cascade);
    # then the files no post uses any more.
    for model in (Module, StoredFile, GroupCourse, Course, GroupMember, Group, User):
        await session.execute(delete(model))
    await session.commit()


async def load(
    session: AsyncSession, *, hasher: PasswordHasher, settings: Settings, progress: bool = True
) -> SeedResult:
    """Insert the sample users, groups, memberships, courses, modules with their posts
    (attachments with generated PDFs in the file store of `settings`), assignments, a few
    avatars and, unless `progress=False`, the sample `user`'s progress."""
    roles = {r.name: r.id for r in (await session.scalars(select(Role))).all()}
    # Every sample account shares one password: hash it once.
    hashed = await hasher.hash(SAMPLE_PASSWORD)
    users: dict[str, User] = {}
    for row in _rows("users.csv"):
        dob = row["child_dob"]
        user = User(
            username=row["username"],
            email=row["email"],
            hashed_password=hashed,
            role_id=roles[row["role"]],
            first_name=_blank_is_none(row["first_name"]),
            last_name=_blank_is_none(row["last_name"]),
            child_name=_blank_is_none(row["child_name"]),
            child_sex_assigned_at_birth=_blank_is_none(row["child_sex_assigned_at_birth"]),
            child_dob=date.fromisoformat(dob) if dob else None,
            email_verified=True,
        )
        users[user.username] = user
    session.add_all(users.values())
    await session.flush()

    groups: dict[str, Group] = {}
    for row in _rows("groups.csv"):
        creator = users[row["created_by"]]
        groups[row["name"]] = Group(
            name=row["name"], description=row["description"], created_by=creator.id
        )
    session.add_all(groups.values())
    await session.flush()

    memberships = [
        GroupMember(group_id=groups[r["group"]].id, user_id=users[r["username"]].id, role=r["role"])
        for r in _rows("memberships.csv")
    ]
    session.add_all(memberships)

    courses = {
        r["title"]: Course(title=r["title"], description=r["description"])
        for r in _rows("courses.csv")
    }
    session.add_all(courses.values())
    await session.flush()
    modules, posts, attachments = await _load_content(session, courses)
    await _load_translations(session)
    await seed_files(session, settings=settings, users=users, attachment_posts=attachments)
    links = [
        GroupCourse(
            group_id=groups[r["group"]].id,
            course_id=courses[r["course"]].id,
            ordering=int(r["ordering"]),
        )
        for r in _rows("group_courses.csv")
    ]
    session.add_all(links)
    await session.flush()
    if progress:
        # The sample parent's first two courses, in the clients' order (oldest first).
        theirs = [c for c in courses.values() if c.id in await _course_ids_of(session, "user")]
        await seed_progress(session, user=users["user"], courses=sorted(theirs, key=_age))
    await session.commit()
    return SeedResult(
        len(users), len(groups), len(memberships), len(courses), len(links), modules, posts
    )


def _age(course: Course) -> tuple[Any, int]:
    return course.created_at, course.id


async def _course_ids_of(session: AsyncSession, username: str) -> set[int]:
    rows = await session.scalars(
        select(GroupCourse.course_id)
        .join(GroupMember, GroupMember.group_id == GroupCourse.group_id)
        .join(User, User.id == GroupMember.user_id)
        .where(User.username == username)
    )
    return set(rows.all())


async def _load_content(
    session: AsyncSession, courses: dict[str, Course]
) -> tuple[int, int, list[Post]]:
    """The sample modules with their posts (quizzes included), linked into the courses in
    the order `content.json` gives; one module is shared by two courses. Returns how many
    modules and posts were made, and the attachment posts (waiting for their files)."""
    text = resources.files("tma.seed").joinpath("data", "content.json").read_text("utf-8")
    content = json.loads(text)
    modules: dict[str, Module] = {}
    posts = 0
    attachments: list[Post] = []
    for spec in content["modules"]:
        module = Module(title=spec["title"], description=spec["description"], color=spec["color"])
        session.add(module)
        await session.flush()
        modules[spec["key"]] = module
        for place, post_spec in enumerate(spec["posts"], start=1):
            posts += 1
            if post_spec["type"] == PostType.ATTACHMENT:
                # Its file comes from `seed_files`, which sets `file_id` once it is stored.
                attachment = Post(
                    module_id=module.id,
                    title=post_spec["title"],
                    post_type=PostType.ATTACHMENT.value,
                    content=post_spec.get("content"),
                    ordering=place,
                )
                session.add(attachment)
                attachments.append(attachment)
                continue
            data = PostCreate(
                module_id=module.id,
                title=post_spec["title"],
                post_type=post_spec["type"],
                content=post_spec.get("content"),
                video_url=post_spec.get("video_url"),
                quiz=post_spec.get("quiz"),
            )
            await add_post(session, data=data)
    for title, keys in content["courses"].items():
        session.add_all(
            CourseModule(course_id=courses[title].id, module_id=modules[key].id, ordering=n)
            for n, key in enumerate(keys, start=1)
        )
    await session.flush()
    return len(modules), posts, attachments


async def _load_translations(session: AsyncSession) -> None:
    """Spanish texts of one sample course, its modules and posts, its quiz included
    (`translations.json`: objects by title, a quiz's questions and options by position).
    Inserted as rows: a new database, so there is nothing for the write's change hooks
    (tma.i18n.service.write_translation) to tell."""
    text = resources.files("tma.seed").joinpath("data", "translations.json").read_text("utf-8")
    spec = json.loads(text)
    now = utcnow()
    for model, key, by_title in (
        (Course, "course_id", spec["courses"]),
        (Module, "module_id", spec["modules"]),
        (Post, "post_id", spec["posts"]),
    ):
        found = await session.execute(
            select(model.id, model.title).where(model.title.in_(by_title))
        )
        for object_id, title in found.all():
            fields = dict(by_title[title])
            if "quiz" in fields:
                fields["quiz"] = await _quiz_texts(session, object_id, fields["quiz"])
            session.add(
                Translation(
                    **{key: object_id},
                    language=spec["language"],
                    fields=fields,
                    created_at=now,
                    updated_at=now,
                )
            )
    await session.flush()


async def _quiz_texts(
    session: AsyncSession, post_id: int, questions: list[dict[str, Any]]
) -> dict[str, Any]:
    """A quiz translation by position made one by ids (questions and options in order)."""
    ids = await session.execute(
        select(QuizQuestion.id, QuizOption.id)
        .join(QuizOption, QuizOption.question_id == QuizQuestion.id)
        .where(QuizQuestion.post_id == post_id)
        .order_by(QuizQuestion.position, QuizOption.position)
    )
    options: dict[int, list[int]] = {}
    for question_id, option_id in ids.all():
        options.setdefault(question_id, []).append(option_id)
    return {
        "questions": [
            {
                "id": question_id,
                "prompt": given["prompt"],
                "explanation": given["explanation"],
                "options": [
                    {"id": option_id, "text": option_text}
                    for option_id, option_text in zip(option_ids, given["options"], strict=True)
                ],
            }
            for (question_id, option_ids), given in zip(options.items(), questions, strict=True)
        ]
    }
