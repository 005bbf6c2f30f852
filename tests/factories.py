"""One-line builders for test data, through the service layer (fast, no HTTP).

Every builder takes the test database (`test_db`) and returns the ORM object it made,
so a test can use `.id`, `.username`, `.role.name` and so on. The `conftest.py`
fixtures `make_user`, `make_group`, `make_course`, `add_member`, `assign_course`,
`make_module`, `link_module`, `make_post` and `make_quiz_post` wrap these with the
database already bound; use those in tests.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import count
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from tma.core.db import Database
from tma.core.security import PasswordHasher
from tma.courses import service as courses
from tma.courses.models import Course, GroupCourse, Module
from tma.courses.schemas import CourseCreate
from tma.groups import service as groups
from tma.groups.models import Group, GroupMember, GroupRole
from tma.groups.schemas import GroupCreate
from tma.modules.schemas import ModuleCreate
from tma.posts import service as posts
from tma.posts.models import Post
from tma.posts.schemas import PostCreate
from tma.users.caller import Caller, CallerRole
from tma.users.models import Role, SystemRole, User
from tma.users.schemas import UserCreate

_serial = count(1)

# Every table a test may write, children first; roles stay (seeded by the migration).
TABLES = (
    "webhooks",  # its deliveries and tries go with it (and with the events of users)
    "xapi_pushes",
    "post_progress",
    "quiz_attempts",
    "quiz_options",
    "quiz_questions",
    "posts",
    "files",
    "course_module_links",
    "modules",
    "group_courses",
    "courses",
    "group_members",
    "groups",
    "users",
)


def unique(prefix: str) -> str:
    """A name no other call in this run returns, e.g. `unique("group")` -> "group-17"."""
    return f"{prefix}-{next(_serial)}"


@dataclass
class TestDatabase:
    """The database of one test: empty but for the three system roles."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    db: Database
    hasher: PasswordHasher
    roles: dict[str, Role] = field(default_factory=dict)

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.db.sessionmaker

    def session(self) -> AsyncSession:
        """A new session; use as `async with test_db.session() as session:`."""
        return self.db.sessionmaker()

    async def clear(self) -> None:
        """Delete every row except the roles: cheaper than rebuilding the schema."""
        deletes = [f"DELETE FROM {table}" for table in TABLES]
        async with self.db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                # One round trip to the driver's thread instead of one per table.
                raw = await conn.get_raw_connection()
                script = ";\n".join(["BEGIN", *deletes, "COMMIT"])
                await raw.driver_connection.executescript(script)  # type: ignore[union-attr]
            else:
                for statement in deletes:
                    await conn.execute(text(statement))
                await conn.commit()

    async def role(self, name: str) -> Role:
        """The seeded system role `name` (user, manager, admin), read once per run."""
        if not self.roles:
            async with self.session() as session:
                self.roles = {r.name: r for r in (await session.scalars(select(Role))).all()}
        return self.roles[name]


async def create_user(
    test_db: TestDatabase,
    *,
    username: str | None = None,
    email: str | None = None,
    password: str = "testpass",
    role: str = "user",
    is_active: bool = True,
    **profile: Any,
) -> User:
    """A user with a real (test-cost) password hash; `role` is user, manager or admin."""
    username = username or unique("user")
    # Validated like a request body (limits, lower-cased e-mail, "" -> null), then inserted in
    # one statement: the API's own checks are what the tests exercise, not the fixtures.
    data = UserCreate(
        username=username, email=email or f"{username}@test.com", password=password, **profile
    )
    role_row = await test_db.role(role)
    user = User(
        **data.model_dump(exclude={"password", "role"}),
        hashed_password=await test_db.hasher.hash(password),
        role_id=role_row.id,
        is_active=is_active,
    )
    async with test_db.session() as session:
        session.add(user)
        await session.commit()
    set_committed_value(user, "role", role_row)
    return user


async def create_group(
    test_db: TestDatabase, *, creator: User, name: str | None = None, description: str | None = None
) -> Group:
    """A group created by `creator`, who becomes its owner (member_count 1)."""
    async with test_db.session() as session:
        data = GroupCreate(name=name or unique("group"), description=description)
        return await groups.create_group(session, creator=creator, data=data)


# The caller the setup acts as: an admin that is no account (id 0 is never a user's).
SETUP_ADMIN = Caller(
    id=0,
    username="setup",
    email="setup@test.com",
    first_name=None,
    last_name=None,
    child_name=None,
    child_sex_assigned_at_birth=None,
    child_dob=None,
    avatar_url=None,
    role=CallerRole(id=0, name=SystemRole.ADMIN.value, description=None),
    email_verified=True,
    is_active=True,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    language=None,
    tokens_valid_after=None,
    version=0,
    content_version=0,
)


async def add_member(
    test_db: TestDatabase, *, group: Group, user: User, role: str = "member"
) -> GroupMember:
    """Put `user` in `group` with the given group role (member, moderator, owner), as an
    admin would (the service asks who adds: only admins and the group's owners and
    moderators may; the fixture is the test's setup, not a caller under test)."""
    async with test_db.session() as session:
        return await groups.add_member(
            session, group=group, caller=SETUP_ADMIN, user_id=user.id, role=GroupRole(role)
        )


async def create_course(
    test_db: TestDatabase, *, title: str | None = None, description: str | None = None
) -> Course:
    """A course with no modules."""
    async with test_db.session() as session:
        data = CourseCreate(title=title or unique("course"), description=description)
        return await courses.create_course(session, data=data)


async def assign_course(
    test_db: TestDatabase,
    *,
    group: Group,
    course: Course,
    ordering: int | None = None,
    start_date: date | None = None,
) -> GroupCourse:
    """Assign `course` to `group`, last unless `ordering` is given, its release schedule
    starting on `start_date` (default today, UTC)."""
    async with test_db.session() as session:
        return await courses.assign_course(
            session, group=group, course_id=course.id, ordering=ordering, start_date=start_date
        )


async def create_module(
    test_db: TestDatabase,
    *,
    title: str | None = None,
    description: str | None = None,
    color: str | None = None,
) -> Module:
    """A module in no course and with no posts."""
    data = ModuleCreate(title=title or unique("module"), description=description, color=color)
    async with test_db.session() as session:
        module = Module(**data.model_dump())
        session.add(module)
        await session.commit()
        return module


async def link_module(
    test_db: TestDatabase,
    *,
    course: Course,
    module: Module,
    ordering: int | None = None,
    release_after_days: int = 0,
) -> dict[str, Any]:
    """Put `module` into `course` at `ordering` (default last), opening `release_after_days`
    after the course's start; the outline item as a dict."""
    async with test_db.session() as session:
        return await courses.link_module(
            session,
            course_id=course.id,
            module_id=module.id,
            ordering=ordering,
            release_after_days=release_after_days,
        )


async def create_post(test_db: TestDatabase, **fields: Any) -> Post:
    """A post made by the posts service from `PostCreate(**fields)` (module_id, title,
    post_type, ... as the API takes them)."""
    async with test_db.session() as session:
        return await posts.create_post(session, data=PostCreate(**fields))


DEFAULT_QUIZ: dict[str, Any] = {
    "pass_mark": 50,
    "questions": [
        {
            "prompt": "Which piece can jump over others?",
            "kind": "single",
            "explanation": "Only the knight jumps.",
            "options": [
                {"text": "Knight", "is_correct": True},
                {"text": "Bishop", "is_correct": False},
            ],
        },
        {
            "prompt": "Which pieces move diagonally?",
            "kind": "multiple",
            "explanation": "Bishops always, queens too.",
            "options": [
                {"text": "Bishop", "is_correct": True},
                {"text": "Queen", "is_correct": True},
                {"text": "Rook", "is_correct": False},
            ],
        },
    ],
}
