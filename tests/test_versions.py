"""Version tags (tma.core.versions, tma.core.etag "Version tags"; docs/offline.md): the course
detail and outline are tagged from the content version and the caller's version, bumped by
database triggers; every table is classified; each cause of a changed body changes the tag,
whoever wrote it and however (also raw SQL); a revalidation costs one statement."""

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tma.core.versions import (
    CALLER_TABLES,
    CONTENT_TABLES,
    DERIVED_TABLES,
    UNVERSIONED_TABLES,
    ContentVersion,
)
from tma.models import Base


def test_every_table_is_classified_exactly_once():
    """Every table of the schema is content, one caller's own data, a derived counter or
    never read by a version-tagged body: a new table (translations, say) fails here until
    it is classified (and, if versioned, given its triggers)."""
    lists = [
        set(CONTENT_TABLES),
        set(CALLER_TABLES),
        set(DERIVED_TABLES),
        set(UNVERSIONED_TABLES),
    ]
    everything = set().union(*lists)

    assert sum(len(names) for names in lists) == len(everything)  # none in two lists
    assert everything == set(Base.metadata.tables)


async def _triggers(test_db):
    async with test_db.session() as session:
        if session.bind.dialect.name == "postgresql":
            found = await session.execute(
                text(
                    "SELECT c.relname, t.tgname FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
                )
            )
        else:
            found = await session.execute(
                text("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
            )
        return {(table, name) for table, name in found.all()}


@pytest.mark.asyncio
async def test_every_versioned_table_has_its_triggers_in_the_migrated_database(test_db):
    """The migrated database bumps the content version on every content table and the
    caller's version on every caller table and on the users row itself."""
    triggers = await _triggers(test_db)
    postgresql = any(name == "content_version_courses" for _, name in triggers)
    for table in CONTENT_TABLES:
        names = (
            [f"content_version_{table}"]
            if postgresql
            else [f"content_version_{table}_{e}" for e in ("insert", "update", "delete")]
        )
        assert {(table, name) for name in names} <= triggers, table
    for table in CALLER_TABLES:
        names = [f"caller_version_{table}_{e}" for e in ("insert", "update", "delete")]
        assert {(table, name) for name in names} <= triggers, table
    assert ("users", "users_version") in triggers


async def _content_version(test_db):
    async with test_db.session() as session:
        return await session.scalar(select(ContentVersion.version))


async def _tag(client, url, headers):
    response = await client.get(url, headers=headers)
    assert response.status_code == 200
    tag = response.headers["etag"]
    assert tag.startswith('W/"v')  # a version tag, not a body's
    return tag


async def _revalidated(client, url, headers, tag):
    return await client.get(url, headers={**headers, "If-None-Match": tag})


@pytest.mark.asyncio
async def test_course_detail_tag_changes_on_a_raw_sql_write_to_any_content_table(
    client, user_headers, test_db, user_course, make_module
):
    """A write that no service made (raw SQL, as a repair script would) still changes the
    tag: the triggers bump the content version whoever writes; one transaction writing many
    rows bumps it by one on PostgreSQL (at least one on SQLite)."""
    module = await make_module(course=user_course, title="Checks")
    url = f"/api/courses/{user_course.id}"
    tag = await _tag(client, url, user_headers)
    before = await _content_version(test_db)

    async with test_db.session() as session:
        await session.execute(
            text("UPDATE modules SET title = 'Renamed' WHERE id = :id"), {"id": module.id}
        )
        await session.execute(
            text("UPDATE courses SET description = 'x' WHERE id = :id"), {"id": user_course.id}
        )
        await session.commit()

    after = await _content_version(test_db)
    assert after > before
    if test_db.db.engine.dialect.name == "postgresql":
        assert after == before + 1
    revalidated = await _revalidated(client, url, user_headers, tag)
    assert revalidated.status_code == 200
    assert revalidated.json()["modules"][0]["module_title"] == "Renamed"


@pytest.mark.asyncio
async def test_course_detail_304_needs_the_same_caller_language_and_day(
    client,
    user_headers,
    make_user,
    add_member,
    make_auth_headers,
    test_db,
    test_user,
    user_course,
    clock,
):
    """The tag holds the caller, the raw `Accept-Language` and the day (a release opens at
    00:00 UTC): another caller, another language or the next day gets a 200 and another
    tag; the same request again gets the 304."""
    url = f"/api/courses/{user_course.id}"
    tag = await _tag(client, url, user_headers)
    same = await _revalidated(client, url, user_headers, tag)
    classmate = await make_user()
    group = (await client.get("/api/groups", headers=user_headers)).json()[0]
    async with test_db.session() as session:
        from tma.groups.models import Group

        found = await session.get(Group, group["id"])
    await add_member(found, classmate)

    theirs = await _revalidated(client, url, make_auth_headers(classmate), tag)
    french = await _revalidated(client, url, {**user_headers, "Accept-Language": "fr"}, tag)
    clock.advance(days=1)
    tomorrow = await _revalidated(client, url, user_headers, tag)

    assert same.status_code == 304
    # As the 200 it stands for says (the CORS layer adds its own `Origin`).
    assert "Accept-Language" in same.headers["vary"].split(", ")
    assert [theirs.status_code, french.status_code, tomorrow.status_code] == [200, 200, 200]
    assert len({tag, theirs.headers["etag"], french.headers["etag"], tomorrow.headers["etag"]}) == 4


@pytest.mark.asyncio
async def test_course_detail_tag_follows_the_schedule_membership_and_profile(
    client, user_headers, auth_headers, test_db, test_user, user_course, make_module, clock
):
    """A new start date of the group's assignment (availability), the caller's own profile
    edit, and the caller leaving the group (the course becomes 403) each end the 304."""
    await make_module(course=user_course, title="Checks")
    url = f"/api/courses/{user_course.id}"
    group_id = (await client.get("/api/groups", headers=user_headers)).json()[0]["id"]

    tag = await _tag(client, url, user_headers)
    scheduled = await client.patch(
        f"/api/groups/{group_id}/courses/{user_course.id}",
        json={"start_date": str(clock.today() + timedelta(days=3))},
        headers=auth_headers,
    )
    assert scheduled.status_code == 200
    after_schedule = await _revalidated(client, url, user_headers, tag)
    assert after_schedule.status_code == 200
    assert after_schedule.json()["modules"][0]["availability"]["state"] == "scheduled"

    tag = after_schedule.headers["etag"]
    profile = await client.patch("/api/auth/me", json={"first_name": "Ana"}, headers=user_headers)
    assert profile.status_code == 200
    assert (await _revalidated(client, url, user_headers, tag)).status_code == 200

    tag = await _tag(client, url, user_headers)
    left = await client.delete(
        f"/api/groups/{group_id}/members/{test_user.id}", headers=auth_headers
    )
    assert left.status_code == 204
    assert (await _revalidated(client, url, user_headers, tag)).status_code == 403


@pytest.mark.asyncio
async def test_course_detail_tag_follows_own_progress_not_a_classmates(
    client,
    user_headers,
    make_user,
    add_member,
    make_auth_headers,
    test_db,
    test_user,
    user_course,
    make_module,
    make_post,
):
    """In a sequential course the caller's own progress unlocks the next module: the tag
    changes; a classmate's progress changes nothing of the caller's body: still 304 (on
    PostgreSQL; see below for SQLite)."""
    first = await make_module(course=user_course, title="First")
    await make_module(course=user_course, title="Second")
    post = await make_post(first)
    async with test_db.session() as session:
        await session.execute(
            text("UPDATE courses SET sequential = :on WHERE id = :id"),
            {"on": True, "id": user_course.id},
        )
        await session.commit()
    url = f"/api/courses/{user_course.id}"
    group_id = (await client.get("/api/groups", headers=user_headers)).json()[0]["id"]
    classmate = await make_user()
    async with test_db.session() as session:
        from tma.groups.models import Group

        group = await session.get(Group, group_id)
    await add_member(group, classmate)  # after the session above gave back its connection
    tag = await _tag(client, url, user_headers)
    assert (await client.get(url, headers=user_headers)).json()["modules"][1]["availability"][
        "state"
    ] == "locked"

    theirs = await client.put(
        f"/api/progress/{post.id}",
        json={"status": "completed"},
        headers=make_auth_headers(classmate),
    )
    assert theirs.status_code == 200
    kept = await _revalidated(client, url, user_headers, tag)
    if test_db.db.engine.dialect.name == "postgresql":
        assert kept.status_code == 304
    else:
        # SQLite has no row lock: a progress write locks the module by a write that changes
        # nothing (tma.core.ordering.lock_parent), which the content triggers count: one
        # 200 more than needed, never a stale body.
        assert kept.status_code == 200
        tag = kept.headers["etag"]

    mine = await client.put(
        f"/api/progress/{post.id}", json={"status": "completed"}, headers=user_headers
    )
    assert mine.status_code == 200
    changed = await _revalidated(client, url, user_headers, tag)
    assert changed.status_code == 200
    assert changed.json()["modules"][1]["availability"]["state"] == "open"


@pytest.mark.asyncio
async def test_course_detail_revalidation_is_one_statement(
    client, user_headers, user_course, make_module, count_queries
):
    """GET /api/courses/{course_id} with the current tag: 304 after one statement (the
    caller, with both versions), whatever the course holds; `*` is answered after the body
    (it must not skip a 404 or 403)."""
    for _ in range(3):
        await make_module(course=user_course)
    url = f"/api/courses/{user_course.id}"
    tag = await _tag(client, url, user_headers)

    with count_queries() as queries:
        response = await _revalidated(client, url, user_headers, tag)
    with count_queries() as star_queries:
        star = await _revalidated(client, url, user_headers, "*")

    assert response.status_code == 304
    assert response.headers["etag"] == tag
    assert response.headers["cache-control"] == "private, no-cache"
    assert queries.count == 1
    assert star.status_code == 304
    assert star_queries.count == 2


@pytest.mark.asyncio
async def test_course_detail_tag_follows_translations_and_the_callers_language(
    client, auth_headers, user_headers, user_course
):
    """A translation written (PUT) or taken away (DELETE) by an admin, and the caller's own
    `language` set with PATCH /api/auth/me, each end the 304: the body is in another
    language now. Only the version moved: the request is the same each time."""
    url = f"/api/courses/{user_course.id}"
    spanish = {**user_headers, "Accept-Language": "es"}
    translation = f"/api/translations/course/{user_course.id}/es"

    tag = await _tag(client, url, spanish)
    written = await client.put(translation, headers=auth_headers, json={"title": "Curso"})
    after_put = await _revalidated(client, url, spanish, tag)
    removed = await client.delete(translation, headers=auth_headers)
    after_delete = await _revalidated(client, url, spanish, after_put.headers["etag"])
    await client.put(translation, headers=auth_headers, json={"title": "Curso"})
    plain = await _tag(client, url, user_headers)  # no header: the user's language decides
    profile = await client.patch("/api/auth/me", headers=user_headers, json={"language": "es"})
    after_language = await _revalidated(client, url, user_headers, plain)

    assert [written.status_code, removed.status_code, profile.status_code] == [200, 204, 200]
    assert (after_put.status_code, after_put.json()["title"]) == (200, "Curso")
    assert (after_delete.status_code, after_delete.json()["title"]) == (200, user_course.title)
    assert (after_language.status_code, after_language.json()["title"]) == (200, "Curso")
    assert after_language.headers["content-language"] == "es"
