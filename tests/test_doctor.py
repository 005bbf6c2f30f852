"""`tma doctor` (issue 21): every derived counter (`module_progress`, `course_progress`)
recounted from the progress rows; each difference reported as user, module or course,
stored and actual; exit 1 when there is one; `--fix` repairs them in one transaction, lists
them and exits 0; afterwards the check is clean and the group view reads the recount. Runs
the real command (typer's runner, in a worker thread: it starts its own event loop) on the
suite's database, on both databases."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text
from typer.testing import CliRunner, Result

from tma import cli
from tma.core.config import get_settings


@pytest_asyncio.fixture
async def doctor_cli(monkeypatch: pytest.MonkeyPatch, test_settings: Any) -> AsyncIterator[Any]:
    """`await doctor_cli("--fix")` runs `tma doctor --fix` on the suite's database."""
    monkeypatch.setenv("TMA_DATABASE_URL", test_settings.database_url)
    get_settings.cache_clear()

    async def run(*args: str) -> Result:
        return await asyncio.to_thread(CliRunner().invoke, cli.app, ["doctor", *args])

    yield run
    get_settings.cache_clear()


@pytest.fixture
def completed_world(
    client,
    user_headers,
    make_group,
    add_member,
    make_course,
    assign_course,
    make_module,
    link_module,
    make_post,
    test_user,
):
    """The user's group with two courses sharing one module of two posts, both completed
    through the API: counters (user, module) 2, (user, course) 2 and 2."""

    async def build() -> tuple[int, int, int, int]:
        group = await make_group()
        await add_member(group, test_user)
        first, second = await make_course(), await make_course()
        await assign_course(group, first)
        await assign_course(group, second)
        module = await make_module(course=first)
        await link_module(second, module)
        for post in (await make_post(module), await make_post(module)):
            done = await client.put(
                f"/api/progress/{post.id}", json={"status": "completed"}, headers=user_headers
            )
            assert done.status_code == 200
        return group.id, module.id, first.id, second.id

    return build


@pytest.mark.asyncio
async def test_doctor_exact_counters_exits_0_reporting_no_differences(completed_world, doctor_cli):
    """Counters kept by the triggers only: exit 0, one line naming how many counters were
    compared (1 module counter, 2 course counters)."""
    await completed_world()

    result = await doctor_cli()

    assert result.exit_code == 0, result.output
    assert result.output == "no differences: 1 module and 2 course counters checked\n"


@pytest.mark.asyncio
async def test_doctor_counters_corrupted_by_hand_reported_then_fixed_then_clean(
    client, test_db, auth_headers, test_user, completed_world, doctor_cli
):
    """A module counter set to 5, a course counter to 16 and the other course's deleted
    (the drift issue 21 saw: 16 of 11): `tma doctor` lists each (user, module or course,
    stored, actual) and exits 1, changing nothing; `--fix` lists the same, repairs them,
    exits 0; a second check is clean, and the group view reads 2 of 2 in both courses."""
    group_id, module_id, first, second = await completed_world()
    user = test_user.id
    async with test_db.session() as session:
        for sql in (
            f"UPDATE module_progress SET completed = 5 WHERE user_id = {user}",
            f"UPDATE course_progress SET completed = 16 WHERE course_id = {first}",
            f"DELETE FROM course_progress WHERE course_id = {second}",
        ):
            await session.execute(text(sql))
        await session.commit()
    listed = (
        f"module_progress: user {user}, module {module_id}: stored 5, actual 2\n"
        f"course_progress: user {user}, course {first}: stored 16, actual 2\n"
        f"course_progress: user {user}, course {second}: stored 0, actual 2\n"
    )

    checked = await doctor_cli()
    checked_again = await doctor_cli()
    fixed = await doctor_cli("--fix")
    clean = await doctor_cli()

    assert checked.exit_code == 1, checked.output
    assert checked.output == (
        listed + "3 differences (1 module and 2 course counters checked); repair with --fix\n"
    )
    assert (checked_again.exit_code, checked_again.output) == (1, checked.output)
    assert fixed.exit_code == 0, fixed.output
    assert fixed.output == (
        listed + "fixed 3 differences (1 module and 2 course counters checked); now clean\n"
    )
    assert clean.exit_code == 0, clean.output
    assert clean.output == "no differences: 1 module and 2 course counters checked\n"
    view = await client.get(f"/api/groups/{group_id}/progress", headers=auth_headers)
    assert view.status_code == 200
    [member] = [m for m in view.json()["members"] if m["user_id"] == user]
    assert [
        (c["course_id"], c["completed_posts"], c["total_posts"]) for c in member["courses"]
    ] == [
        (first, 2, 2),
        (second, 2, 2),
    ]


@pytest.mark.asyncio
async def test_doctor_fix_on_exact_counters_exits_0_changing_nothing(
    test_db, completed_world, doctor_cli
):
    """`--fix` with nothing to repair: exit 0, "no differences", every counter as it was."""
    await completed_world()
    counters = "SELECT user_id, course_id, completed FROM course_progress ORDER BY course_id"
    async with test_db.session() as session:
        before = (await session.execute(text(counters))).all()

    result = await doctor_cli("--fix")

    assert result.exit_code == 0, result.output
    assert result.output == "no differences: 1 module and 2 course counters checked\n"
    async with test_db.session() as session:
        assert (await session.execute(text(counters))).all() == before


@pytest.mark.asyncio
async def test_doctor_stale_counter_of_nothing_completed_reported_as_actual_0(
    test_db, test_user, make_module, doctor_cli
):
    """A counter with no completed post behind it (a module nobody completed): reported as
    stored 3, actual 0, exit 1; `--fix` sets it to 0 (a count of 0 and no row read alike)."""
    module = await make_module()
    async with test_db.session() as session:
        await session.execute(
            text(
                "INSERT INTO module_progress (user_id, module_id, completed) "
                f"VALUES ({test_user.id}, {module.id}, 3)"
            )
        )
        await session.commit()

    checked = await doctor_cli()
    fixed = await doctor_cli("--fix")

    assert checked.exit_code == 1
    assert checked.output.splitlines()[0] == (
        f"module_progress: user {test_user.id}, module {module.id}: stored 3, actual 0"
    )
    assert fixed.exit_code == 0
    async with test_db.session() as session:
        stored = await session.scalar(text("SELECT completed FROM module_progress"))
    assert stored == 0
