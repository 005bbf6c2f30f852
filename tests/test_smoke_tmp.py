import pytest

@pytest.mark.asyncio
async def test_login(client, test_user):
    r = await client.post("/api/auth/login", json={"username": "testuser", "password": "testpass"})
    assert r.status_code == 200
    assert r.json()["token_type"] == "bearer"

@pytest.mark.asyncio
async def test_users(client, admin_user, auth_headers):
    r = await client.get("/api/users")
    assert r.status_code == 401
    r = await client.get("/api/users", headers=auth_headers)
    assert r.status_code == 200
    assert [u["username"] for u in r.json()] == ["admin"]
    assert "password" not in r.json()[0]

@pytest.mark.asyncio
async def test_groups(client, make_group, manager_headers, make_user, add_member, count_queries):
    for _ in range(5):
        g = await make_group()
    with count_queries() as q:
        r = await client.get("/api/groups", headers=manager_headers)
    assert r.status_code == 200 and len(r.json()) == 5
    print(q.count, q.statements)
