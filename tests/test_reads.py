"""The one read path's own guards (`tma.core.reads`, `tma.core.pagination`,
`tma.core.hotpath`): a read names each column once, the hot path takes only the column
types the driver returns as SQLAlchemy would, a body that is not exactly its model's fails
loudly under `check_bodies`, every request gives its session's connection back, and a
session is handed to a later request only closed and empty."""

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import JSON, Enum, Integer, String, column, literal, select
from sqlalchemy.sql import table
from starlette.requests import Request

from tma.core import pagination
from tma.core.db import SESSIONS_KEY, close_sessions, request_session
from tma.core.errors import NotFound
from tma.core.hotpath import driver_safe
from tma.core.pagination import BodyMismatch, ListQuery, check_bodies, dump_body
from tma.core.reads import get_with_flag, named
from tma.core.schemas import row_adapter, row_list_adapter
from tma.courses.schemas import CourseRead
from tma.groups.models import Group
from tma.users.models import User
from tma.users.schemas import RoleRead

_t = table("t", column("id", Integer), column("name", String), column("data", JSON))


def test_a_read_names_each_column_once() -> None:
    """Two columns called `id` are refused when the statement is built (a row is read by
    name: one would hide the other); labelled apart they pass."""
    other = table("u", column("id", Integer))
    with pytest.raises(ValueError, match="columns named twice in a read: id"):
        named(select(_t.c.id, other.c.id))

    assert named(select(_t.c.id, other.c.id.label("other_id"))) is not None


def test_the_hot_path_refuses_columns_the_driver_returns_otherwise() -> None:
    """JSON (asyncpg gives text) and enums (SQLAlchemy gives the enum member) are refused
    by `driver_safe`, and so by any `ListQuery` selecting them; ids, text, booleans and
    timestamps pass."""
    with pytest.raises(ValueError, match="data"):
        driver_safe(select(_t.c.id, _t.c.data))
    with pytest.raises(ValueError, match="kind"):
        driver_safe(select(literal("a", Enum("a", "b", name="k")).label("kind")))
    with pytest.raises(ValueError, match="data"):
        ListQuery(select(_t.c.data), count=select(_t.c.id))

    safe = select(User.id, User.username, User.is_active, User.created_at)
    assert driver_safe(safe) is safe


@pytest.fixture
def checking_bodies() -> Iterator[None]:
    """`check_bodies` on for the test (as every app of this suite turns it on), then as it
    was."""
    was = pagination._check[0]
    check_bodies(True)
    yield
    check_bodies(was)


@pytest.mark.usefixtures("checking_bodies")
def test_check_bodies_catches_a_body_that_is_not_its_models() -> None:
    """Under `check_bodies` (on in this suite) a body with a value of the wrong type (an id
    as text), or that lacks a key, fails; the model's own shape passes."""
    adapter = row_adapter(RoleRead)
    right = {"id": 1, "name": "user", "description": None}

    assert dump_body(adapter, right) == b'{"id":1,"name":"user","description":null}'
    mismatch = pytest.raises(BodyMismatch, match="at byte 6")
    with mismatch, pytest.warns(UserWarning, match="serializer"):
        dump_body(adapter, {"id": "1", "name": "user", "description": None})
    with pytest.raises(ValueError, match="Field required"):  # pydantic's ValidationError
        dump_body(row_list_adapter(CourseRead), [{"id": 1, "title": "t"}])


@pytest.mark.asyncio
async def test_get_with_flag_gives_the_object_and_flag_or_raises(
    test_db: Any, make_group: Callable[..., Awaitable[Group]]
) -> None:
    """The object by primary key with the flag's value, in one statement; `missing` for an
    unknown key."""
    group = await make_group()
    async with test_db.session() as session:
        found, flag = await get_with_flag(session, Group, group.id, literal(True), NotFound("x"))
        assert (found.id, flag) == (group.id, True)
        with pytest.raises(NotFound):
            await get_with_flag(session, Group, 987654, literal(True), NotFound("x"))


@pytest.mark.asyncio
async def test_every_request_gives_its_connection_back(
    client: httpx.AsyncClient, auth_headers: dict[str, str], app: Any
) -> None:
    """The request middleware closes the request's session: after reads that hold a
    transaction (a module list reads through the session's connection) and after a failed
    write, no connection stays checked out beyond the hot path's idle ones."""
    pool = app.state.db.engine.sync_engine.pool
    assert (await client.get("/api/modules", headers=auth_headers)).status_code == 200
    assert (await client.post("/api/groups", json={}, headers=auth_headers)).status_code == 422
    assert (await client.get("/api/modules/987654", headers=auth_headers)).status_code == 404

    assert pool.checkedout() == app.state.db.hot.kept_connections


@pytest.mark.asyncio
async def test_a_session_is_reused_only_once_closed_and_empty(app: Any) -> None:
    """`close_sessions` gives each request's session back to its factory's idle list for the
    next request of the same kind, closed first when it began a transaction or holds
    objects (an object added and never flushed is forgotten, not handed to the next
    request); called twice for one request it gives the session back once."""
    db = app.state.db
    db.idle_sessions.clear()
    db.idle_read_sessions.clear()

    def scope(method: str) -> Request:
        return Request({"type": "http", "method": method, "app": app, SESSIONS_KEY: []})

    read = scope("GET")
    session = request_session(read)
    assert request_session(read) is session  # one per request
    await close_sessions(read.scope[SESSIONS_KEY])
    await close_sessions(read.scope[SESSIONS_KEY])  # the middleware after the key layer
    assert db.idle_read_sessions == [session]
    assert db.idle_sessions == []
    assert request_session(scope("GET")) is session
    assert db.idle_read_sessions == []

    write = scope("POST")
    session = request_session(write)
    pending = Group(name="never flushed")
    session.add(pending)
    await session.get(Group, 987654)  # begins a transaction
    await close_sessions(write.scope[SESSIONS_KEY])
    assert db.idle_sessions == [session]
    assert not session.in_transaction()
    assert pending not in session
    assert list(session.new) == []
