"""Load the sample CSVs into an empty database (or a reset one). All people are invented."""

import csv
from dataclasses import dataclass
from datetime import date
from importlib import resources

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.security import PasswordHasher
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.groups.models import Group, GroupMember
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


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("tma.seed").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _blank_is_none(value: str | None) -> str | None:
    return value or None


async def is_empty(session: AsyncSession) -> bool:
    """True when the database has no user yet."""
    return not await session.scalar(select(func.count()).select_from(User))


async def reset(session: AsyncSession) -> None:
    """Delete every row except the system roles."""
    for model in (GroupCourse, CourseModule, Module, Course, GroupMember, Group, User):
        await session.execute(delete(model))
    await session.commit()


async def load(session: AsyncSession, *, hasher: PasswordHasher) -> SeedResult:
    """Insert the sample users, groups, memberships, courses, modules and assignments."""
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
    module_rows = _rows("modules.csv")
    modules = [Module(title=r["title"], description=r["content"]) for r in module_rows]
    session.add_all(modules)
    await session.flush()
    session.add_all(
        CourseModule(
            course_id=courses[r["course"]].id, module_id=module.id, ordering=int(r["ordering"])
        )
        for r, module in zip(module_rows, modules, strict=True)
    )
    links = [
        GroupCourse(
            group_id=groups[r["group"]].id,
            course_id=courses[r["course"]].id,
            ordering=int(r["ordering"]),
        )
        for r in _rows("group_courses.csv")
    ]
    session.add_all(links)
    await session.commit()
    return SeedResult(len(users), len(groups), len(memberships), len(courses), len(links))
