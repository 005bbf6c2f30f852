"""The `Idempotency-Key` layer every authenticated write passes through (docs/offline.md).

A pure-ASGI middleware, so no route opts in and none can forget to: a `POST`, `PUT`,
`PATCH` or `DELETE` carrying the header and a valid bearer token is claimed under
(user, key) in the `idempotency_keys` table before it runs, and its response (status
< 500, body, `Content-Type`, `Location`) is stored after it ran. The same key again:

- same method, path (with query) and byte-identical body, response stored: the stored
  response, with `Idempotent-Replayed: true`; the route does not run;
- another method, path or body: 422 "Idempotency-Key reused with a different request";
- the first still running: 409.

A 5xx (or an error raised through) frees the key: a retry runs again. The table is in the
database, so every worker and machine shares it. Rows live `TMA_IDEMPOTENCY_TTL_HOURS`
(>= 24); an expired row is taken over by a new request with its key, and each process
deletes expired rows at most every `SWEEP_SECONDS` after a write it stored (bounded
batches): the table never grows without bound and nobody cleans it by hand.

The user is the token's subject (`sub`): the key layer reads the token without the
database; the route still authenticates the caller as always (a token without a valid
signature is not keyed at all, and a 401 is never stored: the request was not one of an
authenticated user).
"""

import contextlib
import hashlib
import json
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tma.core.config import Settings
from tma.core.db import (
    ID,
    SESSIONS_KEY,
    Base,
    Database,
    UTCDateTime,
    close_sessions,
    upsert,
    utcnow,
)
from tma.core.security import decode_access_token

HEADER = b"idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
# The response headers kept with a response (the body's type, a created resource's URL).
KEPT_HEADERS = frozenset({b"content-type", b"location"})
# A key whose request has run this long without a stored response belongs to a process that
# died mid-request (requests end long before: body deadline 30 s, statements seconds): a
# new request with it runs. Until then the key answers 409.
LEASE_SECONDS = 600
SWEEP_SECONDS = 300
SWEEP_BATCH = 1000

REUSED = "Idempotency-Key reused with a different request"
RUNNING = "A request with this Idempotency-Key is still being processed; retry later"
MALFORMED = "Idempotency-Key must be 1-255 visible ASCII characters"


class IdempotencyKey(Base):
    """A write's key (per user), what the request was (`fingerprint`) and, once it ran, its
    response. `status_code` null: still running."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[str | None] = mapped_column(String(4000))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


def valid_key(raw: bytes) -> bool:
    """1-255 visible ASCII characters (0x21-0x7E)."""
    return 0 < len(raw) <= MAX_KEY_LENGTH and all(0x21 <= b <= 0x7E for b in raw)


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """What makes two requests "the same": method, path with query, byte-identical body."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


_SELECT_KEY = select(
    IdempotencyKey.id,
    IdempotencyKey.fingerprint,
    IdempotencyKey.status_code,
    IdempotencyKey.headers,
    IdempotencyKey.body,
    IdempotencyKey.created_at,
    IdempotencyKey.expires_at,
)


# PostgreSQL's claim and store, built once and run on the driver (`tma.core.hotpath`): each
# one statement in its own autocommit transaction, as through a session, without the
# session's and the statement's construction per request. Measured (callgrind, instructions
# per request, `POST /api/groups` by the admin, `python -m bench.instructions group-create
# group-create-keyed`): docs/offline.md "Bench lines".
_CLAIM = (
    postgresql.insert(IdempotencyKey)
    .values(
        user_id=bindparam("claim_user_id", type_=ID),
        key=bindparam("claim_key", type_=String()),
        fingerprint=bindparam("claim_fingerprint", type_=String()),
        created_at=bindparam("claim_created_at", type_=UTCDateTime()),
        expires_at=bindparam("claim_expires_at", type_=UTCDateTime()),
    )
    .on_conflict_do_nothing(index_elements=[IdempotencyKey.user_id, IdempotencyKey.key])
    .returning(IdempotencyKey.id)
)
_STORE = (
    update(IdempotencyKey)
    .where(IdempotencyKey.id == bindparam("store_id", type_=ID))
    .values(
        status_code=bindparam("store_status", type_=Integer()),
        headers=bindparam("store_headers", type_=String()),
        body=bindparam("store_body", type_=LargeBinary()),
        expires_at=bindparam("store_expires_at", type_=UTCDateTime()),
    )
)


class IdempotencyMiddleware:
    """See the module docstring. Requests without the header pay one header scan."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.ttl = timedelta(hours=settings.idempotency_ttl_hours)
        self.next_sweep = time.monotonic() + SWEEP_SECONDS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        raw_key = next((value for name, value in headers if name == HEADER), None)
        token = _bearer(headers) if raw_key is not None else None
        claims = decode_access_token(token, self.settings) if token else None
        if raw_key is None or claims is None:
            await self.app(scope, receive, send)  # not keyed: the route answers as always
            return
        if not valid_key(raw_key):
            await _send_json(send, 422, MALFORMED)
            return
        key = raw_key.decode("ascii")
        body = await _read_body(receive)
        print_ = fingerprint(scope["method"], scope["path"], scope.get("query_string", b""), body)
        db: Database = scope["app"].state.db
        claimed = await self._claim(db, claims.user_id, key, print_)
        if not isinstance(claimed, int):
            status, detail = claimed if isinstance(claimed, tuple) else (0, "")
            if status:
                await _send_json(send, status, detail)
            else:
                await _replay(send, claimed)
            return
        await self._run(scope, _replaying(body, receive), send, db, claimed)

    async def _claim(
        self, db: Database, user_id: int, key: str, print_: str
    ) -> int | tuple[int, str] | Any:
        """The claimed row's id; or (status, detail) to answer; or the stored row."""
        read_first = False  # the hot claim found the key taken: read it first
        if db.hot.enabled:
            now = utcnow()
            params = {
                "claim_user_id": user_id,
                "claim_key": key,
                "claim_fingerprint": print_,
                "claim_created_at": now,
                "claim_expires_at": now + self.ttl,
            }
            found_id = await db.hot.fetch(_CLAIM, params)
            if found_id:
                claimed_id: int = found_id[0]["id"]
                return claimed_id
            read_first = True
        async with db.read_sessionmaker() as session:
            for _ in range(3):
                now = utcnow()
                if read_first:
                    read_first = False
                    found = await self._stored(session, user_id, key)
                    if found is not None:
                        return await self._decide(session, found, print_, now)
                    continue
                insert = (
                    upsert(session, IdempotencyKey)
                    .values(
                        user_id=user_id,
                        key=key,
                        fingerprint=print_,
                        created_at=now,
                        expires_at=now + self.ttl,
                    )
                    .on_conflict_do_nothing(
                        index_elements=[IdempotencyKey.user_id, IdempotencyKey.key]
                    )
                    .returning(IdempotencyKey.id)
                )
                claimed = await session.scalar(insert)
                if claimed is not None:
                    await session.commit()
                    return claimed
                found = await self._stored(session, user_id, key)
                if found is None:
                    continue  # deleted meanwhile (expired, or its request failed): claim it
                return await self._decide(session, found, print_, now)
        return (409, RUNNING)

    async def _stored(self, session: Any, user_id: int, key: str) -> Any:
        found = (
            (
                await session.execute(
                    _SELECT_KEY.where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
                )
            )
            .mappings()
            .first()
        )
        if found is not None and found["expires_at"] <= utcnow():
            # Expired: removed (only if still expired), then claimed anew.
            await session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.id == found["id"], IdempotencyKey.expires_at <= utcnow()
                )
            )
            await session.commit()
            return None
        return found

    async def _decide(
        self, session: Any, found: Any, print_: str, now: datetime
    ) -> int | tuple[int, str] | Any:
        """What a request gets whose key is taken by the row `found` (not expired)."""
        await session.commit()
        if found["fingerprint"] != print_:
            return (422, REUSED)
        if found["status_code"] is not None:
            return found
        if found["created_at"] > now - timedelta(seconds=LEASE_SECONDS):
            return (409, RUNNING)
        taken = await session.scalar(  # its process died mid-request: take it over
            update(IdempotencyKey)
            .where(
                IdempotencyKey.id == found["id"],
                IdempotencyKey.status_code.is_(None),
                IdempotencyKey.created_at == found["created_at"],
            )
            .values(created_at=now, expires_at=now + self.ttl)
            .returning(IdempotencyKey.id)
        )
        await session.commit()
        return taken if taken is not None else (409, RUNNING)

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, db: Database, row: int
    ) -> None:
        status = 0
        kept: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name in KEPT_HEADERS:
                        kept.append((name.decode("latin-1"), value.decode("latin-1")))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            # The client gone (the lossy network again): the write is done all the same, so
            # its response is still stored for the retry that will come.
            with contextlib.suppress(OSError):
                await send(message)

        stored = False
        try:
            try:
                await self.app(scope, receive, capture)
            finally:
                # The route's session is done: give its connection (and, on SQLite, any
                # write lock it still holds) back before the key's own write below.
                await close_sessions(scope.get(SESSIONS_KEY, []))
            if 0 < status < 500 and status != 401:
                await self._store(db, row, status, kept, b"".join(chunks))
                stored = True
        finally:
            if not stored:
                async with db.read_sessionmaker() as session:
                    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row))
                    await session.commit()

    async def _store(
        self, db: Database, row: int, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        now = utcnow()
        due = time.monotonic() >= self.next_sweep
        if db.hot.enabled and not due:
            params = {
                "store_id": row,
                "store_status": status,
                "store_headers": json.dumps(headers),
                "store_body": body,
                "store_expires_at": now + self.ttl,
            }
            await db.hot.fetch(_STORE, params)
            return
        async with db.read_sessionmaker() as session:
            await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.id == row)
                .values(
                    status_code=status,
                    headers=json.dumps(headers),
                    body=body,
                    expires_at=now + self.ttl,
                )
            )
            if time.monotonic() >= self.next_sweep:
                self.next_sweep = time.monotonic() + SWEEP_SECONDS
                await sweep(session, now)
            await session.commit()


async def sweep(session: Any, now: datetime) -> None:
    """Delete up to `SWEEP_BATCH` expired keys (the caller commits)."""
    expired = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.expires_at <= now)
        .order_by(IdempotencyKey.expires_at)
        .limit(SWEEP_BATCH)
    )
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(expired)))


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (the request middleware outside bounds its size and time)."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts)
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the body already read, then the client's messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _replay(send: Send, row: Any) -> None:
    body: bytes = row["body"] or b""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(row["headers"])]
    headers += [(b"content-length", str(len(body)).encode()), REPLAYED]
    await send({"type": "http.response.start", "status": row["status_code"], "headers": headers})
    await send({"type": "http.response.body", "body": body})
