"""At most 10 children, whatever arrives at once (companion spec §4): the count is taken
under the parent row's lock (`tma.core.ordering.lock_parent`), so a create that raced
another for the tenth place waits for it and then finds ten.

The staged race runs on both databases (a held transaction writes the tenth child and
keeps the parent's lock; on SQLite the database's write lock); the live one on PostgreSQL.
"""

import asyncio
from datetime import UTC, datetime

import pytest

ME = "/api/auth/me/children"


async def _add(client, headers, name):
    response = await client.post(
        ME, json={"name": name, "birth_date": "2024-01-01"}, headers=headers
    )
    assert response.status_code == 201


@pytest.mark.asyncio
async def test_add_child_waits_for_a_concurrent_tenth_and_returns_400(
    client, test_user, user_headers, held_transaction, database_url
):
    """Nine children; another transaction locks the parent and adds the tenth: the create
    waits for it, then answers 400, and the parent has exactly ten."""
    for i in range(9):
        await _add(client, user_headers, f"C{i}")
    if database_url.startswith("postgresql"):  # SQLite: the first write locks it all
        await held_transaction.execute(
            "SELECT id FROM users WHERE id = :id FOR UPDATE", id=test_user.id
        )
    await held_transaction.execute(
        "INSERT INTO children (user_id, name, birth_date, created_at, updated_at) "
        "VALUES (:id, 'Tenth', '2024-01-01', :at, :at)",
        id=test_user.id,
        at=datetime.now(UTC),
    )

    request = asyncio.create_task(
        client.post(ME, json={"name": "Raced", "birth_date": "2024-01-01"}, headers=user_headers)
    )
    await held_transaction.until_waited_on(request)
    await held_transaction.commit()
    response = await request

    assert response.status_code == 400
    assert response.json() == {"detail": "You may have at most 10 children"}
    listed = await client.get(ME, headers=user_headers)
    assert listed.status_code == 200
    assert len(listed.json()) == 10


@pytest.mark.asyncio
@pytest.mark.postgresql
async def test_add_children_at_once_never_make_an_eleventh(client, make_user, make_auth_headers):
    """Twelve creates at once for one parent, 10 rounds: exactly ten 201s and two 400s."""
    for _ in range(10):
        headers = make_auth_headers(await make_user())
        answers = await asyncio.gather(
            *(
                client.post(ME, json={"name": f"C{i}", "birth_date": "2024-01-01"}, headers=headers)
                for i in range(12)
            )
        )
        assert sorted(a.status_code for a in answers) == [201] * 10 + [400] * 2
        listed = await client.get(ME, headers=headers)
        assert listed.status_code == 200
        assert len(listed.json()) == 10
