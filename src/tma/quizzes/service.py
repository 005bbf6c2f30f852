"""The rules and queries of quizzes: reading a quiz, starting attempts, grading them.

Grading is the server's: a question is correct only when the chosen options are exactly
its correct ones; `score` = round(100 x correct / questions) to the nearest integer (halves
up); `passed` = score >= pass_mark. The graded results are stored with the attempt, so a
later edit of the quiz never changes a submitted attempt."""

from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.db import utcnow
from tma.core.errors import Conflict, Forbidden, NotFound
from tma.core.pagination import Page
from tma.courses.visibility import module_visible_to
from tma.posts.models import Post, PostType
from tma.posts.quiz import Question, load_questions, pass_mark_of
from tma.progress import service as progress
from tma.progress.dependencies import CallerPost
from tma.progress.models import ProgressStatus
from tma.quizzes.models import AttemptStatus, QuestionKind, QuizAttempt
from tma.quizzes.schemas import Answer, AttemptRead, QuestionResult
from tma.users.caller import Caller
from tma.users.service import is_staff


def require_quiz(post_type: str) -> None:
    if post_type != PostType.QUIZ:
        raise Conflict("This post is not a quiz")


def _in_progress_of(post_id: int, user_id: int) -> Any:
    return select(QuizAttempt).where(
        QuizAttempt.post_id == post_id,
        QuizAttempt.user_id == user_id,
        QuizAttempt.status == AttemptStatus.IN_PROGRESS.value,
    )


async def start_attempt(
    session: AsyncSession, *, user_id: int, post: CallerPost
) -> tuple[AttemptRead, bool]:
    """The user's attempt in progress at this quiz, started now unless one is already in
    progress (then that one; `created` False). Starting moves the post to `in_progress`.
    Two starts at once: the partial unique index lets one insert win, the other reads it."""
    require_quiz(post.post_type)
    existing = await session.scalar(_in_progress_of(post.id, user_id))
    if existing is not None:
        return AttemptRead.model_validate(existing), False
    attempt = QuizAttempt(post_id=post.id, user_id=user_id)
    session.add(attempt)
    try:
        await session.flush()
        await progress.advance(
            session, user_id=user_id, post_id=post.id, status=ProgressStatus.IN_PROGRESS.value
        )
        await session.commit()
    except IntegrityError:
        await session.rollback()
        existing = await session.scalar(_in_progress_of(post.id, user_id))
        if existing is None and await session.get(Post, post.id) is None:
            # The quiz was deleted meanwhile (the attempt's key waited for that delete):
            # as unknown as if it had gone before.
            raise NotFound(f"Post {post.id} not found") from None
        if existing is None:  # started and submitted meanwhile by the same user
            raise Conflict("Another attempt was started at the same moment; try again") from None
        return AttemptRead.model_validate(existing), False
    return AttemptRead.model_validate(attempt), True


async def list_attempts(
    session: AsyncSession, *, post: CallerPost, user_id: int, page: Page
) -> tuple[list[AttemptRead], int]:
    """The user's attempts at this quiz, newest first, and how many in all."""
    require_quiz(post.post_type)
    where = (QuizAttempt.post_id == post.id, QuizAttempt.user_id == user_id)
    stmt = select(QuizAttempt).where(*where)
    stmt = page.apply(stmt.order_by(QuizAttempt.started_at.desc(), QuizAttempt.id.desc()))
    attempts = [AttemptRead.model_validate(a) for a in (await session.scalars(stmt)).all()]
    if (page.limit is None or len(attempts) < page.limit) and (attempts or not page.offset):
        return attempts, page.offset + len(attempts)
    total = await session.scalar(select(func.count()).where(*where))
    return attempts, int(total or 0)


def grade(
    questions: list[Question], answers: list[Answer], pass_mark: int
) -> tuple[int, bool, list[dict[str, Any]]]:
    """Score, pass and per-question results; 400 for an answer naming a question or option
    that is not this quiz's, or a `single` question answered with other than one option."""
    by_id = {q.id: q for q in questions}
    chosen: dict[int, set[int]] = {}
    for answer in answers:
        question = by_id.get(answer.question_id)
        if question is None:
            raise Conflict(f"Question {answer.question_id} is not part of this quiz")
        own = {option_id for option_id, _, _ in question.options}
        for option_id in answer.option_ids:
            if option_id not in own:
                raise Conflict(f"Option {option_id} is not an option of question {question.id}")
        if question.kind == QuestionKind.SINGLE and len(answer.option_ids) != 1:
            raise Conflict(f"Question {question.id} takes exactly one option")
        chosen[question.id] = set(answer.option_ids)
    results = []
    for q in questions:
        picked = chosen.get(q.id, set())
        correct_ids = q.correct_ids
        results.append(
            {
                "question_id": q.id,
                "correct": picked == set(correct_ids),
                # In the quiz's option order, whatever order the client sent them in.
                "chosen_option_ids": [oid for oid, _, _ in q.options if oid in picked],
                "correct_option_ids": correct_ids,
                "explanation": q.explanation,
            }
        )
    right = sum(1 for r in results if r["correct"])
    total = len(questions)
    score = (200 * right + total) // (2 * total) if total else 0  # round half up
    return score, score >= pass_mark, results


async def submit_attempt(
    session: AsyncSession, *, attempt_id: int, caller: Caller, answers: list[Answer]
) -> AttemptRead:
    """Grade and close the caller's attempt; a pass marks the post completed. A submitted
    attempt is final: a second submit is 400, also when two arrive at once (the closing
    UPDATE only matches an attempt still in progress)."""
    visible = module_visible_to(Post.module_id, caller.id)
    row = (
        await session.execute(
            select(QuizAttempt, Post.pass_mark, Post.module_id, visible.label("sees_post"))
            .join(Post, Post.id == QuizAttempt.post_id)
            .where(QuizAttempt.id == attempt_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"Attempt {attempt_id} not found")
    attempt, pass_mark, module_id, sees_post = (
        row.QuizAttempt,
        row.pass_mark,
        row.module_id,
        row.sees_post,
    )
    if attempt.user_id != caller.id:
        raise Forbidden("You may only submit your own attempts")
    if not sees_post and not is_staff(caller):
        raise Forbidden("You don't have access to this post")
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise Conflict("Attempt already submitted")
    post_id, started_at = attempt.post_id, attempt.started_at  # a rollback expires `attempt`
    for _ in range(3):
        # The post's module first (progress.service, lock order): a pass writes progress;
        # under it the quiz can be neither deleted (its attempts with it: seen as gone) nor
        # edited while it is graded.
        try:
            await progress.lock_post(session, post_id=post_id, module_id=module_id)
        except NotFound:
            raise NotFound(f"Attempt {attempt_id} not found") from None
        questions = await load_questions(session, post_id=post_id)
        score, passed, results = grade(questions, answers, pass_mark_of(pass_mark))
        now = utcnow()
        closed = await session.execute(
            update(QuizAttempt)
            .where(
                and_(
                    QuizAttempt.id == attempt_id,
                    QuizAttempt.status == AttemptStatus.IN_PROGRESS.value,
                )
            )
            .values(
                status=AttemptStatus.SUBMITTED.value,
                submitted_at=now,
                score=score,
                passed=passed,
                results=results,
            )
            .execution_options(synchronize_session=False)
        )
        if closed.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            raise Conflict("Attempt already submitted")
        try:
            if passed:
                await progress.advance(
                    session,
                    user_id=caller.id,
                    post_id=post_id,
                    status=ProgressStatus.COMPLETED.value,
                    now=now,
                )
            await session.commit()
        except IntegrityError:
            # A course the completion adds to was deleted meanwhile (the next try no
            # longer sees it), or the caller's account: then the attempt is gone too.
            await session.rollback()
            continue
        break
    else:
        raise Conflict("The quiz's courses are being changed by other requests; try again")
    return AttemptRead(
        id=attempt_id,
        post_id=post_id,
        user_id=caller.id,
        status=AttemptStatus.SUBMITTED.value,
        started_at=started_at,
        submitted_at=now,
        score=score,
        passed=passed,
        results=[QuestionResult.model_validate(r) for r in results],
    )
