"""Learning events as xAPI 1.0.3 statements (docs/events.md, "xAPI").

One statement per event, its `id` a UUID derived from the server's base URL and the
event's id (stable: the same event is the same statement on every read and push, so an
LRS keeps it once). Actor: an account on the server (`homePage` the base URL, `name` the
user id: no e-mail or name leaves the server). Verbs from ADL's vocabulary: a start is
`attempted`, a completion `completed`, a graded attempt `passed` or `failed`. Object: the
post, module or course as an activity under the base URL.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import BigInteger, Integer, bindparam, case, select
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.db import UTCDateTime, upsert
from tma.core.reads import rows
from tma.events.models import LearningEvent, XapiPush
from tma.events.service import EVENT_COLUMNS

VERSION = "1.0.3"
VERBS = "http://adlnet.gov/expapi/verbs/"
ACTIVITIES = "http://adlnet.gov/expapi/activities/"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KINDS = {"post": "lesson", "module": "module", "course": "course", "quiz": "assessment"}


def _iso(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))


def statement_id(base: str, event_id: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base}/api/events/{event_id}"))


def _verb(name: str) -> dict[str, Any]:
    return {"id": VERBS + name, "display": {"en-US": name}}


def statement(row: Any, base: str) -> dict[str, Any]:
    """The statement of one event row (`EVENT_COLUMNS` and `recorded_at`)."""
    kind = row["type"]
    data = row["data"] or {}
    result: dict[str, Any] | None = None
    if kind == "attempt_submitted":
        score = int(data.get("score", 0))
        passed = bool(data.get("passed"))
        verb = _verb("passed" if passed else "failed")
        result = {
            "score": {"scaled": score / 100, "raw": score, "min": 0, "max": 100},
            "success": passed,
            "completion": True,
        }
    elif kind.endswith("_completed"):
        verb = _verb("completed")
        result = {"completion": True}
    else:  # post_started, attempt_started
        verb = _verb("attempted")
    if kind.startswith("attempt_"):
        what, subject = "quiz", f"posts/{row['post_id']}"
    elif kind.startswith("post_"):
        what, subject = "post", f"posts/{row['post_id']}"
    elif kind == "module_completed":
        what, subject = "module", f"modules/{row['module_id']}"
    else:
        what, subject = "course", f"courses/{row['course_id']}"
    extensions = {f"{base}/xapi/extensions/event-type": kind}
    if row["attempt_id"] is not None:
        extensions[f"{base}/xapi/extensions/attempt-id"] = row["attempt_id"]
    body: dict[str, Any] = {
        "id": statement_id(base, row["id"]),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": base, "name": str(row["user_id"])},
        },
        "verb": verb,
        "object": {
            "objectType": "Activity",
            "id": f"{base}/api/{subject}",
            "definition": {"type": ACTIVITIES + _KINDS[what]},
        },
        "context": {"platform": "TMA", "extensions": extensions},
        "timestamp": _iso(row["occurred_at"]),
        "stored": _iso(row["recorded_at"]),
        "version": VERSION,
    }
    if result is not None:
        body["result"] = result
    return body


STATEMENT_ROWS = (
    select(*EVENT_COLUMNS, LearningEvent.recorded_at)
    .where(
        LearningEvent.id > bindparam("after", type_=BigInteger),
        LearningEvent.recorded_at > bindparam("since", type_=UTCDateTime()),
    )
    .order_by(LearningEvent.id)
    .limit(bindparam("limit", type_=Integer))
)


async def list_statements(
    session: AsyncSession, *, base: str, since: datetime | None, after: int, limit: int
) -> dict[str, Any]:
    """`{statements, more}`: the statements of the events stored after `since` (exclusive)
    with id > `after`, by id, at most `limit`; `more` the URL of the next page, or ""."""
    found = await rows(
        session,
        STATEMENT_ROWS,
        after=after,
        since=since or EPOCH,
        limit=limit + 1,
    )
    page = found[:limit]
    more = ""
    if len(found) > limit:
        query = {"after": page[-1]["id"], "limit": limit}
        if since is not None:
            query["since"] = _iso(since)
        more = f"{base}/api/xapi/statements?{urlencode(query)}"
    return {"statements": [statement(row, base) for row in page], "more": more}


# --- pushing to a Learning Record Store ---------------------------------------------------

PUSH_BATCH = 100
_PUSH_KEY = 1


async def push(
    session: AsyncSession,
    *,
    http: httpx.AsyncClient,
    lrs_url: str,
    authorization: str | None,
    base: str,
    now: datetime,
) -> int:
    """POST the next statements (up to `PUSH_BATCH`, after the last event the LRS took)
    to the LRS's statements resource, then move the mark past them; a failure keeps the
    mark (the next run sends the same statements: an LRS keeps a statement id once) and
    records the error. Returns how many the LRS took."""
    state = await session.get(XapiPush, _PUSH_KEY)
    last = state.last_event_id if state is not None else 0
    found = await rows(session, STATEMENT_ROWS, after=last, since=EPOCH, limit=PUSH_BATCH)
    await session.commit()
    if not found:
        return 0
    headers = {"Content-Type": "application/json", "X-Experience-API-Version": VERSION}
    if authorization:
        headers["Authorization"] = authorization
    body = json.dumps([statement(row, base) for row in found], separators=(",", ":"))
    error: str | None = None
    try:
        response = await http.post(lrs_url, content=body.encode(), headers=headers)
        if not 200 <= response.status_code < 300:
            error = f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    taken = found[-1]["id"] if error is None else last
    stmt = upsert(session, XapiPush).values(
        id=_PUSH_KEY, last_event_id=taken, pushed_at=now, last_error=error
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[XapiPush.id],
            set_={
                # Never back: another worker may have pushed further meanwhile.
                "last_event_id": case(
                    (XapiPush.last_event_id > taken, XapiPush.last_event_id), else_=taken
                ),
                "pushed_at": now,
                "last_error": error,
            },
        )
    )
    await session.commit()
    return len(found) if error is None else 0
