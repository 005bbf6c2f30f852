"""The rules of a quiz attempt that need no database: the draw and shuffle of its questions,
checking answers, grading, the deadline and its grace, and `reveal`.

An attempt owns its questions: `draw` copies them from the quiz's `question_bank` when it
starts (prompt, kind, explanation, options with `is_correct`) in the attempt's own order,
and everything after (checking, grading, showing) reads that copy, never the quiz, so an
edit of the quiz never changes an attempt. Grading: a question is correct only when the
chosen options are exactly its correct ones; `score` = round(100 x correct / questions) to
the nearest integer (halves up); `passed` = score >= pass_mark.
"""

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from tma.core.errors import Conflict
from tma.posts.quiz import Question
from tma.quizzes.models import QuestionKind, Reveal
from tma.quizzes.schemas import Answer

# A submit this long after the deadline is still graded as usual (a phone's clock, a slow
# network); after it the attempt is expired (graded on its answers saved in time).
GRACE = timedelta(seconds=30)

Snapshot = list[dict[str, Any]]  # an attempt's questions, as stored (QuizAttempt.questions)
Chosen = dict[int, list[int]]  # question id -> option ids chosen


# How many quizzes' decoded banks a process keeps (the most recently started).
BANKS_KEPT = 64


@lru_cache(maxsize=BANKS_KEPT)
def bank_of(text: str | None) -> Snapshot:
    """A quiz's `question_bank` from its JSON text as stored (none: no questions), decoded
    once per distinct text and shared: decoding the bank was the largest single cost of a
    start (a quiz of 50 questions: about a fifth of its instructions, docs/performance.md).
    Keyed by the whole text, so an edited bank is a new entry and never a stale one. The
    result is shared by every start of that quiz: nothing may change it (`draw` copies
    what it reorders)."""
    return [] if text is None else json.loads(text)


def draw(
    bank: Snapshot,
    *,
    per_attempt: int | None,
    shuffle_questions: bool,
    shuffle_options: bool,
    rng: random.Random,
) -> Snapshot:
    """The questions of a new attempt, from the quiz's `question_bank` (its questions as an
    attempt stores them, authored order): `per_attempt` of them drawn at random (all when
    None), in authored order unless `shuffle_questions`, each one's options in authored
    order unless `shuffle_options`. The bank's dicts are shared, not copied, where nothing
    changes (the snapshot is only stored and read)."""
    chosen = list(bank)
    if per_attempt is not None and per_attempt < len(chosen):
        picked = sorted(rng.sample(range(len(chosen)), per_attempt))
        chosen = [chosen[i] for i in picked]
    if shuffle_questions:
        rng.shuffle(chosen)
    if not shuffle_options:
        return chosen
    snapshot: Snapshot = []
    for question in chosen:
        options = list(question["options"])
        rng.shuffle(options)
        snapshot.append({**question, "options": options})
    return snapshot


def questions_of(snapshot: Snapshot) -> list[Question]:
    """An attempt's stored questions as `Question`s, in the attempt's order."""
    return [
        Question(
            q["id"],
            q["prompt"],
            q["kind"],
            q["explanation"],
            [(o["id"], o["text"], bool(o["is_correct"])) for o in q["options"]],
        )
        for q in snapshot
    ]


def check_answers(questions: Sequence[Question], answers: Iterable[Answer]) -> Chosen:
    """The options chosen per question; 400 for a question that is not the attempt's, an
    option that is not that question's, or a `single` question with other than one option."""
    by_id = {q.id: q for q in questions}
    chosen: Chosen = {}
    for answer in answers:
        question = by_id.get(answer.question_id)
        if question is None:
            raise Conflict(f"Question {answer.question_id} is not part of this attempt")
        own = {option_id for option_id, _, _ in question.options}
        for option_id in answer.option_ids:
            if option_id not in own:
                raise Conflict(f"Option {option_id} is not an option of question {question.id}")
        if question.kind == QuestionKind.SINGLE and len(answer.option_ids) != 1:
            raise Conflict(f"Question {question.id} takes exactly one option")
        # In the attempt's option order, whatever order the client sent them in.
        picked = set(answer.option_ids)
        chosen[question.id] = [oid for oid, _, _ in question.options if oid in picked]
    return chosen


def saved_of(saved: Sequence[Mapping[str, Any]]) -> Chosen:
    """Stored saved answers (`[{question_id, option_ids}]`) by question id."""
    return {int(a["question_id"]): list(a["option_ids"]) for a in saved}


def saved_list(questions: Sequence[Question], chosen: Chosen) -> list[dict[str, Any]]:
    """Saved answers as stored and shown: in the attempt's question order."""
    return [{"question_id": q.id, "option_ids": chosen[q.id]} for q in questions if q.id in chosen]


def grade(
    questions: Sequence[Question], chosen: Chosen, pass_mark: int
) -> tuple[int, bool, list[dict[str, Any]]]:
    """Score, pass and per-question results (in the attempt's order) of `chosen`, checked
    answers (`check_answers`); a question without an answer counts as wrong."""
    results = []
    for q in questions:
        picked = chosen.get(q.id, [])
        correct_ids = q.correct_ids
        results.append(
            {
                "question_id": q.id,
                "correct": set(picked) == set(correct_ids),
                "chosen_option_ids": picked,
                "correct_option_ids": correct_ids,
                "explanation": q.explanation,
            }
        )
    right = sum(1 for r in results if r["correct"])
    total = len(questions)
    score = (200 * right + total) // (2 * total) if total else 0  # round half up
    return score, score >= pass_mark, results


def answer_rows(
    results: Sequence[dict[str, Any]], *, attempt_id: int, post_id: int, user_id: int
) -> list[dict[str, Any]]:
    """The `quiz_answers` rows of graded `results`: per question one with `option_id` None
    (the answer and its grade), then one per distinct option chosen, in option id order."""
    out: list[dict[str, Any]] = []
    base = {"attempt_id": attempt_id, "post_id": post_id, "user_id": user_id}
    for result in results:
        question_id, correct = result["question_id"], result["correct"]
        out.append({**base, "question_id": question_id, "option_id": None, "correct": correct})
        for option_id in sorted(set(result["chosen_option_ids"])):
            out.append(
                {**base, "question_id": question_id, "option_id": option_id, "correct": correct}
            )
    return out


def deadline_of(started_at: datetime, time_limit_minutes: int | None) -> datetime | None:
    return (
        None if time_limit_minutes is None else started_at + timedelta(minutes=time_limit_minutes)
    )


def expired(deadline: datetime | None, now: datetime) -> bool:
    """Past the deadline and its grace: graded on the answers saved in time, `timed_out`."""
    return deadline is not None and now > deadline + GRACE


def reveals(
    reveal: str,
    *,
    staff: bool,
    passed_any: bool,
    submitted: int,
    max_attempts: int | None,
) -> bool:
    """Whether results show `correct_option_ids` and `explanation`, for a reader of a user's
    attempts at one quiz: staff always; the owner per the quiz's `reveal`, decided on their
    attempts as they are now (so past attempts too, once the condition holds)."""
    if staff or reveal == Reveal.AFTER_SUBMIT:
        return True
    if reveal == Reveal.AFTER_PASS:
        return passed_any
    if reveal == Reveal.AFTER_LAST_ATTEMPT:
        return passed_any or (max_attempts is not None and submitted >= max_attempts)
    return False  # never


def withheld(results: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Results without the answers and explanations (`reveal` not met)."""
    if results is None:
        return None
    return [{**r, "correct_option_ids": None, "explanation": None} for r in results]


def shown_questions(snapshot: Snapshot) -> list[dict[str, Any]]:
    """An attempt's questions as shown: in its order, without answers, `explanation` null."""
    return [
        {
            "id": q["id"],
            "prompt": q["prompt"],
            "kind": q["kind"],
            "explanation": None,
            "options": [{"id": o["id"], "text": o["text"]} for o in q["options"]],
        }
        for q in snapshot
    ]


def iso(moment: datetime) -> str:
    """`moment` rounded up to the second, as ISO 8601 UTC with `Z` (a client retrying at
    that time is never too early)."""
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
