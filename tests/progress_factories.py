"""Small builders for learning content used by the quiz and progress tests: modules linked
to courses, posts, quiz posts with questions and options. Rows go straight in through the
ORM (the content endpoints are not what these tests exercise)."""

from dataclasses import dataclass, field

from sqlalchemy import func, select

from factories import TestDatabase, unique
from tma.core.db import utcnow
from tma.courses.models import CourseModule, Module
from tma.posts.models import Post
from tma.posts.quiz import fill_question_bank
from tma.progress.models import PostProgress
from tma.quizzes.models import QuizAnswer, QuizOption, QuizQuestion


async def insert_module(test_db: TestDatabase, *course_ids: int, title: str | None = None) -> int:
    """A module, linked last to each of `course_ids`; its id."""
    async with test_db.session() as session:
        module = Module(title=title or unique("module"))
        session.add(module)
        await session.flush()
        for course_id in course_ids:
            last = await session.scalar(
                select(func.max(CourseModule.ordering)).where(CourseModule.course_id == course_id)
            )
            session.add(
                CourseModule(course_id=course_id, module_id=module.id, ordering=(last or 0) + 1)
            )
        await session.commit()
        return module.id


async def insert_posts(
    test_db: TestDatabase, module_id: int, how_many: int = 1, *, post_type: str = "default"
) -> list[int]:
    """`how_many` posts appended to the module; their ids in order."""
    async with test_db.session() as session:
        last = await session.scalar(
            select(func.max(Post.ordering)).where(Post.module_id == module_id)
        )
        posts = [
            Post(
                module_id=module_id,
                title=unique("post"),
                post_type=post_type,
                content="Read this.",
                ordering=(last or 0) + n + 1,
                pass_mark=80 if post_type == "quiz" else None,
            )
            for n in range(how_many)
        ]
        session.add_all(posts)
        await session.commit()
        return [post.id for post in posts]


@dataclass
class Quiz:
    """A quiz post's ids: `questions[i]` and `options[i]` (the i-th question's option ids)
    in authored order, `correct[i]` the correct ones among them."""

    post_id: int
    questions: list[int] = field(default_factory=list)
    options: list[list[int]] = field(default_factory=list)
    correct: list[list[int]] = field(default_factory=list)


# Two questions: the first `single` (second option correct), the second `multiple`
# (first two correct).
DEFAULT_QUESTIONS: list[tuple[str, list[bool]]] = [
    ("single", [False, True, False]),
    ("multiple", [True, True, False]),
]


async def insert_quiz(
    test_db: TestDatabase,
    module_id: int,
    questions: list[tuple[str, list[bool]]] | None = None,
    *,
    pass_mark: int = 80,
) -> Quiz:
    """A quiz post appended to the module; each question `(kind, [is_correct per option])`
    gets prompt "Question <n>", options "Option <n>.<m>", explanation "Because <n>"."""
    (post_id,) = await insert_posts(test_db, module_id, post_type="quiz")
    quiz = Quiz(post_id=post_id)
    async with test_db.session() as session:
        post = await session.get(Post, post_id)
        assert post is not None
        post.pass_mark = pass_mark
        for n, (kind, flags) in enumerate(questions or DEFAULT_QUESTIONS, start=1):
            question = QuizQuestion(
                post_id=post_id,
                position=n,
                prompt=f"Question {n}",
                kind=kind,
                explanation=f"Because {n}",
            )
            session.add(question)
            await session.flush()
            options = [
                QuizOption(
                    question_id=question.id, position=m, text=f"Option {n}.{m}", is_correct=ok
                )
                for m, ok in enumerate(flags, start=1)
            ]
            session.add_all(options)
            await session.flush()
            quiz.questions.append(question.id)
            quiz.options.append([o.id for o in options])
            quiz.correct.append([o.id for o in options if o.is_correct])
        await fill_question_bank(session, post_id=post_id)
        await session.commit()
    return quiz


async def insert_course_content(
    test_db: TestDatabase,
    course_ids: list[int],
    *,
    modules: int,
    posts: int,
    completed_by: tuple[int, ...] = (),
) -> list[int]:
    """In bulk: `modules` modules of `posts` posts each for every course, and every other
    post completed by each user of `completed_by`; the post ids."""
    async with test_db.session() as session:
        made = [Module(title=unique("module")) for _ in course_ids for _ in range(modules)]
        session.add_all(made)
        await session.flush()
        for c, course_id in enumerate(course_ids):
            for m in range(modules):
                module = made[c * modules + m]
                session.add(CourseModule(course_id=course_id, module_id=module.id, ordering=m + 1))
        post_rows = [
            Post(module_id=module.id, title=f"Post {p}", post_type="default", ordering=p + 1)
            for module in made
            for p in range(posts)
        ]
        session.add_all(post_rows)
        await session.flush()
        session.add_all(
            PostProgress(user_id=user_id, post_id=post.id, status="completed", completed_at=now)
            for user_id in completed_by
            for post in post_rows[::2]
            for now in (utcnow(),)
        )
        await session.commit()
        return [post.id for post in post_rows]


async def stored_answers(test_db, attempt_id):
    """The attempt's `quiz_answers` rows as (question, option, correct), in written order."""
    async with test_db.session() as session:
        found = await session.execute(
            select(QuizAnswer.question_id, QuizAnswer.option_id, QuizAnswer.correct)
            .where(QuizAnswer.attempt_id == attempt_id)
            .order_by(QuizAnswer.id)
        )
        return [tuple(row) for row in found]


def answers_of(results):
    """The rows a submit writes for graded `results`: per question the answer (no option),
    then each distinct option chosen."""
    out = []
    for r in results:
        out.append((r["question_id"], None, r["correct"]))
        out += [(r["question_id"], o, r["correct"]) for o in sorted(set(r["chosen_option_ids"]))]
    return out
