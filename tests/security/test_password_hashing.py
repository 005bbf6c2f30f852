"""Threats to stored passwords: a corrupt hash, an unknown user, the argon2 cost, and the
hashing threads that must not starve the event loop."""

import asyncio
import os
import threading
import time

import pytest
from sqlalchemy import select, update

from tma.core import security
from tma.core.security import HASH_THREAD_NICE
from tma.users.models import User

LOGIN_FAILED = {"detail": "Incorrect username or password"}


async def _login(client, username, password):
    return await client.post("/api/auth/login", json={"username": username, "password": password})


@pytest.mark.asyncio
async def test_login_user_with_corrupt_stored_hash_returns_401(client, test_db, test_user):
    """A stored hash that cannot be read (corrupt, unknown scheme) fails the login with the
    usual 401, never a 500 and never a success."""
    async with test_db.session() as session:
        await session.execute(
            update(User).where(User.id == test_user.id).values(hashed_password="not-a-hash")
        )
        await session.commit()

    response = await _login(client, "testuser", "testpass")

    assert response.status_code == 401
    assert response.json() == LOGIN_FAILED


@pytest.mark.asyncio
async def test_register_stores_argon2id_hash_with_configured_cost(client, test_db):
    """The password is stored as an argon2id hash with the configured cost (the test
    settings: 8 KiB, 1 pass, 1 lane), never as the password itself."""
    response = await client.post(
        "/api/auth/register",
        json={"username": "newparent", "email": "new@test.com", "password": "a long secret"},
    )

    assert response.status_code == 201
    async with test_db.session() as session:
        stored = await session.scalar(
            select(User.hashed_password).where(User.username == "newparent")
        )
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert "a long secret" not in stored


@pytest.fixture
def verify_calls(app, monkeypatch):
    """Every argon2/bcrypt verification the app makes: (hash, thread name, thread nice)."""
    calls = []
    hasher = app.state.hasher._hash
    real_verify = hasher.verify

    def spy(password, hashed):
        thread = threading.get_native_id()
        calls.append(
            (hashed, threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, thread))
        )
        return real_verify(password, hashed)

    monkeypatch.setattr(hasher, "verify", spy)
    return calls


@pytest.mark.asyncio
async def test_login_unknown_user_verifies_against_real_argon2_hash(client, verify_calls):
    """An unknown username costs one real argon2 verification, like a wrong password, so
    the answer time does not tell which usernames exist."""
    response = await _login(client, "nobody", "whatever-password")

    assert response.status_code == 401
    assert response.json() == LOGIN_FAILED
    assert len(verify_calls) == 1
    assert verify_calls[0][0].startswith("$argon2id$v=19$m=8,t=1,p=1$")


@pytest.mark.asyncio
async def test_login_password_checked_on_low_priority_hash_thread(client, test_user, verify_calls):
    """Password work runs on the hasher's own threads (`tma-hash-*`), niced to
    HASH_THREAD_NICE so a login flood cannot starve the event loop's thread."""
    response = await _login(client, "testuser", "testpass")

    assert response.status_code == 200
    assert len(verify_calls) == 1
    _, thread_name, nice = verify_calls[0]
    assert thread_name.startswith("tma-hash")
    process_nice = os.getpriority(os.PRIO_PROCESS, 0)
    expected = HASH_THREAD_NICE if os.geteuid() == 0 else max(HASH_THREAD_NICE, process_nice)
    assert nice == expected


@pytest.mark.asyncio
async def test_hasher_threads_take_the_configured_nice_value(test_settings, monkeypatch):
    """The hashing threads set their own nice value (whatever the process's is): checked
    with a value that differs from the process's, so inheriting it cannot pass."""
    process_nice = os.getpriority(os.PRIO_PROCESS, 0)
    if process_nice <= 14:
        target = process_nice + 5  # raising one's nice value needs no privilege
    elif os.geteuid() == 0:
        target = process_nice - 5
    else:
        pytest.fail("run the suite below nice 15 (or as root) to check thread priorities")
    monkeypatch.setattr(security, "HASH_THREAD_NICE", target)
    hasher = security.PasswordHasher(test_settings)
    seen = []

    def record(password: str) -> str:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return password

    monkeypatch.setattr(hasher._hash, "hash", record)

    assert await hasher.hash("x") == "x"
    assert seen == [target]


@pytest.mark.asyncio
async def test_hasher_built_from_settings_hashes_and_verifies_on_its_own_threads(
    test_settings, monkeypatch
):
    """A `PasswordHasher` hashes with the settings' argon2 cost, verifies on its own
    `tma-hash-*` threads, and an unknown user (`hashed=None`) costs one verification against
    a real hash of that same cost, which never succeeds."""
    hasher = security.PasswordHasher(test_settings)
    verified = []
    real_verify = hasher._hash.verify

    def spy(password, hashed):
        verified.append((hashed[:27], threading.current_thread().name))
        return real_verify(password, hashed)

    monkeypatch.setattr(hasher._hash, "verify", spy)

    stored = await hasher.hash("a long secret")

    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert await hasher.verify("a long secret", stored) is True
    assert await hasher.verify("another secret", stored) is False
    assert await hasher.verify("a long secret", None) is False
    assert [prefix for prefix, _ in verified] == ["$argon2id$v=19$m=8,t=1,p=1$"] * 3
    assert all(thread.startswith("tma-hash") for _, thread in verified), verified


@pytest.mark.asyncio
@pytest.mark.parametrize(("cores", "threads"), [(3, 3), (1, 1), (None, 1)])
async def test_hasher_hashes_on_one_thread_per_core(test_settings, monkeypatch, cores, threads):
    """One hashing thread per core (docs/performance.md: more add no throughput and hold
    memory), one when the core count is unknown: six passwords hashed at once, each taking
    a while, use exactly that many threads."""
    monkeypatch.setattr(security.os, "cpu_count", lambda: cores)
    hasher = security.PasswordHasher(test_settings)
    used = set()

    def slow_hash(password: str) -> str:
        used.add(threading.current_thread().name)
        time.sleep(0.05)
        return password

    monkeypatch.setattr(hasher._hash, "hash", slow_hash)

    hashed = await asyncio.gather(*(hasher.hash(f"pw{i}") for i in range(6)))

    assert hashed == [f"pw{i}" for i in range(6)]
    assert hasher.workers == threads
    assert len(used) == threads, used
