"""Quizzes under /api/quizzes and their attempts under /api/quiz-attempts."""

from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response, status

from tma.core.clock import Chance, Now
from tma.core.db import SessionDep
from tma.core.errors import responses
from tma.core.pagination import PageDep, json_response, list_response
from tma.core.routing import PrefixedRouter
from tma.core.schemas import row_adapter, row_list_adapter
from tma.core.types import MAX_ID
from tma.groups.privacy import check_sees_learner
from tma.i18n.dependencies import in_language, translator
from tma.i18n.texts import translate_attempts, translate_quiz
from tma.posts.dependencies import PostIdPath, VisiblePost
from tma.posts.quiz import load_quiz
from tma.posts.schemas import QuizRead, QuizStaffRead
from tma.progress.dependencies import VisiblePostProgress, check_sees_user
from tma.quizzes import service
from tma.quizzes.schemas import AnswersSave, AttemptRead, AttemptSubmit
from tma.users.dependencies import CurrentUser
from tma.users.service import is_staff

router = PrefixedRouter(prefix="/quizzes", tags=["quizzes"], responses=responses(401, 403))
attempts_router = PrefixedRouter(
    prefix="/quiz-attempts", tags=["quizzes"], responses=responses(401, 403)
)

# Attempt bodies are dicts in `AttemptRead`'s shape, dumped once (no model instance, no
# second validation by FastAPI): the start and the submit are measured lines
# (docs/performance.md, "The quiz engine").
_ATTEMPT = row_adapter(AttemptRead)
_ATTEMPT_LIST = row_list_adapter(AttemptRead)

AttemptIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="An attempt id")]


async def attempts_owner(
    user: CurrentUser,
    user_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Whose attempts (staff; see the contract)")
    ] = None,
) -> int:
    """Whose attempts to list: the caller's, or for staff `?user_id=`'s (a `user` naming
    anyone else: 403, before the post is looked up)."""
    if user_id is None:
        return user.id
    check_sees_user(user, user_id)
    return user_id


AttemptsOwner = Annotated[int, Depends(attempts_owner)]


@router.get(
    "/{post_id}", response_model=QuizStaffRead | QuizRead, responses=responses(400, 404, 422)
)
async def get_quiz(
    post: VisiblePost, user: CurrentUser, session: SessionDep, request: Request, response: Response
) -> QuizStaffRead | QuizRead:
    """A quiz's questions and options in authored order; the correct answers and the
    explanations for managers and admins only (the `quiz` of post detail); in your
    language where translated."""
    service.require_quiz(post.post_type)
    quiz = await load_quiz(session, post=post, staff=is_staff(user))
    quiz, language = await translate_quiz(session, translator(request, user), post.id, quiz)
    in_language(response, language)
    return quiz


@router.post(
    "/{post_id}/attempts",
    response_model=AttemptRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": AttemptRead, "description": "The attempt already in progress"},
        **responses(400, 404, 422),
    },
)
async def start_attempt(
    post_id: PostIdPath,
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    rng: Chance,
    request: Request,
) -> Response:
    """Start an attempt at the quiz (201): its questions drawn and shuffled as the quiz
    says, kept for it; or get the one you have in progress (200)."""
    # The post, whether you see it and your attempts at it are one statement of the service
    # (no `VisiblePostProgress`: the start is a measured line, docs/performance.md).
    attempt, created = await service.start_attempt(
        session, caller=user, post_id=post_id, now=now, rng=rng
    )
    language = await translate_attempts(session, translator(request, user), [attempt])
    response = in_language(json_response(_ATTEMPT, attempt), language)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return response


@router.get(
    "/{post_id}/attempts", response_model=list[AttemptRead], responses=responses(400, 404, 422)
)
async def list_attempts(
    owner: AttemptsOwner,
    post: VisiblePostProgress,
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    now: Now,
    request: Request,
) -> Response:
    """Your attempts at the quiz, newest first; an admin may name anyone's with `user_id`, a
    manager those of the members of groups they own or moderate."""
    if owner != user.id:
        await check_sees_learner(session, viewer=user, user_id=owner)
    attempts, total = await service.list_attempts(
        session, post=post, user_id=owner, viewer=user, page=page, now=now
    )
    language = await translate_attempts(session, translator(request, user), attempts)
    return in_language(list_response(_ATTEMPT_LIST, attempts, total), language)


@attempts_router.post(
    "/{attempt_id}/submit", response_model=AttemptRead, responses=responses(400, 404, 422)
)
async def submit_attempt(
    attempt_id: AttemptIdPath,
    body: AttemptSubmit,
    user: CurrentUser,
    session: SessionDep,
    now: Now,
) -> Response:
    """Submit your attempt: the body's answers over the saved ones, graded by the server
    against the attempt's own questions, final (a `user`: while the quiz's module is open to
    them)."""
    attempt = await service.submit_attempt(
        session, attempt_id=attempt_id, caller=user, answers=body.answers, now=now
    )
    return json_response(_ATTEMPT, attempt)


@attempts_router.put(
    "/{attempt_id}/answers", response_model=AttemptRead, responses=responses(400, 404, 422)
)
async def save_answers(
    attempt_id: AttemptIdPath,
    body: AnswersSave,
    user: CurrentUser,
    session: SessionDep,
    now: Now,
) -> Response:
    """Save answers of your attempt in progress as you give them (each named question's
    choice replaced); graded only when it is submitted."""
    attempt = await service.save_answers(
        session, attempt_id=attempt_id, caller=user, answers=body.answers, now=now
    )
    return json_response(_ATTEMPT, attempt)


@attempts_router.get("/{attempt_id}", response_model=AttemptRead, responses=responses(404, 422))
async def get_attempt(
    attempt_id: AttemptIdPath, user: CurrentUser, session: SessionDep, now: Now, request: Request
) -> Response:
    """One attempt: yours, or (staff) a learner's you may see; results as `reveal` allows;
    its texts in your language where translated."""
    attempt = await service.get_attempt(session, attempt_id=attempt_id, viewer=user, now=now)
    language = await translate_attempts(session, translator(request, user), [attempt])
    return in_language(json_response(_ATTEMPT, attempt), language)
