"""Races staged exactly: a second connection holds a transaction open (a row inserted,
updated or locked, not committed), a request runs into it and waits, and the test decides
when the other transaction ends, so the request meets the outcome of a lost race every time
instead of once in many rounds. The `held_transaction` fixture gives one: `HeldTransaction`
on PostgreSQL (row locks), `HeldSQLiteTransaction` on SQLite (one writer at a time: the
transaction holds the database's write lock, and a request waits at its first write)."""

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncConnection

WAIT_SECONDS = 10.0


async def _until_waiting(waits: Callable[[], Awaitable[bool]], request: asyncio.Task[Any]) -> None:
    """Poll `waits()` until it is true; fail when `request` ends first (it never waited) or
    after WAIT_SECONDS."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while not await waits():
        if request.done():
            raise AssertionError(
                f"the request ended without waiting for the held transaction: {request.result()!r}"
            )
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"no request waited for the held transaction in {WAIT_SECONDS:g} s"
            )
        await asyncio.sleep(0.005)


class HeldTransaction:
    """A transaction on a connection of its own, ended when the test says."""

    def __init__(self, conn: AsyncConnection, probe: AsyncConnection, pid: int) -> None:
        self._conn = conn
        self._probe = probe
        self._pid = pid

    async def execute(self, sql: str, **params: Any) -> CursorResult[Any]:
        """Run `sql` (with `:name` parameters) inside the held transaction."""
        return await self._conn.execute(text(sql), params)

    async def until_waited_on(self, request: asyncio.Task[Any]) -> None:
        """Return once another connection waits for a lock this transaction holds (the
        request reached the contested row). Fails when `request` ends first (it did not
        wait: nothing it does touches that row) or after 10 seconds."""
        waiting = text(
            "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
        )

        async def waits() -> bool:
            return bool(await self._probe.scalar(waiting, {"pid": self._pid}))

        await _until_waiting(waits, request)

    async def commit(self) -> None:
        await self._conn.commit()

    async def rollback(self) -> None:
        await self._conn.rollback()


WRITES = ("INSERT", "UPDATE", "DELETE")


class HeldSQLiteTransaction:
    """The same on SQLite: `execute` begins the transaction with the database's write lock
    (`BEGIN IMMEDIATE`), so a request waits (its busy timeout) at its first write until the
    test commits or rolls back. Set up the test's data before the first `execute`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._writes_sent: list[str] = []

    def on_statement(self, sql: str) -> None:
        """The app's statement listener: the writes it sends while the lock is held."""
        if self._conn.in_transaction and sql.lstrip().upper().startswith(WRITES):
            self._writes_sent.append(sql)

    async def execute(self, sql: str, **params: Any) -> sqlite3.Cursor:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN IMMEDIATE")
        return self._conn.execute(sql, params)

    async def until_waited_on(self, request: asyncio.Task[Any]) -> None:
        """Return once the request has sent a write (it waits for the lock from then on).
        Fails when `request` ends first or after 10 seconds."""

        async def waits() -> bool:
            return bool(self._writes_sent)

        await _until_waiting(waits, request)

    async def commit(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    async def rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()
