"""Who sees a parent's data (issue 21, defects 3 and 4; companion spec §5; the rule is
written in docs/contracts/groups.md, "Who sees a member's private data").

The rule: a parent's e-mail, child fields, progress and quiz attempts are seen by the parent,
by admins, and by a `manager` only while the parent is a member of a group that manager owns
or moderates. Where a response lists several members (the group detail) the private fields
of the members a caller may not see are left out (the keys absent); where a request is about
one person's or one group's learner data (progress, attempts, the group progress view) it is
403; the endpoints that return whole accounts (`/api/users…`, `/api/auth/users…`) are for
admins only.

The matrix below crosses every kind of caller with every endpoint that returns a parent's
data and checks the status AND which fields the answer holds. The tests after it check that
access follows the memberships as they are at the request (a parent removed, a moderator
demoted: refused at once), and that a responsibility in one group counts wherever the
parent is met.
"""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
import pytest_asyncio

from expected import ROLE_USER, user_body
from progress_factories import insert_module, insert_posts, insert_quiz
from tma.courses.models import Course
from tma.groups.models import Group
from tma.progress.models import PostProgress
from tma.users.models import User

Headers = dict[str, str]

PUBLIC_MEMBER_KEYS = [
    "user_id",
    "username",
    "role",
    "group_role",
    "user_role",
    "joined_at",
    "avatar_url",
    "first_name",
    "last_name",
]
FULL_MEMBER_KEYS = [
    "user_id",
    "username",
    "email",
    "role",
    "group_role",
    "user_role",
    "joined_at",
    "avatar_url",
    "first_name",
    "last_name",
    "child_dob",
    "updated_at",
]
PARENT_PROFILE = {
    "first_name": "Dana",
    "last_name": "Fenwick",
    "child_name": "Robin",
    "child_sex_assigned_at_birth": "female",
    "child_dob": date(2018, 9, 3),
}
PARENT_EMAIL = "dana.fenwick@example.org"


@dataclass
class World:
    """One provider's group `oak` and another provider's group `elm`.

    `oak`: created by the manager `owner`; `moderator` (a manager, group role moderator);
    `plain_manager` (a manager with group role `member`); the `parent` whose data is at
    stake (e-mail, child's name and date of birth, one of two posts completed, one quiz
    attempt started); `other_parent`; `parent_moderator` (a `user` made moderator);
    `disabled` (a manager moderator whose account is disabled); `deleted` (a manager who was
    a moderator until their account was deleted: their token outlives them). One course with
    a module of a post and a quiz is assigned to it.
    `elm`: created by `other_manager`, with `outside_parent`. `lone_manager` is in no group.
    """

    admin: User
    owner: User
    moderator: User
    plain_manager: User
    parent: User
    other_parent: User
    parent_moderator: User
    disabled: User
    deleted: User
    other_manager: User
    outside_parent: User
    lone_manager: User
    oak: Group
    elm: Group
    course: Course
    post_ids: list[int]
    quiz_id: int
    attempt: dict[str, Any]


@pytest_asyncio.fixture
async def world(
    client: httpx.AsyncClient,
    test_db: Any,
    admin_user: User,
    make_user: Callable[..., Awaitable[User]],
    make_group: Callable[..., Awaitable[Group]],
    add_member: Callable[..., Awaitable[Any]],
    make_course: Callable[..., Awaitable[Course]],
    assign_course: Callable[..., Awaitable[Any]],
    make_auth_headers: Callable[[User], Headers],
) -> World:
    owner = await make_user(username="owner", role="manager")
    moderator = await make_user(username="moderator", role="manager")
    plain_manager = await make_user(username="plain_manager", role="manager")
    parent = await make_user(username="dana", email=PARENT_EMAIL, **PARENT_PROFILE)
    other_parent = await make_user(username="other_parent", child_dob="2019-01-01")
    parent_moderator = await make_user(username="parent_moderator")
    disabled = await make_user(username="disabled", role="manager", is_active=False)
    deleted = await make_user(username="deleted", role="manager")
    other_manager = await make_user(username="other_manager", role="manager")
    outside_parent = await make_user(username="outside_parent", child_dob="2017-05-05")
    lone_manager = await make_user(username="lone_manager", role="manager")

    oak = await make_group(name="Oak", creator=owner)
    await add_member(oak, moderator, "moderator")
    await add_member(oak, plain_manager)
    await add_member(oak, parent)
    await add_member(oak, other_parent)
    await add_member(oak, parent_moderator, "moderator")
    await add_member(oak, disabled, "moderator")
    await add_member(oak, deleted, "moderator")
    elm = await make_group(name="Elm", creator=other_manager)
    await add_member(elm, outside_parent)

    course = await make_course(title="First steps")
    await assign_course(oak, course)
    module_id = await insert_module(test_db, course.id)
    post_ids = await insert_posts(test_db, module_id)
    quiz = await insert_quiz(test_db, module_id)
    async with test_db.session() as session:
        session.add(PostProgress(user_id=parent.id, post_id=post_ids[0], status="completed"))
        await session.commit()
    started = await client.post(
        f"/api/quizzes/{quiz.post_id}/attempts", headers=make_auth_headers(parent)
    )
    assert started.status_code == 201
    gone = await client.delete(f"/api/users/{deleted.id}", headers=make_auth_headers(admin_user))
    assert gone.status_code == 204
    return World(
        admin=admin_user,
        owner=owner,
        moderator=moderator,
        plain_manager=plain_manager,
        parent=parent,
        other_parent=other_parent,
        parent_moderator=parent_moderator,
        disabled=disabled,
        deleted=deleted,
        other_manager=other_manager,
        outside_parent=outside_parent,
        lone_manager=lone_manager,
        oak=oak,
        elm=elm,
        course=course,
        post_ids=post_ids,
        quiz_id=quiz.post_id,
        attempt=started.json(),
    )


# --- the matrix ----------------------------------------------------------------------------

# The endpoints that return a parent's data; `{gid}` is the parent's group, `{pid}` the
# parent, `{qid}` a quiz of the group's course. The PATCHes send `{}`: they change nothing
# and answer the account as it is.
ENDPOINTS = {
    "group_detail": ("GET", "/api/groups/{gid}"),
    "group_progress": ("GET", "/api/groups/{gid}/progress"),
    "dashboard": ("GET", "/api/groups/{gid}/dashboard?course_id={cid}"),
    "progress_csv": ("GET", "/api/groups/{gid}/progress.csv"),
    "user_progress": ("GET", "/api/users/{pid}/progress"),
    "attempts": ("GET", "/api/quizzes/{qid}/attempts?user_id={pid}"),
    "users_list": ("GET", "/api/users"),
    "user": ("GET", "/api/users/{pid}"),
    "user_edit": ("PATCH", "/api/users/{pid}"),
    "old_users_list": ("GET", "/api/auth/users"),
    "old_profile_edit": ("PATCH", "/api/auth/users/{pid}/profile"),
}
ACCOUNT_ENDPOINTS = ("users_list", "user", "user_edit", "old_users_list", "old_profile_edit")

# What a caller gets:
SEES = "sees"  # 200 with the parent's private data (group detail: every member in full)
OWN_ONLY = "own only"  # group detail 200: the caller's own entry in full, all others public
NOT_AUTHENTICATED = (401, "Not authenticated")
GONE = (401, "Could not validate credentials")
DISABLED = (403, "account disabled")
NO_PERMISSION = (403, "You don't have permission to do this")
ONLY_YOUR_OWN = (403, "You may only see your own progress")
NOT_YOUR_GROUP = (403, "You don't have access to this group")
NOT_YOUR_MEMBER = (403, "You may only see the data of members of groups you own or moderate")
NOT_YOUR_GROUPS_PROGRESS = (403, "You may only see the progress of groups you own or moderate")

# caller kind: (group detail, group progress, user progress, attempts, account endpoints);
# the group's dashboard and CSV export answer as its progress view does
MATRIX: dict[str, tuple[Any, Any, Any, Any, Any]] = {
    "anonymous": (NOT_AUTHENTICATED,) * 5,
    "disabled_moderator": (DISABLED,) * 5,
    "deleted_moderator": (GONE,) * 5,
    "parent_themself": (OWN_ONLY, NO_PERMISSION, SEES, SEES, NO_PERMISSION),
    "other_parent_same_group": (
        OWN_ONLY,
        NO_PERMISSION,
        ONLY_YOUR_OWN,
        ONLY_YOUR_OWN,
        NO_PERMISSION,
    ),
    "parent_moderator_same_group": (
        OWN_ONLY,
        NO_PERMISSION,
        ONLY_YOUR_OWN,
        ONLY_YOUR_OWN,
        NO_PERMISSION,
    ),
    "parent_other_group": (
        NOT_YOUR_GROUP,
        NO_PERMISSION,
        ONLY_YOUR_OWN,
        ONLY_YOUR_OWN,
        NO_PERMISSION,
    ),
    "manager_owner": (SEES, SEES, SEES, SEES, NO_PERMISSION),
    "manager_moderator": (SEES, SEES, SEES, SEES, NO_PERMISSION),
    "manager_plain_member": (
        OWN_ONLY,
        NOT_YOUR_GROUPS_PROGRESS,
        NOT_YOUR_MEMBER,
        NOT_YOUR_MEMBER,
        NO_PERMISSION,
    ),
    "manager_of_another_group": (
        OWN_ONLY,
        NOT_YOUR_GROUPS_PROGRESS,
        NOT_YOUR_MEMBER,
        NOT_YOUR_MEMBER,
        NO_PERMISSION,
    ),
    "manager_in_no_group": (
        OWN_ONLY,
        NOT_YOUR_GROUPS_PROGRESS,
        NOT_YOUR_MEMBER,
        NOT_YOUR_MEMBER,
        NO_PERMISSION,
    ),
    "admin": (SEES, SEES, SEES, SEES, SEES),
}
CALLERS = {
    "anonymous": None,
    "disabled_moderator": "disabled",
    "deleted_moderator": "deleted",
    "parent_themself": "parent",
    "other_parent_same_group": "other_parent",
    "parent_moderator_same_group": "parent_moderator",
    "parent_other_group": "outside_parent",
    "manager_owner": "owner",
    "manager_moderator": "moderator",
    "manager_plain_member": "plain_manager",
    "manager_of_another_group": "other_manager",
    "manager_in_no_group": "lone_manager",
    "admin": "admin",
}


def _expected(caller: str, endpoint: str) -> Any:
    group_detail, group_progress, user_progress, attempts, accounts = MATRIX[caller]
    return {
        "group_detail": group_detail,
        "group_progress": group_progress,
        "dashboard": group_progress,
        "progress_csv": group_progress,
        "user_progress": user_progress,
        "attempts": attempts,
    }.get(endpoint, accounts)


CASES = [(caller, endpoint) for caller in MATRIX for endpoint in ENDPOINTS]


def _check_sees(world: World, endpoint: str, body: Any, caller: User) -> None:
    """The 200 body of `endpoint` holds the parent's private data, exactly."""
    parent = world.parent
    parent_body = user_body(parent.id, "dana", PARENT_EMAIL, role=ROLE_USER, **PARENT_PROFILE)
    if endpoint == "group_detail":
        by_name = {m["username"]: m for m in body["members"]}
        assert {name: list(m) for name, m in by_name.items()} == dict.fromkeys(
            by_name, FULL_MEMBER_KEYS
        )
        assert (by_name["dana"]["email"], by_name["dana"]["child_dob"]) == (
            PARENT_EMAIL,
            "2018-09-03",
        )
    elif endpoint == "group_progress":
        assert body["courses"] == [{"course_id": world.course.id, "title": "First steps"}]
        assert [m for m in body["members"] if m["user_id"] == parent.id] == [
            {
                "user_id": parent.id,
                "username": "dana",
                "courses": [
                    {
                        "course_id": world.course.id,
                        "completed_posts": 1,
                        "total_posts": 2,
                        "percent": 50,
                    }
                ],
            }
        ]
    elif endpoint == "dashboard":
        dana = [m for m in body["members"] if m["user_id"] == parent.id]
        assert [
            (m["completed_posts"], m["total_posts"], m["percent"], m["failed_attempts"])
            for m in dana
        ] == [(1, 2, 50, 0)]
        assert [m["username"] for m in body["members"]] == [
            "dana",
            "other_parent",
            "parent_moderator",
        ]
    elif endpoint == "progress_csv":
        lines = [line.split(",") for line in body.splitlines()]
        assert [line[:5] for line in lines[1:]] == [
            ["dana", "First steps", "1", "2", "50"],
            ["other_parent", "First steps", "0", "2", "0"],
            ["parent_moderator", "First steps", "0", "2", "0"],
        ]
    elif endpoint == "user_progress":
        assert [
            (c["course_id"], c["completed_posts"], c["total_posts"], c["percent"]) for c in body
        ] == [(world.course.id, 1, 2, 50)]
    elif endpoint == "attempts":
        assert body == [world.attempt]
    elif endpoint in ("users_list", "old_users_list"):
        assert [u for u in body if u["id"] == parent.id] == [parent_body]
    else:
        assert body == parent_body


def _check_own_only(world: World, body: Any, caller: User) -> None:
    """Group detail: the caller's own entry (when a member) in full, every other member's
    public: no e-mail, no child field, no membership `updated_at`."""
    keys = {m["username"]: list(m) for m in body["members"]}
    assert keys == {
        name: FULL_MEMBER_KEYS if name == caller.username else PUBLIC_MEMBER_KEYS for name in keys
    }
    assert body["member_count"] == len(keys) == 7
    dana = next(m for m in body["members"] if m["user_id"] == world.parent.id)
    if caller.id == world.parent.id:  # their own data
        assert (dana["email"], dana["child_dob"]) == (PARENT_EMAIL, "2018-09-03")
    else:
        assert dana == {
            "user_id": world.parent.id,
            "username": "dana",
            "role": "member",
            "group_role": "member",
            "user_role": "user",
            "joined_at": dana["joined_at"],
            "avatar_url": None,
            "first_name": "Dana",
            "last_name": "Fenwick",
        }


@pytest.mark.asyncio
@pytest.mark.parametrize(("caller_kind", "endpoint"), CASES, ids=[f"{c}-{e}" for c, e in CASES])
async def test_parent_data_endpoint_by_caller_kind_follows_the_privacy_rule(
    client: httpx.AsyncClient,
    world: World,
    make_auth_headers: Callable[[User], Headers],
    caller_kind: str,
    endpoint: str,
) -> None:
    """Every endpoint returning a parent's data answers each kind of caller as the rule says:
    the parent, admins, and the managers who own or moderate the parent's group see it; a
    manager with no such responsibility, another parent (even a group moderator) and a
    disabled account do not (403, or the member's private fields left out of a group
    detail); no token is 401."""
    attribute = CALLERS[caller_kind]
    caller = getattr(world, attribute) if attribute else None
    headers = make_auth_headers(caller) if caller else {}
    method, template = ENDPOINTS[endpoint]
    url = template.format(
        gid=world.oak.id, pid=world.parent.id, qid=world.quiz_id, cid=world.course.id
    )
    body = {} if method == "PATCH" else None

    response = await client.request(method, url, headers=headers, json=body)

    expected = _expected(caller_kind, endpoint)
    if expected == SEES:
        assert response.status_code == 200, response.text
        assert caller is not None
        body = response.text if endpoint == "progress_csv" else response.json()
        _check_sees(world, endpoint, body, caller)
    elif expected == OWN_ONLY:
        assert response.status_code == 200, response.text
        assert caller is not None
        _check_own_only(world, response.json(), caller)
    else:
        status, detail = expected
        assert (response.status_code, response.json()) == (status, {"detail": detail})
        assert PARENT_EMAIL not in response.text


# --- access follows the memberships as they are now ----------------------------------------


@pytest.mark.asyncio
async def test_user_progress_parent_removed_from_managers_group_returns_403_at_once(
    client: httpx.AsyncClient, world: World, make_auth_headers: Callable[[User], Headers]
) -> None:
    """A manager's access is decided on the current membership: the owner reads the parent's
    progress and attempts (200), removes the parent from the group (204), and the very next
    reads are 403; the group detail no longer lists the parent at all."""
    owner = make_auth_headers(world.owner)
    progress_url = f"/api/users/{world.parent.id}/progress"
    attempts_url = f"/api/quizzes/{world.quiz_id}/attempts?user_id={world.parent.id}"
    before = await client.get(progress_url, headers=owner)
    assert before.status_code == 200
    assert [c["course_id"] for c in before.json()] == [world.course.id]

    removed = await client.delete(
        f"/api/groups/{world.oak.id}/members/{world.parent.id}", headers=owner
    )

    assert removed.status_code == 204
    progress = await client.get(progress_url, headers=owner)
    assert (progress.status_code, progress.json()) == (403, {"detail": NOT_YOUR_MEMBER[1]})
    attempts = await client.get(attempts_url, headers=owner)
    assert (attempts.status_code, attempts.json()) == (403, {"detail": NOT_YOUR_MEMBER[1]})
    detail = await client.get(f"/api/groups/{world.oak.id}", headers=owner)
    assert detail.status_code == 200
    assert world.parent.id not in [m["user_id"] for m in detail.json()["members"]]
    assert PARENT_EMAIL not in detail.text


@pytest.mark.asyncio
async def test_group_progress_moderator_demoted_to_member_returns_403_at_once(
    client: httpx.AsyncClient, world: World, make_auth_headers: Callable[[User], Headers]
) -> None:
    """A moderator demoted to `member` loses the group's learner data on their next request:
    the group progress view and the parent's progress become 403, and the group detail shows
    the parent's public fields only. Promoted back, they see it again."""
    moderator = make_auth_headers(world.moderator)
    owner = make_auth_headers(world.owner)
    group_url = f"/api/groups/{world.oak.id}"
    role_url = f"{group_url}/members/{world.moderator.id}/role"
    assert (await client.get(f"{group_url}/progress", headers=moderator)).status_code == 200

    demoted = await client.patch(role_url, json={"role": "member"}, headers=owner)

    assert demoted.status_code == 200
    view = await client.get(f"{group_url}/progress", headers=moderator)
    assert (view.status_code, view.json()) == (403, {"detail": NOT_YOUR_GROUPS_PROGRESS[1]})
    progress = await client.get(f"/api/users/{world.parent.id}/progress", headers=moderator)
    assert (progress.status_code, progress.json()) == (403, {"detail": NOT_YOUR_MEMBER[1]})
    detail = await client.get(group_url, headers=moderator)
    dana = next(m for m in detail.json()["members"] if m["user_id"] == world.parent.id)
    assert list(dana) == PUBLIC_MEMBER_KEYS
    promoted = await client.patch(role_url, json={"role": "moderator"}, headers=owner)
    assert promoted.status_code == 200
    assert (await client.get(f"{group_url}/progress", headers=moderator)).status_code == 200


@pytest.mark.asyncio
async def test_group_detail_manager_meets_member_of_their_own_group_shows_full_entry(
    client: httpx.AsyncClient,
    world: World,
    add_member: Callable[..., Awaitable[Any]],
    make_auth_headers: Callable[[User], Headers],
) -> None:
    """The rule is about the member, not the group being read: once the parent also joins
    `elm`, the manager who owns `elm` sees the parent's private fields in `oak`'s detail
    too, and the parent's progress; every other `oak` member stays public to them."""
    await add_member(world.elm, world.parent)
    other_manager = make_auth_headers(world.other_manager)

    response = await client.get(f"/api/groups/{world.oak.id}", headers=other_manager)

    assert response.status_code == 200
    keys = {m["username"]: list(m) for m in response.json()["members"]}
    assert keys == {
        name: FULL_MEMBER_KEYS if name == "dana" else PUBLIC_MEMBER_KEYS for name in keys
    }
    dana = next(m for m in response.json()["members"] if m["username"] == "dana")
    assert (dana["email"], dana["child_dob"]) == (PARENT_EMAIL, "2018-09-03")
    progress = await client.get(f"/api/users/{world.parent.id}/progress", headers=other_manager)
    assert progress.status_code == 200
    oak_view = await client.get(f"/api/groups/{world.oak.id}/progress", headers=other_manager)
    assert (oak_view.status_code, oak_view.json()) == (
        403,
        {"detail": NOT_YOUR_GROUPS_PROGRESS[1]},
    )


@pytest.mark.asyncio
async def test_user_progress_manager_naming_unknown_user_returns_404(
    client: httpx.AsyncClient, world: World, make_auth_headers: Callable[[User], Headers]
) -> None:
    """A manager naming a user id that does not exist gets 404 (user ids are not secret, as
    group ids are not), for progress and for attempts alike."""
    lone = make_auth_headers(world.lone_manager)
    missing = world.lone_manager.id + 1000

    progress = await client.get(f"/api/users/{missing}/progress", headers=lone)
    attempts = await client.get(
        f"/api/quizzes/{world.quiz_id}/attempts?user_id={missing}", headers=lone
    )

    assert (progress.status_code, progress.json()) == (404, {"detail": f"User {missing} not found"})
    assert (attempts.status_code, attempts.json()) == (404, {"detail": f"User {missing} not found"})


@pytest.mark.asyncio
async def test_group_progress_manager_of_another_group_unknown_group_returns_404(
    client: httpx.AsyncClient, world: World, make_auth_headers: Callable[[User], Headers]
) -> None:
    """An unknown group is 404 for any manager, before the question of who manages it."""
    missing = world.elm.id + 1000

    response = await client.get(
        f"/api/groups/{missing}/progress", headers=make_auth_headers(world.other_manager)
    )

    assert (response.status_code, response.json()) == (
        404,
        {"detail": f"Group {missing} not found"},
    )


# --- a removal racing the reads (PostgreSQL) -----------------------------------------------

ROUNDS = 50


@pytest.mark.postgresql
@pytest.mark.asyncio
async def test_user_progress_racing_removal_of_parent_returns_200_or_403_never_500(
    client: httpx.AsyncClient,
    world: World,
    add_member: Callable[..., Awaitable[Any]],
    make_auth_headers: Callable[[User], Headers],
) -> None:
    """50 rounds: the owner reads the parent's progress, the group's progress view and its
    detail while the parent is removed from the group at once. Each read answers as if it
    ran wholly before the removal (200, the parent visible) or wholly after it (403 / the
    parent gone); never a 5xx; and once the removal has answered, the next read is 403."""
    owner = make_auth_headers(world.owner)
    group_url = f"/api/groups/{world.oak.id}"
    member_url = f"{group_url}/members/{world.parent.id}"
    progress_url = f"/api/users/{world.parent.id}/progress"
    seen: Counter[int] = Counter()
    for round_ in range(ROUNDS):
        if round_:
            await add_member(world.oak, world.parent)
        removed, progress, view, detail = await asyncio.gather(
            client.delete(member_url, headers=owner),
            client.get(progress_url, headers=owner),
            client.get(f"{group_url}/progress", headers=owner),
            client.get(group_url, headers=owner),
        )
        seen.update(r.status_code for r in (removed, progress, view, detail))
        assert removed.status_code == 204
        assert progress.status_code in (200, 403), progress.text
        assert view.status_code == detail.status_code == 200
        members = {m["user_id"]: m for m in detail.json()["members"]}
        if world.parent.id in members:  # read before the removal: in full, to the owner
            assert list(members[world.parent.id]) == FULL_MEMBER_KEYS
        after = await client.get(progress_url, headers=owner)
        assert (after.status_code, after.json()) == (403, {"detail": NOT_YOUR_MEMBER[1]})
    assert not [code for code in seen if code >= 500], seen


# --- who may change the memberships that open a parent's data ------------------------------

NOT_YOUR_MEMBERS = (403, "You may only change the members of groups you own or moderate")
CHANGES_MEMBERS = "changes members"
# caller kind: what adding, re-roling and removing a parent of `oak` answers.
MEMBERSHIP_MATRIX: dict[str, Any] = {
    "anonymous": NOT_AUTHENTICATED,
    "disabled_moderator": DISABLED,
    "deleted_moderator": GONE,
    "parent_themself": NO_PERMISSION,
    "other_parent_same_group": NO_PERMISSION,
    "parent_moderator_same_group": NO_PERMISSION,
    "parent_other_group": NO_PERMISSION,
    "manager_owner": CHANGES_MEMBERS,
    "manager_moderator": CHANGES_MEMBERS,
    "manager_plain_member": NOT_YOUR_MEMBERS,
    "manager_of_another_group": NOT_YOUR_MEMBERS,
    "manager_in_no_group": NOT_YOUR_MEMBERS,
    "admin": CHANGES_MEMBERS,
}


async def _roles(client: httpx.AsyncClient, group: Group, admin: Headers) -> dict[str, str]:
    """`{username: group role}` of `group`, read back by an admin."""
    detail = await client.get(f"/api/groups/{group.id}", headers=admin)
    assert detail.status_code == 200
    return {m["username"]: m["role"] for m in detail.json()["members"]}


@pytest.mark.asyncio
@pytest.mark.parametrize("caller_kind", list(MEMBERSHIP_MATRIX))
async def test_membership_change_by_caller_kind_needs_admin_or_owner_or_moderator(
    client: httpx.AsyncClient,
    world: World,
    make_auth_headers: Callable[[User], Headers],
    caller_kind: str,
) -> None:
    """Membership is what opens a parent's data to a manager, so adding a parent to `oak`,
    changing their group role and removing them need an admin or a manager who owns or
    moderates `oak` (201, 200, 204, read back); every other manager gets 403 "You may only
    change the members of groups you own or moderate", parents 403, and `oak` stays as it
    was."""
    attribute = CALLERS[caller_kind]
    caller = getattr(world, attribute) if attribute else None
    headers = make_auth_headers(caller) if caller else {}
    admin = make_auth_headers(world.admin)
    members = f"/api/groups/{world.oak.id}/members"
    before = await _roles(client, world.oak, admin)

    added = await client.post(f"{members}/{world.outside_parent.id}", headers=headers)
    changed = await client.patch(
        f"{members}/{world.other_parent.id}/role", json={"role": "moderator"}, headers=headers
    )
    after_change = await _roles(client, world.oak, admin)
    removed = await client.delete(f"{members}/{world.parent.id}", headers=headers)

    expected = MEMBERSHIP_MATRIX[caller_kind]
    if expected == CHANGES_MEMBERS:
        assert (added.status_code, added.json()) == (
            201,
            {"message": "User added to group", "role": "member"},
        )
        assert (changed.status_code, changed.json()) == (
            200,
            {
                "message": "Member role updated",
                "user_id": world.other_parent.id,
                "role": "moderator",
            },
        )
        assert removed.status_code == 204
        assert after_change == {**before, "outside_parent": "member", "other_parent": "moderator"}
        assert "dana" in after_change
        assert "dana" not in await _roles(client, world.oak, admin)
    else:
        status, detail = expected
        for response in (added, changed, removed):
            assert (response.status_code, response.json()) == (status, {"detail": detail})
        assert await _roles(client, world.oak, admin) == before


@pytest.mark.asyncio
@pytest.mark.parametrize("attribute", ["plain_manager", "other_manager", "lone_manager"])
async def test_self_promotion_to_a_parents_data_returns_403_and_reads_stay_403(
    client: httpx.AsyncClient,
    world: World,
    make_auth_headers: Callable[[User], Headers],
    attribute: str,
) -> None:
    """The way round the rule is closed: a manager who does not own or moderate `oak` tries
    to make themselves its owner or moderator (adding themselves, or, when already a plain
    member, changing their own role): each 403 "You may only change the members of groups
    you own or moderate"; their role in `oak` is unchanged; and the parent's progress, the
    group progress and the parent's attempts stay 403 for them, the group detail without
    the parent's e-mail."""
    manager = getattr(world, attribute)
    headers = make_auth_headers(manager)
    admin = make_auth_headers(world.admin)
    members = f"/api/groups/{world.oak.id}/members/{manager.id}"
    before = await _roles(client, world.oak, admin)

    tries = [
        await client.post(members, json={"role": "owner"}, headers=headers),
        await client.post(members, json={"role": "moderator"}, headers=headers),
        await client.patch(f"{members}/role", json={"role": "owner"}, headers=headers),
        await client.patch(f"{members}/role", json={"role": "moderator"}, headers=headers),
    ]

    for response in tries:
        assert (response.status_code, response.json()) == (403, {"detail": NOT_YOUR_MEMBERS[1]})
    assert await _roles(client, world.oak, admin) == before
    reads = {
        "user_progress": (
            f"/api/users/{world.parent.id}/progress",
            NOT_YOUR_MEMBER,
        ),
        "attempts": (
            f"/api/quizzes/{world.quiz_id}/attempts?user_id={world.parent.id}",
            NOT_YOUR_MEMBER,
        ),
        "group_progress": (f"/api/groups/{world.oak.id}/progress", NOT_YOUR_GROUPS_PROGRESS),
    }
    for url, (status, detail) in reads.values():
        response = await client.get(url, headers=headers)
        assert (response.status_code, response.json()) == (status, {"detail": detail})
    detail_read = await client.get(f"/api/groups/{world.oak.id}", headers=headers)
    assert detail_read.status_code == 200
    assert PARENT_EMAIL not in detail_read.text
