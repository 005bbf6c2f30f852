"""Sample progress for the seeded `user`, computed from whatever posts the given courses
have: the first course half done, with its first quiz passed (after a failed try), the
second just started. Called by the loader once the sample content exists; it flushes and
leaves the commit to the caller."""

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tma.core.db import utcnow
from tma.courses.models import Course, CourseModule
from tma.posts.models import Post, PostType
from tma.posts.quiz import bank_entry, load_questions, pass_mark_of
from tma.progress import service as progress
from tma.progress.models import ProgressStatus
from tma.quizzes import engine
from tma.quizzes.models import AttemptStatus, QuizAttempt
from tma.users.models import User

COMPLETED = ProgressStatus.COMPLETED.value
IN_PROGRESS = ProgressStatus.IN_PROGRESS.value


async def _course_posts(session: AsyncSession, course_id: int) -> list[tuple[int, str, int]]:
    """The course's posts in outline order: (id, post_type, pass_mark or the default)."""
    rows = await session.execute(
        select(Post.id, Post.post_type, Post.pass_mark)
        .join(CourseModule, CourseModule.module_id == Post.module_id)
        .where(CourseModule.course_id == course_id)
        .order_by(CourseModule.ordering, Post.ordering, Post.id)
    )
    return [(post_id, post_type, pass_mark_of(mark)) for post_id, post_type, mark in rows.all()]


async def _attempt(
    session: AsyncSession, *, user_id: int, post_id: int, pass_mark: int, right: bool, days: int
) -> bool:
    """A submitted attempt graded as the API grades it: every answer right, or none given.
    Returns whether it passed."""
    snapshot = engine.draw(
        [bank_entry(q) for q in await load_questions(session, post_id=post_id)],
        per_attempt=None,
        shuffle_questions=False,
        shuffle_options=False,
        rng=random.Random(0),  # noqa: S311 (unused: nothing is drawn or shuffled here)
    )
    questions = engine.questions_of(snapshot)
    chosen = {q.id: q.correct_ids for q in questions} if right else {}
    score, passed, results = engine.grade(questions, chosen, pass_mark)
    started = utcnow() - timedelta(days=days, minutes=10)
    session.add(
        QuizAttempt(
            post_id=post_id,
            user_id=user_id,
            status=AttemptStatus.SUBMITTED.value,
            started_at=started,
            submitted_at=started + timedelta(minutes=5),
            score=score,
            passed=passed,
            results=results,
            questions=snapshot,
            saved_answers=engine.saved_list(questions, chosen),
            pass_mark=pass_mark,
        )
    )
    return passed


async def seed_progress(session: AsyncSession, *, user: User, courses: list[Course]) -> None:
    """Give `user` progress in `courses[0]` (half of its posts completed, its first quiz
    among them passed by an attempt, after a failed one) and `courses[1]` (just started: its
    first post in progress). Missing courses or posts are skipped."""
    if courses:
        posts = await _course_posts(session, courses[0].id)
        half = len(posts) // 2
        quiz = next((p for p in posts if p[1] == PostType.QUIZ), None)
        done: list[int] = []
        if quiz is not None and half:
            await _attempt(
                session, user_id=user.id, post_id=quiz[0], pass_mark=quiz[2], right=False, days=3
            )
            if await _attempt(
                session, user_id=user.id, post_id=quiz[0], pass_mark=quiz[2], right=True, days=2
            ):
                done.append(quiz[0])
        others = [p[0] for p in posts if p[1] != PostType.QUIZ]
        done += others[: half - len(done)]
        for n, post_id in enumerate(done):
            when = utcnow() - timedelta(days=len(done) - n + 1)
            await progress.advance(
                session, user_id=user.id, post_id=post_id, status=COMPLETED, now=when
            )
        upcoming = [p[0] for p in posts if p[0] not in done]
        if upcoming:
            await progress.advance(
                session, user_id=user.id, post_id=upcoming[0], status=IN_PROGRESS
            )
    if len(courses) > 1:
        posts = await _course_posts(session, courses[1].id)
        if posts:
            await progress.advance(
                session, user_id=user.id, post_id=posts[0][0], status=IN_PROGRESS
            )
    await session.flush()
