"""Learning events as xAPI 1.0.3 statements (docs/events.md, "xAPI").

One statement per event, its `id` a UUID derived from the server's base URL and the
event's id (stable: the same event is the same statement on every read and push, so an
LRS keeps it once). Actor: an account on the server (`homePage` the base URL, `name` the
user id: no e-mail or name leaves the server). Verbs from ADL's vocabulary: a start is
`attempted`, a completion `completed`, a graded attempt `passed` or `failed`. Object: the
post, module or course as an activity under the base URL.
"""

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import BigInteger, Integer, bindparam, select

from tma.core.db import UTCDateTime
from tma.core.reads import rows
from tma.events.models import LearningEvent
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
    session: Any, *, base: str, since: datetime | None, after: int, limit: int
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
