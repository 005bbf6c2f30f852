"""The rules and queries of quiz attempts: starting one (draw, shuffle, attempt limit,
cooldown, deadline), saving answers, reading, submitting and grading, expiring.

The rules without a database are `tma.quizzes.engine`. Time and chance come from the
route (`tma.core.clock`: `now`, `rng`), so tests move the clock and seed the draw.

Lock order (as progress writes, tma.progress.service): closing an attempt (a submit, or
the grading of an expired one at its next read) takes the quiz post's module FOR SHARE,
then the attempt's row; saving answers takes the attempt's row only. So a save and a close
of one attempt run one after the other (a close grades the answers saved before it), two
closes of one attempt grade it once, and nobody waits for the other in the wrong order.
"""

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    RowMapping,
    Text,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tma.core.errors import Conflict, Forbidden, NotFound
from tma.core.hotpath import driver_safe, hot_rows
from tma.core.pagination import Page
from tma.core.reads import NamedRow, execute_core, first, named, rows
from tma.courses import availability
from tma.courses.visibility import module_visible_to
from tma.events.record import record_attempt_started, record_attempt_submitted
from tma.groups.privacy import NOT_YOUR_MEMBER, is_admin, is_manager, manages_member
from tma.posts.models import Post, PostType
from tma.posts.quiz import Question, pass_mark_of
from tma.progress import service as progress
from tma.progress.dependencies import CallerPost
from tma.progress.models import ProgressStatus
from tma.quizzes import engine
from tma.quizzes.models import AttemptStatus, QuizAnswer, QuizAttempt
from tma.quizzes.schemas import Answer
from tma.users.caller import Caller
from tma.users.service import is_staff

IN_PROGRESS = AttemptStatus.IN_PROGRESS.value
SUBMITTED = AttemptStatus.SUBMITTED.value
NO_ATTEMPTS_LEFT = "No attempts left"
ALREADY_SUBMITTED = "Attempt already submitted"
TIME_IS_UP = "The attempt's time is up: answers can no longer be saved"


def require_quiz(post_type: str) -> None:
    if post_type != PostType.QUIZ:
        raise Conflict("This post is not a quiz")


# --- statements, built once at import ----------------------------------------------------

_POST_ID = bindparam("post_id", type_=BigInteger)
_USER_ID = bindparam("user_id", type_=BigInteger)
_ATTEMPT_ID = bindparam("attempt_id", type_=BigInteger)
_TODAY = bindparam("today", type_=Date)
_VIEWER_ID = bindparam("viewer_id", type_=BigInteger)

A = QuizAttempt
# Every column of an attempt, read by name (`attempt_pass_mark`: the one the attempt is
# graded on, beside its quiz's).
ATTEMPT_COLUMNS = (
    A.id,
    A.post_id,
    A.user_id,
    A.status,
    A.started_at,
    A.submitted_at,
    A.deadline,
    A.timed_out,
    A.score,
    A.passed,
    A.questions,
    A.saved_answers,
    A.results,
    A.pass_mark.label("attempt_pass_mark"),
)


# These three and `_start_statement` build the statements of this module once, at import:
# mutmut cannot switch a mutant of them on after import, so they are not mutated
# (tests/README.md "Mutation testing"); every start, list and submit tests them.
def _submitted_count(post_id: Any, user_id: Any) -> Any:  # pragma: no mutate block
    other = aliased(QuizAttempt)
    return (
        select(func.count())
        .where(other.post_id == post_id, other.user_id == user_id, other.status == SUBMITTED)
        .scalar_subquery()
    )


def _passed_any(post_id: Any, user_id: Any) -> Any:  # pragma: no mutate block
    other = aliased(QuizAttempt)
    return exists().where(
        other.post_id == post_id, other.user_id == user_id, other.passed.is_(True)
    )


def _latest_submitted(post_id: Any, user_id: Any, column: str) -> Any:  # pragma: no mutate block
    other = aliased(QuizAttempt)
    return (
        select(getattr(other, column))
        .where(other.post_id == post_id, other.user_id == user_id, other.status == SUBMITTED)
        .order_by(other.submitted_at.desc(), other.id.desc())
        .limit(1)
        .scalar_subquery()
    )


# What a start decides on, in one statement: whether the post exists and the caller sees
# it (staff see every post: the other variant), its type, the quiz's settings and its
# questions to draw from (`question_bank`, one JSON column, read as text), the caller's
# attempts at it (how many submitted, whether one passed, the latest's outcome and time) and
# their attempt in progress, if any (its columns null otherwise).
def _start_statement(staff: bool) -> Any:  # pragma: no mutate block
    sees = true() if staff else module_visible_to(Post.module_id, _USER_ID)
    is_open = true() if staff else availability.module_open_to(Post.module_id, _USER_ID, _TODAY)
    return (
        select(
            *ATTEMPT_COLUMNS,
            sees.label("sees"),
            is_open.label("open"),
            Post.post_type,
            Post.module_id,
            Post.pass_mark,
            Post.max_attempts,
            Post.cooldown_minutes,
            Post.time_limit_minutes,
            Post.shuffle_questions,
            Post.shuffle_options,
            Post.questions_per_attempt,
            Post.reveal,
            # As its JSON text (both databases keep it as written): decoded once per distinct
            # text (`engine.bank_of`), not on every start.
            cast(Post.question_bank, Text).label("question_bank"),
            _submitted_count(Post.id, _USER_ID).label("submitted"),
            _passed_any(Post.id, _USER_ID).label("passed_any"),
            _latest_submitted(Post.id, _USER_ID, "passed").label("last_passed"),
            _latest_submitted(Post.id, _USER_ID, "submitted_at").label("last_submitted_at"),
        )
        .outerjoin(A, and_(A.post_id == Post.id, A.user_id == _USER_ID, A.status == IN_PROGRESS))
        .where(Post.id == _POST_ID)
    )


_START = {staff: driver_safe(named(_start_statement(staff))) for staff in (False, True)}

# One attempt with what reading, saving or submitting it needs, in one statement: its quiz's
# module and `reveal` settings, whether its owner still sees the quiz, whether the viewer
# manages a group of the owner (privacy), and the owner's attempts at the quiz (reveal).
_ATTEMPT = driver_safe(
    named(
        select(
            *ATTEMPT_COLUMNS,
            Post.module_id,
            Post.reveal,
            Post.max_attempts,
            module_visible_to(Post.module_id, A.user_id).label("owner_sees"),
            # A `user` reads, saves and submits only while the module is open to them.
            availability.module_open_to(Post.module_id, A.user_id, _TODAY).label("owner_open"),
            manages_member(_VIEWER_ID, A.user_id).label("viewer_manages"),
            _submitted_count(A.post_id, A.user_id).label("submitted"),
            _passed_any(A.post_id, A.user_id).label("passed_any"),
        )
        .join(Post, Post.id == A.post_id)
        .where(A.id == _ATTEMPT_ID)
    )
)

# The attempt's row locked while still in progress, with the answers saved so far, in one
# statement (no row: no longer in progress, or gone). PostgreSQL: SELECT ... FOR UPDATE
# (a row closed meanwhile is re-read after its writer commits, and no longer matches).
# SQLite ignores FOR UPDATE and opens its transaction at the first write: an UPDATE that
# changes nothing takes the database's write lock and returns the row.
_LOCK_IN_PROGRESS = {
    "postgresql": select(A.saved_answers)
    .where(A.id == _ATTEMPT_ID, A.status == IN_PROGRESS)
    .with_for_update(),
    "sqlite": update(A)
    .where(A.id == _ATTEMPT_ID, A.status == IN_PROGRESS)
    .values(status=A.status)
    .returning(A.saved_answers),
}


async def _read_one(session: AsyncSession, statement: Any, **params: Any) -> NamedRow | None:
    """The first row of `statement` (`_START`, `_ATTEMPT`), read by name, or None. The first
    read of a start, a submit, a save or a read of an attempt: it runs before the request's
    transaction opens (at READ COMMITTED each statement reads its own snapshot anyway), so
    on PostgreSQL it goes on the hot path (`tma.core.hotpath`), whose driver-level read
    costs no cache key (the start's takes ~200 us to hash) nor SQLAlchemy's execution."""
    found = await hot_rows(session, statement, **params)
    return found[0] if found else None


async def _lock_in_progress(session: AsyncSession, attempt_id: int) -> RowMapping | None:
    statement = _LOCK_IN_PROGRESS[session.get_bind().dialect.name]
    return (await execute_core(session, statement, {"attempt_id": attempt_id})).mappings().first()


# A new attempt (its columns as parameters) and the closing of one in progress.
_INSERT = insert(A).returning(A.id)
_CLOSE = (
    update(A)
    .where(A.id == _ATTEMPT_ID, A.status == IN_PROGRESS)
    .values(
        status=SUBMITTED,
        submitted_at=bindparam("submitted_at", type_=A.submitted_at.type),
        score=bindparam("score", type_=A.score.type),
        passed=bindparam("passed", type_=A.passed.type),
        results=bindparam("results", type_=A.results.type),
        timed_out=bindparam("timed_out", type_=A.timed_out.type),
    )
)
# The closed attempt's answers as rows (one executemany), for the dashboard's counts.
_INSERT_ANSWERS = insert(QuizAnswer)
_SAVE = (
    update(A)
    .where(A.id == _ATTEMPT_ID)
    .values(saved_answers=bindparam("saved_answers", type_=A.saved_answers.type))
)

# The reveal and expiry state of a user's attempts at one quiz, for their list.
_LIST_STATE = named(
    select(
        Post.reveal,
        Post.max_attempts,
        Post.module_id,
        _submitted_count(Post.id, _USER_ID).label("submitted"),
        _passed_any(Post.id, _USER_ID).label("passed_any"),
        select(A.id)
        .where(A.post_id == Post.id, A.user_id == _USER_ID, A.status == IN_PROGRESS)
        .scalar_subquery()
        .label("open_id"),
        select(A.deadline)
        .where(A.post_id == Post.id, A.user_id == _USER_ID, A.status == IN_PROGRESS)
        .scalar_subquery()
        .label("open_deadline"),
    ).where(Post.id == _POST_ID)
)

# Not a `ListQuery`: its statements run on the driver-level hot path, which reads no JSON
# column as SQLAlchemy does (an attempt's questions, saved answers and results are JSON).
_LIST_WHERE = (A.post_id == _POST_ID, A.user_id == _USER_ID)
_LIST = (
    select(*ATTEMPT_COLUMNS)
    .where(*_LIST_WHERE)
    .order_by(A.started_at.desc(), A.id.desc())
    .limit(bindparam("limit", type_=BigInteger))
    .offset(bindparam("offset", type_=BigInteger))
)
_LIST_COUNT = select(func.count().label("total")).where(*_LIST_WHERE)
NO_LIMIT = 2**63 - 1


# --- the Attempt body --------------------------------------------------------------------


def attempt_read(row: Any, *, reveal: bool) -> dict[str, Any]:
    """The Attempt body of `row` (a mapping of `ATTEMPT_COLUMNS`' names), its results'
    answers and explanations only when `reveal`: a dict in `AttemptRead`'s shape and order,
    dumped by the router without a validation pass (`json_response`; the suite checks it
    against the model, `TMA_CHECK_BODIES`)."""
    results = row["results"]
    return {
        "id": row["id"],
        "post_id": row["post_id"],
        "user_id": row["user_id"],
        "status": row["status"],
        "started_at": row["started_at"],
        "submitted_at": row["submitted_at"],
        "deadline": row["deadline"],
        "timed_out": row["timed_out"],
        "score": row["score"],
        "passed": row["passed"],
        "questions": engine.shown_questions(row["questions"]),
        "saved_answers": row["saved_answers"],
        "results": results if reveal else engine.withheld(results),
    }


def _reveals(row: Any, viewer: Caller) -> bool:
    return engine.reveals(
        row["reveal"],
        staff=is_staff(viewer),
        passed_any=bool(row["passed_any"]),
        submitted=int(row["submitted"]),
        max_attempts=row["max_attempts"],
    )


# --- closing an attempt (submit, expiry) --------------------------------------------------


async def _close(
    session: AsyncSession,
    row: Any,
    *,
    answers: engine.Chosen | None,
    now: datetime,
    timed_out: bool,
    questions: list[Question] | None = None,
) -> dict[str, Any] | None:
    """Grade the attempt of `row` on its saved answers with `answers` taken over them,
    close it and, on a pass, complete its post: `timed_out` closes it as of its deadline.
    `questions`: the attempt's, when the caller has them already. Returns the columns
    written, or None when it was closed meanwhile (by another submit or read): it is graded
    once."""
    attempt_id, post_id, module_id = row["id"], row["post_id"], row["module_id"]
    if questions is None:
        questions = engine.questions_of(row["questions"])
    pass_mark = pass_mark_of(row["attempt_pass_mark"])
    submitted_at = row["deadline"] if timed_out else now
    for _ in range(3):
        await _in_a_transaction(session)
        # The post's module first (progress.service, lock order): under it the quiz can be
        # neither deleted (its attempts with it: seen as gone) nor moved.
        try:
            await progress.lock_post(session, post_id=post_id, module_id=module_id)
        except NotFound:
            raise NotFound(f"Attempt {attempt_id} not found") from None
        saved = await _lock_in_progress(session, attempt_id)
        if saved is None:
            await session.rollback()
            return None
        chosen = engine.saved_of(saved["saved_answers"])
        chosen.update(answers or {})
        score, passed, results = engine.grade(questions, chosen, pass_mark)
        values = {
            "status": SUBMITTED,
            "submitted_at": submitted_at,
            "score": score,
            "passed": passed,
            "results": results,
            "timed_out": timed_out,
        }
        closed = await execute_core(session, _CLOSE, {"attempt_id": attempt_id, **values})
        if closed.rowcount != 1:  # (never under the lock)
            await session.rollback()
            return None
        # Under the lock, in the closing transaction: written once, with the close or not.
        answers_rows = engine.answer_rows(
            results, attempt_id=attempt_id, post_id=post_id, user_id=row["user_id"]
        )
        if answers_rows:
            await (await session.connection()).execute(_INSERT_ANSWERS, answers_rows)
        try:
            if passed:
                await progress.advance(
                    session,
                    user_id=row["user_id"],
                    post_id=post_id,
                    status=ProgressStatus.COMPLETED.value,
                    now=submitted_at,
                )
            await record_attempt_submitted(session, attempt=row, values=values)
            await session.commit()
        except IntegrityError:
            # A course the completion adds to was deleted meanwhile (the next try no
            # longer sees it), or the owner's account: then the attempt is gone too.
            await session.rollback()
            continue
        return values
    raise Conflict("The quiz's courses are being changed by other requests; try again")


async def _in_a_transaction(session: AsyncSession) -> None:
    """Make the session's next statements one transaction. A GET's session reads in
    autocommit on PostgreSQL (tma.core.db); grading an expired attempt at a read is a write
    whose locks and statements must hold together: its session transaction is ended (it
    only read) and the next one runs at READ COMMITTED, as a write request's does."""
    options = session.get_bind().get_execution_options()
    if options.get("isolation_level") != "AUTOCOMMIT":
        return
    if session.in_transaction():
        await session.rollback()
    await session.connection(execution_options={"isolation_level": "READ COMMITTED"})


def _closed(row: Any, values: dict[str, Any]) -> dict[str, Any]:
    """`row` after `_close` wrote `values`: one more submitted attempt, maybe a pass."""
    return {
        **row,
        **values,
        "submitted": int(row["submitted"]) + 1,
        "passed_any": bool(row["passed_any"]) or values["passed"],
    }


async def _expire_if_due(session: AsyncSession, row: Any, now: datetime) -> Any:
    """`row` as it is once an attempt in progress past its deadline and grace is graded
    (timed out); as it was otherwise. Closed meanwhile by another request: read again."""
    if row["status"] != IN_PROGRESS or not engine.expired(row["deadline"], now):
        return row
    values = await _close(session, row, answers=None, now=now, timed_out=True)
    if values is not None:
        return _closed(row, values)
    return None


# (The lines above and the end of tma.courses.service._locked_link are alike in shape
# only: a guarded return, then the next function's signature.)
# --- start -------------------------------------------------------------------------------


async def start_attempt(
    session: AsyncSession,
    *,
    caller: Caller,
    post_id: int,
    now: datetime,
    rng: random.Random,
) -> tuple[dict[str, Any], bool]:
    """The caller's attempt in progress at this quiz, started now unless one is already in
    progress (then that one; `created` False). 404 unknown post, 403 not seen, 400 not a
    quiz. An attempt in progress past its deadline and grace is graded first (timed out),
    then a new one may start. 400 when `max_attempts` attempts were submitted, or during
    the cooldown after a failed one. A new attempt draws and shuffles its questions and
    stores them; starting moves the post to `in_progress`. Two starts at once: the partial
    unique index lets one insert win, the other reads it."""
    user_id = caller.id
    statement = _START[is_staff(caller)]
    for _ in range(3):
        today = availability.today_of(now)
        state = await _read_one(session, statement, post_id=post_id, user_id=user_id, today=today)
        if state is None:
            raise NotFound(f"Post {post_id} not found")
        if not state["sees"]:
            raise Forbidden("You don't have access to this post")
        if not state["open"]:
            raise await availability.refusal(
                session, module_id=state["module_id"], user_id=user_id, now=now
            )
        require_quiz(state["post_type"])
        if state["id"] is None:
            break
        if not engine.expired(state["deadline"], now):
            return attempt_read(state, reveal=_reveals(state, caller)), False
        await _close(session, state, answers=None, now=now, timed_out=True)
    else:  # pragma: no cover - three expired attempts closed by others meanwhile
        raise Conflict("Another attempt was started at the same moment; try again")
    max_attempts = state["max_attempts"]
    if max_attempts is not None and state["submitted"] >= max_attempts:
        raise Conflict(NO_ATTEMPTS_LEFT)
    if state["last_passed"] is False and state["cooldown_minutes"]:
        available = state["last_submitted_at"] + timedelta(minutes=state["cooldown_minutes"])
        if now < available:
            raise Conflict(f"Next attempt available at {engine.iso(available)}")
    attempt: dict[str, Any] = {
        "post_id": post_id,
        "user_id": user_id,
        "status": IN_PROGRESS,
        "started_at": now,
        "submitted_at": None,
        "deadline": engine.deadline_of(now, state["time_limit_minutes"]),
        "timed_out": False,
        "score": None,
        "passed": None,
        "questions": engine.draw(
            engine.bank_of(state["question_bank"]),
            per_attempt=state["questions_per_attempt"],
            shuffle_questions=state["shuffle_questions"],
            shuffle_options=state["shuffle_options"],
            rng=rng,
        ),
        "saved_answers": [],
        "results": None,
        "pass_mark": pass_mark_of(state["pass_mark"]),
    }
    try:
        attempt["id"] = (await execute_core(session, _INSERT, attempt)).scalar_one()
        await progress.advance(
            session,
            user_id=user_id,
            post_id=post_id,
            status=ProgressStatus.IN_PROGRESS.value,
            now=now,
        )
        await record_attempt_started(session, attempt=attempt, module_id=state["module_id"])
        await session.commit()
    # Alike in shape with `_close`'s write above: each writes progress, commits, and on a
    # lost race rolls back and re-reads; what each re-reads and answers differs.
    except IntegrityError:
        await session.rollback()
        today = availability.today_of(now)
        state = await _read_one(session, statement, post_id=post_id, user_id=user_id, today=today)
        if state is None:
            # The quiz was deleted meanwhile (the attempt's key waited for that delete):
            # as unknown as if it had gone before.
            raise NotFound(f"Post {post_id} not found") from None
        if state["id"] is None:  # started and submitted meanwhile by the same user
            raise Conflict("Another attempt was started at the same moment; try again") from None
        return attempt_read(state, reveal=_reveals(state, caller)), False
    return attempt_read(attempt, reveal=True), True


# --- read, list ----------------------------------------------------------------------------


async def _attempt(session: AsyncSession, attempt_id: int, viewer: Caller, now: datetime) -> Any:
    today = availability.today_of(now)
    row = await _read_one(
        session, _ATTEMPT, attempt_id=attempt_id, viewer_id=viewer.id, today=today
    )
    if row is None:
        raise NotFound(f"Attempt {attempt_id} not found")
    return row


async def _check_owner_may_open(
    session: AsyncSession, row: Any, caller: Caller, now: datetime
) -> None:
    # The owner, a `user`: 403 for a quiz they no longer see, or whose module is not open
    # to them now (with the reason: when it opens, or what to finish first).
    if is_staff(caller):
        return
    if not row["owner_sees"]:
        raise Forbidden("You don't have access to this post")
    if not row["owner_open"]:
        raise await availability.refusal(
            session, module_id=row["module_id"], user_id=caller.id, now=now
        )


async def _readable(session: AsyncSession, attempt_id: int, viewer: Caller, now: datetime) -> Any:
    """The attempt if the viewer may read it: 404 unknown; 403 for a `user` reading another's
    attempt or their own of a quiz they no longer see or whose module is not open to them,
    and for a manager reading the attempt of someone in no group they own or moderate."""
    row = await _attempt(session, attempt_id, viewer, now)
    if row["user_id"] == viewer.id:
        await _check_owner_may_open(session, row, viewer, now)
    elif not is_admin(viewer) and not (is_manager(viewer) and row["viewer_manages"]):
        if not is_staff(viewer):
            raise Forbidden("You may only see your own attempts")
        raise Forbidden(NOT_YOUR_MEMBER)
    return row


async def get_attempt(
    session: AsyncSession, *, attempt_id: int, viewer: Caller, now: datetime
) -> dict[str, Any]:
    """One attempt (its owner's, or staff's per the privacy rule); one in progress past its
    deadline and grace is graded first (timed out)."""
    row = await _readable(session, attempt_id, viewer, now)
    closed = await _expire_if_due(session, row, now)
    if closed is None:  # graded meanwhile by another request: as it now is
        closed = await _readable(session, attempt_id, viewer, now)
    return attempt_read(closed, reveal=_reveals(closed, viewer))


async def list_attempts(
    session: AsyncSession,
    *,
    post: CallerPost,
    user_id: int,
    viewer: Caller,
    page: Page,
    now: datetime,
) -> tuple[list[dict[str, Any]], int]:
    """The user's attempts at this quiz, newest first, and how many in all; their attempt in
    progress past its deadline and grace is graded first (timed out)."""
    require_quiz(post.post_type)
    state = await first(session, _LIST_STATE, post_id=post.id, user_id=user_id)
    if state is None:
        raise NotFound(f"Post {post.id} not found")
    if state["open_id"] is not None and engine.expired(state["open_deadline"], now):
        row = await _attempt(session, state["open_id"], viewer, now)
        if row is not None:
            await _expire_if_due(session, row, now)
            state = await first(session, _LIST_STATE, post_id=post.id, user_id=user_id)
            if state is None:
                raise NotFound(f"Post {post.id} not found")
    reveal = _reveals(state, viewer)
    limit = NO_LIMIT if page.limit is None else page.limit
    params = {"post_id": post.id, "user_id": user_id}
    found = await rows(session, _LIST, **params, limit=limit, offset=page.offset)
    attempts = [attempt_read(row, reveal=reveal) for row in found]
    if len(found) < limit and (found or not page.offset):
        return attempts, page.offset + len(found)
    counted = await first(session, _LIST_COUNT, **params)
    return attempts, int(counted["total"]) if counted else 0


# --- save, submit --------------------------------------------------------------------------


async def _own_in_progress(
    session: AsyncSession, attempt_id: int, caller: Caller, what: str, now: datetime
) -> Any:
    row = await _attempt(session, attempt_id, caller, now)
    if row["user_id"] != caller.id:
        raise Forbidden(f"You may only {what} your own attempts")
    await _check_owner_may_open(session, row, caller, now)
    return row


async def save_answers(
    session: AsyncSession, *, attempt_id: int, caller: Caller, answers: list[Answer], now: datetime
) -> dict[str, Any]:
    """Replace the saved choice of each named question of the caller's attempt in progress
    (checked as a submit checks them); 400 once it is submitted or past its deadline."""
    row = await _own_in_progress(session, attempt_id, caller, "answer", now)
    if row["status"] != IN_PROGRESS:
        raise Conflict(ALREADY_SUBMITTED)
    if row["deadline"] is not None and now > row["deadline"]:
        raise Conflict(TIME_IS_UP)
    questions = engine.questions_of(row["questions"])
    chosen = engine.check_answers(questions, answers)
    saved = await _lock_in_progress(session, attempt_id)
    if saved is None:  # submitted (or graded as expired) since it was read
        await session.rollback()
        raise Conflict(ALREADY_SUBMITTED)
    merged = engine.saved_of(saved["saved_answers"])
    merged.update(chosen)
    stored = engine.saved_list(questions, merged)
    await execute_core(session, _SAVE, {"attempt_id": attempt_id, "saved_answers": stored})
    await session.commit()
    return attempt_read({**row, "saved_answers": stored}, reveal=True)


async def submit_attempt(
    session: AsyncSession,
    *,
    attempt_id: int,
    caller: Caller,
    answers: list[Answer] | None,
    now: datetime,
) -> dict[str, Any]:
    """Grade and close the caller's attempt on its saved answers with the body's taken over
    them, question by question; a pass completes the post. Up to the deadline + 30 s it is
    graded as usual; after that it is expired: graded on the answers saved in time
    (`timed_out`), the body ignored, and a submit of a timed-out attempt answers it again.
    A submitted attempt is final: a second submit is 400, also when two arrive at once."""
    row = await _own_in_progress(session, attempt_id, caller, "submit", now)
    if row["status"] != IN_PROGRESS:
        if row["timed_out"]:
            return attempt_read(row, reveal=_reveals(row, caller))
        raise Conflict(ALREADY_SUBMITTED)
    timed_out = engine.expired(row["deadline"], now)
    questions = engine.questions_of(row["questions"])
    chosen = None if timed_out else engine.check_answers(questions, answers or ())
    values = await _close(
        session, row, answers=chosen, now=now, timed_out=timed_out, questions=questions
    )
    if values is None:  # closed meanwhile by another request
        again = await _own_in_progress(session, attempt_id, caller, "submit", now)
        if again["timed_out"]:
            return attempt_read(again, reveal=_reveals(again, caller))
        raise Conflict(ALREADY_SUBMITTED)
    closed = _closed(row, values)
    return attempt_read(closed, reveal=_reveals(closed, caller))
